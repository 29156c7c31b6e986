/**
 * The guest side: the initramfs's /init (busybox sh), the per-case archive it runs (/case/steps.sh),
 * and the parser of what it reports on the second serial port (ttyS1).
 *
 * The base initramfs is the same for every case of a kernel; each boot appends a small uncompressed
 * cpio with /case/ (the kernel unpacks concatenated archives). Output framing on ttyS1 (raw mode):
 *
 *   @@ALTMAP-BEGIN <token> <step> <key>\n<content>\n@@ALTMAP-END <token> <step> <key> <bytes>\n
 *   @@ALTMAP-VAL <token> <step> <key> <value>\n
 *   @@ALTMAP-DONE <token>\n
 *
 * The token is random per boot; <bytes> is the content's length, checked on the host.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OracleStep, RealStep, StateFiles, StateKey } from './types.ts';
import { STATE_KEYS } from './types.ts';

/**
 * The functions a traced step's set_ftrace_filter asks for: the modelled paths of issue 16 (pmem probe,
 * memremap_pages, hot-add/remove, vmemmap populate/free, kmem) and their neighbours. A kernel takes only
 * the ones in its available_filter_functions (inlined and __meminit-notrace functions are not there).
 * Functions called once per page or per vmemmap page (__init_zone_device_page, memmap_init_compound,
 * vmemmap_populate_address, vmemmap_verify, vmemmap_alloc_block) are left out: a 2 GiB namespace would
 * make a million-line trace and overflow the ring buffer.
 */
export const TRACE_FUNCTIONS: readonly string[] = [
  // nvdimm / pmem
  'nd_pmem_probe', 'nd_pmem_remove', 'pmem_attach_disk', 'pmem_release_disk', 'pmem_pagemap_cleanup',
  'devm_nsio_enable', 'devm_nsio_disable', 'nvdimm_setup_pfn', 'nd_pfn_validate', 'nd_pfn_init', 'nd_pfn_probe',
  'nd_dax_probe', 'nd_btt_probe', 'nvdimm_namespace_attach_btt', 'nvdimm_namespace_detach_btt',
  'nd_region_probe', 'nd_region_remove', 'nd_namespace_pmem_set_resource',
  // device-dax
  'dax_pmem_probe', '__dax_pmem_probe', 'alloc_dax_region', 'devm_create_dev_dax', 'alloc_dev_dax_range',
  'dev_dax_probe', 'dev_dax_remove', 'kill_dev_dax', 'unregister_dev_dax', 'free_dev_dax_ranges',
  'dax_hmem_probe', 'hmem_register_device', 'dax_hmem_platform_probe',
  // kmem
  'dev_dax_kmem_probe', 'dev_dax_kmem_remove', 'add_memory_driver_managed', 'add_memory_resource', '__add_memory',
  'remove_memory', 'offline_and_remove_memory', 'try_remove_memory', 'mhp_supports_memmap_on_memory',
  'mhp_init_memmap_on_memory', 'mhp_deinit_memmap_on_memory', 'create_memory_block_devices', 'remove_memory_block_devices',
  'memory_block_online', 'memory_block_offline', 'online_pages', 'offline_pages', 'memory_subsys_online', 'memory_subsys_offline',
  'online_memory_block',
  // memremap
  'devm_memremap_pages', 'devm_memremap_pages_release', 'memremap_pages', 'memunmap_pages', 'pagemap_range',
  'get_dev_pagemap', 'region_intersects', 'vmem_altmap_offset', 'vmem_altmap_free',
  'move_pfn_range_to_zone', 'remove_pfn_range_from_zone', 'memmap_init_zone_device', 'memmap_init_range',
  // arch hot-add / remove
  'arch_add_memory', 'arch_remove_memory', 'init_memory_mapping', 'kernel_physical_mapping_init',
  'add_pages', '__add_pages', '__remove_pages', 'sparse_add_section', 'sparse_remove_section',
  'section_activate', 'section_deactivate', '__populate_section_memmap', 'populate_section_memmap',
  'depopulate_section_memmap', 'vmemmap_populate', 'vmemmap_populate_hugepages', 'vmemmap_populate_basepages',
  'vmemmap_populate_compound_pages', 'vmemmap_populate_range', 'vmemmap_alloc_block_buf',
  'altmap_alloc_block_buf', 'vmemmap_free', 'remove_pagetable', 'free_pagetable', 'vmemmap_set_pmd',
];

