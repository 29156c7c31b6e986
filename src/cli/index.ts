/**
 * The `altmap` command: ndctl's vocabulary over a simulated Linux v4.5 machine.
 *
 *   altmap                      the default report (two 256 GiB fsdax namespaces, map=dev and map=mem)
 *   altmap create-namespace     ndctl create-namespace: prints the namespace JSON (with its altmap)
 *   altmap destroy-namespace    ndctl destroy-namespace
 *   altmap list                 ndctl list -N
 *   altmap walk <vaddr>         the page-table walk of a virtual address
 *   altmap run <scenario.json>  runs a scenario file
 *   altmap dmesg                the kernel log
 *
 * Exit codes: 0 ok; 1 a failure (a walk that found nothing mapped, a scenario step that failed
 * unexpectedly, a counter that did not come back); 2 a usage error (unknown command or flag, a bad
 * flag value, a malformed scenario); create-namespace exits as ndctl v76 does: 256 + errno for
 * ndctl's own refusals (234 EINVAL, 228 ENOSPC) and 237 when the namespace fails to enable.
 *
 * The machine lasts across commands with `--state FILE`: the file is a scenario (machine options +
 * the steps that built it), replayed on load and written back after a command that changed it.
 */
import { existsSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createMachine, type AltmapCounters, type Machine, type MachineConfig, type MachineStats } from '../machine.ts';
import { KernelError, STRERROR } from '../kernel/errno.ts';
import { KERNELS, type KernelName } from '../kernel/profile.ts';
import { decodeInfoBlock, PFN_SB_SIZE } from '../nvdimm/infoblock.ts';
import { NdctlError, ndctlJsonString } from '../nvdimm/ndctl.ts';
import { parseSize } from '../nvdimm/units.ts';
import { planCapacity, planSvg, planTable } from '../planner.ts';
import { parseScenarioInt, runPreparedSteps, toJsonValue, validateScenario, type Scenario, type ScenarioStep, type StepResult } from '../scenario.ts';

// ------------------------------------------------------------------------------------ plumbing

/** A failure with its exit code and the text for stderr (already formatted, newline-terminated or not). */
class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const usage = (msg: string): never => {
  throw new Exit(2, `error: ${msg}`);
};

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}
function err(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : s + '\n');
}

const GiB = 1n << 30n;
const RAM_START = 0x100000n;

function hex(x: bigint | number): string {
  return `0x${x.toString(16)}`;
}

