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

/**
 * Adjacent hot-plugged memory blocks of one device in the same state (a 2 PiB device is a million 2 GiB
 * blocks: kept as runs, split where one block changes state, so hot-add and onlining cost O(runs)).
 */
export interface KmemRun {
  /** The first block's start. */
  start: bigint;
  /** Blocks of memory_block_size_bytes() in the run. */
  count: number;
  /** Each block's own memmap pages at its head (memmap_on_memory), 0 without. */
  memmapPages: number;
  /** Each block's own altmap (memmap_on_memory): core records in address order, or the fields all of them have (blocks added at once); null without. */
  altmaps: VmemAltmap[] | ParkedAltmaps | null;
  /** Online, and in ZONE_MOVABLE or ZONE_NORMAL; null while offline. */
  zone: 'Movable' | 'Normal' | null;
  /**
   * The kernel's own unmovable pages (slab, page tables) landed in the block (a run of one): the one whose
   * onlining populated ZONE_NORMAL (the 6.12 fixtures: offlining it fails, "failure to isolate range", in
   * every kmem case; kmem-offline-online, kmem-sysfs-state).
   */
  pinned: boolean;
}

/**
 * The altmaps of a run of blocks the core added at once (addMemoryBlocks): each block's is { base_pfn = the
 * block, reserve 0, free = memmapPages, align 0, alloc }, and none is a core record; a block's own is made
 * when it needs one (its removal), so 16M blocks cost one object.
 */
export interface ParkedAltmaps {
  readonly alloc: number;
}

/** One hot-plugged memory block, as a view of its run (sysfs, lsmem). */
export interface KmemBlock {
  readonly start: bigint;
  readonly size: bigint;
  readonly memmapPages: number;
  readonly zone: KmemRun['zone'];
  readonly pinned: boolean;
}

/** remove_memory_blocks_and_altmaps' WARN_ON(altmap->alloc), 6.12's line. */
const REMOVE_ALTMAP_WARN = 'mm/memory_hotplug.c:2183 remove_memory_blocks_and_altmaps+0x8d/0xa0';

/** How a run holds its altmaps: none, core records, or parked (with their alloc): runs join only when alike. */
function altmapsKind(a: KmemRun['altmaps']): string {
  return a === null ? 'none' : Array.isArray(a) ? 'records' : `parked ${a.alloc}`;
}

/** Block i's altmap in run r: its record, the run's parked fields, or null. */
function blockAltmap(r: KmemRun, i: number): VmemAltmap | ParkedAltmaps | null {
  return Array.isArray(r.altmaps) ? (r.altmaps[i] ?? null) : r.altmaps;
}

/** The zone an online request puts a block in (mhp_online_type_from_str's types, less offline). */
export type OnlineType = 'online' | 'online_kernel' | 'online_movable';

