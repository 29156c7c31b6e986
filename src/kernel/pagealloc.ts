/**
 * The buddy allocator as the host sees it (mm/page_alloc.c): alloc_pages / __free_pages over the
 * core's DRAM allocator, and DRAM pages counted by what they were taken for.
 */
import { Purpose, type Core, type DramStats } from '../core/core.ts';

export { Purpose } from '../core/core.ts';

export class PageAlloc {
  constructor(private readonly core: Core) {}

  /** alloc_pages(order): the first pfn of 2^order DRAM pages, or -ENOMEM. */
  allocPages(order: number, purpose: Purpose): number {
    return this.core.allocPages(order, purpose);
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