/** IEC size with two decimals: "256.00 GiB", "4.00 KiB", "0 B". */
function iec(bytes: bigint | number): string {
  const b = BigInt(bytes);
  if (b < 1024n) return `${b} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  let div = 1024n;
  while (u < units.length - 1 && b >= div * 1024n) {
    div *= 1024n;
    u++;
  }
  const centi = (b * 100n + div / 2n) / div;
  return `${centi / 100n}.${(centi % 100n).toString().padStart(2, '0')} ${units[u]}`;
}

/** Columns padded to their widest cell; `right` lists the right-aligned columns. */
function table(rows: string[][], right: number[] = [], indent = ''): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => (indent + r.map((c, i) => (i === r.length - 1 && !right.includes(i) ? c : right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).trimEnd());
}

/** The message of a KernelError without its "EINVAL: " prefix. */
function bare(e: KernelError): string {
  return e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message;
}


// ------------------------------------------------------------------------------------ progress

interface BarLike {
  start(total: number, value: number, payload?: Record<string, unknown>): void;
  update(value: number, payload?: Record<string, unknown>): void;
  stop(): void;
}

/** A cli-progress bar on stderr, only on a terminal and only once a run has taken a while. */
class Progress {
  private bar: BarLike | null = null;
  private readonly t0 = performance.now();
  private readonly tty = !!process.stderr.isTTY;

  constructor(
    private readonly total: number,
    private readonly afterMs = 300,
  ) {}

  tick(done: number, what: string): void {
    if (!this.tty) return;
    if (!this.bar) {
      if (performance.now() - this.t0 < this.afterMs || done >= this.total) return;
      const require = createRequire(import.meta.url);
      const cp = require('cli-progress') as { SingleBar: new (o: object, preset: object) => BarLike; Presets: Record<string, object> };
      this.bar = new cp.SingleBar(
        { stream: process.stderr, format: ' {bar} {value}/{total} {what}', clearOnComplete: true, hideCursor: true, barsize: 30 },
        cp.Presets.shades_classic!,
      );
      this.bar.start(this.total, done, { what });
    } else this.bar.update(done, { what });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

// ------------------------------------------------------------------------------- machine flags

interface GlobalOpts {
  kernel: KernelName;
  backend: 'wasm' | 'ts';
  debug?: boolean;
}

interface MachineOpts extends GlobalOpts {
  dramSize: bigint;
  pmemSize: bigint;
  pmemStart?: bigint;
  state?: string;
}

function sizeArg(what: string) {
  return (v: string): bigint => {
    try {
      return parseSize(v, what);
    } catch (e) {
      throw new InvalidArgumentError(e instanceof KernelError ? bare(e) : String(e));
    }
  };
}

function sizeOption(flags: string, description: string, value?: bigint, shown?: string): Option {
  const o = new Option(flags, description).argParser(sizeArg(flags.split(' ')[0]!));
  return value === undefined ? o : o.default(value, shown);
}

function addMachineOptions(cmd: Command, withState = true): Command {
  cmd
    .addOption(sizeOption('--dram-size <size>', 'System RAM from 1 MiB up (ndctl size syntax)', 64n * GiB, '64G'))
    .addOption(sizeOption('--pmem-size <size>', 'Persistent Memory size', 1n << 40n, '1T'))
    .addOption(sizeOption('--pmem-start <addr>', 'Persistent Memory start (default: the first 1 GiB boundary above RAM)'));
  if (withState) cmd.option('--state <file>', 'keep the machine across commands in FILE (a scenario: machine + steps, replayed on load)');
  return cmd;
}

/** The e820 the machine flags describe (hex strings: the form the state file keeps). */
function e820FromFlags(o: MachineOpts): NonNullable<MachineConfig['e820']> {
  if (o.dramSize === 0n) usage('--dram-size must be positive');
  if (o.pmemSize === 0n) usage('--pmem-size must be positive');
  const ramEnd = RAM_START + o.dramSize;
  const pmemStart = o.pmemStart ?? ((ramEnd + GiB - 1n) / GiB) * GiB;
  if (o.dramSize % 4096n) usage(`--dram-size ${o.dramSize} is not a multiple of 4 KiB`);
  if (o.pmemSize % 4096n) usage(`--pmem-size ${o.pmemSize} is not a multiple of 4 KiB`);
  if (pmemStart % 4096n) usage(`--pmem-start ${hex(pmemStart)} is not page-aligned`);
  if (pmemStart < ramEnd && pmemStart + o.pmemSize > RAM_START) usage(`--pmem-start ${hex(pmemStart)} overlaps System RAM [${hex(RAM_START)}-${hex(ramEnd - 1n)}]`);
  return [
    { start: hex(RAM_START), size: hex(o.dramSize), type: 'System RAM' },
    { start: hex(pmemStart), size: hex(o.pmemSize), type: 'Persistent Memory' },
  ];
}

/** e820 entries as comparable text (sizes parsed). */
function e820Key(e: MachineConfig['e820']): string {
  if (!e) return 'default';
  return e.map((x) => `${x.type}:${parseSize(x.start, 'start')}+${parseSize(x.size, 'size')}`).join(',');
}

/** Boot a machine; EINVAL from the configuration is a usage error, a backend that will not load a plain failure. */
async function boot(config: MachineConfig): Promise<Machine> {
  try {
    return await createMachine(config);
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EINVAL') usage(`machine: ${bare(e)}`);
    if (e instanceof KernelError) throw new Exit(1, `error: cannot boot the machine: ${e.message}`);
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Exit(1, `error: cannot start the ${config.backend ?? 'wasm'} backend (${why})${config.backend !== 'ts' ? '; --backend ts runs the TypeScript core' : ''}`);
  }
}

interface Session {
  m: Machine;
  /** The scenario that rebuilds this machine (what --state keeps). */
  scenario: { machine: MachineConfig; steps: ScenarioStep[] };
  file?: string;
}

function explicit(cmd: Command, key: string): boolean {
  return cmd.getOptionValueSourceWithGlobals(key) === 'cli';
}

/** The machine of a command: replayed from --state when the file exists, else booted from the flags. */
async function openSession(cmd: Command): Promise<Session> {
  const o = cmd.optsWithGlobals<MachineOpts>();
  const runtime: MachineConfig = { backend: o.backend, ...(o.debug ? { debug: true } : {}) };
  if (o.state && existsSync(o.state)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(o.state, 'utf8'));
    } catch (e) {
      usage(`--state ${o.state}: ${e instanceof Error ? e.message : String(e)}`);
    }
    let prepared;
    try {
      prepared = validateScenario(raw);
    } catch (e) {
      if (e instanceof KernelError) usage(`--state ${o.state}: ${bare(e)}`);
      throw e;
    }
    const saved = prepared.machine;
    if (explicit(cmd, 'kernel') && o.kernel !== (saved.kernel ?? 'v4.5')) usage(`--kernel ${o.kernel} conflicts with --state ${o.state} (made with ${saved.kernel ?? 'v4.5'})`);
    if (['dramSize', 'pmemSize', 'pmemStart'].some((k) => explicit(cmd, k)) && e820Key(e820FromFlags(o)) !== e820Key(saved.e820)) {
      usage(`--dram-size/--pmem-size/--pmem-start conflict with the machine --state ${o.state} was made with`);
    }
    // a backend the state file names is kept unless --backend is given
    const m = await boot({ ...saved, ...runtime, ...(saved.backend && !explicit(cmd, 'backend') ? { backend: saved.backend } : {}) });
    const results = runPreparedSteps(m, prepared.steps);
    const broken = results.find((r) => r.mismatch !== undefined);
    if (broken) {
      m.dispose();
      throw new Exit(1, `error: --state ${o.state}: step ${broken.index} (${broken.op}) does not replay: ${broken.mismatch}`);
    }
    return { m, scenario: { machine: saved, steps: (raw as Scenario).steps }, file: o.state };
  }
  const machine: MachineConfig = { kernel: o.kernel, e820: e820FromFlags(o) };
  const m = await boot({ ...machine, ...runtime });
  return { m, scenario: { machine, steps: [] }, file: o.state };
}

/** Record a successful change and write the state file back (atomically). */
function saveStep(s: Session, step: ScenarioStep): void {
  s.scenario.steps.push(step);
  if (!s.file) return;
  const tmp = `${s.file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s.scenario, null, 2) + '\n');
  renameSync(tmp, s.file);
}

