/**
 * The buddy allocator as the host sees it (mm/page_alloc.c): alloc_pages / __free_pages over the
 * core's DRAM allocator, and DRAM pages counted by what they were taken for.
 */
import { ALLOC_MOVABLE, Purpose, type Core, type DramStats } from '../core/core.ts';

export { ALLOC_MOVABLE, Purpose } from '../core/core.ts';

export class PageAlloc {
  constructor(private readonly core: Core) {}

  /**
   * alloc_pages(order): the first pfn of 2^order DRAM pages, or -ENOMEM. `movable` (GFP_HIGHUSER_MOVABLE,
   * e.g. 2 MiB HugeTLB pages) may take ZONE_MOVABLE memory; without it (GFP_KERNEL) it never does.
   */
  allocPages(order: number, purpose: Purpose, movable = false): number {
    return this.core.allocPages(order, purpose, movable ? ALLOC_MOVABLE : 0);
  }

  /**
   * online_pages / __add_memory's end: RAM [startPfn, endPfn) of node `node` joins the allocator, all
   * free; `movable` for ZONE_MOVABLE (online_movable). 0 or -EINVAL (overlap, bad node, empty range).
   */
  addRange(startPfn: number, endPfn: number, node: number, movable: boolean): number {
    return this.core.dramAddRange(startPfn, endPfn, node, movable);
  }

  /** offline_pages + remove_memory: the range [startPfn, endPfn) (exactly as added) leaves. 0, -EINVAL, or -EBUSY while any page of it is in use. */
  removeRange(startPfn: number, endPfn: number): number {
    return this.core.dramRemoveRange(startPfn, endPfn);
  }

  /**
   * online_pages of `count` adjacent memory blocks at once: [startPfn + i * stride, + nrPages) each join as
   * a range of their own, as count addRange calls would. 0, -EINVAL or -ENOMEM (host room); all or nothing.
   */
  addRanges(startPfn: number, nrPages: number, count: number, stride: number, node: number, movable: boolean): number {
    return count === 1 ? this.core.dramAddRange(startPfn, startPfn + nrPages, node, movable) : this.core.dramAddRanges(startPfn, nrPages, count, stride, node, movable);
  }

  /** offline_pages of `count` blocks laid out as {@link addRanges} adds them: 0, -EINVAL, or -EBUSY (nothing changes) while any page of them is in use. */
  removeRanges(startPfn: number, nrPages: number, count: number, stride: number): number {
    return count === 1 ? this.core.dramRemoveRange(startPfn, startPfn + nrPages) : this.core.dramRemoveRanges(startPfn, nrPages, count, stride);
  }

  /** __free_pages: 0, or -EFAULT when the block is not allocated DRAM. */
  freePages(pfn: number, order: number, purpose: Purpose): number {
    return this.core.freePages(pfn, order, purpose);
  }

  /** The zonelist later allocations walk (build_zonelists' order for the node they are for: node.ts). 0 or -EINVAL. */
  setZonelist(nodes: readonly number[]): number {
    return this.core.setZonelist(nodes);
  }

  stats(): DramStats {
    return this.core.dramStats();
  }

  /** DRAM pages in use for `purpose`. */
  pagesFor(purpose: Purpose): number {
    return this.core.dramStats().byPurpose[purpose];
  }
}
