/**
 * The model's side of the oracle: the same steps, through the model's own CLI (`main(argv)` with
 * `--state FILE`, in-process), on a machine with the real guest's physical layout (its e820 RAM
 * ranges and its NVDIMM regions, as the real kernel reported them).
 *
 * Guest commands map onto altmap commands (COMMANDS below); a command the model has no counterpart
 * for is run anyway and its usage error recorded, so that the comparison shows it. The CLI's `main`
 * is passed in (the oracle command lives inside the CLI, which must not be imported back).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMachine, runPreparedSteps, sratNodes, validateScenario, type Machine } from '../index.ts';
import type { FixtureStateKey } from './fixtures.ts';
import { TRACE_FUNCTIONS } from './guest.ts';
import { pageLine } from './kpages.ts';
import type { OracleProfile } from './types.ts';

export type CliMain = (argv: string[]) => Promise<number>;

/** The real machine's physical layout, as the model needs it. */
export interface Layout {
  /** System RAM ranges (usable e820 entries, page-trimmed), ascending; `node` from the SRAT (a NUMA guest only). */
  ram: Array<{ start: bigint; end: bigint; node?: number }>;
  /** NVDIMM / legacy pmem regions: name, start, size (from sysfs regionN/resource and size). */
  regions: Array<{ name: string; start: bigint; size: bigint; align?: bigint; labelLess?: boolean; legacy?: boolean; node?: number }>;
  /** Soft Reserved ranges (memmap=...%...+0xefffffff). */
  softReserved: Array<{ start: bigint; end: bigint; node?: number }>;
  /** Reserved e820 ranges (page-rounded outward, clear of RAM). */
  reserved: Array<{ start: bigint; end: bigint }>;
  /** block_size_bytes */
  memoryBlockSize?: bigint;
  /** The kernel command line's memory-hotplug parameters the model takes (memhp_default_state=, memory_hotplug.memmap_on_memory=). */
  cmdline?: string;
}

/** The parameters of the boot's "Command line:" that the model's cmdline parses (src/kernel/cmdline.ts). */
const MODEL_PARAMS = /^(memhp_default_state|memory_hotplug\.memmap_on_memory)=/;

/** The memory-hotplug parameters of the early boot log's command line, or undefined when it has none. */
function hotplugCmdline(lines: string[]): string | undefined {
  const l = lines.find((x) => /\] Command line: /.test(x));
  if (!l) return undefined;
  const params = l.slice(l.indexOf('Command line: ') + 14).split(/\s+/).filter((w) => MODEL_PARAMS.test(w));
  return params.length ? params.join(' ') : undefined;
}

const PAGE = 4096n;