// ---------------------------------------------------------------------------- create-namespace

const MODE_ALIASES: Record<string, string> = { memory: 'fsdax', dax: 'devdax' };

interface CreateOpts extends MachineOpts {
  size?: string;
  mode?: string;
  map?: string;
  align?: string;
  human?: boolean;
  json?: boolean;
  explain?: boolean;
}

async function cmdCreateNamespace(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<CreateOpts>();
  const s = await openSession(cmd);
  const m = s.m;
  try {
    const req: Record<string, string> = {};
    if (o.size !== undefined) req.size = o.size;
    if (o.mode !== undefined) req.mode = MODE_ALIASES[o.mode] ?? o.mode;
    if (o.map !== undefined) req.map = o.map;
    if (o.align !== undefined) req.align = o.align;
    // ndctl's own checks first (nothing changes): a refusal here is ndctl's, exit 256 + errno.
    try {
      m.pmem.plan(req);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      err(e instanceof NdctlError ? e.stderr : `  Error: create namespace: ${bare(e)}`);
      return 256 + e.errno;
    }
    const before = m.stats();
    let created: Record<string, unknown>;
    try {
      created = m.createNamespace(req);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      err(`failed to create namespace: ${STRERROR[e.code] ?? e.code} (${e.message})`);
      return 237;
    }
    const after = m.stats();
    saveStep(s, { op: 'createNamespace', ...req });
    const human = o.json ? false : o.human ? true : !!process.stdout.isTTY;
    const shown = m.listNamespaces({ human }).find((n) => n.dev === created.dev) ?? created;
    out(ndctlJsonString(shown));
    if (o.explain) err(explainNamespace(m, created, before, after).join('\n'));
    return 0;
  } finally {
    m.dispose();
  }
}

/** "namespace0.3" -> "pfn0.3": the pfn device the pmem driver creates for it. */
function pfnDevOf(dev: string): string {
  return dev.replace(/^namespace/, 'pfn');
}

type AltmapView = AltmapCounters;

/** Where every byte of a new namespace went, for --explain: the info block on the media says where the data starts. */
function explainNamespace(m: Machine, ns: Record<string, unknown>, before: MachineStats, after: MachineStats): string[] {
  const dev = String(ns.dev);
  const size = BigInt(ns.size as number);
  const d = after.devices[pfnDevOf(String(dev))];
  const lines: string[] = [];
  if (!d) {
    lines.push(`${dev}: mode ${ns.mode}: no pfn device, no memmap; all ${size} bytes (${iec(size)}) are data`);
    return lines;
  }
  const raw = d.end - d.start + 1n;
  const sb = decodeInfoBlock(m.readPhys(d.start + 4096n, PFN_SB_SIZE));
  // data offset from the namespace start, and the tail the kernel trimmed (v4.18+ end_trunc)
  const dataOff = sb ? sb.startPad + sb.dataoff : raw - size;
  const tail = raw - dataOff - size;
  const a = ns.altmap as AltmapView | null;
  const B = (n: bigint): [string, string] => [String(n), iec(n)];
  lines.push(`${dev} (${ns.mode}, map=${ns.map}, align ${iec(BigInt(ns.align as number))}): where the ${raw} bytes (${iec(raw)}) at [${hex(d.start)}-${hex(d.end)}] went`);
  const rows: string[][] = [['offset', 'bytes', '', 'what']];
  rows.push(['0x0', ...B(4096n), 'left alone (the first 4 KiB)']);
  rows.push(['0x1000', ...B(4096n), `pfn info block${sb ? ` (dataoff ${hex(sb.dataoff)}, npfns ${sb.npfns}${sb.startPad || sb.endTrunc ? `, start_pad ${sb.startPad}, end_trunc ${sb.endTrunc}` : ''})` : ''}`]);
  let at = 8192n;
  if (a) {
    const poolStart = BigInt(a.basePfn + a.reserve) * 4096n - d.start;
    const pool = BigInt(a.free) * 4096n;
    if (poolStart > at) rows.push([hex(at), ...B(poolStart - at), 'before the altmap pool']);
    rows.push([hex(poolStart), ...B(pool), `memmap pool: altmap free ${a.free} pfns x 4 KiB`]);
    rows.push(['', ...B(BigInt(a.alloc) * 4096n), `  struct pages (altmap alloc ${a.alloc} pfns)`]);
    rows.push(['', ...B(BigInt(a.align) * 4096n), `  alignment padding the altmap wasted (align ${a.align} pfns)`]);
    rows.push(['', ...B(BigInt(a.nrFree) * 4096n), `  never used (nr_free ${a.nrFree} pfns)`]);
    at = poolStart + pool;
  }
  if (dataOff > at) rows.push([hex(at), ...B(dataOff - at), `padding to the data offset ${hex(dataOff)} (align ${iec(BigInt(ns.align as number))})`]);
  rows.push([hex(dataOff), ...B(size), `data: ${size / 4096n} pfns from pfn ${hex((d.start + dataOff) >> 12n)} (the reported size)`]);
  if (tail > 0n) rows.push([hex(dataOff + size), ...B(tail), 'trimmed off the end (end_trunc)']);
  rows.push(['total', ...B(raw), tail >= 0n && dataOff >= at ? '= raw size' : '(does not add up: MISMATCH)']);
  lines.push(...table(rows, [1, 2], '  '));
  const memmapDram = BigInt(d.dramMemmapPages) * 4096n;
  const pt = after.dram.pageTablePages - before.dram.pageTablePages + (after.dram.directMapPages - before.dram.directMapPages);
  lines.push(
    `  DRAM: memmap ${memmapDram} bytes (${iec(memmapDram)}, ${d.dramMemmapPages} pages)${d.dramMemmapPages ? ' - the struct pages live in System RAM' : ''}; ` +
      `page-table pages added ${pt} (${iec(BigInt(pt) * 4096n)}); slab pages ${after.dram.slabPages - before.dram.slabPages}`,
  );
  return lines;
}

