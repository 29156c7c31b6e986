/**
 * Strided fill patterns (as assembly/strides.ts; docs/core.md "Strided fill patterns"): one record for
 * the same fill in every period of a run of frames, so that the memmaps memory blocks host at their own
 * heads (memmap_on_memory) cost O(runs of blocks), not a plain pattern (patterns.ts) per block.
 *
 * Frame f is covered when start <= f < end and (f - origin) mod period < width; with i = floor((f -
 * origin) / period), k = (f - origin) - i * period, its byte 64j holds the struct page of P = pagePfn0 +
 * i * pStride + 64k + j, built as a plain pattern's. Precedence: backed bytes, a compound run's table, a
 * plain pattern, a stride record, zero; no frame is under both a plain pattern and a stride record, nor
 * under two stride records. Unsorted, a linear scan with a last-hit cache; patterns.ts draws their frames (synthStride).
 */
/** The most stride records (assembly/layout.ts STR_MAX). */
export const STR_MAX = 1024;
/** Records kept free for cuts (assembly/layout.ts STR_HEADROOM); memmapWriteEvery stops short of them. */
export const STR_HEADROOM = 256;

/** A stride record: span [start, end), periods of `period` frames from `origin`, the first `width` of each filled. */
export interface Stride {
  start: number;
  end: number;
  /** A frame where a period begins (origin <= start). */
  origin: number;
  /** P of byte 0 of frame origin. */
  pagePfn0: number;
  /** P advance per period. */
  pStride: number;
  period: number;
  width: number;
  lo: Uint32Array;
  hi: Uint32Array;
  selfMask: number;
}

/** Does record r cover frame f? */
function covers(r: Stride, f: number): boolean {
  return f >= r.start && f < r.end && (f - r.origin) % r.period < r.width;
}

/** The first frame of [f, e) record r covers, or e. */
function firstCovered(r: Stride, f: number, e: number): number {
  if (f < r.start) f = r.start;
  const lim = Math.min(e, r.end);
  if (f >= lim) return e;
  const k = (f - r.origin) % r.period;
  if (k < r.width) return f;
  const n = f + (r.period - k);
  return n < lim ? n : e;
}

/** One past the last frame of [s, e) record r covers (s when none). */
function lastCoveredEnd(r: Stride, s: number, e: number): number {
  if (s < r.start) s = r.start;
  if (e > r.end) e = r.end;
  if (s >= e) return s;
  const k = (e - 1 - r.origin) % r.period;
  if (k < r.width) return e;
  const n = e - 1 - k + r.width;
  return n > s ? n : s;
}

/** P of byte 0 of covered frame f under r. */
export function strideFrameP(r: Stride, f: number): number {
  const rel = f - r.origin;
  const n = Math.floor(rel / r.period);
  return r.pagePfn0 + n * r.pStride + (rel - n * r.period) * 64;
}

/** Is r of this geometry: period, width, and periods beginning where one begins at origin? */
function sameGeometry(r: Stride, origin: number, period: number, width: number): boolean {
  return r.period === period && r.width === width && Math.abs(origin - r.origin) % period === 0;
}

/** Narrow r to the frames of [s, e) it covers; false when none. */
function narrow(r: Stride, s: number, e: number): boolean {
  const a = firstCovered(r, s, e);
  if (a >= e) return false;
  r.end = lastCoveredEnd(r, a, e);
  r.start = a;
  return true;
}

/** A plain pattern's worth of a stride record: frames [start, end), struct page pagePfn0 at byte 0 of start. */
export interface StridePiece {
  start: number;
  end: number;
  pagePfn0: number;
  lo: Uint32Array;
  hi: Uint32Array;
  selfMask: number;
}

export class Strides {
  readonly list: Stride[] = [];
  private last = 0;

  /** The record covering frame f, if any. */
  find(f: number): Stride | undefined {
    const l = this.list;
    if (l.length === 0) return undefined;
    if (this.last < l.length && covers(l[this.last], f)) return l[this.last];
    for (let i = 0; i < l.length; i++) {
      if (covers(l[i], f)) {
        this.last = i;
        return l[i];
      }
    }
    return undefined;
  }

  /** Does any record cover a frame of [fa, fb)? */
  coversAny(fa: number, fb: number): boolean {
    return this.list.some((r) => firstCovered(r, fa, fb) < fb);
  }

  /** Plain patterns materialise would make for [fa, fb): one per period intersected. */
  pieces(fa: number, fb: number): number {
    let n = 0;
    for (const r of this.list) {
      const a = firstCovered(r, fa, fb);
      if (a >= fb) continue;
      const b = lastCoveredEnd(r, a, fb);
      n += Math.floor((b - 1 - r.origin) / r.period) - Math.floor((a - r.origin) / r.period) + 1;
    }
    return n;
  }

