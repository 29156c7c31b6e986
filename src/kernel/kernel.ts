/** The modelled kernel: its subsystems over one Core, and the glue they share (events, BUGs, __va). */
import { EventType, type AltmapFields, type Core } from '../core/core.ts';
import { DeviceRegistry } from './devres.ts';
import { HostMemoryError, MachinePoisonedError } from './errno.ts';
import { Hotplug } from './hotplug.ts';
import { Memremap } from './memremap.ts';
import { Hugetlb } from './hugetlb.ts';
import { Printk } from './printk.ts';
import { IomemTree } from './resource.ts';
import type { Profile } from './profile.ts';

export interface KernelConfig {
  zoneDevice: boolean;
  sparsememVmemmap: boolean;
  memmapInit: 'as-shipped' | 'as-intended';
  /** hugetlb_optimize_vmemmap (v5.14+). */
  hugetlbVmemmapOptimize: boolean;
}

export class Kernel {
  readonly log: Printk;
  readonly iomem = new IomemTree();
  readonly devices = new DeviceRegistry();
  readonly hotplug: Hotplug;
  readonly memremap: Memremap;
  readonly hugetlb: Hugetlb;
  poisoned: string | null = null;
  /** The nth next devres allocation fails (fault injection; 0 = off). */
  devresFault = 0;
  /** System RAM as pfn ranges [start, end), as the page allocator owns it. */
  ramRanges: Array<[number, number]> = [];
  /** The PMD run vmemmap_populate is tracking for its debug line (init_64.c's addr_start..p_end). */
  private run: { addrStart: bigint; addrEnd: bigint; pStart: bigint; pEnd: bigint } | null = null;

  constructor(
    readonly core: Core,
    readonly profile: Profile,
    readonly cfg: KernelConfig,
    /** The address-space layout of the paging mode: PAGE_OFFSET, VMEMMAP_START, physical bits. */
    readonly layout: { pageOffset: bigint; vmemmapStart: bigint; physBits: number; paging: 4 | 5 },
    debug: boolean,
  ) {
    this.log = new Printk();
    this.log.debug = debug;
    this.hotplug = new Hotplug(this);
    this.memremap = new Memremap(this);
    this.hugetlb = new Hugetlb(this, cfg.hugetlbVmemmapOptimize && profile.hvo);
  }

  /** Live core altmaps and their generation, so a stale host view never reads a reused slot. */
  private readonly altmapGen = new Map<number, number>();
  private nextGen = 1;

  altmapCreate(f: AltmapFields): { id: number; gen: number } | null {
    const id = this.core.altmapCreate(f);
    if (id < 0) return null;
    const gen = this.nextGen++;
    this.altmapGen.set(id, gen);
    return { id, gen };
  }

  altmapRelease(id: number): void {
    const gen = this.altmapGen.get(id);
    if (gen !== undefined) this.retired.set(gen, this.core.altmapRead(id));
    this.altmapGen.delete(id);
    this.core.altmapRelease(id);
  }

  altmapAlive(id: number, gen: number): boolean {
    return this.altmapGen.get(id) === gen;
  }

  /** The fields an altmap had when it was freed (a crash-dump reader can still see them). */
  readonly retired = new Map<number, AltmapFields>();

  /** Struct pages memmap init has set up since boot (the init-time proxy the planner reports). */
  pagesInitialised = 0;

  /** memmap_init_zone's per-page work, counted. */
  memmapInit(pfn: number, nrPages: number, zone: number, nid: number): number {
    this.pagesInitialised += nrPages;
    return this.core.memmapInit(pfn, nrPages, zone, nid);
  }

  /** __va */
  va(phys: bigint): bigint {
    return BigInt.asUintN(64, this.layout.pageOffset + phys);
  }

  /** pfn_to_page: the struct page's address in the vmemmap. */
  vmemmapVa(pfn: number): bigint {
    return BigInt.asUintN(64, this.layout.vmemmapStart + 64n * BigInt(pfn));
  }

  /** Turn the core's events into kernel messages. */
  drainEvents(): void {
    for (const e of this.core.takeEvents()) {
      switch (e.type) {
        case EventType.Fallback:
          if (this.profile.fallbackMessage === 'falling-back') this.log.printOnce('vmemmap:fallback', 'warn', 'vmemmap: falling back to regular page backing');
          else if (e.b === 1n) this.log.printOnce('vmemmap_alloc_block:warn', 'warn', 'vmemmap alloc failure: order:9');
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
          this.trackPmd(e.a, this.va(e.b));
          break;
      }
    }
  }

  /** vmemmap_populate_hugepages' contiguous-run tracking for its debug line. */
  private trackPmd(addr: bigint, p: bigint): void {
    if (this.run && this.run.pEnd === p) {
      this.run.addrEnd = addr + 0x200000n;
      this.run.pEnd = p + 0x200000n;
      return;
    }
    this.vmemmapPrintLast();
    this.run = { addrStart: addr, addrEnd: addr + 0x200000n, pStart: p, pEnd: p + 0x200000n };
  }

  /** vmemmap_populate_print_last */
  vmemmapPrintLast(): void {
    const r = this.run;
    if (!r) return;
    const h = (x: bigint) => x.toString(16);
    // v4.5's %p printed the pointer; later kernels print the same run with no_hash_pointers
    this.log.printk('debug', ` [${h(r.addrStart)}-${h(r.addrEnd - 1n)}] PMD -> [${h(r.pStart)}-${h(r.pEnd - 1n)}] on node 0`);
    this.run = null;
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

  poisonError(): MachinePoisonedError {
    return new MachinePoisonedError(this.poisoned ?? 'unknown');
  }

  /** The simulator's own host-memory budget ran out (not a kernel condition). */
  hostOom(): never {
    throw new HostMemoryError();
  }
}
