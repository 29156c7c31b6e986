/**
 * The capacity planner: every sensible way to expose a pmem/CXL device, each run on a fresh simulated
 * machine, side by side: usable capacity, device bytes given up, DRAM the memmap and page tables cost,
 * struct pages initialised (the init-time proxy). Forward (`size`: what a device of this size gives) or
 * reverse (`usable`: the smallest raw size that gives this much). Rows are per region (the planning
 * machine has one, region0 on node 0).
 */
import type { Machine } from './machine.ts';
import { KernelError, invalid, show } from './kernel/errno.ts';
import type { KernelName } from './kernel/profile.ts';
import { parseSize } from './nvdimm/units.ts';
import { markBest, planRow } from './planner/rows.ts';
import type { Backend } from './core/load.ts';
import { checkKernel, checkFilter, selectConfigs, type PlanConfig, type PlanFilter } from './planner/configs.ts';
import { defaultPlanDram, measureConfig, planMachine, runConfig, type Figures } from './planner/run.ts';
import { MIN_NAMESPACE, alignBytes, estimateRaw, sizeGranule, smallestRaw } from './planner/reverse.ts';
import type { Plan, PlanRow } from './planner/types.ts';

export { planConfigs, type PlanConfig, type PlanFilter } from './planner/configs.ts';
export { planTable, planCsv, planSvg, quoteSize, quotePercent } from './planner/format.ts';
export { sizeGranule } from './planner/reverse.ts';
export { hotAddDram, type HotAddDram } from './planner/hotadd.ts';
export { planSoftReserved, type SoftReservedOptions, type SoftReservedPlan, type SoftReservedRow } from './planner/softres.ts';
export type { Figures as PlanFigures } from './planner/run.ts';
export type { Plan, PlanRow, PlanRegion } from './planner/types.ts';

/** A size as people write it: ndctl's syntax, or a decimal with a binary suffix ("1.5T"); P for PiB too. */
function planSize(input: bigint | number | string, what: string): bigint {
  const m = typeof input === 'string' ? /^\s*(\d+)(?:\.(\d+))?\s*([KMGTP])i?B?\s*$/i.exec(input) : null;
  if (!m || (m[2] === undefined && m[3].toUpperCase() !== 'P')) return parseSize(input, what);
  const unit = 1n << (10n * BigInt('KMGTP'.indexOf(m[3].toUpperCase()) + 1));
  const frac = m[2] ?? '';
  const scale = 10n ** BigInt(frac.length);
  const scaled = (BigInt(m[1]) * scale + BigInt(frac || '0')) * unit;
  if (scaled % scale !== 0n) invalid(`${what} ${show(input)} is not a whole number of bytes`);
  return scaled / scale;
}

/** The options of {@link planCapacity}. */
export interface PlanOptions extends PlanFilter {
  /** Forward: the device (region) size to plan. */
  size?: bigint | number | string;
  /** Reverse: the usable bytes to reach; each row gets the smallest raw size that reaches them. */
  usable?: bigint | number | string;
  /** The kernel modelled (default v6). */
  kernel?: KernelName;
  /** The node's DRAM (System RAM); default 64 GiB or 1/32 of the device, whichever is more. */
  dram?: bigint | number | string;
  /** memory_block_size_bytes() of the planning machines (the system-ram rows' block size); default the era's probe_memory_block_size(). */
  memoryBlockSize?: bigint | number | string;
  backend?: Backend;
  /** After each row. */
  onRow?: (row: PlanRow, i: number, n: number) => void;
  /** Reverse: after each machine run of the search. */
  onProbe?: (row: PlanConfig, f: Figures) => void;
}

const OPTION_KEYS = ['size', 'usable', 'kernel', 'dram', 'memoryBlockSize', 'backend', 'onRow', 'onProbe', 'mode', 'map', 'align'];
/** The largest device the planning machines take: 5-level paging's 4 PiB of physical address space, less the DRAM below it. */
const MAX_DEVICE = 2n << 50n;

/**
 * planCapacity: every configuration (or those the filter keeps), best capacity and best DRAM marked.
 * `size`: what a device of that size gives in each. `usable`: for each, the smallest raw size on ndctl's
 * granularity (the region's align and interleave-width x align) whose usable capacity reaches it, found by
 * runs on simulated machines: the row is the answer's run, `below` the run one granule smaller.
 */