/** The layout from the early boot log (e820) and the boot state's nd and memory sysfs. */
export function layoutFrom(earlyBoot: string, ndSysfs: string, memorySysfs: string): Layout {
  // the kernel prints the firmware map, then (with memmap=) the user-defined one that it uses
  const lines = earlyBoot.split('\n');
  const user = lines.filter((l) => /\] user: \[mem /.test(l));
  const source = user.length ? user : lines.filter((l) => /\] BIOS-e820: \[mem /.test(l));
  const ram: Layout['ram'] = [];
  const softReserved: Layout['softReserved'] = [];
  const legacy: Array<{ start: bigint; end: bigint }> = [];
  const reservedRaw: Layout['reserved'] = [];
  for (const l of source) {
    const m = /\[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.*)$/.exec(l);
    if (!m) continue;
    const start = BigInt(m[1]!);
    const end = BigInt(m[2]!);
    const type = m[3]!.trim();
    if (type === 'usable') {
      let s = ((start + PAGE - 1n) / PAGE) * PAGE;
      if (s === 0n) s = PAGE; // the kernel keeps page 0 reserved (e820: update ... usable ==> reserved)
      const e = ((end + 1n) / PAGE) * PAGE - 1n;
      if (e > s) ram.push({ start: s, end: e });
    } else if (/soft reserved/.test(type)) softReserved.push({ start, end });
    else if (type === 'persistent (type 12)') legacy.push({ start, end });
    else if (type === 'reserved') reservedRaw.push({ start, end });
  }
  // "e820: update [mem A-B] usable ==> reserved" (page 0, the kernel's own): reserved, and out of RAM
  for (const l of lines) {
    const u = /e820: update \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] usable ==> reserved/.exec(l);
    if (!u) continue;
    const a = BigInt(u[1]!);
    const b = BigInt(u[2]!);
    reservedRaw.push({ start: a, end: b });
    for (const m of ram) if (m.start >= a && m.start <= b) m.start = ((b + PAGE) / PAGE) * PAGE;
  }
  // the model's e820 is page-granular: a reserved range grows to whole pages, but never into RAM
  const reserved: Layout['reserved'] = [];
  for (const r of reservedRaw) {
    let s = (r.start / PAGE) * PAGE;
    let e = ((r.end + PAGE) / PAGE) * PAGE - 1n;
    for (const m of ram) {
      if (s <= m.end && s >= m.start) s = m.end + 1n;
      if (e >= m.start && e <= m.end) e = m.start - 1n;
    }
    if (e > s && !ram.some((m) => s <= m.end && e >= m.start)) reserved.push({ start: s, end: e });
  }
  const attrs = new Map<string, string>();
  for (const l of ndSysfs.split('\n')) {
    const m = /^\/sys\/bus\/nd\/devices\/([^/]+)\/([^:]+):(.*)$/.exec(l);
    if (m) attrs.set(`${m[1]}/${m[2]}`, m[3]!);
  }
  const regions: Layout['regions'] = [];
  for (const [k, v] of attrs) {
    const m = /^(region\d+)\/resource$/.exec(k);
    if (!m) continue;
    const size = attrs.get(`${m[1]}/size`);
    if (!size) continue;
    const align = attrs.get(`${m[1]}/align`);
    // nstype 4 (ND_DEVICE_NAMESPACE_IO): no labels, one raw namespace over the whole region
    const start = BigInt(v);
    // a region over an e820 type-12 range (memmap=nn!ss) is the e820 bus's: label-less by nature
    const isLegacy = legacy.some((l) => l.start <= start && start <= l.end);
    const labelLess = !isLegacy && attrs.get(`${m[1]}/nstype`) === '4';
    regions.push({ name: m[1]!, start, size: BigInt(size), ...(align ? { align: BigInt(align) } : {}), ...(labelLess ? { labelLess } : {}), ...(isLegacy ? { legacy: true } : {}) });
  }
  regions.sort((a, b) => (a.start < b.start ? -1 : 1));
  const srat = sratNodes(lines);
  if (srat) {
    const cut = ram.flatMap((r) => srat.split(r));
    ram.splice(0, ram.length, ...cut);
    for (const r of [...ram, ...regions, ...softReserved]) r.node = srat.nodeOf(r.start) ?? 0;
  }
  const bs = /\/sys\/devices\/system\/memory\/block_size_bytes:([0-9a-f]+)/.exec(memorySysfs);
  const cmdline = hotplugCmdline(lines);
  return { ram, regions, softReserved, reserved, ...(bs ? { memoryBlockSize: BigInt(`0x${bs[1]}`) } : {}), ...(cmdline ? { cmdline } : {}) };
}

const hx = (x: bigint) => `0x${x.toString(16)}`;

/** The model's machine config (the state file's "machine") for a layout. */
export function machineFor(layout: Layout, profile: OracleProfile): Record<string, unknown> {
  const e820: Array<{ start: string; size: string; type: string; node?: number }> = [];
  const node = (r: { node?: number }) => (r.node !== undefined ? { node: r.node } : {});
  for (const r of layout.ram) e820.push({ start: hx(r.start), size: hx(r.end + 1n - r.start), type: 'System RAM', ...node(r) });
  for (const r of layout.regions) e820.push({ start: hx(r.start), size: hx(r.size), type: r.legacy ? 'Persistent Memory (legacy)' : 'Persistent Memory', ...node(r) });
  for (const r of layout.softReserved) e820.push({ start: hx(r.start), size: hx(r.end + 1n - r.start), type: 'Soft Reserved', ...node(r) });
  // reserved ranges that overlap a region (the firmware's view of pmem) are left to the region
  for (const r of layout.reserved) if (!layout.regions.some((g) => r.start < g.start + g.size && r.end >= g.start)) e820.push({ start: hx(r.start), size: hx(r.end + 1n - r.start), type: 'Reserved' });
  e820.sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
  const m: Record<string, unknown> = { kernel: profile, e820 };
  if (layout.memoryBlockSize) m.memoryBlockSize = hx(layout.memoryBlockSize);
  const align = layout.regions[0]?.align;
  if (align !== undefined) m.regionAlign = hx(align);
  const labelLess = layout.regions.filter((r) => !r.legacy).flatMap((r, i) => (r.labelLess ? [i] : []));
  if (labelLess.length) m.labelLessRegions = labelLess;
  if (layout.cmdline) m.cmdline = layout.cmdline;
  return m;
}

