/**
 * drivers/dax/kmem.c with mm/memory_hotplug.c's memmap_on_memory (v5.13+; `force` v6.6+):
 * `daxctl reconfigure-device --mode=system-ram` unbinds device_dax (memunmap_pages) and hot-plugs the
 * device's memory-block-aligned range as System RAM, one memory block at a time; with memmap_on_memory
 * each block's vmemmap comes from the block itself through an altmap { base = block start, reserve 0,
 * free = memmap pages } (kernel.md §4.2, T46).
 */
import type { VmemAltmap } from '../kernel/altmap.ts';
import { ERRNO, HostMemoryError, KernelError } from '../kernel/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { Profile } from '../kernel/profile.ts';
import { Purpose } from '../kernel/pagealloc.ts';
import { hex, type LogMark } from '../kernel/printk.ts';
import type { Resource } from '../kernel/resource.ts';
import { bootZone, ZONE_MOVABLE, ZONE_NORMAL } from '../kernel/memmap.ts';

export type MemmapOnMemory = boolean | 'force';

/** One hot-plugged memory block. */
export interface KmemBlock {
  start: bigint;
  size: bigint;
  altmap: VmemAltmap | null;
  memmapPages: number;
  /** Online, and in ZONE_MOVABLE or ZONE_NORMAL; null while offline. */
  zone: 'Movable' | 'Normal' | null;
  /**
   * The kernel's own unmovable pages (slab, page tables) landed in the block: the one whose onlining
   * populated ZONE_NORMAL (the 6.12 fixtures: offlining it fails, "failure to isolate range", in every
   * kmem case; kmem-offline-online, kmem-sysfs-state).
   */
  pinned: boolean;
}

/** The zone an online request puts a block in (mhp_online_type_from_str's types, less offline). */
export type OnlineType = 'online' | 'online_kernel' | 'online_movable';

/** A dax device in system-ram mode. */
export interface KmemDevice {
  dev: string;
  res: Resource;
  blocks: KmemBlock[];
  memmapOnMemory: MemmapOnMemory;
  /** DRAM memmap pages the hot-add took (memmap_on_memory off or unsupported). */
  dramMemmapPages: number;
  /** Bytes of the device range dax_kmem_range cut off to reach memory block boundaries, before and after. */
  trimmed: { head: bigint; tail: bigint };
}

const PAGEBLOCK_PAGES = 512;
/** MAX_ORDER_NR_PAGES: the buddy allocator's largest chunk, 4 MiB (order 10). */
const MAX_ORDER_NR_PAGES = 1024;
const PMD_SIZE = 2n << 20n;

/** memory_block_memmap_on_memory_pages: the block's memmap in pages; force pads it to a pageblock. */
export function memmapOnMemoryPages(blockSize: bigint, mode: MemmapOnMemory): number {
  const pages = Number(((blockSize >> 12n) * 64n) >> 12n);
  return mode === 'force' ? Math.ceil(pages / PAGEBLOCK_PAGES) * PAGEBLOCK_PAGES : pages;
}

/** mhp_supports_memmap_on_memory (x86): the vmemmap covers whole PMDs, pageblock-aligned unless forced, and leaves memory to online. */
export function mhpSupportsMemmapOnMemory(blockSize: bigint, mode: MemmapOnMemory): boolean {
  if (mode === false) return false;
  const vmemmapSize = ((blockSize >> 12n) * 64n);
  const pages = memmapOnMemoryPages(blockSize, mode);
  if (vmemmapSize % 4096n !== 0n) return false;
  if (pages % PAGEBLOCK_PAGES !== 0) return false;
  if (BigInt(pages) === blockSize >> 12n) return false;
  // arch_supports_memmap_on_memory: whole PMDs of vmemmap, else part would fall back to base pages
  return mode === 'force' || vmemmapSize % PMD_SIZE === 0n;
}

/** dax_kmem_range(): the device range trimmed inward to memory block boundaries; empty when no whole block is left. */
export function daxKmemRange(dataStart: bigint, dataEnd: bigint, blockSize: bigint): { start: bigint; end: bigint } {
  return { start: ((dataStart + blockSize - 1n) / blockSize) * blockSize, end: (dataEnd / blockSize) * blockSize };
}

/**
 * Whether add_memory_resource puts each block's memmap in the block: asked for, and
 * mhp_supports_memmap_on_memory() agrees. (The real 6.1 kmem never asks, kmem-mom-param on 6.1.192; the
 * model still honours an explicit request there, as the planner's v6.1 rows expect.)
 */
