/**
 * The modelled kernel's shared context: its subsystems over one Core (one room each), the event
 * drain that turns core events into messages, oopses, and __va. Drivers (src/nvdimm, src/dax) reach
 * the core only through these rooms.
 */
import { EventType, FaultKind, type Core } from '../core/core.ts';
import { DaxBus } from '../dax/bus.ts';
import { Kmem } from '../dax/kmem.ts';
import { Zonelists } from './zonelist.ts';
import { Numa, printNodesState } from './node.ts';
import { Altmaps } from './altmap.ts';
import { DeviceRegistry } from './devres.ts';
import { HostMemoryError, MachinePoisonedError } from './errno.ts';
import { Ftrace } from './ftrace.ts';
import { Hotplug } from './hotplug.ts';
import { Hugetlb } from './hugetlb.ts';
import { Memmap } from './memmap.ts';
import { Memremap } from './memremap.ts';
import { PageAlloc } from './pagealloc.ts';
import { Pgtable } from './pgtable.ts';
import { Physmem } from './physmem.ts';
import { Printk } from './printk.ts';
import type { Profile } from './profile.ts';
import type { OnlineType } from './cmdline.ts';
import { IomemTree } from './resource.ts';
import { MemregionIda } from './memregion.ts';
import { Sparse } from './sparse.ts';
import { Vmemmap } from './vmemmap.ts';

export interface KernelConfig {
  zoneDevice: boolean;
  sparsememVmemmap: boolean;
  memmapInit: 'as-shipped' | 'as-intended';
  /** hugetlb_optimize_vmemmap (v5.14+). */
  hugetlbVmemmapOptimize: boolean;
  /** memory_block_size_bytes(): 128 MiB on x86 by default. */
  memoryBlockSize: bigint;
  /** memory_hotplug.memmap_on_memory (the module parameter): off unless the command line sets it. */
  memmapOnMemoryParam: boolean | 'force';
  /** memhp_default_state: what hot-plugged memory blocks do (auto_online_blocks). */
  autoOnlineBlocks: OnlineType;
  /** The model's own: dax kmem onlines, offlines and hands blocks to the page allocator one at a time, not as runs (the reference the runs are tested against). */
  kmemBlockByBlock: boolean;
}

/** The address-space layout of the paging mode: PAGE_OFFSET, VMEMMAP_START, physical bits. */
export interface KernelLayout {
  pageOffset: bigint;
  vmemmapStart: bigint;
  physBits: number;
  paging: 4 | 5;
}

export class Kernel {
  readonly log = new Printk();
  readonly iomem = new IomemTree();
  readonly devices = new DeviceRegistry();
  /** Memory region ids (regionN, hmem.N). */
  readonly memregion = new MemregionIda();
  readonly physmem: Physmem;
  readonly pageAlloc: PageAlloc;
  readonly pgtable: Pgtable;
  readonly sparse = new Sparse();
  readonly altmaps: Altmaps;
  readonly vmemmap: Vmemmap;
  readonly memmap: Memmap;
  readonly hotplug: Hotplug;
  readonly memremap: Memremap;
  readonly hugetlb: Hugetlb;
  /** dax kmem: device-dax memory hot-plugged as System RAM. */
  readonly kmem: Kmem;
  /** The NUMA nodes (the SRAT's, from the e820 entries) and which node allocations are for. */
  readonly numa = new Numa(this);
  /** The page allocator's zonelists (rebuilt when hotplug populates or empties a zone). */
  readonly zonelists = new Zonelists(this);
  /** The dax bus: device-dax instances, and which driver (device_dax or kmem) each is bound to. */
  readonly dax: DaxBus;
  /** ftrace's function_graph over the modelled functions (tracefs at /sys/kernel/tracing). */
  readonly ftrace: Ftrace;
  poisoned: string | null = null;
  /** current->comm: the task the running operation is (the machine sets it per operation). */
  comm = 'altmap';
  /** The nth next devres allocation fails (fault injection; 0 = off). */
  devresFault = 0;
  /** System RAM as pfn ranges [start, end), as the page allocator owns it. */
  ramRanges: Array<[number, number]> = [];