export async function planCapacity(opts: PlanOptions): Promise<Plan> {
  if (typeof opts !== 'object' || opts === null) invalid('planCapacity needs { size } or { usable }');
  for (const key of Object.keys(opts)) if (!OPTION_KEYS.includes(key)) invalid(`unknown planCapacity option ${show(key)}`);
  if (opts.kernel !== undefined) checkKernel(opts.kernel);
  if (opts.backend !== undefined && opts.backend !== 'wasm' && opts.backend !== 'ts') invalid(`backend ${show(opts.backend)} is not "wasm" or "ts"`);
  if (opts.onRow !== undefined && typeof opts.onRow !== 'function') invalid(`onRow ${show(opts.onRow)} is not a function`);
  if (opts.onProbe !== undefined && typeof opts.onProbe !== 'function') invalid(`onProbe ${show(opts.onProbe)} is not a function`);
  if ((opts.size === undefined) === (opts.usable === undefined)) invalid('planCapacity needs one of { size } and { usable }');
  checkFilter(opts);
  const kernel = opts.kernel ?? 'v6';
  const backend = opts.backend ?? 'wasm';
  const configs = selectConfigs(kernel, opts);
  const reverse = opts.usable !== undefined;
  const amount = reverse ? planSize(opts.usable!, 'usable') : planSize(opts.size!, 'size');
  const what = reverse ? 'usable' : 'size';
  if (amount < MIN_NAMESPACE) invalid(`${what} ${amount} is below 16 MiB, the smallest namespace ndctl creates`);
  if (amount > MAX_DEVICE) invalid(`${what} ${amount} is over 2 PiB, the largest device the planning machines take`);
  if (amount % 4096n !== 0n) invalid(`${what} ${amount} is not a whole number of 4 KiB pages`);
  const dram = opts.dram === undefined ? defaultPlanDram(amount) : parseSize(opts.dram, 'dram');
  if (dram < 16n << 20n || dram % 4096n !== 0n) invalid(`dram ${dram} is not a whole number of 4 KiB pages of at least 16 MiB`);

  const blockSize = opts.memoryBlockSize === undefined ? undefined : parseSize(opts.memoryBlockSize, 'memoryBlockSize');
  const rows: PlanRow[] = [];
  for (const [i, cfg] of configs.entries()) {
    const row = reverse ? await reverseRow(cfg, amount, kernel, backend, dram, opts.onProbe, blockSize) : planRow(cfg, await runConfig(cfg, amount, kernel, backend, dram, blockSize), dram);
    rows.push(row);
    opts.onRow?.(row, i, configs.length);
  }
  markBest(rows, reverse);
  return { ...(reverse ? { usable: Number(amount) } : { size: Number(amount) }), kernel, nodeDram: Number(dram), regions: [{ region: 'region0', node: 0, nodeDram: Number(dram) }], rows };
}

/** The raw-size granule of a namespace with this align, as a planning machine's region reports it (its align attribute, its interleave ways). */
async function planGranule(kernel: KernelName, backend: Backend, dram: bigint, align: bigint): Promise<bigint> {
  const m = await planMachine(kernel, backend, dram, 1n << 30n);
  try {
    const r = m.listRegions()[0]!;
    return sizeGranule(r.align, align, BigInt(r.mappings.length));
  } finally {
    m.dispose();
  }
}

/** One row of reverse sizing: the search over raw sizes, each a fresh planning machine whose region is that size. */
async function reverseRow(cfg: PlanConfig, target: bigint, kernel: KernelName, backend: Backend, dram: bigint, onProbe?: PlanOptions['onProbe'], memoryBlockSize?: bigint): Promise<PlanRow> {
  const granule = await planGranule(kernel, backend, dram, alignBytes(cfg.align));
  const estimate = estimateRaw(target, { ...cfg, align: alignBytes(cfg.align) });
  let last: Figures | undefined;
  const found = await smallestRaw({
    target,
    granule,
    min: MIN_NAMESPACE,
    max: estimate * 2n + (1n << 30n) > MAX_DEVICE ? MAX_DEVICE : estimate * 2n + (1n << 30n),
    estimate,
    probe: (raw) => runConfig(cfg, raw, kernel, backend, dram, memoryBlockSize),
    onProbe: (f) => {
      last = f;
      onProbe?.(cfg, f);
    },
  });
  if (!found) {
    const f: Figures = { ok: false, error: `no raw size reaches ${target} usable bytes${last?.error ? ` (the largest tried: ${last.error})` : ''}`, raw: last?.raw ?? 0, usable: 0, deviceGivenUp: 0, dram: 0, pageTablePages: 0, memmapDram: 0, structPagesInitialised: 0, compound: false };
    return { ...planRow(cfg, f, dram), granule: Number(granule), below: null, probes: 0 };
  }
  const b = found.below;
  return {
    ...planRow(cfg, found.answer, dram),
    granule: Number(granule),
    below: b ? { raw: b.raw, ok: b.ok, usable: b.usable, ...(b.error ? { error: b.error } : {}) } : null,
    probes: found.probes,
  };
}

