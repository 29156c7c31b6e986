/**
 * Real struct pages: a tiny out-of-tree module (altmap_pages.ko, built here against the kernel's Debian
 * headers package, never committed) gives /proc/altmap_pages, and /bin/kpages in the guest prints the
 * struct pages of a pfn range through it:
 *
 *   kpages 0x100200 4          four struct pages from pfn 0x100200
 *   kpages pfn0.0 2            the first two data pages of an nd device (its sysfs "resource")
 *   kpages dax0.0+512 1        the 513th page of a dax device's range
 *
 * Output: "# sizeof(struct page) 64 vmemmap ffffea0000000000", then per page
 * "<pfn> <struct page address> <word0> ... <word7> flags=<%pGp>". The module is loaded only by the first
 * kpages of a boot (loading an unsigned module taints the kernel), so other cases are unaffected.
 * Building needs gcc and make on the host; without them struct-page cases report the module missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelImage, Log } from './env.ts';

export const KPAGES_MODULE_SOURCE = String.raw`// SPDX-License-Identifier: GPL-2.0
/* altmap_pages: /proc/altmap_pages prints the struct pages of a pfn range (write "PFN COUNT", hex pfn). */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

static unsigned long ap_pfn, ap_count;

static int ap_show(struct seq_file *m, void *v)
{
	unsigned long i;
	int j;

	seq_printf(m, "# sizeof(struct page) %zu vmemmap %px\n", sizeof(struct page), vmemmap);
	for (i = 0; i < ap_count; i++) {
		unsigned long pfn = ap_pfn + i;
		struct page *p = pfn_to_page(pfn);
		unsigned long w[sizeof(struct page) / sizeof(unsigned long)];

		if (copy_from_kernel_nofault(w, p, sizeof(w))) {
			seq_printf(m, "%lx %px unmapped\n", pfn, p);
			continue;
		}
		seq_printf(m, "%lx %px", pfn, p);
		for (j = 0; j < ARRAY_SIZE(w); j++)
			seq_printf(m, " %016lx", w[j]);
		seq_printf(m, " flags=%pGp\n", &w[0]);
	}
	return 0;
}

static int ap_open(struct inode *inode, struct file *file)
{
	return single_open(file, ap_show, NULL);
}

static ssize_t ap_write(struct file *file, const char __user *buf, size_t len, loff_t *off)
{
	char k[64];
	unsigned long pfn, count;

	if (len >= sizeof(k))
		return -EINVAL;
	if (copy_from_user(k, buf, len))
		return -EFAULT;
	k[len] = 0;
	if (sscanf(k, "%lx %lu", &pfn, &count) != 2 || count > 4096)
		return -EINVAL;
	ap_pfn = pfn;
	ap_count = count;
	return len;
}