export function kmemMemmapOnMemory(_profile: Pick<Profile, 'daxMemmapOnMemory'>, blockSize: bigint, mode: MemmapOnMemory): boolean {
  return mhpSupportsMemmapOnMemory(blockSize, mode);
}

/** What a dax kmem hot-add of a device's data range takes, before any block is online. */
export interface KmemHotAddCost {
  /** Memory blocks dax_kmem_range leaves. */
  blocks: number;
  /** The block-aligned range, [start, end). */
  start: bigint;
  end: bigint;
  /** The blocks carry their own memmap (memmap_on_memory in effect). */
  memmapOnMemory: boolean;
  /**
   * Struct pages arch_add_memory allocates from free DRAM for the whole range at once (vmemmap_populate
   * without an altmap): the free DRAM the hot-add needs first, 2 MiB per 128 MiB block. Page tables come on top.
   */
  dramMemmapBytes: bigint;
  /** Struct pages the blocks hold themselves (memmap_on_memory): what onlining gives up. */
  onMemoryMemmapBytes: bigint;
}

/** The memmap of a dax kmem hot-add (dev_dax_kmem_probe -> add_memory_driver_managed -> add_memory_resource), without running it. */
export function kmemHotAddCost(profile: Pick<Profile, 'daxMemmapOnMemory'>, blockSize: bigint, dataStart: bigint, dataEnd: bigint, mode: MemmapOnMemory): KmemHotAddCost {
  const { start, end } = daxKmemRange(dataStart, dataEnd, blockSize);
  const blocks = end > start ? Number((end - start) / blockSize) : 0;
  const onMemory = kmemMemmapOnMemory(profile, blockSize, mode);
  // sizeof(struct page) is 64 bytes in every modelled era: a block's memmap is blockSize / 64
  const memmap = BigInt(blocks) * (blockSize / 64n);
  const own = onMemory ? BigInt(blocks) * BigInt(memmapOnMemoryPages(blockSize, mode)) * 4096n : 0n;
  return { blocks, start, end: end > start ? end : start, memmapOnMemory: onMemory, dramMemmapBytes: onMemory ? 0n : memmap, onMemoryMemmapBytes: own };
}

export class Kmem {
  readonly devices = new Map<string, KmemDevice>();

  constructor(
    private readonly k: Kernel,
    /** memory_block_size_bytes(): 128 MiB on x86 by default. */
    readonly blockSize: bigint,
  ) {}

  /** dev_dax_kmem_probe: hot-plug the dax range as System RAM, block by block. */
  probe(dev: string, parent: Resource, dataStart: bigint, dataEnd: bigint, mode: MemmapOnMemory): KmemDevice {
    const ft = this.k.ftrace;
    if (!ft.on) return this.devDaxKmemProbe(dev, parent, dataStart, dataEnd, mode);
    ft.enter('dev_dax_kmem_probe');
    ft.leaf('region_intersects');
    try {
      return this.devDaxKmemProbe(dev, parent, dataStart, dataEnd, mode);
    } finally {
      ft.exit('dev_dax_kmem_probe');
    }
  }

