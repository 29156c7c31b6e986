/**
 * The comparison of a real run (recorded or live) with the model's run of the same steps, aspect by
 * aspect, after normalising what cannot match:
 *
 *   exit           exit codes
 *   stdout         stdout text (uuids replaced)
 *   stdout-values  stdout as JSON values, key order ignored, only the keys the real tool printed (text
 *                  when it is not JSON): the numbers and names, whatever the form
 *   stderr         stderr text (uuids replaced)
 *   dmesg          the step's messages below debug level, without timestamps; a splat's register dump
 *                  and call trace are dropped (the model has no registers), PIDs replaced, and the
 *                  emulator's timing complaints (clocksource, hrtimer) ignored; a dump_page keeps its
 *                  pfn and reason (its words are whatever the allocator put in the page)
 *   dmesg-debug    the step's pr_debug lines of the kinds the model prints (altmap_alloc_block_buf,
 *                  the vmemmap PMD ranges, memmap_init_zone_device with its time replaced); a PMD
 *                  run backed by boot System RAM shows its backing as <dram>, because which DRAM pages
 *                  the buddy allocator hands out depends on the kernel image and its boot allocations
 *                  (as struct-page shows allocator pointers as <kptr>); device-backed runs are compared whole
 *   iomem          /proc/iomem, limited to the entries the model has a notion of (RAM, pmem, Soft Reserved,
 *                  namespaces, dax devices, kmem), their nesting kept, from 1 MiB up (the BIOS area's
 *                  sub-page e820 ends do not fit the model's page-granular e820)
 *   meminfo        the step's change in MemTotal and DirectMap4k/2M/1G (absolute values depend on the
 *                  kernel image and its allocations)
 *   nd, dax, memory   the sysfs attributes (path:value lines), uuids replaced
 *   node           the node masks exactly; of nodeN/meminfo only MemTotal, and that as the step's change:
 *                  the absolute value is /proc/meminfo's MemTotal (one node), which depends on the real
 *                  kernel image's reservations that the model does not have (as for 'meminfo')
 *   trace          function_graph call trees: names, nesting, order and counts (durations and CPUs ignored)
 *   struct-page    the words of the struct pages a kpages step printed, pointers into the memmap as
 *                  page(pfn), other kernel pointers as <kptr> (their values are the allocator's)
 *
 * Setup steps (ndctl init-labels) are not compared; the boot (step 0) is compared for state only, and
 * where a machine had setup steps, the model's boot state is compared with the state they left.
 */
import type { FixtureStateKey } from './fixtures.ts';
import type { ModelRun, ModelStep } from './model.ts';
import type { StepHeader } from './types.ts';
import { pageLine, parseKpages } from './kpages.ts';

export const ASPECTS = ['exit', 'stdout', 'stdout-values', 'stderr', 'dmesg', 'dmesg-debug', 'iomem', 'meminfo', 'nd', 'dax', 'memory', 'node', 'trace', 'struct-page'] as const;
export type Aspect = (typeof ASPECTS)[number];

/** What the comparison needs of a real step (a FixtureStep has it all). */
export interface RealSide extends StepHeader {
  stdout: string;
  stderr: string;
  dmesg: string;
  trace?: string;
  state: Record<FixtureStateKey, string>;
}

export interface StepDiff {
  index: number;
  run: string;
  real: string;
  model: string;
}

export type Status = 'agree' | 'differ' | 'not-modelled' | 'not-applicable';

export interface AspectResult {
  aspect: Aspect;
  status: Status;
  diffs: StepDiff[];
  /** For not-modelled: why (the model's own words). */
  why?: string;
  /** Steps compared. */
  steps: number;
}

export interface Comparison {
  caseId: string;
  kernel: string;
  profile: string;
  agree: boolean;
  unsupported?: string;
  aspects: AspectResult[];
  /** Steps whose command has no model counterpart (not compared). */
  skipped: Array<{ index: number; run: string; why?: string }>;
}

