/**
 * One boot of one case: sparse DIMM files, the per-case initramfs, QEMU with TCG, the report parsed
 * from ttyS1. A fresh boot per case keeps device names and seeds deterministic.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { bytes as parseSize } from './util.ts';
import { caseArchive, parseGuestOutput, realSteps } from './guest.ts';
import type { Initramfs, KernelImage } from './env.ts';
import { stepsFor } from './cases.ts';
import type { OracleCase, OracleMachine, OracleProfile, OracleStep, RealRun } from './types.ts';

const MiB = 1n << 20n;
const GiB = 1n << 30n;

/** The kernel command line every boot gets, before the case's own parameters. */
export const BASE_CMDLINE = [
  'console=ttyS0',
  'nokaslr',
  'no_hash_pointers',
  'log_buf_len=16M',
  'loglevel=4',
  'panic=-1',
  // pr_debug of the built-in mm and dax code (modules get dyndbg=+p from insmod)
  'dyndbg="file mm/memremap.c +p; file mm/mm_init.c +p; file mm/page_alloc.c +p; file mm/sparse-vmemmap.c +p; file mm/sparse.c +p; file mm/memory_hotplug.c +p; file arch/x86/mm/init_64.c +p; file drivers/dax/bus.c +p; file drivers/dax/super.c +p"',
];

/** The setup steps a machine needs before the case's own: labelled DIMMs get an initialised label area. */
export function setupSteps(m: OracleMachine): OracleStep[] {
  const labelled = m.dimms.map((d, i) => (d.labels === false ? -1 : i)).filter((i) => i >= 0);
  if (!labelled.length) return [];
  // QEMU's label area starts empty: the kernel treats such a DIMM as label-less until ndctl initialises it
  return [
    { run: 'ndctl disable-region all', setup: true },
    { run: `ndctl init-labels ${labelled.map((i) => `nmem${i}`).join(' ')}`, setup: true },
    { run: 'ndctl enable-region all', setup: true },
  ];
}

/** All steps a boot runs on a kernel: setup, then the case's. */
export function bootSteps(c: Pick<OracleCase, 'machine' | 'steps'>, profile: OracleProfile): OracleStep[] {
  return [...setupSteps(c.machine), ...stepsFor(c, profile)];
}

export function cmdlineFor(m: OracleMachine): string {
  return [...BASE_CMDLINE, ...(m.cmdline ?? [])].join(' ');
}

/** QEMU's argv for a machine (DIMM files under `dir`); paths as given. */
export function qemuArgs(k: KernelImage, initrd: string, m: OracleMachine, dir: string): string[] {
  const ram = parseSize(m.ram, 'ram');
  const dimmBytes = m.dimms.reduce((a, d) => a + parseSize(d.size, 'dimm size'), 0n);
  const slots = Math.max(1, m.dimms.length);
  // room for the DIMMs above RAM, with 1 GiB slack per DIMM for alignment and explicit addresses
  const maxmem = ((ram + dimmBytes + BigInt(slots) * GiB + 64n * GiB + GiB - 1n) / GiB) * GiB;
  const args = [
    '-machine', 'pc,nvdimm=on',
    '-accel', 'tcg',
    '-cpu', 'max,la57=off',
    '-smp', '1',
    '-m', `${ram / MiB}M,slots=${slots},maxmem=${maxmem / GiB}G`,
    '-display', 'none',
    '-monitor', 'none',
    '-no-reboot',
    // the guest writes to port 0xf4 when it is done: QEMU exits with status 3
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-kernel', k.vmlinuz,
    '-initrd', initrd,
    '-append', cmdlineFor(m),
    '-serial', `file:${join(dir, 'console.txt')}`,
    '-serial', `file:${join(dir, 'report.txt')}`,
  ];
  // NUMA: one RAM backend per node (they must add up to -m), the CPU on node 0
  m.nodes?.forEach((sz, i) => {
    args.push('-object', `memory-backend-ram,id=ram${i},size=${parseSize(sz, 'node size') / MiB}M`);
    args.push('-numa', `node,nodeid=${i},memdev=ram${i}${i === 0 ? ',cpus=0' : ''}`);
  });
  m.dimms.forEach((d, i) => {
    const size = parseSize(d.size, 'dimm size');
    args.push('-object', `memory-backend-file,id=mem${i},share=on,mem-path=${join(dir, `dimm${i}.img`)},size=${size / MiB}M,align=2M`);
    args.push('-device', `nvdimm,id=nv${i},memdev=mem${i}${d.labels === false ? '' : ',label-size=128K'}${d.addr ? `,addr=${d.addr}` : ''}${d.node !== undefined ? `,node=${d.node}` : ''}`);
  });
  return args;
}