  private devDaxKmemProbe(dev: string, parent: Resource, dataStart: bigint, dataEnd: bigint, mode: MemmapOnMemory): KmemDevice {
    const k = this.k;
    const ft = k.ftrace;
    const { start, end } = daxKmemRange(dataStart, dataEnd, this.blockSize);
    if (end <= start) {
      // dax_kmem_range's -ENOSPC is passed over; with no range left the probe rejects the device
      k.log.printk('info', `kmem ${dev}: mapping0: ${hex(dataStart)}-${hex(dataEnd - 1n)} too small after alignment`);
      k.log.printk('warn', `kmem ${dev}: rejecting DAX region without any memory after alignment`);
      this.probeFailed(dev, ERRNO.EINVAL);
      throw new KernelError('EINVAL', `${dev}: no whole ${this.blockSize >> 20n} MiB memory block in ${hex(dataStart)}-${hex(dataEnd - 1n)}`);
    }
    // v5.x+: kmem requests the block-aligned range under the device's own name (device_dax let its
    // resource go when it unbound): "daxX.Y" shrinks to the blocks, "System RAM (kmem)" inside it
    if (parent.name === dev) {
      parent.start = start;
      parent.end = end - 1n;
    }
    const res = k.iomem.request(parent, 'System RAM (kmem)', start, end - 1n);
    if (!res) throw new KernelError('EBUSY', `${dev}: ${hex(start)}-${hex(end - 1n)} is already claimed`);
    if (ft.on) {
      // add_memory_driver_managed: the range checked against System RAM, then add_memory_resource
      ft.enter('add_memory_driver_managed');
      ft.leaf('region_intersects');
      ft.enter('add_memory_resource');
      if (mode !== false) ft.leaf('mhp_supports_memmap_on_memory');
    }
    const onMemory = kmemMemmapOnMemory(k.profile, this.blockSize, mode);
    const mark = { log: k.log.mark(), policyZone: k.zonelists.save() };
    k.numa.tryOnlineNode(k.numa.targetNode(start));
    const kd: KmemDevice = { dev, res, blocks: [], memmapOnMemory: mode, dramMemmapPages: 0, trimmed: { head: start - dataStart, tail: dataEnd - end } };
    const before = k.pageAlloc.pagesFor(Purpose.Memmap);
    const owner = { kmem: dev };
    if (!onMemory) {
      // add_memory_resource without memmap_on_memory: one arch_add_memory for the whole range (its direct
      // map in the largest pages that fit: fixture kmem-system-ram-mem-2G, 896 MiB of 2M and one 1G page)
      let err: number;
      try {
        err = k.hotplug.archAddMemory(k.numa.targetNode(start), start, end - start, { altmap: { explicit: true, altmap: null }, owner });
      } catch (e) {
        // HostMemoryError: arch_add_memory took its part back; the resource goes too
        k.iomem.release(parent, res);
        throw e;
      }
      if (err) {
        // an oops in arch_add_memory (the direct map's page-table page) kills the task: nothing after it runs
        if (k.poisoned) throw KernelError.fromErrno(err, `${dev}: add_memory oopsed`);
        // add_memory_resource's error path has no arch_remove_memory: the sections __add_pages added keep
        // their DRAM memmap and the direct map stays; add_memory_driver_managed releases its resource
        k.iomem.release(parent, res);
        this.stranded.set(dev, { start, end });
        throw this.memoryAddFailed(dev, start, end, err);
      }
      if (ft.on) ft.leaf('create_memory_block_devices');
    }
    // registered from the first block on: the zones its blocks populate count for the next (online_pages)
    this.devices.set(dev, kd);
    try {
      for (let at = start; at < end; at += this.blockSize) {
        const block = onMemory ? this.addBlock(at, memmapOnMemoryPages(this.blockSize, mode), owner) : this.newBlock(at, null, 0);
        if (typeof block === 'number') {
          if (k.poisoned) throw KernelError.fromErrno(block, `${dev}: add_memory oopsed`);
          // create_altmaps_and_memory_blocks: the blocks already added go again (remove_memory_blocks_and_altmaps),
          // before anything is onlined; the failing block's own arch_add_memory is not undone
          for (const b of kd.blocks) this.removeBlock(b);
          kd.blocks.length = 0;
          this.devices.delete(dev);
          k.iomem.release(parent, res);
          this.stranded.set(dev, { start, end });
          throw this.memoryAddFailed(dev, start, end, block);
        }
        kd.blocks.push(block);
      }
      this.autoOnline(kd.blocks);
    } catch (e) {
      if (!this.devices.has(dev)) throw e;
      if (e instanceof HostMemoryError && !k.poisoned) {
        // the model's budget, not a kernel condition: take back all this probe did (bus.reconfigure rebinds device_dax)
        this.takeBack(kd, parent, onMemory, mark);
        throw e;
      }
      this.autoOnline(kd.blocks);
      // add_memory_driver_managed failed: what was added stays added, as the kernel leaves it
      kd.dramMemmapPages = k.pageAlloc.pagesFor(Purpose.Memmap) - before;
      if (!kd.blocks.length) {
        this.devices.delete(dev);
        k.iomem.release(parent, res);
      }
      throw e;
    }
    kd.dramMemmapPages = k.pageAlloc.pagesFor(Purpose.Memmap) - before;
    if (ft.on) ft.exit('add_memory_driver_managed');
    return kd;
  }