  constructor(
    /** @internal the core; only the rooms above touch it */
    readonly core: Core,
    readonly profile: Profile,
    readonly cfg: KernelConfig,
    readonly layout: KernelLayout,
    debug: boolean,
  ) {
    this.log.debug = debug;
    this.ftrace = new Ftrace(profile.name);
    if (profile.ftraceTrampolineSplit) this.ftrace.onFirstStart = () => this.ftraceTrampoline();
    this.physmem = new Physmem(core);
    this.pageAlloc = new PageAlloc(core);
    this.pgtable = new Pgtable(core, layout.paging);
    this.altmaps = new Altmaps(core);
    this.vmemmap = new Vmemmap(core, this.log, layout.vmemmapStart, layout.physBits, (phys) => this.va(phys));
    this.memmap = new Memmap(this);
    this.hotplug = new Hotplug(this);
    this.memremap = new Memremap(this);
    this.hugetlb = new Hugetlb(this, cfg.hugetlbVmemmapOptimize && profile.hvo);
    this.kmem = new Kmem(this, cfg.memoryBlockSize);
    this.dax = new DaxBus(this);
  }

  /** __va */
  va(phys: bigint): bigint {
    return BigInt.asUintN(64, this.layout.pageOffset + phys);
  }

  /** Turn the core's events into kernel messages. */
  /**
   * ftrace_startup's dynamic trampoline (arch_ftrace_update_trampoline): set_memory_rox of its module page also
   * changes that page's direct-map alias, which splits the 2 MiB leaf holding it into 4 KiB ones
   * (arch/x86/mm/pat/set_memory.c split_large_page). The model puts the trampoline in the lowest 2 MiB leaf
   * of the direct map above the kernel image's first 16 MiB.
   */
  private ftraceTrampoline(): void {
    const { pageOffset, physBits } = this.layout;
    let leaf: { va: bigint } | null = null;
    for (const l of this.pgtable.leaves()) {
      if (l.shift === 21 && l.va >= pageOffset + (16n << 20n) && l.va < pageOffset + (1n << BigInt(physBits))) {
        leaf = l;
        break;
      }
    }
    if (!leaf) return;
    const pfn = Number((leaf.va - pageOffset) >> 12n);
    // remap the 2 MiB as a 4 KiB page and 511 more: directMapAdd maps a range off the 2 MiB grid in 4 KiB leaves
    if (this.pgtable.directMapRemove(pfn, pfn + 512) < 0 || this.pgtable.directMapAdd(pfn, pfn + 1) < 0 || this.pgtable.directMapAdd(pfn + 1, pfn + 512) < 0) this.hostOom();
  }

  drainEvents(): void {
    for (const e of this.core.takeEvents()) {
      switch (e.type) {
        case EventType.Fallback:
          if (this.profile.fallbackMessage === 'falling-back') this.log.printOnce('vmemmap:fallback', 'warn', 'vmemmap: falling back to regular page backing');
          else if (e.b === 1n) this.warnAlloc('vmemmap alloc failure: order:9');
          break;
        case EventType.NoPseAltmap:
          this.log.printOnce('vmemmap_populate:nopse', 'err', 'vmemmap_populate: no cpu support for altmap allocations');
          break;
        case EventType.Bug:
          this.bug('unable to handle kernel NULL pointer dereference at (null)', 'get_pfnblock_flags_mask+0x12/0x60', [
            'free_hot_cold_page+0x3e/0x190',
            '__free_pages+0x25/0x30',
            'free_pagetable+0x8c/0xe0',
            'remove_pagetable+0x37c/0x7b0',
            'vmemmap_free+0x10/0x20',
          ]);
          break;
        case EventType.AltmapAlloc:
          if (e.a === 0xffffffffffffffffn && !this.profile.altmapDebugOnFailure) break;
          this.log.printk('debug', `altmap_alloc_block_buf: pfn: 0x${e.a.toString(16)} alloc: ${BigInt.asIntN(64, e.b)} align: ${BigInt.asIntN(64, e.c)} nr: 0x${e.d.toString(16)}`);
          break;
        case EventType.Pmd:
          this.vmemmap.trackPmd(e.a, e.b);
          break;
      }
    }
  }