// ------------------------------------------------------------------------------- normalisation

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export function normText(s: string): string {
  return s.replace(UUID, '<uuid>').replace(/[ \t]+$/gm, '').replace(/\n+$/, '');
}

interface LogLine {
  level: number | null;
  text: string;
}

/** dmesg -r lines ("<6>[   1.234] text") or the model's ("[   0.000001] text"). */
export function parseDmesg(s: string): LogLine[] {
  const out: LogLine[] = [];
  for (const raw of s.split('\n')) {
    if (raw === '') continue;
    const m = /^(?:<(\d+)>)?\[\s*\d+\.\d+\] ?(.*)$/.exec(raw);
    const level = m?.[1] !== undefined ? Number(m[1]) & 7 : null;
    const text = m ? m[2]! : raw;
    if (text.trim() === '') continue; // pr_cont leftovers
    out.push({ level, text });
  }
  return out;
}

/** Lines of a splat that only a real CPU has: registers, code bytes, the call trace. */
const SPLAT_NOISE: RegExp[] = [
  /^Modules linked in:/,
  /^CPU: \d+ (UID: \d+ )?PID: \d+ Comm: /,
  /^Hardware name: /,
  /^Code: /,
  /^RSP: [0-9a-f]{4}:/,
  /^R(AX|BX|CX|DX|SI|DI|BP|SP|\d+): [0-9a-f]{16}/,
  /^RIP: 0033:/,
  /^FS: +[0-9a-f]+/,
  /^CS: +[0-9a-f]+/,
  /^CR2: [0-9a-f]+/,
  /^DR[0-7]: /,
  /^PKRU: /,
  /^Call Trace:/,
  /^ ?<\/?(TASK|IRQ)>$/,
  /^ +(\? )?[\w.$]+\+0x[0-9a-f]+\/0x[0-9a-f]+( \[[\w]+\])?$/,
  /^ +(\? )?[\w.$]+(\.[\w.]+)?\+0x[0-9a-f]+\/0x[0-9a-f]+ \[[\w]+\]$/,
  /^(PGD|P4D|PUD|PMD|PTE) [0-9a-f]+ /,
];

/**
 * dump_page's lines (mm/debug.c __dump_page): the page's words, flags and type are whichever object the
 * buddy allocator had put there (a slab or a page-table page in the same step of two runs); only the pfn
 * and the reason are the kernel's decision. The page line keeps its pfn; flags, type, raw words go.
 */
const DUMP_PAGE_WORDS: RegExp[] = [/^(anon |ksm |anon-ksm )?flags: 0x[0-9a-f]+\(/, /^page_type: /, /^raw: [0-9a-f]{16} /, /^head: [0-9a-f]{16} /, /^head: order:\d+ /, /^memcg:[0-9a-f]+$/];
const DUMP_PAGE_LINE = /^page:(?: |[0-9a-f]{16} )refcount:.* (pfn:0x[0-9a-f]+)$/;

/** Messages about the emulated machine's timing (TCG on a loaded host), not about memory: never compared. */
const TIMING_NOISE: RegExp[] = [/^clocksource: /, /^hrtimer: interrupt took /, /^perf: interrupt took too long/, /^sched: RT throttling/, /^rcu: INFO: rcu_\w+ detected stalls/, /^tsc: Marking TSC unstable/];

const DEBUG_MODELLED = [/^altmap_alloc_block_buf: /, /^ \[[0-9a-f]+-[0-9a-f]+\] (PMD|PTE) -> \[/, /^memmap_init_zone_device initialised \d+ pages in /];

function normLogText(t: string): string {
  return t
    .replace(UUID, '<uuid>')
    .replace(/\bPID: \d+\b/g, 'PID: N')
    .replace(/^(note: \S+)\[\d+\]/, '$1[N]')
    // build_all_zonelists' vm_total_pages depends on the image's reservations, as MemTotal does
    .replace(/^(Built \d+ zonelists, mobility grouping \w+\.  Total pages: )\d+$/, '$1N')
    .replace(/(memmap_init_zone_device initialised \d+ pages in )\d+ms/, '$1Nms')
    .replace(/\s+$/, '');
}

/** The step's messages below debug level, normalised. Model lines carry no level: all but the debug kinds count. */
export function dmesgMessages(s: string): string {
  return parseDmesg(s)
    .filter((l) => (l.level === null ? !DEBUG_MODELLED.some((r) => r.test(l.text)) : l.level < 7))
    .filter((l) => !SPLAT_NOISE.some((r) => r.test(l.text)) && !TIMING_NOISE.some((r) => r.test(l.text)) && !DUMP_PAGE_WORDS.some((r) => r.test(l.text)))
    .map((l) => normLogText(l.text).replace(DUMP_PAGE_LINE, 'page: <the allocator\'s> $1'))
    .join('\n');
}

/** The top-level System RAM ranges of an /proc/iomem text, as [start, end] physical addresses. */
export function iomemSystemRam(iomem: string): Array<[bigint, bigint]> {
  const out: Array<[bigint, bigint]> = [];
  for (const l of iomem.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) : System RAM$/.exec(l);
    if (m) out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)]);
  }
  return out;
}