  /**
   * Undo a probe that ran out of host budget: its blocks offline and removed, as they were added (the whole
   * range at once without memmap_on_memory), its resource released, the log and policy_zone as they were.
   */
  private takeBack(kd: KmemDevice, parent: Resource, onMemory: boolean, mark: { log: LogMark; policyZone: number }): void {
    const k = this.k;
    for (const b of kd.blocks) {
      if (!b.zone) continue;
      // just onlined by this probe: nothing the model allocated since can be in them but what the probe took
      if (!this.leaveAllocator(b)) throw new Error(`kmem: ${kd.dev}'s blocks hold allocations after a failed probe`);
      this.setZone(b, null);
    }
    if (onMemory) for (const b of kd.blocks) this.removeBlock(b);
    else k.hotplug.archRemoveMemory(kd.res.start, kd.res.end + 1n - kd.res.start, { explicit: true, altmap: null });
    kd.blocks.length = 0;
    this.devices.delete(kd.dev);
    k.iomem.release(parent, kd.res);
    k.log.rewind(mark.log);
    k.zonelists.restore(mark.policyZone);
  }

  /**
   * dev_dax_kmem_probe when add_memory_driver_managed fails: its dev_warn "mapping%d: %#llx-%#llx memory add failed" (drivers/dax/kmem.c), then the driver core's line for
   * the failed probe (really_probe: dev_err on 6.12, pr_warn on 6.1); kmem stays unbound.
   */
  private memoryAddFailed(dev: string, start: bigint, end: bigint, err: number): KernelError {
    const log = this.k.log;
    const text = `mapping0: ${hex(start)}-${hex(end - 1n)} memory add failed`;
    log.printk('warn', `kmem ${dev}: ${text}`);
    this.probeFailed(dev, err);
    return KernelError.fromErrno(err, `${dev}: ${text}`);
  }

  /** really_probe's line for a failed probe: dev_err on 6.12, pr_warn on 6.1; kmem stays unbound. */
  private probeFailed(dev: string, err: number): void {
    const log = this.k.log;
    if (this.k.profile.name === 'v6.1') log.printk('warn', `kmem: probe of ${dev} failed with error ${err}`);
    else log.printk('err', `kmem ${dev}: probe with driver kmem failed with error ${err}`);
  }

  /**
   * Devices whose hot-add failed part way (add_memory_resource without memmap_on_memory): the range of
   * sections the kernel may have left added, memmap and all. Nothing binds the device again by itself.
   */
  readonly stranded = new Map<string, { start: bigint; end: bigint }>();

  /** add_memory_resource's walk_memory_blocks(online_memory_block) once the blocks exist, as memhp_default_state says (not offline). */
  private autoOnline(blocks: KmemBlock[]): void {
    const policy = this.k.cfg.autoOnlineBlocks;
    if (policy === 'offline') return;
    const ft = this.k.ftrace;
    if (!ft.on) {
      this.onlineAll(blocks, policy === 'online_movable');
      return;
    }
    for (const b of blocks) {
      if (b.zone) continue;
      ft.enter('online_memory_block');
      this.onlineBlock(b, policy === 'online_movable');
      ft.exit('online_memory_block');
    }
  }

  /**
   * online_pages for each offline block, in address order; returns how many it onlined. Untraced, the
   * blocks after the first of an adjacent run (no memmap of their own, one node) share one memmap init:
   * the first block has populated their zone already, so none of them pins, rebuilds zonelists or
   * changes what the first one's onlining left (a 2 PiB device is a million 2 GiB blocks).
   */
  private onlineAll(blocks: KmemBlock[], movable: boolean): number {
    let onlined = 0;
    for (let i = 0; i < blocks.length; ) {
      const b = blocks[i++];
      if (b.zone) continue;
      this.onlineBlock(b, movable);
      onlined++;
      if (this.k.ftrace.on || b.memmapPages) continue;
      const nid = this.k.numa.targetNode(b.start);
      let end = b.start + b.size;
      const run: KmemBlock[] = [];
      for (; i < blocks.length; i++) {
        const x = blocks[i];
        if (x.zone || x.memmapPages || x.start !== end || this.k.numa.targetNode(x.start) !== nid) break;
        run.push(x);
        end = x.start + x.size;
      }
      if (!run.length) continue;
      this.k.memmap.onlinePages(Number(run[0].start >> 12n), Number((end - run[0].start) >> 12n), movable);
      for (const x of run) {
        this.joinAllocator(x, movable);
        this.setZone(x, movable ? 'Movable' : 'Normal');
      }
      onlined += run.length;
    }
    return onlined;
  }

