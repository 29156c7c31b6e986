/** The configurations the planner compares: the ndctl (and daxctl) options of each way to expose a device. */
import { invalid, show } from '../kernel/errno.ts';
import { KERNELS, profileFor, type KernelName } from '../kernel/profile.ts';

/** One way to expose the device: the `ndctl create-namespace` options (and, for kmem, `daxctl reconfigure-device`) a configuration uses. */
export interface PlanConfig {
  /** How the table names it ("devdax 2M, map=dev"). */
  label: string;
  /** ndctl's --mode. */
  mode: 'fsdax' | 'devdax';
  /** ndctl's --map: the memmap on the device (an altmap) or in DRAM. */
  map: 'dev' | 'mem';
  /** ndctl's --align: the mapping page size. */
  align: '2M' | '1G';
  /** dax kmem: the device handed to the page allocator as System RAM. */
  systemRam?: {
    /** daxctl's --memmap-on-memory (mhp_altmap: each memory block holds its own memmap). */
    memmapOnMemory: boolean;
  };
}

/** Which configurations to plan: ndctl's option values; `mode: 'system-ram'` picks the dax kmem rows alone. */
export interface PlanFilter {
  mode?: 'fsdax' | 'devdax' | 'system-ram';
  map?: 'dev' | 'mem';
  align?: '2M' | '1G';
}

/** Refuse a kernel name the model has no profile for (EINVAL, before anything runs). */
export function checkKernel(kernel: unknown): asserts kernel is KernelName {
  if (!(KERNELS as readonly unknown[]).includes(kernel)) invalid(`kernel ${show(kernel)} is not one of ${KERNELS.join(', ')}`);
}

/** The configurations a kernel offers (those a filter keeps, EINVAL when it keeps none). */
export function planConfigs(kernel: KernelName, filter?: PlanFilter): PlanConfig[] {
  if (filter !== undefined) return selectConfigs(kernel, filter);
  checkKernel(kernel);
  const p = profileFor(kernel);
  const rows: PlanConfig[] = [
    { label: 'fsdax, map=dev', mode: 'fsdax', map: 'dev', align: '2M' },
    { label: 'fsdax, map=mem', mode: 'fsdax', map: 'mem', align: '2M' },
  ];
  if (!p.devdax) return rows;
  const c = (s: string) => (p.compoundDevmaps ? `${s} (compound)` : s);
  rows.push(
    { label: 'devdax 2M, map=dev', mode: 'devdax', map: 'dev', align: '2M' },
    { label: c('devdax 2M, map=mem'), mode: 'devdax', map: 'mem', align: '2M' },
    { label: 'devdax 1G, map=dev', mode: 'devdax', map: 'dev', align: '1G' },
    { label: c('devdax 1G, map=mem'), mode: 'devdax', map: 'mem', align: '1G' },
  );
  if (p.memmapOnMemory) {
    rows.push(
      { label: 'system-ram (kmem)', mode: 'devdax', map: 'mem', align: '2M', systemRam: { memmapOnMemory: false } },
      { label: 'system-ram, memmap_on_memory', mode: 'devdax', map: 'mem', align: '2M', systemRam: { memmapOnMemory: true } },
    );
  }
  return rows;
}

/** Validate a filter's values (EINVAL naming the bad one). */
export function checkFilter(f: PlanFilter): void {
  if (f.mode !== undefined && !['fsdax', 'devdax', 'system-ram'].includes(f.mode)) invalid(`mode ${show(f.mode)} is not fsdax, devdax or system-ram`);
  if (f.map !== undefined && f.map !== 'dev' && f.map !== 'mem') invalid(`map ${show(f.map)} is not dev or mem`);
  if (f.align !== undefined && f.align !== '2M' && f.align !== '1G') invalid(`align ${show(f.align)} is not 2M or 1G`);
}

/** The configurations of a kernel that a filter keeps (EINVAL when it keeps none). */
export function selectConfigs(kernel: KernelName, f: PlanFilter): PlanConfig[] {
  checkFilter(f);
  const kept = planConfigs(kernel).filter((c) => {
    const mode = c.systemRam ? 'system-ram' : c.mode;
    return (f.mode === undefined || f.mode === mode) && (f.map === undefined || f.map === c.map) && (f.align === undefined || f.align === c.align);
  });
  if (kept.length === 0) invalid(`no configuration of ${kernel} has${f.mode ? ` mode ${f.mode}` : ''}${f.map ? ` map=${f.map}` : ''}${f.align ? ` align ${f.align}` : ''}`);
  return kept;
}
