/**
 * The firmware memory map (arch/x86/kernel/e820.c) and what start_kernel makes of it: the banner,
 * the BIOS-e820 lines, the iomem resources (e820__reserve_resources), the direct map of System RAM
 * (init_mem_mapping) and its memmap (sparse_init + free_area_init).
 */
import { HostMemoryError, KernelError } from './errno.ts';
import type { Kernel } from './kernel.ts';
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

/** System RAM as pfn ranges [start, end). */
export function ramRanges(e820: readonly E820Range[]): Array<[number, number]> {
  return e820.filter((e) => e.type === 'System RAM').map((e): [number, number] => [Number(e.start >> 12n), Number((e.start + e.size) >> 12n)]);
}

/** Boot: iomem, the direct map and memmap of System RAM, the log. Returns the resources drivers take over. */
export function startKernel(k: Kernel, e820: readonly E820Range[], cmdline?: string, cmdlineMessages: string[] = []): BootResources {
  const out: BootResources = { pmem: [], legacyPmem: [], softReserved: [] };
  for (const e of e820) {
    const end = e.start + e.size - 1n;
    if (e.type === 'System RAM') k.iomem.addTop('System RAM', e.start, end);
    else if (e.type === 'Persistent Memory') out.pmem.push(k.iomem.addTop('Persistent Memory', e.start, end));
    // do_mark_busy: soft reserved and legacy pmem stay claimable by their drivers (not IORESOURCE_BUSY)
    else if (e.type === 'Persistent Memory (legacy)') out.legacyPmem.push(k.iomem.addTop(e.type, e.start, end, IORESOURCE_MEM));
    else if (e.type === 'Soft Reserved') out.softReserved.push(k.iomem.addTop(e.type, e.start, end, IORESOURCE_MEM));
    else k.iomem.addTop('Reserved', e.start, end, IORESOURCE_MEM | IORESOURCE_BUSY);
  }
  const ram = ramRanges(e820);
  k.ramRanges = ram;
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
  for (const e of e820) k.log.printk('info', `BIOS-e820: [mem ${w(e.start)}-${w(e.start + e.size - 1n)}] ${e820TypeName(e.type)}`);
  if (cmdline !== undefined) k.log.printk('info', `Kernel command line: ${cmdline}`);
  for (const m of cmdlineMessages) k.log.printk(m.startsWith('Unknown') ? 'info' : 'err', m);
  // sparse_init ends with vmemmap_populate_print_last: the boot memmap's last PMD run prints at boot
  k.vmemmap.printLast();
  return out;
}
