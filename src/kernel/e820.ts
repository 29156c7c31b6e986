/**
 * The firmware memory map (arch/x86/kernel/e820.c) and what start_kernel makes of it: the banner,
 * the BIOS-e820 lines, the iomem resources (e820__reserve_resources), the direct map of System RAM
 * (init_mem_mapping) and its memmap (sparse_init + free_area_init).
 */
import { HostMemoryError, KernelError } from './errno.ts';
import type { Kernel } from './kernel.ts';
import type { MemmapOp } from './cmdline.ts';
import { IORESOURCE_BUSY, IORESOURCE_MEM, type Resource } from './resource.ts';

/**
 * An e820 entry's type, by the iomem name e820_type_to_string gives it: E820_TYPE_RAM, the NVDIMM
 * ranges an ACPI NFIT describes ('Persistent Memory'), E820_TYPE_RESERVED, E820_TYPE_SOFT_RESERVED
 * (EFI_MEMORY_SP, or `memmap=nn%ss+0xefffffff`) and E820_TYPE_PRAM (legacy pmem, `memmap=nn!ss`).
 */
export type E820Type = 'System RAM' | 'Persistent Memory' | 'Reserved' | 'Soft Reserved' | 'Persistent Memory (legacy)';

/** One e820 entry, validated: page-aligned, positive size. */
export interface E820Range {
  /** Physical start address, in bytes. */
  start: bigint;
  /** Length in bytes. */
  size: bigint;
  /** What the firmware says the range is. */
  type: E820Type;
  /** The SRAT proximity domain's node (System RAM, Persistent Memory, Soft Reserved); absent: node 0. */
  node?: number;
}

export const E820_TYPES: readonly E820Type[] = ['System RAM', 'Persistent Memory', 'Reserved', 'Soft Reserved', 'Persistent Memory (legacy)'];

/** e820_print_type */
export function e820TypeName(t: E820Type): string {
  switch (t) {
    case 'System RAM':
      return 'usable';
    case 'Soft Reserved':
      return 'soft reserved';
    case 'Reserved':
      return 'reserved';
    default:
      return 'persistent (type 12)';
  }
}

/** The iomem resources of the boot memory map that drivers take over. */
export interface BootResources {
  /** NFIT "Persistent Memory": one nvdimm region each (acpi_nfit). */
  pmem: Resource[];
  /** "Persistent Memory (legacy)": one region each on the e820 nvdimm bus (drivers/nvdimm/e820.c). */
  legacyPmem: Resource[];
  /** "Soft Reserved": one hmem device each (drivers/dax/hmem). */
  softReserved: Resource[];
}

/** The e820 type numbers (E820_TYPE_*) of the types the model has. */
const E820_TYPE_VALUE: Record<E820Type, number> = { 'System RAM': 1, Reserved: 2, 'Persistent Memory': 7, 'Persistent Memory (legacy)': 12, 'Soft Reserved': 0xefffffff };

/** The model's type of an E820_TYPE_* number, or undefined for one it does not have (ACPI tables, NVS, unusable). */
export function e820TypeOf(value: number): E820Type | undefined {
  return (Object.keys(E820_TYPE_VALUE) as E820Type[]).find((t) => E820_TYPE_VALUE[t] === value);
}

/**
 * The command line's memmap= edits applied to the firmware's map (e820__range_add / e820__range_update,
 * then e820__update_table: where entries overlap the larger type wins), sorted, with like neighbours merged.
 */
export function applyMemmap(e820: readonly E820Range[], ops: readonly MemmapOp[]): E820Range[] {
  let map = e820.map((e) => ({ ...e }));
  for (const o of ops) {
    const end = o.start + o.size;
    const out: E820Range[] = [];
    const to = e820TypeOf(o.op === 'add' ? o.type : o.newType)!;
    for (const e of map) {
      const eEnd = e.start + e.size;
      const hits = o.op === 'update' ? E820_TYPE_VALUE[e.type] === o.oldType : E820_TYPE_VALUE[e.type] < E820_TYPE_VALUE[to];
      if (!hits || eEnd <= o.start || e.start >= end) {
        out.push(e);
        continue;
      }
      // the SRAT is not the e820: a retyped piece keeps the node of the range it was cut from
      const node = e.node !== undefined ? { node: e.node } : {};
      if (e.start < o.start) out.push({ start: e.start, size: o.start - e.start, type: e.type, ...node });
      out.push({ start: e.start > o.start ? e.start : o.start, size: (eEnd < end ? eEnd : end) - (e.start > o.start ? e.start : o.start), type: to, ...node });
      if (eEnd > end) out.push({ start: end, size: eEnd - end, type: e.type, ...node });
    }
    // e820__range_add: the parts no entry covered are added too
    if (o.op === 'add') {
      let at = o.start;
      for (const e of [...out].sort((a, b) => (a.start < b.start ? -1 : 1))) {
        if (e.start + e.size <= at || e.start >= end) continue;
        if (e.start > at) out.push({ start: at, size: e.start - at, type: to });
        at = e.start + e.size > at ? e.start + e.size : at;
      }
      if (at < end) out.push({ start: at, size: end - at, type: to });
    }
    map = out;
  }
  map.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const merged: E820Range[] = [];
  for (const e of map) {
    const last = merged.at(-1);
    if (last && last.type === e.type && (last.node ?? 0) === (e.node ?? 0) && last.start + last.size === e.start) last.size += e.size;
    else merged.push(e);
  }
  return merged;
}

