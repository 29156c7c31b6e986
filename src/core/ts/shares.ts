/**
 * Share counts of vmemmap pages (as assembly/shares.ts; docs/core.md "vmemmapPopulateCompound"): per pfn,
 * how many extra 4 KiB vmemmap mappings vmemmapPopulateCompound (get_page on the reused tail page) or
 * vmemmapOptimizeHuge (hvo.ts) made of it. vmemmapFree drops one per mapping and frees the page only
 * with the last one (put_page_testzero). A map cannot run out of room, so the twin needs no reservation.
 */
export class Shares {
  private readonly counts = new Map<number, number>();
  /** Shares held over all pfns (0: vmemmapFree skips the lookups). */
  shareTotal = 0;

  /** One more share of pfn. */
  shareAdd(pfn: number): void {
    this.counts.set(pfn, (this.counts.get(pfn) ?? 0) + 1);
    this.shareTotal++;
  }

  /** n more shares of pfn at once (n shareAdd calls). */
  shareAddMany(pfn: number, n: number): void {
    this.counts.set(pfn, (this.counts.get(pfn) ?? 0) + n);
    this.shareTotal += n;
  }

  /** pfn's share count (0 when it has none). */
  shareCount(pfn: number): number {
    return this.counts.get(pfn) ?? 0;
  }

  /** Drop n of pfn's shares at once (n shareDrop calls; the caller checked that it has n). */
  shareDropMany(pfn: number, n: number): void {
    const c = this.counts.get(pfn)!;
    if (c > n) this.counts.set(pfn, c - n);
    else this.counts.delete(pfn);
    this.shareTotal -= n;
  }

  /** Drop one share of pfn: true when it had one (the mapping goes, the page stays), false when it had none. */
  shareDrop(pfn: number): boolean {
    const n = this.counts.get(pfn);
    if (n === undefined) return false;
    if (n > 1) this.counts.set(pfn, n - 1);
    else this.counts.delete(pfn);
    this.shareTotal--;
    return true;
  }
}