  /** A kernel oops: logged as the kernel prints it; the machine is poisoned from here on. */
  bug(what: string, ip: string, trace: string[]): void {
    if (this.poisoned) return;
    this.log.printk('emerg', `BUG: ${what}`);
    this.log.printk('emerg', `IP: [<ffffffff81000000>] ${ip}`);
    this.log.printk('emerg', 'Oops: 0000 [#1] SMP');
    this.log.printk('emerg', 'Call Trace:');
    for (const t of trace) this.log.printk('emerg', ` [<ffffffff81000000>] ${t}`);
    this.log.printk('emerg', '---[ end trace ]---');
    this.poisoned = `BUG: ${what} in ${ip.split('+')[0]}`;
  }

  /**
   * A 6.x kernel-mode page fault on a not-present page (page_fault_oops, __die, make_task_dead):
   * logged as x86 6.x prints it, the task killed, the machine poisoned from here on.
   */
  /**
   * warn_alloc() in mm/page_alloc.c for vmemmap_alloc_block's GFP_KERNEL|__GFP_RETRY_MAYFAIL (its __GFP_NOWARN
   * masked off), once: 6.x prints the cpuset on the same line (6.12.117/6.1.192 refuse-map-mem-enomem step 04);
   * v4.18 (source, not recorded) numbers the gfp bits as it did then and prints the cpuset on a line of its own.
   */
  private warnAlloc(what: string): void {
    // current->mems_allowed of a task in the root cpuset: N_MEMORY (cpuset_init_smp, kept by cpuset's hotplug work)
    const mems = printNodesState(this.numa.hasMemory()).trimEnd();
    if (this.profile.pfnEra === 'v6') {
      this.log.printOnce('vmemmap_alloc_block:warn', 'warn', `${this.comm}: ${what}, mode:0x4cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL), nodemask=(null),cpuset=/,mems_allowed=${mems}`);
    } else if (this.log.printOnce('vmemmap_alloc_block:warn', 'warn', `${this.comm}: ${what}, mode:0x6004c0(GFP_KERNEL|__GFP_RETRY_MAYFAIL), nodemask=(null)`)) {
      this.log.printk('info', `${this.comm} cpuset=/ mems_allowed=${mems}`);
    }
  }

  pageFaultOops(address: bigint, ip: string, comm: string): void {
    if (this.poisoned) return;
    const rip = `RIP: 0010:${ip}`;
    this.log.printk('emerg', `BUG: unable to handle page fault for address: ${address.toString(16).padStart(16, '0')}`);
    this.log.printk('emerg', '#PF: supervisor read access in kernel mode');
    this.log.printk('emerg', '#PF: error_code(0x0000) - not-present page');
    this.log.printk('warn', 'Oops: 0000 [#1] PREEMPT SMP NOPTI');
    this.log.printk('warn', rip);
    this.log.printk('warn', '---[ end trace 0000000000000000 ]---');
    this.log.printk('warn', rip);
    this.log.printk('warn', `note: ${comm}[1] exited with irqs disabled`);
    this.poisoned = `BUG: unable to handle page fault in ${ip.split('+')[0]}`;
  }

  poisonError(): MachinePoisonedError {
    return new MachinePoisonedError(this.poisoned ?? 'unknown');
  }

  /** Fault injection, like fail_page_alloc: the nth next allocation of `kind` fails; 0 disarms. */
  injectFault(kind: 'dram' | 'altmap' | 'devres' | 'backing', nth: number): void {
    if (kind === 'devres') this.devresFault = nth;
    else this.core.setFault(kind === 'dram' ? FaultKind.DramAlloc : kind === 'altmap' ? FaultKind.AltmapAlloc : FaultKind.Backing, nth);
  }

  /** Free the core; the kernel is unusable afterwards. */
  dispose(): void {
    this.core.dispose();
  }

  /** The core's count of host-room failures: an -ENOMEM while it moved is the model's budget, not the kernel's. */
  hostFailures(): number {
    return this.core.hostFailures();
  }

  /** The simulator's own host-memory budget ran out (not a kernel condition). */
  hostOom(): never {
    throw new HostMemoryError();
  }
}
