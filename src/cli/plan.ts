/** The capacity planner: altmap plan. */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { KernelError, type KernelName, planCapacity, planSvg, planTable } from '../index.ts';
import { Exit, usage, out, err, bare } from './output.ts';
import { type GlobalOpts, explicit } from './session.ts';
import { checkWritable } from './files.ts';

export async function cmdPlan(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<GlobalOpts & { size: string; json?: boolean; svg?: string }>();
  const kernel = explicit(cmd, 'kernel') ? (o.kernel as KernelName) : 'v6';
  // the output path is checked before the work starts, not after the table has printed
  if (o.svg !== undefined) checkWritable(o.svg, '--svg');
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
