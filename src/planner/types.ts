/** The planner's answer types. */
import type { KernelName } from '../kernel/profile.ts';
import type { PlanConfig } from './configs.ts';
import type { Figures } from './run.ts';

/** One configuration of one region, run on a simulated machine: what it gives and what it costs, in bytes unless named pages. */
export interface PlanRow extends PlanConfig, Figures {
  /** The region it was planned for (regionN). */
  region: string;
  /** The NUMA node of the region and of the DRAM its memmap costs. */
  node: number;
  /** deviceGivenUp as a percentage of raw. */
  deviceGivenUpPercent: number;
  /** dram as a percentage of the node's DRAM. */
  dramPercent: number;
  /**
   * Marked best: 'capacity' the most usable bytes (reverse sizing: the least raw bytes for the target),
   * 'dram' the least DRAM; ties mark every row that has the figure.
   */
  best: Array<'capacity' | 'dram'>;
  /** Reverse sizing: the raw sizes ndctl accepts are multiples of it. */
  granule?: number;
  /** Reverse sizing: the run one granule smaller (usable short of the target); null when that is below ndctl's 16 MiB minimum. */
  below?: { raw: number; ok: boolean; usable: number; error?: string } | null;
  /** Reverse sizing: how many machines the search ran for this row. */
  probes?: number;
}

/** A region the plan covers: its rows are the plan's rows that name it. */
export interface PlanRegion {
  /** regionN */
  region: string;
  /** Its NUMA node. */
  node: number;
  /** The DRAM (System RAM) of that node, in bytes. */
  nodeDram: number;
}

/** planCapacity's answer: every configuration, per region, on one kernel. */
export interface Plan {
  /** The device size planned for, in bytes (absent for reverse sizing). */
  size?: number;
  /** Reverse sizing: the usable bytes each row's raw size reaches. */
  usable?: number;
  /** The kernel modelled. */
  kernel: KernelName;
  /** The DRAM (System RAM) of the node the memmaps cost, in bytes. */
  nodeDram: number;
  /** The regions planned (the planning machine has one: region0 on node 0). */
  regions: PlanRegion[];
  /** The rows, region by region (planConfigs() order within a region); each names its region. */
  rows: PlanRow[];
}