/** x86-64's 4-level PAGE_OFFSET without KASLR (the oracle boots nokaslr, and without la57). */
const PAGE_OFFSET = 0xffff888000000000n;
const PMD_RUN = /^( \[[0-9a-f]+-[0-9a-f]+\] PMD -> )\[([0-9a-f]+)-([0-9a-f]+)\]( on node \d+)$/;

/** A PMD run's backing as <dram> when it lies in boot System RAM (the buddy allocator's choice). */
function dramBacking(text: string, ram: Array<[bigint, bigint]>): string {
  const m = PMD_RUN.exec(text);
  if (!m) return text;
  const start = BigInt(`0x${m[2]}`) - PAGE_OFFSET;
  const end = BigInt(`0x${m[3]}`) - PAGE_OFFSET;
  return ram.some(([s, e]) => start >= s && end <= e) ? `${m[1]}[<dram>]${m[4]}` : text;
}

/** Consecutive DRAM-backed runs whose vmemmap ranges touch become one: where DRAM broke the run is hidden too. */
function joinDramRuns(lines: string[]): string[] {
  const out: string[] = [];
  const DRAM_RUN = /^ \[([0-9a-f]+)-([0-9a-f]+)\] PMD -> \[<dram>\]( on node \d+)$/;
  for (const l of lines) {
    const cur = DRAM_RUN.exec(l);
    const prev = out.length ? DRAM_RUN.exec(out[out.length - 1]!) : null;
    if (cur && prev && prev[3] === cur[3] && BigInt(`0x${prev[2]}`) + 1n === BigInt(`0x${cur[1]}`)) out[out.length - 1] = ` [${prev[1]}-${cur[2]}] PMD -> [<dram>]${cur[3]}`;
    else out.push(l);
  }
  return out;
}

/** The step's pr_debug lines of the kinds the model prints; PMD runs in `ram` have their backing hidden. */
export function dmesgDebug(s: string, ram: Array<[bigint, bigint]> = []): string {
  const lines = parseDmesg(s)
    .filter((l) => (l.level === null || l.level === 7) && DEBUG_MODELLED.some((r) => r.test(l.text)))
    .map((l) => dramBacking(normLogText(l.text), ram));
  return joinDramRuns(lines).join('\n');
}