  /** create_altmaps_and_memory_blocks for one block: arch_add_memory with the block's own altmap, then the block. */
  private addBlock(start: bigint, memmapPages: number, owner: object): KmemBlock | number {
    const k = this.k;
    const startPfn = Number(start >> 12n);
    const nrPages = Number(this.blockSize >> 12n);
    let altmap: VmemAltmap | null = null;
    if (memmapPages > 0) {
      altmap = k.altmaps.create({ basePfn: BigInt(startPfn), reserve: 0n, free: BigInt(memmapPages), align: 0n, alloc: 0n });
      if (!altmap) return -12;
    }
    let err: number;
    try {
      err = k.hotplug.archAddMemory(k.numa.targetNode(start), start, this.blockSize, { altmap: { explicit: true, altmap }, owner });
    } catch (e) {
      // HostMemoryError: the block's altmap goes with what arch_add_memory took back
      if (altmap) k.altmaps.release(altmap);
      throw e;
    }
    if (err) {
      if (altmap) k.altmaps.release(altmap);
      return err;
    }
    if (k.ftrace.on) k.ftrace.leaf('create_memory_block_devices');
    return this.newBlock(start, altmap, memmapPages);
  }

  /** A memory block of added memory (add_memory_block), onlined as memhp_default_state says. */
  private newBlock(start: bigint, altmap: VmemAltmap | null, memmapPages: number): KmemBlock {
    const k = this.k;
    // mhp_init_memmap_on_memory: the vmemmap pages' own struct pages
    if (memmapPages) k.memmap.initMemoryBlock(Number(start >> 12n), memmapPages);
    return { start, size: this.blockSize, altmap, memmapPages, zone: null, pinned: false };
  }

  /** Online kmem blocks per zone: what populated_zone() sees of hot-plugged memory, kept as blocks change zone. */
  private readonly onlineBlocks = { Normal: 0, Movable: 0 };

  /** A block's zone changes (online_pages / offline_pages), and the count of its zone with it. */
  private setZone(b: KmemBlock, zone: KmemBlock['zone']): void {
    if (b.zone) this.onlineBlocks[b.zone]--;
    if (zone) this.onlineBlocks[zone]++;
    b.zone = zone;
  }

  /** The zones that have present pages (populated_zone): boot RAM's, and those kmem blocks are online in. */
  private populatedZones(): number[] {
    const zones = new Set<number>();
    for (const [s, e] of this.k.ramRanges) if (e > s) for (const z of [bootZone(s), bootZone(e - 1)]) zones.add(z);
    if (this.onlineBlocks.Normal > 0) zones.add(ZONE_NORMAL);
    if (this.onlineBlocks.Movable > 0) zones.add(ZONE_MOVABLE);
    return [...zones];
  }

  /** online_pages / offline_pages: build_all_zonelists once for each zone the change populated or emptied. */
  private rebuildingZonelists<T>(change: () => T): T {
    const before = this.populatedZones();
    const r = change();
    const after = this.populatedZones();
    const changed = before.filter((z) => !after.includes(z)).length + after.filter((z) => !before.includes(z)).length;
    if (this.k.profile.pfnEra === 'v6') for (let i = 0; i < changed; i++) this.k.zonelists.build(after, this.k.pageAlloc.stats().totalPages);
    return r;
  }

  /** A block's pages the page allocator gets: all but its own memmap (memmap_on_memory). */
  private allocatorRange(b: KmemBlock): [number, number] {
    return [Number(b.start >> 12n) + b.memmapPages, Number((b.start + b.size) >> 12n)];
  }

  /**
   * online_pages' end (generic_online_page -> __free_pages_core): the block's pages join the page allocator
   * free, on the node of the device's target_node, ZONE_MOVABLE (only movable allocations: 2 MiB HugeTLB
   * pages) or ZONE_NORMAL (the kernel's own too).
   */
  private joinAllocator(b: KmemBlock, movable: boolean): void {
    const [s, e] = this.allocatorRange(b);
    const nid = this.k.numa.targetNode(b.start);
    const err = this.k.pageAlloc.addRange(s, e, nid, movable);
    if (err) throw new Error(`kmem: the page allocator refused pfns ${hex(BigInt(s))}-${hex(BigInt(e))} (${err})`);
    this.k.numa.memoryAdded(nid);
  }

  /**
   * offline_pages' isolation and removal: the block's pages leave the page allocator. False, and nothing
   * changes, while any of them is allocated (the model's allocations are the kernel's own, unmovable).
   */
  private leaveAllocator(b: KmemBlock): boolean {
    const [s, e] = this.allocatorRange(b);
    const err = this.k.pageAlloc.removeRange(s, e);
    if (err === ERRNO.EBUSY) return false;
    if (err) throw new Error(`kmem: pfns ${hex(BigInt(s))}-${hex(BigInt(e))} were not the page allocator's (${err})`);
    return true;
  }