// ------------------------------------------------------------------------------ other commands

async function cmdDestroyNamespace(dev: string, cmd: Command): Promise<number> {
  const s = await openSession(cmd);
  try {
    const names = dev === 'all' ? s.m.listNamespaces().map((n) => String(n.dev)) : [dev];
    let destroyed = 0;
    for (const name of names) {
      try {
        s.m.destroyNamespace(name);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        err(`  Error: ${name}: ${bare(e)}`);
        err(`destroyed ${destroyed} namespace${destroyed === 1 ? '' : 's'}`);
        return 1;
      }
      saveStep(s, { op: 'destroyNamespace', dev: name });
      destroyed++;
    }
    err(`destroyed ${destroyed} namespace${destroyed === 1 ? '' : 's'}`);
    return 0;
  } finally {
    s.m.dispose();
  }
}

async function cmdList(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { human?: boolean }>();
  const s = await openSession(cmd);
  try {
    out(ndctlJsonString(s.m.listNamespaces({ human: !!o.human })));
    return 0;
  } finally {
    s.m.dispose();
  }
}

async function cmdDmesg(cmd: Command): Promise<number> {
  const s = await openSession(cmd);
  try {
    const lines = s.m.dmesg();
    if (lines.length) out(lines.join('\n'));
    return 0;
  } finally {
    s.m.dispose();
  }
}

async function cmdReconfigure(dev: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { mode: string; memmapOnMemory?: boolean; forceMemmapOnMemory?: boolean; movable: boolean }>();
  if (o.mode !== 'system-ram' && o.mode !== 'devdax') usage(`--mode ${o.mode} is not system-ram or devdax`);
  const s = await openSession(cmd);
  try {
    const mom = o.forceMemmapOnMemory ? 'force' : !!o.memmapOnMemory;
    let r: Record<string, unknown>;
    try {
      r = s.m.reconfigureDevice(dev, { mode: o.mode as 'system-ram' | 'devdax', memmapOnMemory: mom, movable: o.movable });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      err(`libdaxctl: ${dev}: ${bare(e)}`);
      err('reconfigured 0 devices');
      return 1;
    }
    saveStep(s, { op: 'reconfigureDevice', dev, mode: o.mode, ...(mom === 'force' ? { forceMemmapOnMemory: true } : mom ? { memmapOnMemory: true } : {}), ...(o.movable ? {} : { movable: false }) });
    out(ndctlJsonString([r]));
    err('reconfigured 1 device');
    return 0;
  } finally {
    s.m.dispose();
  }
}

