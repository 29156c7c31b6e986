/** altmap run: a scenario file, step by step. */
import { Command } from 'commander';
import { type MachineConfig, KernelError, runPreparedSteps, toJsonValue, validateScenario, type StepResult } from '../index.ts';
import { usage, out, err, hex, table, bare, Progress } from './output.ts';
import { type GlobalOpts, boot, explicit } from './session.ts';
import { parseJsonBounded, readInput } from './files.ts';
import { pageSizeName } from './inspect.ts';

export function stepStatus(r: StepResult): string {
  if (r.ok) return r.mismatch ? `ok, expected ${r.expectError}: MISMATCH` : 'ok';
  if (!r.expectError) return `${r.error.code} UNEXPECTED`;
  return r.expectError === r.error.code ? `${r.error.code} (expected)` : `${r.error.code}, expected ${r.expectError}: MISMATCH`;
}

export function stepValue(r: StepResult, args: Record<string, unknown>): string {
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

export async function cmdRun(file: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<GlobalOpts & { json?: boolean; stopOnError?: boolean }>();
  const raw = parseJsonBounded(readInput(file, 'scenario'), file);
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
