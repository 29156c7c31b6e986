/**
 * A map from integer keys to values, stored as sorted runs [start, end) -> value, so that
 * registries over millions of sections (a PiB of device memory) cost O(runs), not O(keys).
 */
export interface Run<T> {
  start: number;
  end: number;
  value: T;
}

export class RunMap<T> {
  private readonly runs: Run<T>[] = [];

  /** Index of the first run whose end is > key. */
  private lowerBound(key: number): number {
    let lo = 0;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.runs[mid].end <= key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(key: number): T | undefined {
    const r = this.runs[this.lowerBound(key)];
    return r && r.start <= key ? r.value : undefined;
  }

  /** The first run overlapping [start, end), clipped to it. */
  firstIn(start: number, end: number): Run<T> | null {
    const r = this.runs[this.lowerBound(start)];
    if (!r || r.start >= end) return null;
    return { start: Math.max(r.start, start), end: Math.min(r.end, end), value: r.value };
  }

  /** Map every key of [start, end) to value (replacing what was there). */
  set(start: number, end: number, value: T): void {
    if (end <= start) return;
    this.delete(start, end);
    let i = this.lowerBound(start);
    const prev = this.runs[i - 1];
    const next = this.runs[i];
    if (prev && prev.end === start && prev.value === value) {
      prev.end = end;
      if (next && next.start === end && next.value === value) {
        prev.end = next.end;
        this.runs.splice(i, 1);
      }
      return;
    }
    if (next && next.start === end && next.value === value) {
      next.start = start;
      return;
    }
    this.runs.splice(i, 0, { start, end, value });
  }

  /** Remove every key of [start, end). */
  delete(start: number, end: number): void {
    if (end <= start) return;
    const i = this.lowerBound(start);
    let j = i;
    const keep: Run<T>[] = [];
    while (j < this.runs.length && this.runs[j].start < end) {
      const r = this.runs[j];
      if (r.start < start) keep.push({ start: r.start, end: start, value: r.value });
      if (r.end > end) keep.push({ start: end, end: r.end, value: r.value });
      j++;
    }
    if (j > i) this.runs.splice(i, j - i, ...keep);
  }

  all(): readonly Run<T>[] {
    return this.runs;
  }

}