  /** Take every online block of the device out of the page allocator, or none (EBUSY while any holds an allocation). */
  private leaveAllocatorAll(kd: KmemDevice): void {
    const left: KmemBlock[] = [];
    for (const b of kd.blocks) {
      if (!b.zone) continue;
      if (!this.leaveAllocator(b)) {
        for (const x of left) this.joinAllocator(x, x.zone === 'Movable');
        throw this.isolationFailed(b);
      }
      left.push(b);
    }
  }

  /** offline_pages' pr_debug for a block it cannot isolate, as the error. */
  private isolationFailed(b: KmemBlock): KernelError {
    return new KernelError('EBUSY', `memory offlining [mem ${hex(b.start + BigInt(b.memmapPages) * 4096n)}-${hex(b.start + b.size - 1n)}] failed due to failure to isolate range`);
  }

  /** online_pages: the block's pages (less its own memmap) go to the page allocator, in the zone asked for. */
  private onlineBlock(b: KmemBlock, movable: boolean): void {
    const ft = this.k.ftrace;
    if (ft.on) {
      // memory_subsys_online -> memory_block_online: the block's own memmap first (memmap_on_memory), then online_pages
      ft.enter('memory_subsys_online');
      if (b.memmapPages) {
        ft.enter('mhp_init_memmap_on_memory');
        this.traceMoveToZone();
        ft.exit('mhp_init_memmap_on_memory');
      }
      ft.enter('online_pages');
      this.traceMoveToZone();
    }
    try {
      this.rebuildingZonelists(() => this.onlineBlockPages(b, movable));
    } finally {
      if (ft.on) ft.exit('memory_subsys_online');
    }
  }

  /** move_pfn_range_to_zone -> memmap_init_range (__meminit, notrace on 6.1). */
  private traceMoveToZone(): void {
    const ft = this.k.ftrace;
    ft.enter('move_pfn_range_to_zone');
    ft.leaf('memmap_init_range');
    ft.exit('move_pfn_range_to_zone');
  }

  private onlineBlockPages(b: KmemBlock, movable: boolean): void {
    // the block that populates an empty ZONE_NORMAL becomes where the kernel's own allocations go from then
    // on (policy_zone): the next blocks' onlining already puts unmovable pages in it. The oracle's 2 GiB guest
    // has no RAM above 4 GiB: the first kmem block onlined to Normal, in the order they come online
    // (kmem-no-movable: memory33 as 6.12 onlines by address, memory40 as daxctl onlines 6.1's by readdir);
    // the softres guests' boot RAM above 4 GiB takes them instead (softres-to-devdax offlines every block)
    // (the CPU's node only: on another node the CPU's zonelist takes its own node's DMA32 first, numa-kmem)
    if (!movable && !this.populatedZones().includes(ZONE_NORMAL) && this.k.numa.targetNode(b.start) === 0) b.pinned = true;
    this.k.memmap.onlinePages(Number(b.start >> 12n) + b.memmapPages, Number(b.size >> 12n) - b.memmapPages, movable);
    this.joinAllocator(b, movable);
    this.setZone(b, movable ? 'Movable' : 'Normal');
  }

  /**
   * daxctl online-memory: online the device's offline blocks (ZONE_MOVABLE unless told otherwise);
   * returns how many it onlined and how many were online already.
   */
  online(kd: KmemDevice, movable: boolean): { onlined: number; already: number } {
    const onlined = this.onlineAll(kd.blocks, movable);
    return { onlined, already: kd.blocks.length - onlined };
  }

  /**
   * memory_block_online for a state write (online_pages in the zone zone_for_pfn_range picks); 1 when the
   * block is online already (device_online's "nothing to do").
   */
  memoryBlockOnline(b: KmemBlock, type: OnlineType): number {
    if (b.zone) return 1;
    const movable = type === 'online_movable' || (type === 'online' && this.defaultZoneForPfn(b) === 'Movable');
    this.onlineBlock(b, movable);
    return 0;
  }