/** The /proc/iomem entries the model has a notion of, with their indentation, from 1 MiB up. */
const IOMEM_NAMES = /^(System RAM|System RAM \(kmem\)|Reserved|Persistent Memory|Persistent Memory \(legacy\)|Soft Reserved|namespace\d+\.\d+|dax\d+\.\d+|btt\d+\.\d+|pfn\d+\.\d+|hmem\.\d+|pmem\d+)$/;
export function iomemView(s: string): string {
  return s
    .split('\n')
    .filter((l) => {
      const m = /^\s*([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(l);
      // the BIOS area below 1 MiB (sub-page e820 ends the model's page-granular e820 cannot take) is left out
      return m && IOMEM_NAMES.test(m[3]!) && parseInt(m[2]!, 16) >= 0x100000;
    })
    .join('\n');
}

const MEMINFO_KEYS = ['MemTotal', 'DirectMap4k', 'DirectMap2M', 'DirectMap1G'];
function meminfoValues(s: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of s.split('\n')) {
    const m = /^([\w()]+):\s+(\d+)/.exec(l);
    if (m && MEMINFO_KEYS.includes(m[1]!)) out[m[1]!] = Number(m[2]);
  }
  return out;
}
/** The change of the meminfo keys from `before` to `after`, as text ("MemTotal +2097152 kB"). */
export function meminfoDelta(before: string, after: string): string {
  const a = meminfoValues(before);
  const b = meminfoValues(after);
  return MEMINFO_KEYS.filter((k) => k in a || k in b)
    .map((k) => {
      const d = (b[k] ?? 0) - (a[k] ?? 0);
      return `${k} ${d >= 0 ? '+' : ''}${d} kB`;
    })
    .join('\n');
}

/** sysfs path:value lines, uuids replaced; of a node's meminfo only MemTotal (the rest is the page allocator's weather). */
function sysfsView(s: string): string {
  return [
    ...new Set(
      s
        .split('\n')
        .filter((l) => l && !(/\/node\d+\/meminfo:/.test(l) && !/ MemTotal:/.test(l)))
        .map((l) => l.replace(UUID, '<uuid>').replace(/\s+$/, '')),
    ),
  ]
    .sort()
    .join('\n');
}

/**
 * The node sysfs with each nodeN/meminfo MemTotal as its change from `before` (the previous step's
 * node state; none at the boot, whose absolute value is not compared).
 */
export function nodeView(after: string, before: string | undefined): string {
  const total = (s: string | undefined) => {
    const m = new Map<string, number>();
    for (const l of (s ?? '').split('\n')) {
      const x = /^(\/sys\/devices\/system\/node\/node\d+\/meminfo):Node (\d+) MemTotal:\s+(\d+) kB/.exec(l);
      if (x) m.set(x[1]!, Number(x[3]));
    }
    return m;
  };
  const a = total(after);
  const b = before === undefined ? null : total(before);
  return sysfsView(after)
    .split('\n')
    .map((l) => {
      const x = /^(\/sys\/devices\/system\/node\/node(\d+)\/meminfo):Node \d+ MemTotal:/.exec(l);
      if (!x) return l;
      if (!b) return `${x[1]}:Node ${x[2]} MemTotal: (the boot's absolute value is not compared)`;
      const d = a.get(x[1]!)! - (b.get(x[1]!) ?? 0);
      return `${x[1]}:Node ${x[2]} MemTotal change ${d >= 0 ? '+' : ''}${d} kB`;
    })
    .join('\n');
}

/**
 * function_graph as a call tree: one line per call, indented by depth, durations and CPUs dropped. The
 * calls of the task that ran first (the command's) keep their order; the work of other tasks (the
 * kworkers that probe new seed devices asynchronously) follows, its top-level calls sorted: which kworker
 * runs first is the scheduler's choice (6.12.117's trace-devdax-dev-a1G and -a2M ran them in both orders).
 */
export function traceTree(s: string): string {
  const own: string[] = [];
  const other: string[][] = [];
  const depth = new Map<string, number>();
  let first: string | null = null;
  let task = '';
  for (const line of s.split('\n')) {
    const sw = /^\s*\d+\)\s+(\S+)\s+=>\s+(\S+)\s*$/.exec(line);
    if (sw) {
      first ??= sw[1]!;
      task = sw[2]!;
      continue;
    }
    if (line.startsWith('#') || !line.includes('|')) continue;
    const body = line.slice(line.indexOf('|') + 1).trim();
    if (!body || body.startsWith('=>') || body.startsWith('------')) continue;
    const mine = first === null || task === first;
    const d = depth.get(task) ?? 0;
    const emit = (text: string) => {
      if (mine) own.push(text);
      else if (d === 0 || !other.length) other.push([text]);
      else other[other.length - 1]!.push(text);
    };
    let m: RegExpExecArray | null;
    if ((m = /^(.+?)\(\) \{$/.exec(body))) {
      emit(`${'  '.repeat(d)}${m[1]} {`);
      depth.set(task, d + 1);
    } else if ((m = /^(.+?)\(\);$/.exec(body))) {
      emit(`${'  '.repeat(d)}${m[1]}`);
    } else if (body.startsWith('}')) {
      depth.set(task, Math.max(0, d - 1));
    }
  }
  if (!other.length) return own.join('\n');
  return [...own, '(other tasks, in any order)', ...other.map((t) => t.join('\n')).sort()].join('\n');
}

function parseJson(s: string): { ok: true; v: unknown } | { ok: false } {
  const t = s.trim();
  if (!t) return { ok: false };
  try {
    return { ok: true, v: JSON.parse(t) };
  } catch {
    return { ok: false };
  }
}

/** The model's JSON seen through the real one's keys: keys the real tool did not print are not asked for. */
function project(model: unknown, real: unknown): unknown {
  if (Array.isArray(real) && Array.isArray(model)) return model.map((m, i) => (i < real.length ? project(m, real[i]) : m));
  if (real && typeof real === 'object' && !Array.isArray(real) && model && typeof model === 'object' && !Array.isArray(model)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(real)) out[k] = k in (model as object) ? project((model as Record<string, unknown>)[k], (real as Record<string, unknown>)[k]) : '<missing>';
    return out;
  }
  return model;
}

