/**
 * HugeTLB pages and HugeTLB Vmemmap Optimization (mm/hugetlb.c, mm/hugetlb_vmemmap.c; v5.14+, one kept
 * vmemmap page since v6.x): a 2 MiB page's memmap is 8 vmemmap pages of which 7 are remapped to the first
 * and freed; a 1 GiB page's 4096, of which 4095 (kernel.md §4.2, T45).
 */
import { Purpose } from './pagealloc.ts';
import { KernelError } from './errno.ts';
import type { Kernel } from './kernel.ts';

export type HugePageSize = '2M' | '1G';

interface HugePage {
  pfn: number;
  order: number;
  /** vmemmap pages HVO freed (0 when not optimised). */
  freed: number;
}

export class Hugetlb {
  readonly pages = new Map<number, HugePage>();

  constructor(
    private readonly k: Kernel,
    /** hugetlb_optimize_vmemmap=on */
    readonly optimize: boolean,
  ) {}

  /** alloc_fresh_hugetlb_folio + hugetlb_vmemmap_optimize_folio; from node nid alone when given (__GFP_THISNODE). */
  alloc(size: HugePageSize, nid?: number): { pfn: number; size: HugePageSize; vmemmapPagesFreed: number; node: number } {
    const k = this.k;
    const order = size === '2M' ? 9 : 18;
    // htlb_alloc_mask(): GFP_HIGHUSER_MOVABLE (ZONE_MOVABLE allowed) unless gigantic (hugepage_movable_supported())
    const movable = size === '2M';
    const pfn = nid === undefined ? k.pageAlloc.allocPages(order, Purpose.HugeTlb, movable) : k.numa.thisNode(nid, () => k.pageAlloc.allocPages(order, Purpose.HugeTlb, movable));
    if (pfn < 0) throw new KernelError('ENOMEM', `no free ${size} block of memory${nid === undefined ? '' : ` on node ${nid}`} for a HugeTLB page`);
    let freed = 0;
    // vmemmap_should_optimize: a folio whose vmemmap is self-hosted (a memmap_on_memory block's own memmap,
    // PageVmemmapSelfHosted) keeps it; those pages were never the page allocator's to free
    if (this.optimize && !k.kmem.vmemmapSelfHosted(pfn)) {
      // a failed optimisation is not fatal: the folio keeps its whole vmemmap
      const host = k.hostFailures();
      const r = k.vmemmap.optimizeHuge(pfn, 2 ** order);
      k.drainEvents();
      if (r < 0 && k.hostFailures() !== host) {
        // unless it was the model's budget (the core changed nothing): the page goes back, HostMemoryError
        k.pageAlloc.freePages(pfn, order, Purpose.HugeTlb);
        k.drainEvents();
        k.hostOom();
      }
      freed = Math.max(0, r);
    }
    this.pages.set(pfn, { pfn, order, freed });
    return { pfn, size, vmemmapPagesFreed: freed, node: this.nodeOf(pfn) };
  }

  /** hugetlb_vmemmap_restore_folio + update_and_free_hugetlb_folio. */
  free(pfn: number): void {
    const k = this.k;
    const hp = this.pages.get(pfn);
    if (!hp) throw new KernelError('EINVAL', `pfn 0x${pfn.toString(16)} is not a HugeTLB page`);
    const host = k.hostFailures();
    if (hp.freed > 0 && k.vmemmap.restoreHuge(pfn, 2 ** hp.order) < 0) {
      // the model's budget, not the kernel's: HostMemoryError (the core changed nothing)
      if (k.hostFailures() !== host) k.hostOom();
      // the vmemmap cannot be restored without memory: the page stays in the pool
      throw new KernelError('ENOMEM', `cannot restore the vmemmap of the HugeTLB page at pfn 0x${pfn.toString(16)}`);
    }
    k.pageAlloc.freePages(pfn, hp.order, Purpose.HugeTlb);
    k.drainEvents();
    this.pages.delete(pfn);
  }

  /** The node a HugeTLB page is on: its memory's (folio_nid). */
  private nodeOf(pfn: number): number {
    return this.k.numa.targetNode(BigInt(pfn) << 12n);
  }

  /** The pool's pages, all nodes' or node nid's (hugetlb_report_node_meminfo). */
  summary(nid?: number): { pages2M: number; pages1G: number; vmemmapPagesFreed: number } {
    let pages2M = 0;
    let pages1G = 0;
    let vmemmapPagesFreed = 0;
    for (const hp of this.pages.values()) {
      if (nid !== undefined && this.nodeOf(hp.pfn) !== nid) continue;
      if (hp.order === 9) pages2M++;
      else pages1G++;
      vmemmapPagesFreed += hp.freed;
    }
    return { pages2M, pages1G, vmemmapPagesFreed };
  }
}