  /**
   * memory_block_offline -> offline_pages: the pages leave the page allocator; EBUSY when the kernel's own
   * unmovable pages are in the block (start_isolate_page_range fails); 1 when it is offline already.
   * The struct pages stay as they are: the model's allocator never handed the block's pages out.
   */
  memoryBlockOffline(b: KmemBlock): number {
    if (!b.zone) return 1;
    // the pinned block's unmovable pages are the real kernel's (fixtures); others are the model's own allocations
    const isolated = !b.pinned && this.leaveAllocator(b);
    const ft = this.k.ftrace;
    if (ft.on) {
      ft.enter('memory_subsys_offline');
      ft.enter('offline_pages');
      if (!isolated) ft.exit('memory_subsys_offline');
      else {
        ft.leaf('remove_pfn_range_from_zone');
        ft.exit('offline_pages');
        if (b.memmapPages) {
          ft.enter('mhp_deinit_memmap_on_memory');
          ft.leaf('remove_pfn_range_from_zone');
          ft.exit('mhp_deinit_memmap_on_memory');
        }
        ft.exit('memory_subsys_offline');
      }
    }
    if (b.pinned) this.dumpUnmovablePage(Number(b.start >> 12n) + MAX_ORDER_NR_PAGES);
    // (an allocation of the model's own: which page it is the core does not say, so no dump_page)
    if (!isolated) throw this.isolationFailed(b);
    this.rebuildingZonelists(() => this.setZone(b, null));
    return 0;
  }

  /**
   * set_migratetype_isolate's dump_page(page, "unmovable page") (mm/page_isolation.c): the kernel's first
   * allocation in the block sat one MAX_ORDER chunk in (pfn block + 0x400 in every recorded kmem case). Its
   * words are the allocator's (a slab or a page-table page): the model shows an empty page-table page.
   */
  private dumpUnmovablePage(pfn: number): void {
    const log = this.k.log;
    // __dump_page: 6.1 leads with the struct page's address (%p, no_hash_pointers), 6.12 not
    const at = this.k.profile.structPage === 'v6.1' ? this.k.vmemmap.pfnToPage(pfn).toString(16) : '';
    log.printk('warn', `page:${at} refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:${hex(BigInt(pfn))}`);
    // ZONE_NORMAL (2): a pinned block is the one that populated it
    log.printk('warn', 'flags: 0x17ffffc0000000(node=0|zone=2|lastcpupid=0x1fffff)');
    log.printk('warn', 'page_type: f2(table)');
    log.printk('warn', 'raw: 0017ffffc0000000 0000000000000000 0000000000000000 0000000000000000');
    log.printk('warn', 'raw: 0000000000000000 0000000000000000 00000001f2000000 0000000000000000');
    log.printk('warn', 'page dumped because: unmovable page');
  }

  /**
   * default_zone_for_pfn under online_policy=contig-zones: the zone whose span the block already
   * intersects, if only one does; else the kernel zone (movable_node is off).
   */
  defaultZoneForPfn(b: KmemBlock): 'Normal' | 'Movable' {
    const inKernel = this.zoneIntersects('Normal', b);
    const inMovable = this.zoneIntersects('Movable', b);
    return inKernel !== inMovable && inMovable ? 'Movable' : 'Normal';
  }

  /** zone_intersects: the block against the span of the zone's online pages (boot RAM above 4 GiB is ZONE_NORMAL). */
  private zoneIntersects(zone: 'Normal' | 'Movable', b: KmemBlock): boolean {
    let lo = Infinity;
    let hi = -Infinity;
    const span = (s: number, e: number) => ((lo = Math.min(lo, s)), (hi = Math.max(hi, e)));
    if (zone === 'Normal') for (const [s, e] of this.k.ramRanges) if (e > 0x100000) span(Math.max(s, 0x100000), e);
    for (const kd of this.devices.values()) for (const x of kd.blocks) if (x.zone === zone) span(Number(x.start >> 12n), Number((x.start + x.size) >> 12n));
    const s = Number(b.start >> 12n);
    return lo < hi && s < hi && s + Number(b.size >> 12n) > lo;
  }

  /** What {@link reinstate} needs to put a removed device back: its mode and each block's zone. */
  saved(kd: KmemDevice): { memmapOnMemory: MemmapOnMemory; blocks: Array<Pick<KmemBlock, 'zone' | 'pinned'>>; log: LogMark; policyZone: number } {
    return { memmapOnMemory: kd.memmapOnMemory, blocks: kd.blocks.map((b) => ({ zone: b.zone, pinned: b.pinned })), log: this.k.log.mark(), policyZone: this.k.zonelists.save() };
  }