/** stdout as values: JSON with keys sorted (the model's limited to the keys the real tool printed), else text. */
function stdoutValues(real: string, model: string): [string, string] {
  const r = parseJson(real);
  const m = parseJson(model);
  const show = (v: unknown) => JSON.stringify(sortKeys(v), null, 1).replace(UUID, '<uuid>');
  if (r.ok && m.ok) return [show(r.v), show(project(m.v, r.v))];
  return [r.ok ? show(r.v) : normText(real), m.ok ? show(m.v) : normText(model)];
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

// ---------------------------------------------------------------------------------- comparison

const STATE_ASPECTS: Array<[Aspect, FixtureStateKey]> = [
  ['iomem', 'iomem'],
  ['nd', 'nd'],
  ['dax', 'dax'],
  ['memory', 'memory'],
  ['node', 'node'],
];

/** Compare a real run with the model's run of the same steps (the model's steps are matched by index). */
export function compareRuns(meta: { caseId: string; kernel: string; profile: string }, real: RealSide[], model: ModelRun): Comparison {
  const cmp: Comparison = { ...meta, agree: false, aspects: [], skipped: [] };
  if (model.unsupported) {
    cmp.unsupported = model.unsupported;
    cmp.aspects = ASPECTS.map((aspect) => ({ aspect, status: 'not-modelled' as const, diffs: [], why: model.unsupported, steps: 0 }));
    return cmp;
  }
  const byIndex = new Map<number, ModelStep>(model.steps.map((s) => [s.index, s]));
  const results = new Map<Aspect, AspectResult>(ASPECTS.map((a) => [a, { aspect: a, status: 'not-applicable', diffs: [], steps: 0 }]));
  const note = (a: Aspect, s: RealSide, r: string, m: string) => {
    const res = results.get(a)!;
    res.steps++;
    if (r !== m) res.diffs.push({ index: s.index, run: s.run, real: r, model: m });
  };
  const notModelled = (a: Aspect, why: string) => {
    results.get(a)!.why ??= why;
  };
  let prevReal: RealSide | null = null;
  let prevModel: ModelStep | null = null;
  // the model boots into what the real machine is after its setup steps (labels initialised)
  const lastSetup = [...real].reverse().find((x) => x.setup);
  for (const r0 of real) {
    const m = byIndex.get(r0.index);
    if (r0.setup) {
      prevReal = r0;
      continue;
    }
    const r: RealSide = r0.index === 0 && lastSetup ? { ...r0, state: lastSetup.state } : r0;
    if (r.skipped) {
      // the real guest hung at an earlier step (an oops in 6.1's memunmap_pages): nothing to compare with
      cmp.skipped.push({ index: r.index, run: r.run, why: 'the real kernel hung before it' });
      continue;
    }
    if (!m) {
      cmp.skipped.push({ index: r.index, run: r.run });
      continue;
    }
    if (r.index > 0 && m.pages !== undefined) {
      note('struct-page', r, parseKpages(r.stdout).map(pageLine).join('\n'), m.pages);
    } else if (r.index > 0) {
      if (!m.argv) {
        cmp.skipped.push({ index: r.index, run: r.run });
      } else {
        note('exit', r, r.exit === null ? (r.skipped ? 'skipped (an earlier step hung)' : 'timeout') : String(r.exit), m.exit === null ? 'none' : String(m.exit));
        note('stdout', r, normText(r.stdout), normText(m.stdout));
        note('stdout-values', r, ...stdoutValues(r.stdout, m.stdout));
        note('stderr', r, normText(r.stderr), normText(m.stderr));
        note('dmesg', r, dmesgMessages(r.dmesg), dmesgMessages(m.dmesg));
        const ram = iomemSystemRam(r.state.iomem ?? '');
        note('dmesg-debug', r, dmesgDebug(r.dmesg, ram), dmesgDebug(m.dmesg, ram));
        if (r.trace !== undefined) {
          if (m.trace === null || m.trace === undefined) notModelled('trace', 'the model has no function_graph tracer (issue 16)');
          else note('trace', r, traceTree(r.trace), traceTree(m.trace));
        }
      }
    }
    // state after the step
    for (const [a, key] of STATE_ASPECTS) {
      if (m.stateMissing[key] !== undefined) {
        notModelled(a, m.stateMissing[key]!);
        continue;
      }
      if (m.state[key] === undefined) continue;
      if (a === 'node') {
        note(a, r, nodeView(r.state.node, prevModel?.state.node !== undefined ? prevReal?.state.node : undefined), nodeView(m.state.node!, prevReal ? prevModel?.state.node : undefined));
        continue;
      }
      note(a, r, a === 'iomem' ? iomemView(r.state[key]) : sysfsView(r.state[key]), a === 'iomem' ? iomemView(m.state[key]!) : sysfsView(m.state[key]!));
    }
    if (m.stateMissing.meminfo !== undefined) notModelled('meminfo', m.stateMissing.meminfo);
    else if (m.state.meminfo !== undefined && prevReal && prevModel?.state.meminfo !== undefined) {
      note('meminfo', r, meminfoDelta(prevReal.state.meminfo, r.state.meminfo), meminfoDelta(prevModel.state.meminfo!, m.state.meminfo));
    }
    prevReal = r;
    prevModel = m;
  }
  for (const res of results.values()) res.status = res.diffs.length ? 'differ' : res.why !== undefined ? 'not-modelled' : res.steps ? 'agree' : 'not-applicable';
  cmp.aspects = [...results.values()];
  cmp.agree = cmp.aspects.every((a) => a.status === 'agree' || a.status === 'not-applicable');
  return cmp;
}

// ------------------------------------------------------------------------------------- report

/** Longest-common-subsequence line alignment: pairs of [real line | null, model line | null]. */
export function alignLines(a: string[], b: string[]): Array<[string | null, string | null]> {
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) return [...a.map((l, i): [string | null, string | null] => [l, b[i] ?? null]), ...b.slice(n).map((l): [string | null, string | null] => [null, l])];
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i]![j] = a[i] === b[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const out: Array<[string | null, string | null]> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) out.push([a[i++]!, b[j++]!]);
    else if (j < m && (i >= n || dp[i]![j + 1]! >= dp[i + 1]![j]!)) out.push([null, b[j++]!]);
    else out.push([a[i++]!, null]);
  }
  return out;
}