/** The options of {@link namespaceSizeFor}: ndctl's create-namespace options, less the size. */
export interface NamespaceSizeOptions {
  /** The usable bytes to reach (ndctl's size syntax, plain bytes included). */
  usable: bigint | number | string;
  /** --mode: fsdax (default) or devdax. */
  mode?: 'fsdax' | 'devdax';
  /** --map: dev (default) or mem. */
  map?: 'dev' | 'mem';
  /** --align: 4K, 2M (default) or 1G. */
  align?: bigint | number | string;
  /** --region: the region's index; default: where ndctl would place it. */
  region?: number;
  /** A fresh copy of the machine to size on, for each run (the search creates a namespace on each and disposes it). */
  machine: () => Promise<Machine>;
  /** After each machine run. */
  onProbe?: (f: Figures) => void;
}

/** namespaceSizeFor's answer. */
export interface NamespaceSize {
  /** The raw size to ask ndctl for (create-namespace --size). */
  raw: bigint;
  /** The usable size it gives (the namespace's size). */
  usable: bigint;
  /** Raw sizes ndctl accepts are multiples of it. */
  granule: bigint;
  /** The run one granule smaller; null when that is below 16 MiB. */
  below: { raw: bigint; usable: bigint; ok: boolean; error?: string } | null;
  /** Machine runs the search took. */
  probes: number;
}

/**
 * Reverse sizing on a given machine (create-namespace --usable): the smallest raw size on the region's
 * granularity whose namespace, created on a fresh copy of the machine, is at least `usable` bytes; the copy
 * one granule smaller falls short. Where the namespace lands (its start) is the machine's, so the answer is
 * for that machine's state.
 * @throws KernelError EINVAL for bad options; ENOSPC when no raw size the region has room for reaches it.
 */
export async function namespaceSizeFor(opts: NamespaceSizeOptions): Promise<NamespaceSize> {
  if (typeof opts !== 'object' || opts === null) invalid('namespaceSizeFor needs { usable, machine }');
  for (const key of Object.keys(opts)) if (!['usable', 'mode', 'map', 'align', 'region', 'machine', 'onProbe'].includes(key)) invalid(`unknown namespaceSizeFor option ${show(key)}`);
  if (typeof opts.machine !== 'function') invalid(`machine ${show(opts.machine)} is not a function returning a machine`);
  const mode = opts.mode ?? 'fsdax';
  if (mode !== 'fsdax' && mode !== 'devdax') invalid(`mode ${show(mode)} is not fsdax or devdax`);
  const map = opts.map ?? 'dev';
  if (map !== 'dev' && map !== 'mem') invalid(`map ${show(map)} is not dev or mem`);
  const align = opts.align === undefined ? 2n << 20n : parseSize(opts.align, 'align');
  if (![4096n, 2n << 20n, 1n << 30n].includes(align)) invalid(`align ${align} is not 4K, 2M or 1G`);
  if (opts.region !== undefined && (!Number.isInteger(opts.region) || opts.region < 0)) invalid(`region ${show(opts.region)} is not a region index`);
  const target = planSize(opts.usable, 'usable');
  if (target === 0n) invalid('usable must be positive');
  const m0 = await opts.machine();
  let granule: bigint;
  let max: bigint;
  try {
    const regions = m0.listRegions().filter((r) => opts.region === undefined || r.id === opts.region);
    if (regions.length === 0) throw new KernelError('ENODEV', opts.region === undefined ? 'no Persistent Memory region on this machine' : `no region${opts.region}`);
    granule = regions.map((r) => sizeGranule(r.align, align, BigInt(r.mappings.length))).reduce((a, b) => (a > b ? a : b));
    max = regions.map((r) => r.maxAvailableExtent).reduce((a, b) => (a > b ? a : b));
  } finally {
    m0.dispose();
  }
  const cfg = { mode, map, align: String(align) } as const;
  let last: Figures | undefined;
  const found = await smallestRaw({
    target,
    granule,
    min: MIN_NAMESPACE,
    max,
    estimate: estimateRaw(target, { map, align }),
    probe: async (raw) => {
      const m = await opts.machine();
      try {
        return measureConfig(m, cfg, raw, opts.region);
      } finally {
        m.dispose();
      }
    },
    onProbe: (f) => {
      last = f;
      opts.onProbe?.(f);
    },
  });
  if (!found) throw new KernelError('ENOSPC', `no raw size up to ${max} bytes (the largest free extent) gives ${target} usable bytes${last?.error ? ` (at ${last.raw}: ${last.error})` : ''}`);
  const b = found.below;
  return {
    raw: BigInt(found.answer.raw),
    usable: BigInt(found.answer.usable),
    granule,
    below: b ? { raw: BigInt(b.raw), usable: BigInt(b.usable), ok: b.ok, ...(b.error ? { error: b.error } : {}) } : null,
    probes: found.probes,
  };
}