  /**
   * Undo a removal when what came after it ran out of host budget (device_dax's rebind): the same hot-add
   * again, each block back in its zone, the log and policy_zone as they were. Not the kernel's: the model's
   * own failures leave no trace.
   */
  reinstate(dev: string, parent: Resource, dataStart: bigint, dataEnd: bigint, s: ReturnType<Kmem['saved']>): void {
    const k = this.k;
    const policy = k.cfg.autoOnlineBlocks;
    k.cfg.autoOnlineBlocks = 'offline';
    let kd: KmemDevice;
    try {
      kd = this.devDaxKmemProbe(dev, parent, dataStart, dataEnd, s.memmapOnMemory);
    } finally {
      k.cfg.autoOnlineBlocks = policy;
    }
    kd.blocks.forEach((b, i) => {
      const was = s.blocks[i];
      if (was?.zone) this.onlineBlockPages(b, was.zone === 'Movable');
      b.pinned = was?.pinned ?? false;
    });
    k.log.rewind(s.log);
    k.zonelists.restore(s.policyZone);
  }

  /** offline + remove_memory of every block (daxctl reconfigure-device --mode=devdax). */
  remove(kd: KmemDevice, parent: Resource): void {
    // the online blocks' pages leave the page allocator first, all or none
    this.leaveAllocatorAll(kd);
    const ft = this.k.ftrace;
    if (ft.on) {
      ft.enter('dev_dax_kmem_remove');
      ft.enter('remove_memory');
      ft.enter('try_remove_memory');
    }
    try {
      this.rebuildingZonelists(() => this.removeBlocks(kd, parent));
    } finally {
      if (ft.on) ft.exit('dev_dax_kmem_remove');
    }
  }

  private removeBlocks(kd: KmemDevice, parent: Resource): void {
    const k = this.k;
    // the device goes with its blocks: they no longer count for their zones
    for (const b of kd.blocks) if (b.zone) this.onlineBlocks[b.zone]--;
    const first = kd.blocks[0];
    const last = kd.blocks[kd.blocks.length - 1];
    if (first && last && kd.blocks.every((b) => !b.altmap)) {
      // try_remove_memory without memmap_on_memory: one arch_remove_memory, as it was added
      if (k.ftrace.on) k.ftrace.leaf('remove_memory_block_devices');
      k.hotplug.archRemoveMemory(first.start, last.start + last.size - first.start, { explicit: true, altmap: null });
      k.iomem.release(parent, kd.res);
      this.devices.delete(kd.dev);
      return;
    }
    for (const b of kd.blocks) this.removeBlock(b);
    k.iomem.release(parent, kd.res);
    this.devices.delete(kd.dev);
  }

  /** remove_memory_blocks_and_altmaps for one block: its device, then its memory and its altmap. */
  private removeBlock(b: KmemBlock): void {
    const k = this.k;
    if (k.ftrace.on) k.ftrace.leaf('remove_memory_block_devices');
    k.hotplug.archRemoveMemory(b.start, b.size, { explicit: true, altmap: b.altmap });
    if (b.altmap) {
      if (k.altmaps.read(b.altmap).alloc !== 0n) k.log.warnOnce('remove_memory:altmap', 'mm/memory_hotplug.c:2183 remove_memory_blocks_and_altmaps+0x8d/0xa0');
      k.altmaps.release(b.altmap);
    }
  }

  /** Pages the buddy allocator got from a device, and the memmap they cost. */
  summary(kd: KmemDevice): { blocks: number; onlineBlocks: number; onlinePages: number; memmapOnMemoryPages: number; dramMemmapPages: number; movable: boolean | null; trimmedBytes: { head: bigint; tail: bigint } } {
    const memmapOnMemoryPages = kd.blocks.reduce((n, b) => n + b.memmapPages, 0);
    const online = kd.blocks.filter((b) => b.zone !== null);
    const onlinePages = online.reduce((n, b) => n + Number(b.size >> 12n) - b.memmapPages, 0);
    // daxctl_memory_is_movable: unknown (no key) while a block is offline; true when every block is in
    // ZONE_MOVABLE, false otherwise (mixed zones read as MEM_ZONE_UNKNOWN, not movable)
    const movable = online.length === kd.blocks.length ? online.every((b) => b.zone === 'Movable') : null;
    return { blocks: kd.blocks.length, onlineBlocks: online.length, onlinePages, memmapOnMemoryPages, dramMemmapPages: kd.dramMemmapPages, movable, trimmedBytes: { ...kd.trimmed } };
  }
}