function clip(s: string, w: number): string {
  return s.length > w ? s.slice(0, w - 1) + '…' : s.padEnd(w);
}

/** Side by side: real on the left, model on the right; '|' marks a changed line, '<' and '>' lines on one side only. */
export function sideBySide(real: string, model: string, width = 70, context = 2): string[] {
  const rows = alignLines(real === '' ? [] : real.split('\n'), model === '' ? [] : model.split('\n'));
  // pair a run of real-only lines with the following run of model-only lines as changes
  const merged: Array<[string | null, string | null, string]> = [];
  for (let k = 0; k < rows.length; ) {
    if (rows[k]![0] !== null && rows[k]![1] !== null) {
      merged.push([rows[k]![0], rows[k]![1], ' ']);
      k++;
      continue;
    }
    const left: string[] = [];
    const right: string[] = [];
    while (k < rows.length && rows[k]![1] === null) left.push(rows[k++]![0]!);
    while (k < rows.length && rows[k]![0] === null) right.push(rows[k++]![1]!);
    for (let x = 0; x < Math.max(left.length, right.length); x++) {
      const l = left[x] ?? null;
      const r = right[x] ?? null;
      merged.push([l, r, l !== null && r !== null ? '|' : l !== null ? '<' : '>']);
    }
  }
  const keep = new Set<number>();
  merged.forEach((row, k) => {
    if (row[2] !== ' ') for (let d = -context; d <= context; d++) keep.add(k + d);
  });
  const out: string[] = [];
  let last = -1;
  merged.forEach((row, k) => {
    if (!keep.has(k)) return;
    if (last >= 0 && k > last + 1) out.push(`${''.padEnd(width)}   ...`);
    out.push(`${clip(row[0] ?? '', width)} ${row[2]} ${row[1] ?? ''}`);
    last = k;
  });
  return out;
}

