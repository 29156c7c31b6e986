/**
 * The DRAM page allocator (twin of assembly/pagealloc.ts): lowest-addressed, naturally aligned
 * free block first. A bitmap per RAM range (1 = in use) plus free counts per 2 MiB block and
 * search hints keep order-0 and order-9 allocations cheap. Each range is one NUMA node's; an
 * allocation takes the first node of the zonelist (setZonelist) that has a free block.
 */
import { EFAULT, EINVAL, ENOMEM, EventType, FaultKind, MAX_NUMNODES, PURPOSES, type DramStats, type Purpose } from '../core.ts';
import type { PhysMem } from './physmem.ts';
import type { Events, Faults } from './state.ts';

const BLOCK = 512;

class RamRange {
  /** First pfn covered by the bitmap (start rounded down to a block). */
  readonly base: number;
  readonly bits: Uint32Array;
  /** Free pages per 512-page block (only pages inside [start, end) count). */
  readonly blockFree: Uint16Array;
  /** Lower bounds: first block that may have a free page / be wholly free. */
  hint0 = 0;
  hint9 = 0;

  constructor(
    readonly start: number,
    readonly end: number,
    readonly node: number,
  ) {
    this.base = start - (start % BLOCK);
    const blocks = Math.ceil((end - this.base) / BLOCK);
    this.bits = new Uint32Array((blocks * BLOCK) / 32);
    this.blockFree = new Uint16Array(blocks);
    for (let b = 0; b < blocks; b++) {
      const lo = Math.max(start, this.base + b * BLOCK);
      const hi = Math.min(end, this.base + (b + 1) * BLOCK);
      this.blockFree[b] = hi - lo;
    }
    // pages of the edge blocks outside the range are permanently "in use"
    for (let pfn = this.base; pfn < start; pfn++) this.setBit(pfn - this.base);
    for (let pfn = end; pfn < this.base + blocks * BLOCK; pfn++) this.setBit(pfn - this.base);
  }

  setBit(i: number): void {
    this.bits[i >>> 5] |= 1 << (i & 31);
  }
  clearBit(i: number): void {
    this.bits[i >>> 5] &= ~(1 << (i & 31));
  }
  bit(i: number): number {
    return (this.bits[i >>> 5] >>> (i & 31)) & 1;
  }

  /** Lowest free aligned block of 2^order pages, as an index relative to base; -1 if none. */
  find(order: number): number {
    const n = 1 << order;
    const blocks = this.blockFree.length;
    if (order <= 9) {
      const need = n;
      let b = order === 9 ? this.hint9 : this.hint0;
      for (; b < blocks; b++) {
        if (this.blockFree[b] < need) continue;
        if (order === 9) {
          this.hint9 = b;
          return b * BLOCK;
        }
        const at = this.findInBlock(b, n);
        if (at >= 0) {
          if (order === 0) this.hint0 = b;
          return at;
        }
      }
      if (order === 9) this.hint9 = blocks;
      else if (order === 0) this.hint0 = blocks;
      return -1;
    }
    const span = n / BLOCK;
    for (let b = 0; b + span <= blocks; b += span) {
      if ((this.base / BLOCK + b) % span !== 0) continue;
      let ok = true;
      for (let k = 0; k < span && ok; k++) ok = this.blockFree[b + k] === BLOCK;
      if (ok) return b * BLOCK;
    }
    return -1;
  }

  private findInBlock(b: number, n: number): number {
    const first = b * BLOCK;
    if (n === 1) {
      for (let w = first >>> 5; w < (first + BLOCK) >>> 5; w++) {
        const v = this.bits[w];
        if (v !== 0xffffffff) return w * 32 + (31 - Math.clz32(~v & (v + 1)));
      }
      return -1;
    }
    for (let i = first; i < first + BLOCK; i += n) {
      // the pfn (base + i) is aligned to n because base and i are
      let free = true;
      for (let k = 0; k < n && free; k++) free = this.bit(i + k) === 0;
      if (free) return i;
    }
    return -1;
  }

  take(rel: number, n: number): void {
    for (let k = 0; k < n; k++) this.setBit(rel + k);
    for (let b = Math.floor(rel / BLOCK); b * BLOCK < rel + n; b++) {
      const lo = Math.max(rel, b * BLOCK);
      const hi = Math.min(rel + n, (b + 1) * BLOCK);
      this.blockFree[b] -= hi - lo;
    }
  }

  give(rel: number, n: number): void {
    for (let k = 0; k < n; k++) this.clearBit(rel + k);
    const b0 = Math.floor(rel / BLOCK);
    for (let b = b0; b * BLOCK < rel + n; b++) {
      const lo = Math.max(rel, b * BLOCK);
      const hi = Math.min(rel + n, (b + 1) * BLOCK);
      this.blockFree[b] += hi - lo;
    }
    if (b0 < this.hint0) this.hint0 = b0;
    if (b0 < this.hint9) this.hint9 = b0;
  }

  allFree(rel: number, n: number): boolean {
    for (let k = 0; k < n; k++) if (this.bit(rel + k) !== 0) return false;
    return true;
  }

  allUsed(rel: number, n: number): boolean {
    for (let k = 0; k < n; k++) if (this.bit(rel + k) === 0) return false;
    return true;
  }
}