/** /init: the whole guest program. Kept free of case data so that the base initramfs is cached per kernel. */
export const GUEST_INIT = String.raw`#!/bin/busybox sh
# altmap-oracle guest init: load the nvdimm/dax modules, run /case/steps.sh, report on ttyS1, power off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mkdir -p /tmp /run /var/run
. /case/config
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1
T=/sys/kernel/tracing
REL=$(uname -r)

val() { printf '@@ALTMAP-VAL %s %s %s %s\n' "$TOKEN" "$1" "$2" "$3" >&3; }
emit() {
  [ -f "$3" ] || return 0
  n=$(wc -c < "$3")
  printf '@@ALTMAP-BEGIN %s %s %s\n' "$TOKEN" "$1" "$2" >&3
  cat "$3" >&3
  printf '\n@@ALTMAP-END %s %s %s %s\n' "$TOKEN" "$1" "$2" $n >&3
}
uptime_s() { read up idle < /proc/uptime; echo $up; }

sysfs_list() {
  for d in /sys/bus/nd/devices/* /sys/bus/dax/devices/*; do [ -e "$d" ] && echo "$d/"; done > /tmp/devdirs
  [ -s /tmp/devdirs ] && find $(cat /tmp/devdirs) -maxdepth 1 -type f ! -name uevent 2>/dev/null
  for d in /sys/bus/dax/devices/*; do
    [ -e "$d" ] || continue
    find "$d/" -mindepth 2 -maxdepth 2 -type f -path '*/mapping*' 2>/dev/null
    [ -d "$d/../dax_region" ] && find "$d/../dax_region/" -maxdepth 1 -type f 2>/dev/null
  done
  find /sys/devices/system/memory/ -maxdepth 2 -type f ! -name uevent 2>/dev/null
  find /sys/module/memory_hotplug/parameters/ -type f 2>/dev/null
  for f in online possible has_memory has_normal_memory has_cpu; do echo /sys/devices/system/node/$f; done
  ls -d /sys/devices/system/node/node*/meminfo 2>/dev/null
}

snap() {
  cat /proc/iomem > $1/iomem
  cat /proc/meminfo > $1/meminfo
  sysfs_list | sort -u > /tmp/files
  xargs grep -s -H '' < /tmp/files > $1/sysfs 2>/dev/null
  xargs grep -s -L . < /tmp/files 2>/dev/null | sed 's/$/:/' >> $1/sysfs
  for d in /sys/bus/nd/devices/* /sys/bus/dax/devices/*; do
    [ -e "$d" ] || continue
    t=$(readlink "$d"); dr=
    [ -L "$d/driver" ] && dr=$(readlink "$d/driver")
    echo "$d -> $t driver=\${dr##*/}"
  done > $1/drivers
}

DMESG_LINES=0
dmesg_new() {
  dmesg -r > /tmp/dall
  tail -n +$((DMESG_LINES + 1)) /tmp/dall > $1
  DMESG_LINES=$(wc -l < /tmp/dall)
}

# reading the nd sysfs attributes logs pr_debug lines of its own: the snapshot's lines belong to no step
dmesg_skip() { dmesg -r > /tmp/dall; DMESG_LINES=$(wc -l < /tmp/dall); }

settle() { for w in /sys/bus/nd/devices/ndbus*/wait_probe; do [ -e "$w" ] && cat "$w" > /dev/null 2>&1; done; }

report() { # step dir
  for k in stdout stderr dmesg iomem meminfo sysfs drivers trace filter; do emit $1 $k $2/$k; done
}

trace_begin() {
  echo 0 > $T/tracing_on
  echo nop > $T/current_tracer
  read -r first < $T/set_ftrace_filter
  case "$first" in ''|'#'*) echo "no traceable function in the filter" >&2; return 1 ;; esac
  echo 1 > $T/options/funcgraph-tail
  echo function_graph > $T/current_tracer
  : > $T/trace
  echo 1 > $T/tracing_on
}
trace_end() { # dir
  echo 0 > $T/tracing_on
  cat $T/trace > $1/trace
  cat $T/set_ftrace_filter > $1/filter
  echo nop > $T/current_tracer
}

# ---- boot: modules, labels, the boot state (step 0)
D=/tmp/s0; mkdir -p $D
while read rel args; do
  insmod /lib/modules/$REL/$rel $args >> $D/stdout 2>> $D/stderr || echo "insmod $rel: exit $?" >> $D/stderr
done < /etc/modules.list
settle
[ -d $T ] && echo 8192 > $T/buffer_size_kb 2>/dev/null
val 0 t1 $(uptime_s)
val 0 cmdline "$(cat /proc/cmdline)"
if [ -s /case/trace_funcs ] && [ -e $T/available_filter_functions ]; then
  awk 'NR == FNR { want[$1] = 1; next } ($1 in want)' /case/trace_funcs $T/available_filter_functions > $D/avail
  awk '{ print $1 }' $D/avail | sort -u > /tmp/trace_names
  # the filter is set once per boot: one write of the names this kernel can trace (each name costs a scan of every record)
  [ -s /tmp/trace_names ] && cat /tmp/trace_names > $T/set_ftrace_filter
  emit 0 traceable $D/avail
fi
val 0 t2 $(uptime_s)

# run a shell function or command in the background and give up on it after $1 seconds: a task stuck on a
# lock an oops left held stays stuck, and the rest of the boot goes on without it
NB=0
bounded() {
  lim=$(($1 * 50)); shift
  NB=$((NB + 1)); rcf=/tmp/bounded.$NB
  ( "$@"; echo $? > $rcf.tmp; mv $rcf.tmp $rcf ) &
  n=0
  while [ ! -e $rcf ] && [ $n -lt $lim ]; do usleep 20000; n=$((n + 1)); done
  [ -e $rcf ]
}

HUNG=
step() { # index trace(0|1) timeout(s) command
  i=$1; tr=$2; lim=$(($3 * 50)); cmd=$4
  D=/tmp/s$i; mkdir -p $D
  # after a step that hung (or left the kernel holding locks), the rest would only hang too
  if [ -n "$HUNG" ]; then val $i exit skipped; return; fi
  [ "$tr" = 1 ] && trace_begin 2> $D/trace_err
  val $i t0 $(uptime_s)
  ( sh -c "$cmd" > $D/stdout 2> $D/stderr < /dev/null; echo $? > $D/rc.tmp; mv $D/rc.tmp $D/rc ) &
  n=0
  while [ ! -e $D/rc ] && [ $n -lt $lim ]; do usleep 20000; n=$((n + 1)); done
  if [ -e $D/rc ]; then val $i exit $(cat $D/rc); else val $i exit timeout; HUNG=1; fi
  val $i t1 $(uptime_s)
  [ "$tr" = 1 ] && trace_end $D
  [ -s $D/trace_err ] && cat $D/trace_err >> $D/stderr
  bounded 10 settle || { val $i hung settle; HUNG=1; }
  dmesg_new $D/dmesg
  if [ -z "$HUNG" ]; then
    bounded 30 snap $D || { val $i hung snapshot; HUNG=1; rm -f $D/sysfs $D/drivers; }
  fi
  dmesg_skip
  report $i $D
}

D=/tmp/s0
dmesg_new $D/dmesg
snap $D
dmesg_skip
report 0 $D
. /case/steps.sh
printf '@@ALTMAP-DONE %s\n' "$TOKEN" >&3
exec 3>&-
# QEMU's isa-debug-exit port ends the run at once: a shutdown would wait for device locks an oops left held
printf '\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
`.replace(/\\\$\{dr##\*\/\}/g, '${dr##*/}');

/** Single-quote for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The /case/ archive of one boot: newc cpio bytes (uncompressed), appended to the base initramfs. */
export function caseArchive(steps: OracleStep[], token: string, workTmp: string): Buffer {
  const dir = mkdtempSync(join(workTmp, 'case-'));
  try {
    mkdirSync(join(dir, 'case'));
    writeFileSync(join(dir, 'case', 'config'), `TOKEN=${token}\n`);
    const lines = steps.map((s, i) => `step ${i + 1} ${s.trace ? 1 : 0} ${s.timeout ?? 60} ${shQuote(s.run)}`);
    writeFileSync(join(dir, 'case', 'steps.sh'), lines.join('\n') + '\n');
    const traced = steps.some((s) => s.trace);
    writeFileSync(join(dir, 'case', 'trace_funcs'), traced ? TRACE_FUNCTIONS.join('\n') + '\n' : '');
    return execFileSync('sh', ['-c', 'find case | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible'], { cwd: dir, maxBuffer: 16 << 20 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface GuestReport {
  steps: Map<number, { vals: Record<string, string>; blobs: Record<string, string> }>;
  done: boolean;
  /** Framing problems (a length that does not match, an unterminated block). */
  problems: string[];
}

/** Parse ttyS1's output of one boot. */
export function parseGuestOutput(text: string, token: string): GuestReport {
  const steps: GuestReport['steps'] = new Map();
  const problems: string[] = [];
  const get = (i: number) => {
    let s = steps.get(i);
    if (!s) steps.set(i, (s = { vals: {}, blobs: {} }));
    return s;
  };
  let done = false;
  let at = 0;
  const begin = `@@ALTMAP-BEGIN ${token} `;
  const valp = `@@ALTMAP-VAL ${token} `;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    const line = nl < 0 ? text.slice(at) : text.slice(at, nl);
    const next = nl < 0 ? text.length : nl + 1;
    if (line.startsWith(valp)) {
      const [i, key, ...rest] = line.slice(valp.length).split(' ');
      get(Number(i)).vals[key!] = rest.join(' ');
      at = next;
    } else if (line.startsWith(begin)) {
      const [i, key] = line.slice(begin.length).split(' ');
      const endMark = `\n@@ALTMAP-END ${token} ${i} ${key} `;
      const end = text.indexOf(endMark, next - 1);
      if (end < 0) {
        problems.push(`step ${i} ${key}: no end marker (output cut short)`);
        get(Number(i)).blobs[key!] = text.slice(next);
        break;
      }
      const content = text.slice(next, end);
      const endLineEnd = text.indexOf('\n', end + endMark.length);
      const n = Number(text.slice(end + endMark.length, endLineEnd < 0 ? undefined : endLineEnd));
      if (Buffer.byteLength(content, 'latin1') !== n && Buffer.byteLength(content, 'utf8') !== n) problems.push(`step ${i} ${key}: ${Buffer.byteLength(content)} bytes, the guest sent ${n}`);
      get(Number(i)).blobs[key!] = content;
      at = endLineEnd < 0 ? text.length : endLineEnd + 1;
    } else {
      if (line === `@@ALTMAP-DONE ${token}`) done = true;
      at = next;
    }
  }
  return { steps, done, problems };
}

/** The guest report as RealSteps (step 0 is the boot). */
export function realSteps(report: GuestReport, steps: OracleStep[]): RealStep[] {
  // a step the guest skipped (an earlier one hung) still counts: the kernel never got to it
  const out: RealStep[] = [];
  for (let i = 0; i <= steps.length; i++) {
    const s = report.steps.get(i);
    if (!s) break;
    const b = s.blobs;
    const state: StateFiles = {};
    for (const k of STATE_KEYS) if (b[k] !== undefined) state[k as StateKey] = b[k];
    const exitRaw = i === 0 ? '0' : s.vals.exit;
    const r: RealStep = {
      index: i,
      run: i === 0 ? '(boot)' : steps[i - 1]!.run,
      exit: exitRaw === undefined || exitRaw === 'timeout' || exitRaw === 'skipped' ? null : Number(exitRaw),
      stdout: b.stdout ?? '',
      stderr: b.stderr ?? '',
      dmesg: b.dmesg ?? '',
      state,
    };
    if (i > 0 && steps[i - 1]!.setup) r.setup = true;
    if (exitRaw === 'timeout') r.timedOut = true;
    if (exitRaw === 'skipped') r.skipped = true;
    if (s.vals.hung) r.hung = s.vals.hung;
    if (s.vals.t0) r.t0 = Number(s.vals.t0);
    if (s.vals.t1) r.t1 = Number(s.vals.t1);
    if (b.trace !== undefined) r.trace = b.trace;
    if (b.filter !== undefined) r.traceFilter = b.filter;
    out.push(r);
  }
  return out;
}