export interface BootOptions {
  kernel: KernelImage;
  initramfs: Initramfs;
  workdir: string;
  /** Wall-clock limit for the whole boot, seconds (default: 120 + 60 per step). */
  timeout?: number;
  /** Keep the run directory (console log, report) after a successful run. */
  keep?: boolean;
}

/** Boot a case on a real kernel and return what it said. */
export async function bootCase(c: Pick<OracleCase, 'id' | 'machine' | 'steps'>, o: BootOptions): Promise<RealRun & { console: string }> {
  const steps = bootSteps(c, o.kernel.profile);
  const runs = join(o.workdir, 'runs');
  mkdirSync(runs, { recursive: true });
  const dir = join(runs, `${o.kernel.release}-${c.id}-${process.pid}-${randomBytes(3).toString('hex')}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const token = randomBytes(6).toString('hex');
  const initrd = join(dir, 'initrd.img');
  // the kernel takes the next archive of a concatenation only at a 4-byte aligned offset (NULs between are skipped)
  const base = readFileSync(o.initramfs.path);
  writeFileSync(initrd, Buffer.concat([base, Buffer.alloc((512 - (base.length % 512)) % 512), caseArchive(steps, token, dir)]));
  c.machine.dimms.forEach((d, i) => {
    const fd = openSync(join(dir, `dimm${i}.img`), 'w');
    ftruncateSync(fd, Number(parseSize(d.size, 'dimm size'))); // sparse
    closeSync(fd);
  });
  const args = qemuArgs(o.kernel, initrd, c.machine, dir);
  // the guest bounds every step (its timeout, 10 s of settling, 30 s of snapshot): this is the fallback
  const limit = o.timeout ?? 120 + steps.reduce((a, st) => a + (st.timeout ?? 60) + 40, 0);
  const t0 = performance.now();
  const { code, stderr, killed } = await new Promise<{ code: number | null; stderr: string; killed: boolean }>((resolve) => {
    const p = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    let killed = false;
    p.stderr.on('data', (d) => (err += String(d)));
    const timer = setTimeout(() => {
      killed = true;
      p.kill('SIGKILL');
    }, limit * 1000);
    // once the guest has said all it has to say, a shutdown that hangs on a lock does not matter
    const report = join(dir, 'report.txt');
    let doneAt = 0;
    const watch = setInterval(() => {
      if (!doneAt) {
        if (existsSync(report) && readFileSync(report, 'latin1').includes(`@@ALTMAP-DONE ${token}`)) doneAt = Date.now();
      } else if (Date.now() - doneAt > 10_000) p.kill('SIGKILL');
    }, 500);
    p.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(watch);
      resolve({ code: doneAt && code === null ? 0 : code, stderr: err, killed });
    });
    p.on('error', (e) => {
      clearTimeout(timer);
      clearInterval(watch);
      resolve({ code: -1, stderr: String(e), killed });
    });
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const report = existsSync(join(dir, 'report.txt')) ? readFileSync(join(dir, 'report.txt'), 'latin1') : '';
  const consoleText = existsSync(join(dir, 'console.txt')) ? readFileSync(join(dir, 'console.txt'), 'latin1') : '';
  const parsed = parseGuestOutput(Buffer.from(report, 'latin1').toString('utf8'), token);
  const real = realSteps(parsed, steps);
  const boot = parsed.steps.get(0)?.vals;
  let incomplete: string | undefined;
  if (!parsed.done) {
    incomplete = killed ? `QEMU killed after ${limit} s (the guest hung at step ${real.length})` : code !== 0 && code !== 3 ? `QEMU exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : 'the guest stopped before the end marker';
  }
  if (parsed.problems.length) incomplete = [incomplete, ...parsed.problems].filter(Boolean).join('; ');
  const traceable = parsed.steps.get(0)?.blobs.traceable;
  const run: RealRun & { console: string } = {
    caseId: c.id,
    profile: o.kernel.profile,
    kernel: o.kernel.upstream,
    release: o.kernel.release,
    package: o.kernel.pkg,
    packageVersion: o.kernel.version,
    cmdline: boot?.cmdline ?? cmdlineFor(c.machine),
    qemuArgs: args.map((a) => a.split(dir).join('$RUN').split(o.kernel.root).join('$KERNEL')),
    steps: real,
    ...(traceable !== undefined ? { traceable } : {}),
    complete: parsed.done && !parsed.problems.length,
    ...(incomplete ? { incomplete } : {}),
    wallSeconds: Math.round(wallSeconds * 100) / 100,
    ...(boot?.t1 ? { bootSeconds: Number(boot.t1) } : {}),
    console: consoleText,
  };
  if (!o.keep && run.complete) rmSync(dir, { recursive: true, force: true });
  else for (let i = 0; i < c.machine.dimms.length; i++) rmSync(join(dir, `dimm${i}.img`), { force: true });
  return run;
}