/** The human report of one comparison. */
export function formatComparison(c: Comparison, o: { width?: number; maxDiffs?: number } = {}): string {
  const width = o.width ?? 70;
  const lines: string[] = [];
  lines.push(`${c.caseId}: real ${c.kernel} vs ${c.profile.startsWith('real') ? c.profile : `model ${c.profile}`}: ${c.agree ? 'AGREE' : c.unsupported ? `NOT MODELLED (${c.unsupported})` : 'DIFFER'}`);
  const w = Math.max(...c.aspects.map((a) => a.aspect.length));
  for (const a of c.aspects) {
    if (a.status === 'not-applicable') continue;
    lines.push(`  ${a.aspect.padEnd(w)}  ${a.status}${a.status === 'differ' ? ` (${a.diffs.length} of ${a.steps} steps)` : a.status === 'agree' ? ` (${a.steps} steps)` : ''}${a.why ? `: ${a.why}` : ''}`);
  }
  for (const s of c.skipped) lines.push(`  step ${s.index} not compared (${s.why ?? 'no model counterpart'}): ${s.run}`);
  if (c.unsupported) return lines.join('\n');
  for (const a of c.aspects) {
    if (a.status !== 'differ') continue;
    for (const d of a.diffs.slice(0, o.maxDiffs ?? 6)) {
      lines.push('');
      lines.push(`  [${a.aspect}] step ${d.index}: ${d.run}`);
      const [left, right] = c.profile.endsWith('(live)') ? [`recorded ${c.kernel}`, 'live run'] : c.profile.startsWith('real ') ? [`real ${c.kernel}`, c.profile] : ['real kernel', `model ${c.profile}`];
      lines.push(`  ${left.padEnd(width)}   ${right}`);
      for (const l of sideBySide(d.real, d.model, width)) lines.push(`  ${l}`);
    }
    if (a.diffs.length > (o.maxDiffs ?? 6)) lines.push(`  [${a.aspect}] ... ${a.diffs.length - (o.maxDiffs ?? 6)} more steps differ`);
  }
  return lines.join('\n');
}
