/** The capacity planner: altmap plan (--size: what a device gives; --usable: the raw size a target needs). */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { KernelError, type KernelName, type PlanOptions, planCapacity, planConfigs, planCsv, planSvg, planTable } from '../index.ts';
import { Exit, usage, out, err, bare, Progress } from './output.ts';
import { type GlobalOpts, explicit } from './session.ts';
import { checkWritable } from './files.ts';

interface PlanOpts extends GlobalOpts {
  size?: string;
  usable?: string;
  mode?: string;
  map?: string;
  align?: string;
  dramSize?: string;
  json?: boolean;
  csv?: boolean;
  svg?: string;
}

export async function cmdPlan(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<PlanOpts>();
  const kernel = explicit(cmd, 'kernel') ? (o.kernel as KernelName) : 'v6';
  if ((o.size === undefined) === (o.usable === undefined)) usage('plan needs one of --size (what a device of this size gives) and --usable (the raw size that gives this much)');
  if (o.json && o.csv) usage('--json and --csv are exclusive');
  // the output path is checked before the work starts, not after the table has printed
  if (o.svg !== undefined) checkWritable(o.svg, '--svg');
  const opts: PlanOptions = {
    kernel,
    backend: o.backend as 'wasm' | 'ts',
    ...(o.size !== undefined ? { size: o.size } : { usable: o.usable! }),
    ...(o.mode !== undefined ? { mode: o.mode as PlanOptions['mode'] } : {}),
    ...(o.map !== undefined ? { map: o.map as PlanOptions['map'] } : {}),
    ...(o.align !== undefined ? { align: o.align as PlanOptions['align'] } : {}),
    ...(o.dramSize !== undefined ? { dram: o.dramSize } : {}),
  };
  let plan;
  try {
    // a bar only for a plan that takes over a second; each row (and each run of a reverse search) ticks it
    const progress = new Progress(planConfigs(kernel, opts).length, 1000);
    let rowsDone = 0;
    try {
      plan = await planCapacity({
        ...opts,
        onProbe: (cfg, f) => progress.tick(rowsDone, `${cfg.label}: tried ${f.raw} bytes`),
        onRow: (row) => progress.tick(++rowsDone, row.label),
      });
    } finally {
      progress.stop();
    }
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EINVAL') usage(bare(e));
    throw e;
  }
  if (o.json) out(JSON.stringify(plan, null, 2));
  else if (o.csv) process.stdout.write(planCsv(plan));
  else out(planTable(plan));
  if (o.svg !== undefined) {
    try {
      writeFileSync(o.svg, planSvg(plan));
    } catch (e) {
      throw new Exit(1, `error: --svg ${o.svg}: ${(e as Error).message}`);
    }
    err(`wrote ${o.svg}`);
  }
  return 0;
}