/** A dax device in system-ram mode. */
export interface KmemDevice {
  dev: string;
  res: Resource;
  /** Its memory blocks as runs, in address order. */
  runs: KmemRun[];
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
    const kd: KmemDevice = { dev, res, runs: [], memmapOnMemory: mode, dramMemmapPages: 0, trimmed: { head: start - dataStart, tail: dataEnd - end } };
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
      if (onMemory) this.addBlocks(kd, parent, start, end, memmapOnMemoryPages(this.blockSize, mode), owner);
      else for (let at = start; at < end; ) at = this.pushRun(kd, { start: at, count: this.nodeRunBlocks(at, end), memmapPages: 0, altmaps: null, zone: null, pinned: false });
      this.autoOnline(kd);
    } catch (e) {
      if (!this.devices.has(dev)) throw e;
      if (e instanceof HostMemoryError && !k.poisoned) {
        // the model's budget, not a kernel condition: take back all this probe did (bus.reconfigure rebinds device_dax)
        this.takeBack(kd, parent, onMemory, mark);
        throw e;
      }
      this.autoOnline(kd);
      // add_memory_driver_managed failed: what was added stays added, as the kernel leaves it
      kd.dramMemmapPages = k.pageAlloc.pagesFor(Purpose.Memmap) - before;
      if (!kd.runs.length) {
        this.devices.delete(dev);
        k.iomem.release(parent, res);
      }
      throw e;
    }
    kd.dramMemmapPages = k.pageAlloc.pagesFor(Purpose.Memmap) - before;
    if (ft.on) ft.exit('add_memory_driver_managed');
    return kd;
  }

  /** Blocks from `at` (before `end`) on one SRAT node: a run never spans nodes. */
  private nodeRunBlocks(at: bigint, end: bigint): number {
    const to = this.k.numa.targetNodeEnd(at, end);
    return Number((to - at + this.blockSize - 1n) / this.blockSize);
  }

  /** Append a run to the device, joined to the last one when they are alike and adjacent; returns its end. */
  private pushRun(kd: KmemDevice, r: KmemRun): bigint {
    if (!this.absorb(kd.runs[kd.runs.length - 1], r)) kd.runs.push(r);
    return r.start + BigInt(r.count) * this.blockSize;
  }

  /** b joins a when one run can stand for both; whether it did. */
  private absorb(a: KmemRun | undefined, b: KmemRun): boolean {
    if (!a || !this.alike(a, b)) return false;
    a.count += b.count;
    if (Array.isArray(a.altmaps) && Array.isArray(b.altmaps)) for (const x of b.altmaps) a.altmaps.push(x);
    return true;
  }

  /** Two runs, b right after a, that one run can stand for: same state, same memmap layout, one node. */
  private alike(a: KmemRun, b: KmemRun): boolean {
    return (
      !this.k.cfg.kmemBlockByBlock &&
      a.start + BigInt(a.count) * this.blockSize === b.start &&
      a.zone === b.zone &&
      !a.pinned &&
      !b.pinned &&
      a.memmapPages === b.memmapPages &&
      altmapsKind(a.altmaps) === altmapsKind(b.altmaps) &&
      this.k.numa.targetNode(a.start) === this.k.numa.targetNode(b.start)
    );
  }

  /** Join each run of the device with the next where they are alike (after a block changed state). */
  private coalesce(kd: KmemDevice): void {
    const out: KmemRun[] = [];
    for (const r of kd.runs) if (!this.absorb(out[out.length - 1], r)) out.push(r);
    kd.runs = out;
  }

  /**
   * create_altmaps_and_memory_blocks: each block's arch_add_memory with its own altmap, then its memory
   * block; on a failure the blocks already added go again (remove_memory_blocks_and_altmaps), before
   * anything is onlined; the failing block's own arch_add_memory is not undone.
   */
  private addBlocks(kd: KmemDevice, parent: Resource, start: bigint, end: bigint, memmapPages: number, owner: object): void {
    const k = this.k;
    // the blocks' own memmaps (mhp_init_memmap_on_memory) are set up in one write per run, once added
    const pages = Number(this.blockSize >> 12n);
    let initFrom = start;
    const initAdded = (to: bigint) => {
      for (let at = initFrom; at < to; ) {
        const n = Math.min(this.nodeRunBlocks(at, to), Number((to - at) / this.blockSize));
        k.memmap.initMemoryBlocks(Number(at >> 12n), pages, n, memmapPages);
        at += BigInt(n) * this.blockSize;
      }
      initFrom = to;
    };
    let at = start;
    try {
      for (; at < end; at += this.blockSize) {
        // whole chunks of blocks in one core call where it can (the same machine as block by block)
        const batch = this.addBlocksAtOnce(at, end, memmapPages, owner);
        if (batch > 0) {
          this.pushRun(kd, { start: at, count: batch, memmapPages, altmaps: { alloc: 512 }, zone: null, pinned: false });
          at += BigInt(batch - 1) * this.blockSize;
          continue;
        }
        const altmap = this.addBlock(at, k.cfg.kmemBlockByBlock ? memmapPages : -memmapPages, owner);
        if (typeof altmap !== 'number') {
          this.pushRun(kd, { start: at, count: 1, memmapPages, altmaps: [altmap], zone: null, pinned: false });
          continue;
        }
        if (k.poisoned) throw KernelError.fromErrno(altmap, `${kd.dev}: add_memory oopsed`);
        if (!k.cfg.kmemBlockByBlock) initAdded(at);
        for (const r of kd.runs) this.removeRun(r);
        kd.runs.length = 0;
        this.devices.delete(kd.dev);
        k.iomem.release(parent, kd.res);
        this.stranded.set(kd.dev, { start, end });
        throw this.memoryAddFailed(kd.dev, start, end, altmap);
      }
    } finally {
      if (!k.cfg.kmemBlockByBlock && kd.runs.length) initAdded(at);
    }
  }

  /**
   * Blocks from `at` the core adds at once (addMemoryBlocks: whole chunks of 512 blocks of 128 MiB, each
   * block's arch_add_memory with its own altmap), 0 when none: block by block asked for, or not that shape.
   */
  private addBlocksAtOnce(at: bigint, end: bigint, memmapPages: number, owner: object): number {
    const k = this.k;
    if (k.cfg.kmemBlockByBlock || this.blockSize !== 128n << 20n || memmapPages < 512) return 0;
    const n = Math.min(this.nodeRunBlocks(at, end), Number((end - at) / this.blockSize));
    if (n < 512) return 0;
    return k.hotplug.addMemoryBlocks(k.numa.targetNode(at), at, n, memmapPages, owner);
  }

  /** The start of block i of run r. */
  private blockStart(r: KmemRun, i: number): bigint {
    return r.start + BigInt(i) * this.blockSize;
  }

  /** Every block of the device, in address order, as a view of its run. */
  *blocksOf(kd: KmemDevice): Generator<KmemBlock> {
    for (const r of kd.runs) for (let i = 0; i < r.count; i++) yield this.blockView(r, i);
  }

  private blockView(r: KmemRun, i: number): KmemBlock {
    return { start: this.blockStart(r, i), size: this.blockSize, memmapPages: r.memmapPages, zone: r.zone, pinned: r.pinned };
  }

  /** The number of memory blocks of the device. */
  blockCount(kd: KmemDevice): number {
    return kd.runs.reduce((n, r) => n + r.count, 0);
  }

  /** Whether phys lies in one of the device's memory blocks. */
  covers(kd: KmemDevice, phys: bigint): boolean {
    return kd.runs.some((r) => phys >= r.start && phys < r.start + BigInt(r.count) * this.blockSize);
  }

  /** The device and run index holding the block that starts at `start`, or null. */
  private locate(start: bigint): { kd: KmemDevice; i: number; at: number } | null {
    for (const kd of this.devices.values()) {
      let lo = 0;
      let hi = kd.runs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const r = kd.runs[mid];
        if (r.start + BigInt(r.count) * this.blockSize <= start) lo = mid + 1;
        else hi = mid;
      }
      const r = kd.runs[lo];
      if (r && r.start <= start && (start - r.start) % this.blockSize === 0n) return { kd, i: lo, at: Number((start - r.start) / this.blockSize) };
    }
    return null;
  }

  /** PageVmemmapSelfHosted of pfn's vmemmap: its block holds its own memmap (memmap_on_memory), so the page's struct pages live there. */
  vmemmapSelfHosted(pfn: number): boolean {
    const phys = BigInt(pfn) << 12n;
    const b = this.blockAt((phys / this.blockSize) * this.blockSize);
    return b !== null && b.memmapPages > 0;
  }

  /** The block at `start` as a view, or null when no kmem device has it. */
  blockAt(start: bigint): KmemBlock | null {
    const l = this.locate(start);
    return l ? this.blockView(l.kd.runs[l.i], l.at) : null;
  }

  /** Split run i of the device so that blocks [at, at + n) of it are a run of their own; returns that run's index. */
  private split(kd: KmemDevice, i: number, at: number, n: number): number {
    const r = kd.runs[i];
    const parts: KmemRun[] = [];
    const piece = (from: number, count: number): KmemRun => ({ ...r, start: this.blockStart(r, from), count, altmaps: Array.isArray(r.altmaps) ? r.altmaps.slice(from, from + count) : r.altmaps });
    if (at > 0) parts.push(piece(0, at));
    const mine = parts.length;
    parts.push(piece(at, n));
    if (at + n < r.count) parts.push(piece(at + n, r.count - at - n));
    if (parts.length > 1) kd.runs.splice(i, 1, ...parts);
    return i + mine;
  }

  /** The block at `start` as a run of one (split out of its run), or throws when no kmem device has it. */
  private isolate(start: bigint): { kd: KmemDevice; run: KmemRun } {
    const l = this.locate(start);
    if (!l) throw new KernelError('ENODEV', `no kmem memory block at ${hex(start)}`);
    return { kd: l.kd, run: l.kd.runs[this.split(l.kd, l.i, l.at, 1)] };
  }

  /**
   * Undo a probe that ran out of host budget: its blocks offline and removed, as they were added (the whole
   * range at once without memmap_on_memory), its resource released, the log and policy_zone as they were.
   */
  private takeBack(kd: KmemDevice, parent: Resource, onMemory: boolean, mark: { log: LogMark; policyZone: number }): void {
    const k = this.k;
    for (const r of kd.runs) {
      if (!r.zone) continue;
      // just onlined by this probe: nothing the model allocated since can be in them but what the probe took
      if (this.leaveAllocator(r) !== null) throw new Error(`kmem: ${kd.dev}'s blocks hold allocations after a failed probe`);
      this.setZone(r, null);
    }
    if (onMemory) for (const r of kd.runs) this.removeRun(r);
    else k.hotplug.archRemoveMemory(kd.res.start, kd.res.end + 1n - kd.res.start, { explicit: true, altmap: null });
    kd.runs.length = 0;
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
  private autoOnline(kd: KmemDevice): void {
    const policy = this.k.cfg.autoOnlineBlocks;
    if (policy === 'offline') return;
    this.onlineAll(kd, policy === 'online_movable', true);
  }

  /**
   * online_pages for each offline block, in address order; returns how many it onlined (traced under
   * online_memory_block when `auto`, the hot-add's own walk). Untraced, the blocks after the first of a run
   * go online at once (onlineRunPages): the first block has populated their zone already, so none of them
   * pins, rebuilds zonelists or changes what the first one's onlining left.
   */
  private onlineAll(kd: KmemDevice, movable: boolean, auto: boolean): number {
    const ft = this.k.ftrace;
    let onlined = 0;
    for (let i = 0; i < kd.runs.length; i++) {
      const r = kd.runs[i];
      if (r.zone) continue;
      const n = r.count;
      // the first block on its own, as the kernel onlines it
      const first = kd.runs[this.split(kd, i, 0, 1)]!;
      if (auto && ft.on) ft.enter('online_memory_block');
      this.onlineBlock(first, movable);
      if (auto && ft.on) ft.exit('online_memory_block');
      onlined++;
      if (n === 1) continue;
      i++;
      if (ft.on) {
        // traced, each block's own calls
        for (let at = 0; at < n - 1; at++) {
          const b = kd.runs[this.split(kd, i, 0, 1)]!;
          if (auto) ft.enter('online_memory_block');
          this.onlineBlock(b, movable);
          if (auto) ft.exit('online_memory_block');
          onlined++;
          if (at < n - 2) i++;
        }
        continue;
      }
      this.onlineRunPages(kd.runs[i]!, movable);
      onlined += n - 1;
    }
    this.coalesce(kd);
    return onlined;
  }

  /** online_pages of every block of a run whose zone is populated already: their memmap, their pages to the allocator. */
  private onlineRunPages(r: KmemRun, movable: boolean): void {
    const pages = Number(this.blockSize >> 12n);
    const startPfn = Number(r.start >> 12n);
    // move_pfn_range_to_zone: one init over the run when the blocks have no memmap of their own between them
    if (r.memmapPages === 0) this.k.memmap.onlinePages(startPfn, pages * r.count, movable);
    else if (this.k.cfg.kmemBlockByBlock) for (let i = 0; i < r.count; i++) this.k.memmap.onlinePages(startPfn + i * pages + r.memmapPages, pages - r.memmapPages, movable);
    else this.k.memmap.onlineBlocks(startPfn, pages, r.count, r.memmapPages, movable);
    this.joinAllocator(r, movable);
    this.setZone(r, movable ? 'Movable' : 'Normal');
  }

  /** remove_memory_blocks_and_altmaps of a run's blocks, each with its own altmap: the blocks the core added at once in one go (untraced). */
  private removeRun(r: KmemRun): void {
    const k = this.k;
    if (r.altmaps && !Array.isArray(r.altmaps) && !k.ftrace.on && k.profile.hotplug === 'subsection') {
      if (!k.hotplug.removeMemoryBlocks(r.start, Number(this.blockSize >> 12n), r.count, r.memmapPages, r.altmaps.alloc)) k.log.warnOnce('remove_memory:altmap', REMOVE_ALTMAP_WARN);
      return;
    }
    for (let i = 0; i < r.count; i++) this.removeBlock(this.blockStart(r, i), blockAltmap(r, i), r.memmapPages);
  }

  /** A run of blocks hot-added and registered but offline; a dev_dax_kmem_remove of a device whose blocks were all added. */
  private removeBlock(start: bigint, a: VmemAltmap | ParkedAltmaps | null, memmapPages: number): void {
    const k = this.k;
    if (k.ftrace.on) k.ftrace.leaf('remove_memory_block_devices');
    // a block added at once gets its altmap now, with the fields it has had since
    const altmap = a && 'alloc' in a ? k.altmaps.create({ basePfn: start >> 12n, reserve: 0n, free: BigInt(memmapPages), align: 0n, alloc: BigInt(a.alloc) }) : a;
    if (a && !altmap) throw new HostMemoryError(`kmem: no room for the altmap of the block at ${hex(start)}`);
    k.hotplug.archRemoveMemory(start, this.blockSize, { explicit: true, altmap });
    if (altmap) {
      if (k.altmaps.read(altmap).alloc !== 0n) k.log.warnOnce('remove_memory:altmap', REMOVE_ALTMAP_WARN);
      k.altmaps.drop(altmap);
    }
  }

  /**
   * create_altmaps_and_memory_blocks for one block: arch_add_memory with the block's own altmap, then the
   * block; its altmap, or an errno. A negative memmapPages: the caller sets up the memmap's own struct pages.
   */
  private addBlock(start: bigint, memmapPagesOrDeferred: number, owner: object): VmemAltmap | number {
    const k = this.k;
    const memmapPages = Math.abs(memmapPagesOrDeferred);
    const startPfn = Number(start >> 12n);
    const altmap = k.altmaps.create({ basePfn: BigInt(startPfn), reserve: 0n, free: BigInt(memmapPages), align: 0n, alloc: 0n });
    if (!altmap) return -12;
    let err: number;
    try {
      err = k.hotplug.archAddMemory(k.numa.targetNode(start), start, this.blockSize, { altmap: { explicit: true, altmap }, owner });
    } catch (e) {
      // HostMemoryError: the block's altmap goes with what arch_add_memory took back
      k.altmaps.drop(altmap);
      throw e;
    }
    if (err) {
      k.altmaps.drop(altmap);
      return err;
    }
    if (k.ftrace.on) k.ftrace.leaf('create_memory_block_devices');
    // add_memory_block, then mhp_init_memmap_on_memory: the vmemmap pages' own struct pages
    if (memmapPagesOrDeferred > 0) k.memmap.initMemoryBlock(startPfn, memmapPages);
    return altmap;
  }

  /** Online kmem blocks per zone: what populated_zone() sees of hot-plugged memory, kept as blocks change zone. */
  private readonly onlineBlocks = { Normal: 0, Movable: 0 };

  /** A run's zone changes (online_pages / offline_pages), and the count of its zone with it. */
  private setZone(r: KmemRun, zone: KmemRun['zone']): void {
    if (r.zone) this.onlineBlocks[r.zone] -= r.count;
    if (zone) this.onlineBlocks[zone] += r.count;
    r.zone = zone;
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

  /** The pages of a run's blocks the page allocator gets: each block's, less its own memmap: [first pfn, pages a block, blocks, pfns between starts]. */
  private allocatorRanges(r: KmemRun): [number, number, number, number] {
    const pages = Number(this.blockSize >> 12n);
    return [Number(r.start >> 12n) + r.memmapPages, pages - r.memmapPages, r.count, pages];
  }

  /**
   * online_pages' end (generic_online_page -> __free_pages_core): each block's pages join the page allocator
   * free (a range of their own), on the node of the device's target_node, ZONE_MOVABLE (only movable
   * allocations: 2 MiB HugeTLB pages) or ZONE_NORMAL (the kernel's own too).
   */
  private joinAllocator(r: KmemRun, movable: boolean): void {
    const [s, len, n, stride] = this.allocatorRanges(r);
    const nid = this.k.numa.targetNode(r.start);
    const err = this.k.pageAlloc.addRanges(s, len, n, stride, nid, movable);
    if (err) throw new Error(`kmem: the page allocator refused ${n} blocks of pfns from ${hex(BigInt(s))} (${err})`);
    this.k.numa.memoryAdded(nid);
  }

  /**
   * offline_pages' isolation and removal: the run's pages leave the page allocator. Null when they did; else
   * nothing changes and the result is the first block holding an allocation (the model's allocations are
   * the kernel's own, unmovable).
   */
  private leaveAllocator(r: KmemRun): KmemBlock | null {
    const [s, len, n, stride] = this.allocatorRanges(r);
    const pa = this.k.pageAlloc;
    const err = pa.removeRanges(s, len, n, stride);
    if (err === 0) return null;
    if (err !== ERRNO.EBUSY) throw new Error(`kmem: ${n} blocks of pfns from ${hex(BigInt(s))} were not the page allocator's (${err})`);
    // which block: the first that does not leave, halving (blocks [0, lo) have left, a busy one is in [lo, lo + m))
    let lo = 0;
    let m = n;
    while (m > 1) {
      const h = m >> 1;
      const e = pa.removeRanges(s + lo * stride, len, h, stride);
      if (e === 0) {
        lo += h;
        m -= h;
      } else if (e === ERRNO.EBUSY) m = h;
      else throw new Error(`kmem: ${h} blocks of pfns from ${hex(BigInt(s + lo * stride))} were not the page allocator's (${e})`);
    }
    // those that left come back: nothing changes
    if (lo > 0 && pa.addRanges(s, len, lo, stride, this.k.numa.targetNode(r.start), r.zone === 'Movable')) throw new Error(`kmem: the page allocator refused pfns back from ${hex(BigInt(s))}`);
    return this.blockView(r, lo);
  }

  /** Take every online block of the device out of the page allocator, or none (EBUSY while any holds an allocation). */
  private leaveAllocatorAll(kd: KmemDevice): void {
    const left: KmemRun[] = [];
    for (const r of kd.runs) {
      if (!r.zone) continue;
      const busy = this.leaveAllocator(r);
      if (busy) {
        for (const x of left) this.joinAllocator(x, x.zone === 'Movable');
        throw this.isolationFailed(busy);
      }
      left.push(r);
    }
  }

  /** offline_pages' pr_debug for a block it cannot isolate, as the error. */
  private isolationFailed(b: KmemBlock): KernelError {
    return new KernelError('EBUSY', `memory offlining [mem ${hex(b.start + BigInt(b.memmapPages) * 4096n)}-${hex(b.start + b.size - 1n)}] failed due to failure to isolate range`);
  }

  /** online_pages of one block (a run of one): the block's pages (less its own memmap) go to the page allocator, in the zone asked for. */
  private onlineBlock(b: KmemRun, movable: boolean): void {
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

  private onlineBlockPages(b: KmemRun, movable: boolean): void {
    // the block that populates an empty ZONE_NORMAL becomes where the kernel's own allocations go from then
    // on (policy_zone): the next blocks' onlining already puts unmovable pages in it. The oracle's 2 GiB guest
    // has no RAM above 4 GiB: the first kmem block onlined to Normal, in the order they come online
    // (kmem-no-movable: memory33 as 6.12 onlines by address, memory40 as daxctl onlines 6.1's by readdir);
    // the softres guests' boot RAM above 4 GiB takes them instead (softres-to-devdax offlines every block)
    // (the CPU's node only: on another node the CPU's zonelist takes its own node's DMA32 first, numa-kmem)
    if (!movable && !this.populatedZones().includes(ZONE_NORMAL) && this.k.numa.targetNode(b.start) === 0) b.pinned = true;
    this.onlineRunPages(b, movable);
  }

  /**
   * daxctl online-memory: online the device's offline blocks (ZONE_MOVABLE unless told otherwise);
   * returns how many it onlined and how many were online already.
   */
  online(kd: KmemDevice, movable: boolean): { onlined: number; already: number } {
    const onlined = this.onlineAll(kd, movable, false);
    return { onlined, already: this.blockCount(kd) - onlined };
  }

  /**
   * memory_block_online for a state write (online_pages in the zone zone_for_pfn_range picks); 1 when the
   * block is online already (device_online's "nothing to do").
   */
  memoryBlockOnline(block: KmemBlock, type: OnlineType): number {
    if (block.zone) return 1;
    const movable = type === 'online_movable' || (type === 'online' && this.defaultZoneForPfn(block) === 'Movable');
    const { kd, run } = this.isolate(block.start);
    try {
      this.onlineBlock(run, movable);
    } finally {
      this.coalesce(kd);
    }
    return 0;
  }

  /**
   * memory_block_offline -> offline_pages: the pages leave the page allocator; EBUSY when the kernel's own
   * unmovable pages are in the block (start_isolate_page_range fails); 1 when it is offline already.
   * The struct pages stay as they are: the model's allocator never handed the block's pages out.
   */
  memoryBlockOffline(block: KmemBlock): number {
    if (!block.zone) return 1;
    const { kd, run: b } = this.isolate(block.start);
    try {
      // the pinned block's unmovable pages are the real kernel's (fixtures); others are the model's own allocations
      const isolated = !b.pinned && this.leaveAllocator(b) === null;
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
      if (!isolated) throw this.isolationFailed(this.blockView(b, 0));
      this.rebuildingZonelists(() => this.setZone(b, null));
    } finally {
      this.coalesce(kd);
    }
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
  defaultZoneForPfn(b: Pick<KmemBlock, 'start' | 'size'>): 'Normal' | 'Movable' {
    const inKernel = this.zoneIntersects('Normal', b);
    const inMovable = this.zoneIntersects('Movable', b);
    return inKernel !== inMovable && inMovable ? 'Movable' : 'Normal';
  }

  /** zone_intersects: the block against the span of the zone's online pages (boot RAM above 4 GiB is ZONE_NORMAL). */
  private zoneIntersects(zone: 'Normal' | 'Movable', b: Pick<KmemBlock, 'start' | 'size'>): boolean {
    let lo = Infinity;
    let hi = -Infinity;
    const span = (s: number, e: number) => ((lo = Math.min(lo, s)), (hi = Math.max(hi, e)));
    if (zone === 'Normal') for (const [s, e] of this.k.ramRanges) if (e > 0x100000) span(Math.max(s, 0x100000), e);
    for (const kd of this.devices.values()) for (const x of kd.runs) if (x.zone === zone) span(Number(x.start >> 12n), Number((x.start + BigInt(x.count) * this.blockSize) >> 12n));
    const s = Number(b.start >> 12n);
    return lo < hi && s < hi && s + Number(b.size >> 12n) > lo;
  }

  /** What {@link reinstate} needs to put a removed device back: its mode and its runs' zones. */
  saved(kd: KmemDevice): { memmapOnMemory: MemmapOnMemory; runs: Array<Pick<KmemRun, 'start' | 'count' | 'zone' | 'pinned'>>; log: LogMark; policyZone: number } {
    return { memmapOnMemory: kd.memmapOnMemory, runs: kd.runs.map((r) => ({ start: r.start, count: r.count, zone: r.zone, pinned: r.pinned })), log: this.k.log.mark(), policyZone: this.k.zonelists.save() };
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
    for (const was of s.runs) {
      const l = this.locate(was.start);
      if (!l) continue;
      const r = kd.runs[this.split(kd, l.i, l.at, Math.min(was.count, kd.runs[l.i]!.count - l.at))]!;
      if (was.zone) this.onlineRunPages(r, was.zone === 'Movable');
      r.pinned = was.pinned;
    }
    this.coalesce(kd);
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
    for (const r of kd.runs) if (r.zone) this.onlineBlocks[r.zone] -= r.count;
    const first = kd.runs[0];
    const last = kd.runs[kd.runs.length - 1];
    if (first && last && kd.runs.every((r) => !r.altmaps)) {
      // try_remove_memory without memmap_on_memory: one arch_remove_memory, as it was added
      if (k.ftrace.on) k.ftrace.leaf('remove_memory_block_devices');
      k.hotplug.archRemoveMemory(first.start, last.start + BigInt(last.count) * this.blockSize - first.start, { explicit: true, altmap: null });
      k.iomem.release(parent, kd.res);
      this.devices.delete(kd.dev);
      return;
    }
    for (const r of kd.runs) this.removeRun(r);
    k.iomem.release(parent, kd.res);
    this.devices.delete(kd.dev);
  }

  /** Pages the buddy allocator got from a device, and the memmap they cost. */
  summary(kd: KmemDevice): { blocks: number; onlineBlocks: number; onlinePages: number; memmapOnMemoryPages: number; dramMemmapPages: number; movable: boolean | null; trimmedBytes: { head: bigint; tail: bigint } } {
    const pages = Number(this.blockSize >> 12n);
    let blocks = 0;
    let onlineBlocks = 0;
    let onlinePages = 0;
    let memmapOnMemoryPages = 0;
    let allMovable = true;
    for (const r of kd.runs) {
      blocks += r.count;
      memmapOnMemoryPages += r.count * r.memmapPages;
      if (!r.zone) continue;
      onlineBlocks += r.count;
      onlinePages += r.count * (pages - r.memmapPages);
      if (r.zone !== 'Movable') allMovable = false;
    }
    // daxctl_memory_is_movable: unknown (no key) while a block is offline; true when every block is in
    // ZONE_MOVABLE, false otherwise (mixed zones read as MEM_ZONE_UNKNOWN, not movable)
    const movable = onlineBlocks === blocks ? allMovable : null;
    return { blocks, onlineBlocks, onlinePages, memmapOnMemoryPages, dramMemmapPages: kd.dramMemmapPages, movable, trimmedBytes: { ...kd.trimmed } };
  }
}
