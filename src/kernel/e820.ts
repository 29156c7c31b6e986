/**
 * The firmware memory map (arch/x86/kernel/e820.c) and what start_kernel makes of it: the banner,
 * the BIOS-e820 lines, the iomem resources (e820__reserve_resources), the direct map of System RAM
 * (init_mem_mapping) and its memmap (sparse_init + free_area_init).
 */
import { HostMemoryError, KernelError } from './errno.ts';
import type { Kernel } from './kernel.ts';
import { IORESOURCE_BUSY, IORESOURCE_MEM, type Resource } from './resource.ts';

/** An e820 entry's type, as e820_print_type names it (E820_RAM, E820_PMEM/E820_PRAM, E820_RESERVED). */
export type E820Type = 'System RAM' | 'Persistent Memory' | 'Reserved';

/** One e820 entry, validated: page-aligned, positive size. */
export interface E820Range {
  /** Physical start address, in bytes. */
  start: bigint;
  /** Length in bytes. */
  size: bigint;
  /** What the firmware says the range is. */
  type: E820Type;
}

export const E820_TYPES: readonly E820Type[] = ['System RAM', 'Persistent Memory', 'Reserved'];

/** e820_print_type */
function e820TypeName(t: E820Type): string {
  return t === 'System RAM' ? 'usable' : t === 'Persistent Memory' ? 'persistent (type 12)' : 'reserved';
}

/** System RAM as pfn ranges [start, end). */
export function ramRanges(e820: readonly E820Range[]): Array<[number, number]> {
  return e820.filter((e) => e.type === 'System RAM').map((e): [number, number] => [Number(e.start >> 12n), Number((e.start + e.size) >> 12n)]);
}

/** Boot: iomem, the direct map and memmap of System RAM, the log. Returns the Persistent Memory resources. */
export function startKernel(k: Kernel, e820: readonly E820Range[], cmdline?: string, cmdlineMessages: string[] = []): Resource[] {
  const pmem: Resource[] = [];
  for (const e of e820) {
    const end = e.start + e.size - 1n;
    if (e.type === 'System RAM') k.iomem.addTop('System RAM', e.start, end);
    else if (e.type === 'Persistent Memory') pmem.push(k.iomem.addTop('Persistent Memory', e.start, end));
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
  return pmem;
}