/**
 * Guest command -> altmap argv. ndctl and daxctl subcommands keep their names and flags (the model's
 * CLI speaks ndctl's vocabulary); `echo V > F` and `cat F` are the virtual /proc and /sys of issue 13.
 */
export const COMMANDS = {
  ndctl: { 'create-namespace': 'create-namespace', 'destroy-namespace': 'destroy-namespace', list: 'list' } as Record<string, string>,
  daxctl: { 'reconfigure-device': 'reconfigure-device', 'online-memory': 'online-memory', 'offline-memory': 'offline-memory', list: 'daxctl-list' } as Record<string, string>,
};

/** Split a command line as sh would for the simple words the cases use (no quoting beyond '...' and "..."). */
export function shellWords(s: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** The altmap argv for a guest command, or null when it is not something the model has a notion of. */
export function translate(run: string): string[] | null {
  const echo = /^echo\s+(\S+)\s*(>>?)\s*(\S+)$/.exec(run.trim());
  if (echo) return echo[2] === '>>' ? ['write', '--append', echo[3]!, echo[1]!] : ['write', echo[3]!, echo[1]!];
  const w = shellWords(run);
  if (!w.length || /[|;&<>$`]/.test(run)) return null;
  if (w[0] === 'cat') return ['cat', ...w.slice(1)];
  if (w[0] === 'ndctl' || w[0] === 'daxctl') {
    const sub = w[1] ?? '';
    const mapped = COMMANDS[w[0]][sub];
    return [mapped ?? (w[0] === 'daxctl' ? `daxctl-${sub}` : sub), ...w.slice(2)];
  }
  return null;
}

export interface ModelStep {
  index: number;
  run: string;
  setup?: boolean;
  /** The altmap argv, or null when the command has no model counterpart. */
  argv: string[] | null;
  exit: number | null;
  stdout: string;
  stderr: string;
  /** The step's new dmesg lines as `altmap dmesg` prints them. */
  dmesg: string;
  /** State files the model could produce (via `altmap cat`), by fixture key; absent where it cannot. */
  state: Partial<Record<FixtureStateKey, string>>;
  /** Why a state key is missing. */
  stateMissing: Partial<Record<FixtureStateKey, string>>;
  /** The model's function_graph output for a traced step (null: the model cannot trace). */
  trace?: string | null;
  /** For a kpages step: the model's struct pages of the pfns the real kernel printed, as pageLine()s. */
  pages?: string;
}

export interface ModelRun {
  profile: OracleProfile;
  machine: Record<string, unknown>;
  /** Set when the model cannot run this profile at all (the profile does not exist yet). */
  unsupported?: string;
  steps: ModelStep[];
}

/** Run `main(argv)` with stdout and stderr captured (and no TTY, so sizes print as ndctl prints them to a pipe). */
export async function captured(main: CliMain, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const ow = process.stdout.write;
  const ew = process.stderr.write;
  const otty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  const etty = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true, writable: true });
  Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true, writable: true });
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    code = -1;
    stderr += `altmap: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
    if (otty) Object.defineProperty(process.stdout, 'isTTY', otty);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
    if (etty) Object.defineProperty(process.stderr, 'isTTY', etty);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
  }
  return { code, stdout, stderr };
}

/** The files the model is asked for after every step (issue 13's virtual /proc): fixture key -> path. */
export const MODEL_STATE_FILES: Partial<Record<FixtureStateKey, string>> = {
  iomem: '/proc/iomem',
  meminfo: '/proc/meminfo',
};

/** The sysfs groups, asked for file by file (the paths the real kernel had). */
export const MODEL_SYSFS_KEYS = ['nd', 'dax', 'memory', 'node'] as const;

export interface ModelOptions {
  main: CliMain;
  profile: OracleProfile;
  backend?: 'wasm' | 'ts';
  /** Ask the model for the state files after each step (default true). */
  state?: boolean;
  /** The pfns a real kpages step printed (to show the model's struct pages of the same pfns). */
  realPages?: (index: number) => number[] | null;
  /** The real kernel's sysfs after each step (fixture key -> path:value text), to ask the model for the same paths. */
  realSysfs?: (index: number) => Partial<Record<(typeof MODEL_SYSFS_KEYS)[number], string>>;
}

/**
 * The model's machine as the state file describes it, kept live beside the CLI: the steps the CLI
 * appended to the state file since the last look are run on it (the CLI's own replay, through the
 * public API), with pr_debug on. One boot per case instead of one per read.
 */
class Mirror {
  private m: Machine | null = null;
  private applied: string[] = [];
  /** Bumped whenever the machine changes (a replay, or steps run on it): reads of one generation can be reused. */
  generation = 0;
  constructor(
    private readonly file: string,
    private readonly backend: 'wasm' | 'ts',
  ) {}

  async machine(): Promise<Machine> {
    const raw = JSON.parse(readFileSync(this.file, 'utf8')) as { machine: Record<string, unknown>; steps: unknown[] };
    const steps = raw.steps.map((x) => JSON.stringify(x));
    const prefix = this.m !== null && this.applied.every((x, i) => steps[i] === x);
    if (!prefix) {
      this.m?.dispose();
      const prepared = validateScenario({ machine: raw.machine, steps: [] });
      this.m = await createMachine({ ...prepared.machine, backend: this.backend, debug: true });
      this.applied = [];
      this.generation++;
    }
    const fresh = raw.steps.slice(this.applied.length);
    if (fresh.length) {
      runPreparedSteps(this.m!, validateScenario({ machine: raw.machine, steps: fresh }).steps);
      this.applied = steps;
      this.generation++;
    }
    return this.m!;
  }

  dispose(): void {
    this.m?.dispose();
    this.m = null;
  }
}

type FileApi = { readFile?: (path: string) => string };

/** path:value lines of the files of a real sysfs dump, as the model reads them. */
function modelSysfs(m: Machine, real: string): { text: string; missing: number } {
  const paths = [...new Set(real.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf(':') < 0 ? undefined : l.indexOf(':'))))];
  const api = m as unknown as FileApi;
  const lines: string[] = [];
  let missing = 0;
  for (const p of paths) {
    let v: string;
    try {
      v = api.readFile!(p);
    } catch {
      missing++;
      continue;
    }
    const body = v.replace(/\n$/, '');
    for (const l of body === '' ? [''] : body.split('\n')) lines.push(`${p}:${l}`);
  }
  return { text: lines.sort().join('\n') + (lines.length ? '\n' : ''), missing };
}