  /** The stride content of frames [fa, fb) as plain pieces (ascending per record), then cut. */
  materialise(fa: number, fb: number): StridePiece[] {
    const out: StridePiece[] = [];
    for (const r of this.list) {
      let a = firstCovered(r, fa, fb);
      while (a < fb) {
        const ps = a - ((a - r.origin) % r.period);
        const b = Math.min(ps + r.width, fb, r.end);
        out.push({ start: a, end: b, pagePfn0: strideFrameP(r, a), lo: r.lo, hi: r.hi, selfMask: r.selfMask });
        a = firstCovered(r, b, fb);
      }
    }
    this.cut(fa, fb);
    return out;
  }

  /**
   * Remove stride coverage from [fa, fb): each record covering some of it restricted to [start, fa) and
   * [fb, end); with no room for a second piece the part above fb goes too (as the Wasm core: a documented limit).
   */
  cut(fa: number, fb: number): void {
    this.cutWhere(fa, fb, undefined);
  }

  /** Does a record not of this geometry (period, width, a period beginning at origin) cover a frame of [fa, fb)? */
  coversOther(fa: number, fb: number, origin: number, period: number, width: number): boolean {
    return this.list.some((r) => firstCovered(r, fa, fb) < fb && !sameGeometry(r, origin, period, width));
  }

  /** cut of [fa, fb) for the records of this geometry only (assembly/strides.ts strCutGeometry). */
  cutGeometry(fa: number, fb: number, origin: number, period: number, width: number): void {
    this.cutWhere(fa, fb, { origin, period, width });
  }

  private cutWhere(fa: number, fb: number, g: { origin: number; period: number; width: number } | undefined): void {
    const l = this.list;
    for (let i = 0; i < l.length; ) {
      const r = l[i];
      if (firstCovered(r, fa, fb) >= fb || (g && !sameGeometry(r, g.origin, g.period, g.width))) {
        i++;
        continue;
      }
      const s = r.start;
      const e = r.end;
      const hasLeft = firstCovered(r, s, fa) < fa;
      const hasRight = firstCovered(r, fb, e) < e;
      if (hasRight && hasLeft && l.length < STR_MAX) {
        const n = { ...r };
        narrow(n, fb, e);
        l.push(n);
      } else if (hasRight && !hasLeft) {
        narrow(r, fb, e);
        i++;
        continue;
      }
      if (hasLeft) {
        narrow(r, s, fa);
        i++;
      } else {
        // as the Wasm core: the last record takes the freed place
        const top = l.pop()!;
        if (i < l.length) l[i] = top;
      }
    }
    if (this.last >= l.length) this.last = 0;
  }

  /**
   * Add a record: frames [origin + n * period, + width) for n < steps, frame origin holding the struct
   * page of p0, P advancing by pStride a period; merged into a record it continues. False when out of
   * room, or with mergeOnly when none continues (assembly/strides.ts strAdd).
   */
  add(origin: number, period: number, width: number, steps: number, p0: number, pStride: number, lo: Uint32Array, hi: Uint32Array, selfMask: number, mergeOnly: boolean): boolean {
    const start = origin;
    const end = origin + (steps - 1) * period + width;
    for (const r of this.list) {
      if (r.period !== period || r.width !== width || r.selfMask !== selfMask || r.pStride !== pStride) continue;
      if (Math.abs(start - r.origin) % period !== 0) continue;
      let same = true;
      for (let w = 0; w < 8; w++) if (r.lo[w] !== lo[w] || r.hi[w] !== hi[w]) same = false;
      if (!same) continue;
      if (r.end + (period - width) === start && r.end - width >= r.start && (r.end - width - r.origin) % period === 0) {
        if (selfMask !== 0 && strideFrameP(r, r.end - width) + pStride !== p0) continue;
        r.end = end;
        return true;
      }
      if (end + (period - width) === r.start && (r.start - r.origin) % period === 0) {
        if (selfMask !== 0 && p0 + steps * pStride !== strideFrameP(r, r.start)) continue;
        r.start = start;
        r.origin = origin;
        r.pagePfn0 = p0;
        return true;
      }
    }
    if (mergeOnly || this.list.length >= STR_MAX - STR_HEADROOM) return false;
    this.list.push({ start, end, origin, pagePfn0: p0, pStride, period, width, lo: lo.slice(), hi: hi.slice(), selfMask });
    return true;
  }
}
