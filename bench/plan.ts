/**
 * The planner's scaling (issue 15): `altmap plan --size S --kernel v6 --json`, all rows, each run in a fresh
 * process: wall time (node's start-up included, as a user sees it), the CPU time the process used, peak
 * resident memory, and whether every row completed (a row cut short at the model's host budget does not
 * count as done). Sizes are run interleaved, `repeats` times each, so drift on a shared machine hits every
 * size alike; the ratio is of the medians. The child reports its own maxRSS and CPU time at exit
 * (process.resourceUsage); a child stopped at the deadline reports the high-water mark /proc/<pid>/status
 * showed last (Linux).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ALTMAP = fileURLToPath(new URL('../bin/altmap.js', import.meta.url));
const REPORT = `data:text/javascript,process.on('exit',()=>{const u=process.resourceUsage();process.stderr.write('\\nALTMAP_USAGE '+u.maxRSS+' '+(u.userCPUTime+u.systemCPUTime)+'\\n')})`;

/** The sizes planned, smallest first: 64G is the ratio's base, 2P (2048T, the planning machines' largest) its subject. */
export const PLAN_SIZES = ['64G', '1T', '8T', '2P'] as const;

/** One `altmap plan` process. */
export interface PlanRun {
  size: string;
  /** Wall time of the process, ms; at the deadline when it did not finish. */
  ms: number;
  /** User + system CPU time of the process, ms (null when stopped at the deadline). */
  cpuMs: number | null;
  /** Peak resident memory, MiB. */
  peakRssMiB: number | null;
  /** Exit code; null when stopped at the deadline. */
  code: number | null;
  /** Rows in the plan, and those that completed (ok); null when it printed no plan. */
  rows: number | null;
  rowsOk: number | null;
  /** The rows that did not complete: "label: error". */
  failed: string[];
  /** Exit 0 and every row completed. */
  finished: boolean;
}

/** All runs of one size and their medians. */
export interface PlanSize {
  size: string;
  runs: PlanRun[];
  /** Medians over the runs: wall ms, CPU ms; peak RSS is the highest of any run. */
  medianMs: number;
  medianCpuMs: number | null;
  peakRssMiB: number | null;
  /** Every run finished with every row completed. */
  finished: boolean;
}

export interface PlanScaling {
  sizes: PlanSize[];
  repeats: number;
  /** 2P's median wall time over 64G's (issue 15 asks for at most 2); a lower bound when 2P did not finish. */
  ratio2PTo64G: number;
  ratioIsLowerBound: boolean;
  /** The same ratio of CPU times (less sensitive to other load on the machine); null when one is unknown. */
  cpuRatio2PTo64G: number | null;
  deadlineMs: number;
}