/** Run the steps on the model. `steps[0]` is the boot (no command), as in a recorded run. */
export async function runOnModel(layout: Layout, steps: Array<{ index: number; run: string; setup?: boolean; trace?: boolean | readonly string[] }>, o: ModelOptions): Promise<ModelRun> {
  const dir = mkdtempSync(join(tmpdir(), 'altmap-oracle-'));
  const file = join(dir, 'state.json');
  const machine = machineFor(layout, o.profile);
  writeFileSync(file, JSON.stringify({ machine, steps: [] }, null, 2) + '\n');
  const backend = o.backend ?? 'wasm';
  const base = ['--kernel', o.profile, '--backend', backend];
  const run: ModelRun = { profile: o.profile, machine, steps: [] };
  try {
    // the model boots at all for this profile?
    const probe = await captured(o.main, [...base, 'dmesg', '--state', file]);
    if (probe.code !== 0) {
      run.unsupported = (probe.stderr || probe.stdout).trim().split('\n')[0] || `exit ${probe.code}`;
      return run;
    }
    let seen = 0;
    const mirror = new Mirror(file, backend);
    const sysfsCache = new Map<string, { generation: number; real: string; text: string }>();
    try {
      for (const st of steps) {
        const ms: ModelStep = { index: st.index, run: st.run, ...(st.setup ? { setup: true } : {}), argv: null, exit: null, stdout: '', stderr: '', dmesg: '', state: {}, stateMissing: {} };
        run.steps.push(ms);
        if (st.setup) continue; // nothing ran on the model
        const pfns = st.index > 0 ? (o.realPages?.(st.index) ?? null) : null;
        if (pfns) {
          ms.pages = modelPages(await mirror.machine(), pfns);
          continue;
        }
        if (st.index > 0) {
          const argv = translate(st.run);
          ms.argv = argv;
          if (argv) {
            if (st.trace) {
              ms.trace = await modelTrace(o.main, base, argv, file, dir, st.trace === true ? TRACE_FUNCTIONS : st.trace);
              // the guest starts function_graph before the step (and stops it after): the machine's own state sees it too
              for (const tracer of ['function_graph', 'nop']) await captured(o.main, [...base, 'write', '/sys/kernel/tracing/current_tracer', tracer, '--state', file]);
            }
            const r = await captured(o.main, [...base, ...argv, '--state', file]);
            ms.exit = r.code;
            ms.stdout = r.stdout;
            ms.stderr = r.stderr;
          }
        }
        const m = await mirror.machine();
        const lines = m.dmesg();
        ms.dmesg = lines.slice(st.index === 0 ? 0 : Math.min(seen, lines.length)).map((l) => `${l}\n`).join('');
        seen = lines.length;
        if (o.state === false) continue;
        const api = m as unknown as FileApi;
        for (const [key, path] of Object.entries(MODEL_STATE_FILES) as Array<[FixtureStateKey, string]>) {
          if (typeof api.readFile !== 'function') {
            ms.stateMissing[key] = 'the model has no machine.readFile (issue 13)';
            continue;
          }
          try {
            ms.state[key] = api.readFile(path);
          } catch (e) {
            ms.stateMissing[key] = e instanceof Error ? e.message : String(e);
          }
        }
        const real = o.realSysfs?.(st.index) ?? {};
        for (const key of MODEL_SYSFS_KEYS) {
          if (real[key] === undefined) continue;
          if (typeof api.readFile !== 'function') {
            ms.stateMissing[key] = 'the model has no machine.readFile (issue 13)';
            continue;
          }
          // a step that changed nothing on the model (a list, a refusal) reads what the last one read
          const c = sysfsCache.get(key);
          if (c && c.generation === mirror.generation && c.real === real[key]) ms.state[key] = c.text;
          else {
            ms.state[key] = modelSysfs(m, real[key]!).text;
            sysfsCache.set(key, { generation: mirror.generation, real: real[key]!, text: ms.state[key]! });
          }
        }
      }
    } finally {
      mirror.dispose();
    }
    return run;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The model's struct pages of some pfns, as machine.page() reads them (pfn_to_page, the vmemmap walk, 64 bytes, compound pages drawn). */
export function modelPages(m: Machine, pfns: number[]): string {
  return pfns
    .map((pfn) => {
      let words: bigint[] | null = null;
      try {
        words = m.page(pfn)?.words ?? null;
      } catch {
        words = null;
      }
      return pageLine({ pfn, words });
    })
    .join('\n');
}

/**
 * The model's function_graph trace of one command: the command once more on a copy of the state, with
 * `--trace` and the oracle's filter (issue 16's CLI). The function_graph lines are taken from whatever
 * the command printed; null when the CLI has no --trace.
 */
async function modelTrace(main: CliMain, base: string[], argv: string[], file: string, dir: string, filter: readonly string[]): Promise<string | null> {
  const copy = join(dir, 'trace-state.json');
  copyFileSync(file, copy);
  const r = await captured(main, [...base, ...argv, '--trace', filter.join(','), '--state', copy]);
  // function_graph's lines, and the task-switch banners (" 0)  comm-pid  =>  comm-pid", between dashes)
  const lines = (r.stdout + r.stderr).split('\n').filter((l) => /^\s*\d+\)\s.*\|/.test(l) || /^# tracer: /.test(l) || /^\s*\d+\)\s+\S+\s+=>\s+\S+\s*$/.test(l) || /^ -{20,}$/.test(l));
  if (r.code === 2 && /--trace/.test(r.stderr) && !lines.length) return null;
  return lines.join('\n') + (lines.length ? '\n' : '');
}