static const struct proc_ops ap_ops = {
	.proc_open = ap_open,
	.proc_read = seq_read,
	.proc_write = ap_write,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static int __init ap_init(void)
{
	return proc_create("altmap_pages", 0600, NULL, &ap_ops) ? 0 : -ENOMEM;
}

static void __exit ap_exit(void)
{
	remove_proc_entry("altmap_pages", NULL);
}

module_init(ap_init);
module_exit(ap_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("altmap-sim oracle: struct pages of a pfn range");
`;

/** /bin/kpages in the guest. */
export const KPAGES_SCRIPT = String.raw`#!/bin/sh
# kpages PFN|DEV[+N] [COUNT]: struct pages through /proc/altmap_pages (the oracle's helper module)
if [ ! -e /proc/altmap_pages ]; then
  m=/lib/modules/$(uname -r)/extra/altmap_pages.ko
  [ -e "$m" ] || { echo "kpages: no helper module in this initramfs" >&2; exit 2; }
  insmod "$m" || exit 2
fi
spec=$1; n=@{2:-1}
case "$spec" in
  0x*|[0-9]*) pfn=$((spec)) ;;
  *)
    dev=@{spec%%+*}; off=0
    [ "$dev" != "$spec" ] && off=@{spec#*+}
    f=/sys/bus/nd/devices/$dev/resource
    [ -e "$f" ] || f=/sys/bus/dax/devices/$dev/resource
    [ -e "$f" ] || { echo "kpages: no device $dev" >&2; exit 2; }
    pfn=$(( $(cat "$f") / 4096 + off )) ;;
esac
printf '%x %d\n' "$pfn" "$n" > /proc/altmap_pages || exit 1
cat /proc/altmap_pages
`.replace(/@\{/g, '${');

function debs(workdir: string): string {
  return join(workdir, 'debs');
}

function download(pkg: string, workdir: string, log: Log): string {
  const dir = debs(workdir);
  mkdirSync(dir, { recursive: true });
  const have = () => readdirSync(dir).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!have().length) {
    log(`apt-get download ${pkg}`);
    const r = spawnSync('apt-get', ['-o', 'APT::Sandbox::User=root', 'download', pkg], { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`apt-get download ${pkg}: ${(r.stderr ?? '').trim()}`);
  }
  return join(dir, have().sort().at(-1)!);
}

/** The headers package's linux-headers-*-common and linux-kbuild-* dependencies. */
function headerDeps(deb: string): string[] {
  const dep = execFileSync('dpkg-deb', ['-f', deb, 'Depends'], { encoding: 'utf8' });
  return dep
    .split(',')
    .map((d) => d.trim().split(/[\s|(]/)[0]!)
    .filter((n) => /^linux-(headers-.*-common|kbuild-)/.test(n));
}

/** Build (once per kernel) altmap_pages.ko; null, with the reason logged, when the host cannot. */
export function ensureKpagesModule(k: KernelImage, workdir: string, log: Log): string | null {
  const out = join(workdir, 'kpages', k.release, 'altmap_pages.ko');
  if (existsSync(out)) return out;
  for (const tool of ['/usr/bin/make', '/usr/bin/gcc']) {
    if (!existsSync(tool)) {
      log(`struct pages: ${tool} is missing, no helper module (apt-get install build-essential)`);
      return null;
    }
  }
  try {
    const headers = download(`linux-headers-${k.release}`, workdir, log);
    const all = [headers, ...headerDeps(headers).map((p) => download(p, workdir, log))];
    const root = join(workdir, 'headers', k.release);
    if (!existsSync(join(root, '.unpacked'))) {
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      for (const d of all) execFileSync('dpkg-deb', ['-x', d, root]);
      // the arch directory includes the common one by its installed path: point it into this tree
      const mk = join(root, 'usr', 'src', `linux-headers-${k.release}`, 'Makefile');
      writeFileSync(mk, readFileSync(mk, 'utf8').replace(/include \/usr\/src\//g, `include ${join(root, 'usr', 'src')}/`));
      writeFileSync(join(root, '.unpacked'), all.join('\n') + '\n');
    }
    const build = join(workdir, 'kpages', k.release, 'build');
    rmSync(build, { recursive: true, force: true });
    mkdirSync(build, { recursive: true });
    writeFileSync(join(build, 'altmap_pages.c'), KPAGES_MODULE_SOURCE);
    writeFileSync(join(build, 'Kbuild'), 'obj-m := altmap_pages.o\n');
    log(`building altmap_pages.ko for ${k.release}`);
    // no BTF for the module: pahole is not needed
    const r = spawnSync('make', ['-C', join(root, 'usr', 'src', `linux-headers-${k.release}`), `M=${build}`, 'CONFIG_DEBUG_INFO_BTF_MODULES=', 'modules'], { encoding: 'utf8' });
    if (r.status !== 0 || !existsSync(join(build, 'altmap_pages.ko'))) {
      log(`struct pages: the helper module did not build:\n${(r.stdout + r.stderr).trim().split('\n').slice(-8).join('\n')}`);
      return null;
    }
    renameSync(join(build, 'altmap_pages.ko'), out);
    rmSync(build, { recursive: true, force: true });
    return out;
  } catch (e) {
    log(`struct pages: no helper module (${e instanceof Error ? e.message : String(e)})`);
    return null;
  }
}

export interface KpagesLine {
  pfn: number;
  words: bigint[] | null;
  flags?: string;
}

/** kpages output -> pages. */
export function parseKpages(s: string): KpagesLine[] {
  const out: KpagesLine[] = [];
  for (const l of s.split('\n')) {
    if (!l || l.startsWith('#')) continue;
    const m = /^([0-9a-f]+) [0-9a-f]+ (.*)$/.exec(l);
    if (!m) continue;
    const pfn = parseInt(m[1]!, 16);
    if (m[2] === 'unmapped') {
      out.push({ pfn, words: null });
      continue;
    }
    const parts = m[2]!.split(' ');
    const words = parts.filter((p) => /^[0-9a-f]{16}$/.test(p)).map((p) => BigInt(`0x${p}`));
    const flags = parts.find((p) => p.startsWith('flags='))?.slice(6);
    out.push({ pfn, words, ...(flags !== undefined ? { flags } : {}) });
  }
  return out;
}

const VMEMMAP = 0xffffea0000000000n;
const VMEMMAP_END = VMEMMAP + (1n << 46n);
/** x86-64 4-level kernel address ranges (Documentation/arch/x86/x86_64/mm.rst): direct map, vmalloc, kernel text, modules. */
const KERNEL_RANGES: Array<[bigint, bigint]> = [
  [0xffff888000000000n, 0xffffc88000000000n],
  [0xffffc90000000000n, 0xffffe90000000000n],
  [0xffffffff80000000n, 0xffffffffff000000n],
];

/** A struct page word as something a model can match: pointers into the memmap as pages, other kernel pointers as <kptr>. */
export function pageWord(w: bigint): string {
  if (w === 0n) return '0';
  const low = w & 3n;
  const base = w & ~3n;
  if (base >= VMEMMAP && base < VMEMMAP_END && (base - VMEMMAP) % 64n === 0n) return `page(${((base - VMEMMAP) / 64n).toString(16)})${low ? `|${low}` : ''}`;
  if (KERNEL_RANGES.some(([a, b]) => w >= a && w < b)) return '<kptr>';
  return `0x${w.toString(16)}`;
}

/** A page as one comparable line. */
export function pageLine(p: KpagesLine): string {
  return `${p.pfn.toString(16)}: ${p.words ? p.words.map(pageWord).join(' ') : 'unmapped'}`;
}
