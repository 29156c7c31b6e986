/** A configuration's figures as a plan row, and the best rows of a plan marked. */
import type { PlanConfig } from './configs.ts';
import type { Figures } from './run.ts';
import type { PlanRow } from './types.ts';

function percent(part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 0;
}

/** A row of `region` on node 0 (a client renames both for its machine), its shares of raw and of the node's DRAM. */
export function planRow<F extends Figures>(cfg: PlanConfig, f: F, nodeDram: bigint, region = 'region0'): PlanRow & F {
  return { ...cfg, ...f, region, node: 0, deviceGivenUpPercent: percent(f.deviceGivenUp, f.raw), dramPercent: percent(f.dram, Number(nodeDram)), best: [] };
}

/** Mark the rows that succeeded with the best capacity (most usable; for reverse sizing, least raw) and the least DRAM; ties mark each. */
export function markBest(rows: PlanRow[], reverse = false): void {
  const ok = rows.filter((r) => r.ok);
  const bestCapacity = reverse ? Math.min(...ok.map((r) => r.raw)) : Math.max(...ok.map((r) => r.usable));
  const minDram = Math.min(...ok.map((r) => r.dram));
  for (const r of ok) {
    if ((reverse ? r.raw : r.usable) === bestCapacity) r.best.push('capacity');
    if (r.dram === minDram) r.best.push('dram');
  }
}