/** The node of each System RAM range of ramRanges(e820), in the same order. */
export function ramNodes(e820: readonly E820Range[]): number[] {
  return e820.filter((e) => e.type === 'System RAM').map((e) => e.node ?? 0);
}

/**
 * System RAM cut only by the SRAT (adjacent entries of different nodes) as the one e820 entry it is (what
 * the BIOS-e820 lines and /proc/iomem show); every other entry as given (two NVDIMM regions may meet).
 */
function mergeNodes(e820: readonly E820Range[]): E820Range[] {
  const out: E820Range[] = [];
  for (const e of e820) {
    const last = out.at(-1);
    if (last && e.type === 'System RAM' && last.type === e.type && (last.node ?? 0) !== (e.node ?? 0) && last.start + last.size === e.start) last.size += e.size;
    else out.push({ ...e });
  }
  return out;
}

/** System RAM as pfn ranges [start, end). */
export function ramRanges(e820: readonly E820Range[]): Array<[number, number]> {
  return e820.filter((e) => e.type === 'System RAM').map((e): [number, number] => [Number(e.start >> 12n), Number((e.start + e.size) >> 12n)]);
}

/** Boot: iomem, the direct map and memmap of System RAM, the log. Returns the resources drivers take over. */
export function startKernel(k: Kernel, e820: readonly E820Range[], cmdline?: string, cmdlineMessages: string[] = [], firmware: readonly E820Range[] = e820): BootResources {
  const byNode = e820;
  const out: BootResources = { pmem: [], legacyPmem: [], softReserved: [] };
  // the SRAT, not the e820, splits memory by node: one firmware entry may span nodes (QEMU's RAM below 4 GiB)
  const edited = firmware !== e820;
  firmware = mergeNodes(firmware);
  e820 = mergeNodes(e820);
  for (const e of e820) {
    const end = e.start + e.size - 1n;
    if (e.type === 'System RAM') k.iomem.addTop('System RAM', e.start, end);
    else if (e.type === 'Persistent Memory') out.pmem.push(k.iomem.addTop('Persistent Memory', e.start, end));
    // do_mark_busy: soft reserved and legacy pmem stay claimable by their drivers (not IORESOURCE_BUSY)
    else if (e.type === 'Persistent Memory (legacy)') out.legacyPmem.push(k.iomem.addTop(e.type, e.start, end, IORESOURCE_MEM));
    else if (e.type === 'Soft Reserved') out.softReserved.push(k.iomem.addTop(e.type, e.start, end, IORESOURCE_MEM));
    else k.iomem.addTop('Reserved', e.start, end, IORESOURCE_MEM | IORESOURCE_BUSY);
  }
  const ram = ramRanges(byNode);
  k.ramRanges = ram;
  k.numa.setup(byNode);
  k.zonelists.boot();
  for (const [s, e] of ram) if (k.pgtable.directMapAdd(s, e) < 0) throw new KernelError('ENOMEM', 'boot: out of memory building the direct map');
  let err: number;
  try {
    err = k.hotplug.bootMemmap(ram);
  } catch (e) {
    if (!(e instanceof HostMemoryError)) throw e;
    err = -12;
  }
  if (err < 0) throw new KernelError('ENOMEM', 'boot: out of memory for the boot memmap');
  k.log.printk('info', `Linux version ${k.profile.release} (altmap-sim) #1 SMP`);
  // setup_arch prints the command line it was given (the model only when one was)
  if (cmdline !== undefined) k.log.printk('info', `Command line: ${cmdline}`);
  const w = (x: bigint) => `0x${x.toString(16).padStart(16, '0')}`;
  for (const e of firmware) k.log.printk('info', `BIOS-e820: [mem ${w(e.start)}-${w(e.start + e.size - 1n)}] ${e820TypeName(e.type)}`);
  // e820__finish_early_params: a memmap= that changed the map prints the map the kernel goes on with
  if (edited) {
    k.log.printk('info', 'e820: user-defined physical RAM map:');
    for (const e of e820) k.log.printk('info', `user: [mem ${w(e.start)}-${w(e.start + e.size - 1n)}] ${e820TypeName(e.type)}`);
  }
  if (cmdline !== undefined) k.log.printk('info', `Kernel command line: ${cmdline}`);
  for (const m of cmdlineMessages) k.log.printk(m.startsWith('Unknown') ? 'info' : m.startsWith('Malformed') ? 'warn' : 'err', m);
  // sparse_init ends with vmemmap_populate_print_last: the boot memmap's last PMD run prints at boot
  k.vmemmap.printLast();
  // probe_memory_block_size's pr_info (the size createMachine resolved for the profile; v4.3+ prints it)
  k.log.printk('info', `x86/mm: Memory block size: ${k.cfg.memoryBlockSize >> 20n}MB`);
  return out;
}
