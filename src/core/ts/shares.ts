/**
 * Share counts of vmemmap pages (as assembly/shares.ts; docs/core.md "vmemmapPopulateCompound"): per pfn,
 * how many extra 4 KiB vmemmap mappings vmemmapPopulateCompound (get_page on the reused tail page) or
 * vmemmapOptimizeHuge (hvo.ts) made of it. vmemmapFree drops one per mapping and frees the page only
 * with the last one (put_page_testzero). A map cannot run out of room, so the twin needs no reservation.
 */
import type { CompoundRun, CompoundRuns } from './compoundrun.ts';

export class Shares {
  private readonly counts = new Map<number, number>();
  /** Shares held over all pfns, a compound run's implicit ones included (0: vmemmapFree skips the lookups). */
  shareTotal = 0;

  constructor(private readonly runs: CompoundRuns) {}

  /** A compound run's tails hold n shares implicitly (compoundrun.ts). */
  shareImplicit(n: number): void {
    this.shareTotal += n;
  }

  /** Before pfn's count changes: a tail of a compound run with implicit shares makes all of the run's explicit. */
  private makeExplicit(pfn: number): void {
    if (this.runs.list.length === 0) return;
    const r = this.runs.find(pfn);
    if (r && this.runs.implicitTail(r, pfn)) this.makeRunExplicit(r);
  }

  /** Compound run r's implicit counts into the map. */
  makeRunExplicit(r: CompoundRun): void {
    const per = this.runs.tailShares(r);
    r.explicit = true;
    for (let k = 0, n = this.runs.tails(r); k < n; k++) {
      const t = this.runs.tail(r, k);
      this.counts.set(t, (this.counts.get(t) ?? 0) + per);
    }
  }

  /** One more share of pfn. */
  shareAdd(pfn: number): void {
    this.makeExplicit(pfn);
    this.counts.set(pfn, (this.counts.get(pfn) ?? 0) + 1);
    this.shareTotal++;
  }

  /** n more shares of pfn at once (n shareAdd calls). */
  shareAddMany(pfn: number, n: number): void {
    this.makeExplicit(pfn);
    this.counts.set(pfn, (this.counts.get(pfn) ?? 0) + n);
    this.shareTotal += n;
  }

  /** pfn's share count (0 when it has none). */
  shareCount(pfn: number): number {
    if (this.runs.list.length !== 0) {
      const r = this.runs.find(pfn);
      if (r && this.runs.implicitTail(r, pfn)) return this.runs.tailShares(r);
    }
    return this.counts.get(pfn) ?? 0;
  }

  /** Drop n of pfn's shares at once (n shareDrop calls; the caller checked that it has n). */
  shareDropMany(pfn: number, n: number): void {
    this.makeExplicit(pfn);
    const c = this.counts.get(pfn)!;
    if (c > n) this.counts.set(pfn, c - n);
    else this.counts.delete(pfn);
    this.shareTotal -= n;
  }

  /** Drop one share of pfn: true when it had one (the mapping goes, the page stays), false when it had none. */
  shareDrop(pfn: number): boolean {
    this.makeExplicit(pfn);
    const n = this.counts.get(pfn);
    if (n === undefined) return false;
    if (n > 1) this.counts.set(pfn, n - 1);
    else this.counts.delete(pfn);
    this.shareTotal--;
    return true;
  }
}