function vmHwmKiB(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The rows of a plan's JSON: how many, how many ok, and the others as "label: error". */
function planRows(stdout: string): Pick<PlanRun, 'rows' | 'rowsOk' | 'failed'> {
  try {
    const rows = (JSON.parse(stdout) as { rows: Array<{ label: string; ok: boolean; error?: string }> }).rows;
    return { rows: rows.length, rowsOk: rows.filter((r) => r.ok).length, failed: rows.filter((r) => !r.ok).map((r) => `${r.label}: ${r.error ?? 'failed'}`) };
  } catch {
    return { rows: null, rowsOk: null, failed: [] };
  }
}

/** One `altmap plan --size <size> --kernel v6 --json` in a fresh process, stopped after deadlineMs. */
export function planRun(size: string, deadlineMs: number): Promise<PlanRun> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', REPORT, ALTMAP, 'plan', '--size', size, '--kernel', 'v6', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let hwm: number | null = null;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => (hwm = vmHwmKiB(child.pid!) ?? hwm), 100);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      hwm = vmHwmKiB(child.pid!) ?? hwm;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      clearInterval(poll);
      clearTimeout(timer);
      const reported = /ALTMAP_USAGE (\d+) (\d+)/.exec(stderr);
      const kib = reported ? Number(reported[1]) : hwm;
      const rows = timedOut ? { rows: null, rowsOk: null, failed: [] } : planRows(stdout);
      resolve({
        size,
        ms,
        cpuMs: reported ? Number(reported[2]) / 1000 : null,
        peakRssMiB: kib === null ? null : kib / 1024,
        code: timedOut ? null : code,
        ...rows,
        finished: !timedOut && code === 0 && rows.rows !== null && rows.rowsOk === rows.rows,
      });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The runs of one size summarised. */
export function planSize(size: string, runs: PlanRun[]): PlanSize {
  const cpu = runs.map((r) => r.cpuMs);
  const rss = runs.map((r) => r.peakRssMiB).filter((x): x is number => x !== null);
  return {
    size,
    runs,
    medianMs: median(runs.map((r) => r.ms)),
    medianCpuMs: cpu.every((x): x is number => x !== null) ? median(cpu) : null,
    peakRssMiB: rss.length ? Math.max(...rss) : null,
    finished: runs.every((r) => r.finished),
  };
}

/** 64G and 2P (and, unless quick, 1T and 8T between them), `repeats` rounds over all sizes, each run a fresh process. */
export async function planScaling(quick: boolean, deadlineMs: number, repeats = quick ? 1 : 3, onStart: (size: string, round: number) => void = () => {}): Promise<PlanScaling> {
  const sizes = quick ? ['64G', '2P'] : [...PLAN_SIZES];
  const runs = new Map<string, PlanRun[]>(sizes.map((s) => [s, []]));
  for (let round = 0; round < repeats; round++) {
    for (const size of sizes) {
      onStart(size, round);
      runs.get(size)!.push(await planRun(size, deadlineMs));
    }
  }
  const summary = sizes.map((s) => planSize(s, runs.get(s)!));
  const small = summary.find((r) => r.size === '64G')!;
  const big = summary.find((r) => r.size === '2P')!;
  const cpuRatio = big.medianCpuMs !== null && small.medianCpuMs !== null ? big.medianCpuMs / small.medianCpuMs : null;
  return { sizes: summary, repeats, ratio2PTo64G: big.medianMs / small.medianMs, ratioIsLowerBound: big.runs.some((r) => r.code === null), cpuRatio2PTo64G: cpuRatio, deadlineMs };
}

/** The scaling as report lines. */
export function planScalingLines(s: PlanScaling): string[] {
  const rss = (x: number | null) => (x === null ? '-' : `${x.toFixed(0)} MiB`);
  const sec = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s`);
  const status = (p: PlanSize) => {
    const r = p.runs.find((x) => !x.finished);
    if (!r) return `${p.runs[0]!.rows} of ${p.runs[0]!.rows}`;
    if (r.code === null) return `no: stopped at ${s.deadlineMs / 1000} s`;
    if (r.code !== 0 || r.rows === null) return `no: exit ${r.code}`;
    return `${r.rowsOk} of ${r.rows} (${r.failed.join('; ')})`;
  };
  const big = s.sizes.find((r) => r.size === '2P');
  return [
    `| altmap plan --size (v6, all rows, fresh process, median of ${s.repeats}) | wall time | CPU time | peak RSS | rows completed |`,
    '|---|---|---|---|---|',
    ...s.sizes.map((p) => `| ${p.size} | ${sec(p.medianMs)} | ${sec(p.medianCpuMs)} | ${rss(p.peakRssMiB)} | ${status(p)} |`),
    '',
    `plan --size 2P / --size 64G: ${s.ratioIsLowerBound ? '> ' : ''}${s.ratio2PTo64G.toFixed(2)}x wall${s.cpuRatio2PTo64G === null ? '' : `, ${s.cpuRatio2PTo64G.toFixed(2)}x CPU`}, peak RSS at 2P ${big ? rss(big.peakRssMiB) : '-'}${big && !big.finished ? ' (not every row completed)' : ''} (issue 15 asks for <= 2x with every row completed and a peak RSS under 300 MiB)`,
  ];
}