async function cmdPlan(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<GlobalOpts & { size: string; json?: boolean; svg?: string }>();
  const kernel = explicit(cmd, 'kernel') ? (o.kernel as KernelName) : 'v6';
  let plan;
  try {
    plan = await planCapacity({
      size: o.size,
      kernel,
      backend: o.backend as 'wasm' | 'ts',
      onRow: (row, i, n) => {
        if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K  [${i + 1}/${n}] ${row.label}`);
      },
    });
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EINVAL') usage(bare(e));
    throw e;
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  if (o.json) out(JSON.stringify(plan, null, 2));
  else out(planTable(plan));
  if (o.svg) {
    writeFileSync(o.svg, planSvg(plan));
    err(`wrote ${o.svg}`);
  }
  return 0;
}

/** The x86-64 entry bits a person looks for. */
function pteFlags(e: bigint): string {
  if ((e & 1n) === 0n) return 'not present';
  const f = ['P'];
  if (e & 2n) f.push('RW');
  if (e & 4n) f.push('US');
  if (e & 0x20n) f.push('A');
  if (e & 0x40n) f.push('D');
  if (e & 0x80n) f.push('PS');
  if (e & 0x100n) f.push('G');
  if (e >> 63n) f.push('NX');
  return f.join(' ');
}

function pageSizeName(n: number): string {
  return n === 4096 ? '4 KiB' : n === 2 << 20 ? '2 MiB' : n === 1 << 30 ? '1 GiB' : `${n} bytes`;
}

async function cmdWalk(vaddrArg: string | undefined, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { pfn?: string; json?: boolean }>();
  if ((vaddrArg === undefined) === (o.pfn === undefined)) usage('walk needs a virtual address or --pfn <pfn> (not both)');
  let va = 0n;
  let pfn: bigint | null = null;
  if (o.pfn !== undefined) {
    const p = parseScenarioInt(o.pfn);
    if (typeof p === 'string') usage(`--pfn: ${p}`);
    pfn = p as bigint;
    if (pfn >= 1n << 40n) usage(`--pfn ${o.pfn} is beyond any physical address space`);
  } else {
    const v = parseScenarioInt(vaddrArg);
    if (typeof v === 'string') usage(`vaddr: ${v}`);
    va = v as bigint;
    if (va >= 1n << 64n) usage(`${vaddrArg} is beyond 64 bits`);
  }
  const s = await openSession(cmd);
  try {
    let title = hex(va);
    if (pfn !== null) {
      try {
        va = s.m.pfnToPage(Number(pfn));
      } catch (e) {
        if (e instanceof KernelError) usage(`--pfn ${o.pfn}: ${bare(e)}`);
        throw e;
      }
      title = `struct page of pfn ${hex(pfn)} at ${hex(va)}`;
    }
    let w;
    try {
      w = s.m.walkVerbose(va);
    } catch (e) {
      if (e instanceof KernelError && e.code === 'EINVAL') usage(bare(e));
      throw e;
    }
    if (o.json) {
      out(JSON.stringify(toJsonValue({ vaddr: va, ...w }), null, 2));
      return w.mapped ? 0 : 1;
    }
    out(`walk ${title}`);
    const rows = [['level', 'index', 'entry', 'table', 'flags']];
    for (const l of w.levels) rows.push([l.level, String(l.index), `0x${l.entry.toString(16).padStart(16, '0')}`, hex(l.table), pteFlags(l.entry) + (w.mapped && l === w.levels[w.levels.length - 1] ? ` (${pageSizeName(w.pageSize)} leaf)` : '')]);
    for (const line of table(rows, [1], '  ')) out(line);
    if (w.mapped) {
      out(`  phys ${hex(w.phys)}, page size ${pageSizeName(w.pageSize)}`);
      return 0;
    }
    const last = w.levels[w.levels.length - 1];
    out(last ? `  not mapped: the walk stopped at the ${last.level} (index ${last.index}): entry ${hex(last.entry)} is not present` : '  not mapped');
    return 1;
  } finally {
    s.m.dispose();
  }
}

function stepStatus(r: StepResult): string {
  if (r.ok) return r.mismatch ? `ok, expected ${r.expectError}: MISMATCH` : 'ok';
  if (!r.expectError) return `${r.error.code} UNEXPECTED`;
  return r.expectError === r.error.code ? `${r.error.code} (expected)` : `${r.error.code}, expected ${r.expectError}: MISMATCH`;
}

function stepValue(r: StepResult, args: Record<string, unknown>): string {
  if (!r.ok) return r.error.message;
  const v = r.value;
  if (r.op === 'altmapAllocBlockBuf' && typeof v === 'bigint' && r.altmap && typeof args.bytes === 'bigint') {
    // on success the block ends at the new next_pfn
    return `${hex(v)} (pfn ${hex(r.altmap.nextPfn - Number(args.bytes / 4096n))})`;
  }
  if (r.op === 'walk' && v && typeof v === 'object') {
    const w = v as { phys: bigint; pageSize: number; levels: Array<{ level: string; index: number }> };
    return `${w.levels.map((l) => `${l.level}[${l.index}]`).join(' > ')} -> ${hex(w.phys)} (${pageSizeName(w.pageSize)})`;
  }
  if (r.op === 'dmesg' && Array.isArray(v)) return `${v.length} lines\n${v.map((l) => `      ${l}`).join('\n')}`;
  const j = toJsonValue(v);
  return typeof j === 'string' ? j : JSON.stringify(j);
}

async function cmdRun(file: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<GlobalOpts & { json?: boolean; stopOnError?: boolean }>();
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    usage(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let prepared;
  try {
    prepared = validateScenario(raw);
  } catch (e) {
    if (e instanceof KernelError) usage(`${file}: ${bare(e)}`);
    throw e;
  }
  const config: MachineConfig = { ...prepared.machine };
  if (explicit(cmd, 'backend') || config.backend === undefined) config.backend = o.backend;
  if (explicit(cmd, 'kernel')) config.kernel = o.kernel;
  if (o.debug) config.debug = true;
  const m = await boot(config);
  const progress = new Progress(prepared.steps.length);
  let results: StepResult[];
  try {
    results = runPreparedSteps(m, prepared.steps, { stopOnError: !!o.stopOnError, onStep: (r, n) => progress.tick(r.index + 1, r.op) });
  } finally {
    progress.stop();
    m.dispose();
  }
  const mismatches = results.filter((r) => r.mismatch !== undefined);
  if (o.json) {
    out(JSON.stringify(toJsonValue(results), null, 2));
  } else {
    const rows = results.map((r) => [String(r.index), r.op, stepStatus(r), stepValue(r, prepared.steps[r.index]!.args) + (r.altmap ? `  [alloc ${r.altmap.alloc} align ${r.altmap.align} nr_free ${r.altmap.nrFree} next_pfn ${hex(r.altmap.nextPfn)}]` : '')]);
    for (const line of table(rows, [0], '  ')) out(line);
    const failedAsExpected = results.filter((r) => !r.ok && !r.mismatch).length;
    out(`${results.length} of ${prepared.steps.length} steps run: ${results.filter((r) => r.ok && !r.mismatch).length} ok, ${failedAsExpected} failed as expected, ${mismatches.length} mismatch${mismatches.length === 1 ? '' : 'es'}`);
  }
  for (const r of mismatches) err(`step ${r.index} (${r.op}): ${r.mismatch}`);
  return mismatches.length ? 1 : 0;
}

// ------------------------------------------------------------------------------ default report

interface NsReport {
  json: Record<string, unknown>;
  raw: bigint;
  start: bigint;
  size: bigint;
  dramMemmapPages: number;
  ptPages: number;
  ptVmemmap: number;
  ptDirect: number;
  firstDataPfn: bigint;
  memmapPhys: bigint | null;
}

const COUNTERS: Array<[string, keyof MachineStats['dram']]> = [
  ['DRAM free pages', 'freePages'],
  ['page-table pages', 'pageTablePages'],
  ['memmap pages', 'memmapPages'],
  ['direct-map pages', 'directMapPages'],
  ['slab pages', 'slabPages'],
];

async function cmdReport(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { json?: boolean; nsSize: bigint }>();
  const progress = new Progress(5);
  progress.tick(0, 'boot');
  const config: MachineConfig = { kernel: o.kernel, e820: e820FromFlags(o), backend: o.backend, ...(o.debug ? { debug: true } : {}) };
  const m = await boot(config);
  try {
    const boot0 = m.stats();
    const nsReports: NsReport[] = [];
    const maps: Array<'dev' | 'mem'> = ['dev', 'mem'];
    let fail: KernelError | null = null;
    for (const map of maps) {
      progress.tick(nsReports.length + 1, `create-namespace -M ${map}`);
      const before = m.stats();
      let ns: Record<string, unknown>;
      try {
        ns = m.createNamespace({ size: o.nsSize, mode: 'fsdax', map });
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        fail = e;
        break;
      }
      const after = m.stats();
      const d = after.devices[pfnDevOf(String(ns.dev))]!;
      const raw = d.end - d.start + 1n;
      const size = BigInt(ns.size as number);
      const firstDataPfn = (d.end + 1n - size) >> 12n;
      const w = m.walk(m.pfnToPage(Number(firstDataPfn)));
      const pv = after.dram.pageTablePages - before.dram.pageTablePages;
      const pd = after.dram.directMapPages - before.dram.directMapPages;
      nsReports.push({
        json: ns,
        raw,
        start: d.start,
        size,
        dramMemmapPages: after.dram.memmapPages - before.dram.memmapPages,
        ptPages: pv + pd,
        ptVmemmap: pv,
        ptDirect: pd,
        firstDataPfn,
        memmapPhys: w ? w.phys : null,
      });
    }
    const loaded = m.stats();
    for (const r of nsReports) {
      progress.tick(3 + nsReports.indexOf(r), `destroy-namespace ${r.json.dev}`);
      m.destroyNamespace(String(r.json.dev));
    }
    progress.stop();
    const end = m.stats();
    const dmesg = m.dmesg();
    const counters = COUNTERS.map(([name, key]) => ({ name, boot: boot0.dram[key], loaded: loaded.dram[key], after: end.dram[key], ok: boot0.dram[key] === end.dram[key] }));
    const allOk = counters.every((c) => c.ok);

    if (o.json) {
      out(
        JSON.stringify(
          toJsonValue({
            machine: { kernel: m.kernel, backend: m.backend, e820: m.e820 },
            namespaces: nsReports.map((r) => ({ ...r.json, raw: Number(r.raw), start: r.start, givenUp: Number(r.raw - r.size), dramMemmapPages: r.dramMemmapPages, pageTablePages: r.ptPages, firstDataPfn: r.firstDataPfn, memmapPhys: r.memmapPhys })),
            error: fail ? { code: fail.code, errno: fail.errno, message: fail.message } : null,
            dmesg,
            counters,
          }),
          null,
          2,
        ),
      );
      return fail || !allOk ? 1 : 0;
    }

    out(`altmap-sim: kernel profile ${m.kernel}, x86-64, ${m.backend} core`);
    for (const line of table(m.e820.map((e) => [e.type, `[${hex(e.start)}-${hex(e.start + e.size - 1n)}]`, iec(e.size)]), [2], '  ')) out(line);
    out('');
    const isRam = (p: bigint) => m.e820.some((e) => e.type === 'System RAM' && p >= e.start && p < e.start + e.size);
    const rows: string[][] = [['', ...nsReports.map((r) => `${r.json.dev} (fsdax, map=${r.json.map})`)]];
    const row = (label: string, f: (r: NsReport) => string) => rows.push([label, ...nsReports.map(f)]);
    const alt = (r: NsReport) => r.json.altmap as AltmapView | null;
    row('physical range', (r) => `[${hex(r.start)}-${hex(r.start + r.raw - 1n)}]`);
    row('raw size', (r) => `${r.raw} (${iec(r.raw)})`);
    row('reported size', (r) => `${r.size} (${iec(r.size)})`);
    row('capacity given up', (r) => `${r.raw - r.size} (${iec(r.raw - r.size)}, ${((Number(r.raw - r.size) / Number(r.raw)) * 100).toFixed(2)}%)`);
    row('memmap lives in', (r) => {
      const a = alt(r);
      return a ? `device pfns ${hex(a.basePfn + a.reserve)}-${hex(a.basePfn + a.reserve + a.free - 1)} (altmap pool)` : 'DRAM (page allocator)';
    });
    row('memmap in DRAM', (r) => `${r.dramMemmapPages} pages (${iec(BigInt(r.dramMemmapPages) * 4096n)})`);
    row('page-table pages added', (r) => `${r.ptPages} (vmemmap ${r.ptVmemmap}, direct map ${r.ptDirect})`);
    const field = (k: keyof AltmapView, fmt: (n: number) => string = String) => (r: NsReport) => {
      const a = alt(r);
      return a ? fmt(a[k]) : '-';
    };
    row('altmap base_pfn', field('basePfn', hex));
    row('altmap reserve', field('reserve'));
    row('altmap free', field('free'));
    row('altmap align', field('align'));
    row('altmap alloc', field('alloc'));
    row('altmap nr_free', field('nrFree'));
    row('first data pfn', (r) => hex(r.firstDataPfn));
    row('its struct page at phys', (r) => (r.memmapPhys === null ? 'not mapped' : `${hex(r.memmapPhys)} (${isRam(r.memmapPhys) ? 'DRAM' : r.memmapPhys >= r.start && r.memmapPhys < r.start + r.raw ? 'on the device' : 'elsewhere'})`));
    if (nsReports.length) for (const line of table(rows)) out(line);
    if (fail) out(`create-namespace -s ${iec(o.nsSize)} -M ${maps[nsReports.length]} failed: ${fail.message}`);
    out('');
    out(`kernel messages (${dmesg.length} lines since boot):`);
    for (const l of dmesg) out(`  ${l}`);
    out('');
    out(`counters (DRAM pages) after destroying ${nsReports.map((r) => r.json.dev).join(' and ') || 'nothing'}:`);
    const crow = [['counter', 'at boot', 'with namespaces', 'after destroy', '']];
    for (const c of counters) crow.push([c.name, String(c.boot), String(c.loaded), String(c.after), c.ok ? 'OK' : `CHANGED (${c.after - c.boot > 0 ? '+' : ''}${c.after - c.boot})`]);
    for (const line of table(crow, [1, 2, 3], '  ')) out(line);
    out(allOk ? `all ${counters.length} counters back where they started: OK` : `${counters.filter((c) => !c.ok).length} counter(s) CHANGED`);
    return fail || !allOk ? 1 : 0;
  } finally {
    progress.stop();
    m.dispose();
  }
}

// ------------------------------------------------------------------------------------ commander

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('altmap');
  program
    .description('An executable model of how Linux v4.5 places the memmap of persistent memory (struct vmem_altmap).\nWith no command: the default report on the default machine (64 GiB System RAM + 1 TiB Persistent Memory).')
    .version('0.1.0')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      // one line per usage error: commander's "(Did you mean ...?)" joins the first line
      outputError: (str, write) => write(str.replace(/\n(?=.)/g, ' ')),
    })
    .addOption(new Option('--kernel <version>', 'kernel profile').choices([...KERNELS]).default('v4.5'))
    .addOption(new Option('--backend <backend>', 'core implementation').choices(['wasm', 'ts']).default('wasm'))
    .option('--debug', 'log pr_debug lines (altmap_alloc_block_buf, vmemmap PMDs) in dmesg');

  const act = (fn: (...a: any[]) => Promise<number>) => async (...a: any[]) => setExit(await fn(...a));

  const reportCmd = addMachineOptions(
    program
      .command('report')
      .description('the default report: two 256 GiB fsdax namespaces (map=dev, map=mem), where their memmap lives, and every counter back after destroying them'),
    false,
  )
    .addOption(sizeOption('--ns-size <size>', 'size of each of the two namespaces', 256n * GiB, '256G'))
    .option('--json', 'print the report as JSON')
    .action(act(async (_o: unknown, cmd: Command) => cmdReport(cmd)));

  // No command: the report with its defaults (machine flags go after `report`).
  program.allowExcessArguments(true).action(
    act(async (_o: unknown, cmd: Command) => {
      if (cmd.args.length) usage(`unknown command '${cmd.args[0]}' (see altmap --help)`);
      return cmdReport(reportCmd);
    }),
  );

  addMachineOptions(
    program
      .command('create-namespace')
      .description('ndctl create-namespace: create a namespace and print it as ndctl does, with the altmap it got')
      .option('-s, --size <size>', 'namespace size (default: all available)')
      .option('-m, --mode <mode>', 'fsdax | devdax | raw (default fsdax)')
      .option('-M, --map <map>', 'where the memmap lives: dev (the altmap) | mem (DRAM) (default dev)')
      .option('-a, --align <align>', 'data alignment: 4K | 2M | 1G (default 2M)')
      .addOption(new Option('-u, --human', 'human sizes (the default when stdout is a terminal)').conflicts('json'))
      .option('--json', 'sizes in bytes')
      .option('--explain', 'on stderr: where every byte of the namespace went'),
  ).action(act(async (_o: unknown, cmd: Command) => cmdCreateNamespace(cmd)));

  addMachineOptions(
    program
      .command('destroy-namespace')
      .description('ndctl destroy-namespace: tear a namespace down (devm_memremap_pages release)')
      .argument('<dev>', 'namespace0.0, ... or all')
      .option('-f, --force', 'accepted for ndctl compatibility (the model never refuses an active namespace)'),
  ).action(act(async (dev: string, _o: unknown, cmd: Command) => cmdDestroyNamespace(dev, cmd)));

  addMachineOptions(
    program
      .command('list')
      .description('ndctl list -N: the namespaces as a JSON array')
      .option('-N, --namespaces', 'accepted for ndctl compatibility (namespaces are all this lists)')
      .option('-u, --human', 'human sizes'),
  ).action(act(async (_o: unknown, cmd: Command) => cmdList(cmd)));

  addMachineOptions(
    program
      .command('walk')
      .description('the page-table walk of a virtual address, one line per level; exit 1 when not mapped')
      .argument('[vaddr]', 'canonical virtual address (0x hex or decimal)')
      .option('--pfn <pfn>', "walk the struct page of this pfn instead (pfn_to_page)")
      .option('--json', 'print the walk as JSON'),
  ).action(act(async (vaddr: string | undefined, _o: unknown, cmd: Command) => cmdWalk(vaddr, cmd)));

  program
    .command('run')
    .description('run a scenario file and print every step; exit 1 when a step failed unexpectedly, 2 when the scenario is malformed')
    .argument('<scenario>', 'scenario JSON file')
    .option('--json', 'print the step results as one JSON array')
    .option('--stop-on-error', 'stop at the first step that failed unexpectedly')
    .action(act(async (file: string, _o: unknown, cmd: Command) => cmdRun(file, cmd)));

  addMachineOptions(program.command('dmesg').description('the kernel log since boot')).action(act(async (_o: unknown, cmd: Command) => cmdDmesg(cmd)));

  addMachineOptions(
    program
      .command('reconfigure-device')
      .description('daxctl reconfigure-device: a devdax device to System RAM (dax kmem) and back; v6 profile')
      .argument('<dev>', 'dax0.0, ...')
      .requiredOption('-m, --mode <mode>', 'system-ram | devdax')
      .option('--memmap-on-memory', "put each memory block's memmap in the block itself (memmap_on_memory)")
      .option('--force-memmap-on-memory', 'memmap_on_memory=force: pad the memmap to a pageblock')
      .option('--no-movable', 'online to ZONE_NORMAL instead of ZONE_MOVABLE'),
  ).action(act(async (dev: string, _o: unknown, cmd: Command) => cmdReconfigure(dev, cmd)));

  program
    .command('plan')
    .description('the capacity planner: every way to expose a device of this size, side by side, on fresh simulated machines')
    .requiredOption('--size <size>', 'device size (e.g. 1T, 1536G)')
    .option('--json', 'print the plan as JSON')
    .option('--svg <file>', 'also draw the comparison as an SVG chart')
    .action(act(async (_o: unknown, cmd: Command) => cmdPlan(cmd)));

  return program;
}

let pipeGuard = false;
/** `altmap dmesg | head`: a reader that went away ends the command quietly. */
function quietOnClosedPipe(): void {
  if (pipeGuard) return;
  pipeGuard = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/** Run the CLI on `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      return 2; // commander has printed its one-line reason
    }
    if (e instanceof Exit) {
      err(e.message);
      return e.code;
    }
    if (e instanceof KernelError) {
      err(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`altmap: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