interface NodeCounts {
  totalPages: number;
  freePages: number;
  byPurpose: number[];
}

export class PageAlloc {
  private readonly ranges: RamRange[];
  private readonly totalPages: number;
  private nrFree: number;
  private readonly byPurpose = new Array<number>(PURPOSES).fill(0);
  /** Per node id up to the highest node of a (non-empty) range. */
  private readonly nodes: NodeCounts[];
  private zonelist: number[];

  constructor(
    ramRanges: Array<[number, number]>,
    ramNodes: readonly number[],
    private readonly mem: PhysMem,
    private readonly faults: Faults,
    private readonly events: Events,
  ) {
    // empty ranges are dropped (and their node ids not counted), as the Wasm core's dramInit drops them
    this.ranges = ramRanges.flatMap(([s, e], i) => (e > s ? [new RamRange(s, e, ramNodes[i] ?? 0)] : []));
    this.totalPages = this.ranges.reduce((n, r) => n + (r.end - r.start), 0);
    this.nrFree = this.totalPages;
    const nNodes = this.ranges.reduce((m, r) => Math.max(m, r.node + 1), 1);
    this.nodes = Array.from({ length: nNodes }, () => ({ totalPages: 0, freePages: 0, byPurpose: new Array<number>(PURPOSES).fill(0) }));
    for (const r of this.ranges) {
      this.nodes[r.node].totalPages += r.end - r.start;
      this.nodes[r.node].freePages += r.end - r.start;
    }
    this.zonelist = this.nodes.map((_, i) => i);
  }

  /** The zonelist allocations walk from now on: distinct node ids with a record. 0 or -EINVAL (unchanged). */
  setZonelist(nodes: readonly number[]): number {
    if (!Array.isArray(nodes) || nodes.length === 0 || nodes.length > Math.min(MAX_NUMNODES, this.nodes.length)) return EINVAL;
    if (!nodes.every((v, i) => Number.isInteger(v) && v >= 0 && v < this.nodes.length && nodes.indexOf(v) === i)) return EINVAL;
    this.zonelist = [...nodes];
    return 0;
  }

  /** alloc_pages: the zonelist's first node with a free aligned block, its lowest one; the pfn or -ENOMEM. */
  allocPages(order: number, purpose: Purpose): number {
    if (this.faults.faultFires(FaultKind.DramAlloc)) return ENOMEM;
    const n = 2 ** order;
    for (const nid of this.zonelist) {
      for (const r of this.ranges) {
        if (r.node !== nid || r.end - r.start < n) continue;
        const rel = r.find(order);
        if (rel < 0) continue;
        r.take(rel, n);
        this.nrFree -= n;
        // allocated pages read as zero, whatever the host wrote into free RAM
        this.mem.discardFrames(r.base + rel, r.base + rel + n);
        this.byPurpose[purpose] += n;
        this.nodes[nid].freePages -= n;
        this.nodes[nid].byPurpose[purpose] += n;
        return r.base + rel;
      }
    }
    return ENOMEM;
  }

  /**
   * The effect of `count` allocPages(order, purpose) calls when they form one contiguous run (assembly/
   * pagealloc.ts allocPagesRun): the first block found as allocPages finds it, every page to the run's end
   * free in the same range. The first pfn, or -1 with no change (also with a fault armed).
   */
  allocPagesRun(order: number, count: number, purpose: Purpose): number {
    if (this.faults.anyArmed() || !Number.isInteger(count) || count <= 0 || count > 2 ** 40) return -1;
    const n = 2 ** order * count;
    for (const nid of this.zonelist) {
      for (const r of this.ranges) {
        if (r.node !== nid || r.end - r.start < 2 ** order) continue;
        const rel = r.find(order);
        if (rel < 0) continue;
        // the first block is the one allocPages takes: the rest must follow it, free, in this range
        if (r.base + rel + n > r.end || !r.allFree(rel, n)) return -1;
        r.take(rel, n);
        this.nrFree -= n;
        this.mem.discardFrames(r.base + rel, r.base + rel + n);
        this.byPurpose[purpose] += n;
        this.nodes[nid].freePages -= n;
        this.nodes[nid].byPurpose[purpose] += n;
        return r.base + rel;
      }
    }
    return -1;
  }

  /** __free_pages: 0, or -EFAULT and a Bug event when the block is not allocated DRAM. */
  freePages(pfn: number, order: number, purpose: Purpose): number {
    const n = 2 ** order;
    const r = this.ranges.find((x) => pfn >= x.start && pfn + n <= x.end);
    if (!r || !r.allUsed(pfn - r.base, n)) {
      this.events.emit(EventType.Bug, BigInt(pfn), BigInt(order));
      return EFAULT;
    }
    r.give(pfn - r.base, n);
    this.nrFree += n;
    this.byPurpose[purpose] -= n;
    this.nodes[r.node].freePages += n;
    this.nodes[r.node].byPurpose[purpose] -= n;
    this.mem.discardFrames(pfn, pfn + n);
    return 0;
  }

  dramStats(): DramStats {
    return { totalPages: this.totalPages, freePages: this.nrFree, byPurpose: [...this.byPurpose], byNode: this.nodes.map((c) => ({ totalPages: c.totalPages, freePages: c.freePages, byPurpose: [...c.byPurpose] })) };
  }
}
