/**
 * Strided fill patterns (docs/core.md "Strided fill patterns"): one record for the same fill in every
 * period of a run of frames, so that the memmaps that memory blocks host at their own heads
 * (memmap_on_memory: block i's struct pages in its first frames) cost O(runs of blocks), not a plain
 * pattern (patterns.ts) per block.
 *
 * Frame f is covered when start <= f < end and (f - origin) mod period < width; with i = floor((f -
 * origin) / period) and k = (f - origin) - i * period, its byte 64j + 8w holds word w of the struct page
 * of P = pagePfn0 + i * pStride + 64k + j, built as a plain pattern's (selfMask words add vmemmapStart +
 * 64P). A frame's content is its backed bytes, else a compound run's table, else its plain pattern,
 * else its stride record, else zero; no frame is covered by both a plain pattern and a stride record
 * (patApply and patClear cut stride coverage first), nor by two stride records. Records live at STRIDES
 * (layout.ts), unsorted: a linear scan with a last-hit cache, nothing at all while there are none.
 */
import { STR_HEADROOM, STR_MAX, STR_REC, STRIDES } from './layout';
import { opMask, opSelf, opWord, patPlace, selfWordMask } from './patterns';
import { cfgVmemmapStart, ensureMemory } from './state';

/** A stride record: span [start, end), periods of `period` frames from `origin`, the first `width` of each filled. */
@unmanaged
class Stride {
  start: u64;
  end: u64;
  /** A frame where a period begins (origin <= start). */
  origin: u64;
  /** P of byte 0 of frame origin. */
  pagePfn0: u64;
  /** P advance per period. */
  pStride: u64;
  period: u32;
  width: u32;
  selfMask: u32;
  pad: u32;
  w0: u64;
  w1: u64;
  w2: u64;
  w3: u64;
  w4: u64;
  w5: u64;
  w6: u64;
  w7: u64;
}
if (offsetof<Stride>() != STR_REC) ERROR('class Stride must be STR_REC bytes');
const WORDS: usize = offsetof<Stride>('w0');

export let strCount: u32 = 0;
/** The last record strFind hit. */
let strLast: u32 = 0;

@inline
function rec(i: u32): Stride {
  return changetype<Stride>(STRIDES + <usize>i * STR_REC);
}
@inline
function recWord(r: Stride, w: u32): u64 {
  return load<u64>(changetype<usize>(r) + WORDS + (<usize>w << 3));
}
@inline
function setRecWord(r: Stride, w: u32, v: u64): void {
  store<u64>(changetype<usize>(r) + WORDS + (<usize>w << 3), v);
}

/** Does record r cover frame f? */
@inline
function covers(r: Stride, f: u64): bool {
  return f >= r.start && f < r.end && (f - r.origin) % <u64>r.period < <u64>r.width;
}

/** The first frame of [f, e) record r covers, or e. */
function firstCovered(r: Stride, f: u64, e: u64): u64 {
  if (f < r.start) f = r.start;
  const lim = e < r.end ? e : r.end;
  if (f >= lim) return e;
  const k = (f - r.origin) % <u64>r.period;
  if (k < <u64>r.width) return f;
  const n = f + (<u64>r.period - k);
  return n < lim ? n : e;
}

/** One past the last frame of [s, e) record r covers (s when none). */
function lastCoveredEnd(r: Stride, s: u64, e: u64): u64 {
  if (s < r.start) s = r.start;
  if (e > r.end) e = r.end;
  if (s >= e) return s;
  const k = (e - 1 - r.origin) % <u64>r.period;
  if (k < <u64>r.width) return e;
  const n = e - 1 - k + <u64>r.width; // end of the last period's width before e
  return n > s ? n : s;
}

/** Index of the record covering frame f, or -1. */
export function strFind(f: u64): i32 {
  if (strCount == 0) return -1;
  if (strLast < strCount && covers(rec(strLast), f)) return <i32>strLast;
  for (let i: u32 = 0; i < strCount; i++) {
    if (covers(rec(i), f)) {
      strLast = i;
      return <i32>i;
    }
  }
  return -1;
}

/** Does any record cover a frame of [fa, fb)? */
export function strCovers(fa: u64, fb: u64): bool {
  for (let i: u32 = 0; i < strCount; i++) if (firstCovered(rec(i), fa, fb) < fb) return true;
  return false;
}

/** P of byte 0 of frame f under record i (f covered). */
@inline
function frameP(r: Stride, f: u64): u64 {
  const rel = f - r.origin;
  const n = rel / <u64>r.period;
  return r.pagePfn0 + n * r.pStride + ((rel - n * <u64>r.period) << 6);
}

/** Word at byte offset `off` (8-aligned) of covered frame f under record i. */
export function strWord(i: u32, f: u64, off: u32): u64 {
  const r = rec(i);
  const w = (off >> 3) & 7;
  let v = recWord(r, w);
  if ((r.selfMask >> w) & 1) v += cfgVmemmapStart + ((frameP(r, f) + <u64>(off >> 6)) << 6);
  return v;
}

/** Write the 4 KiB content of covered frame f under record i to dst. */
export function strSynth(i: u32, f: u64, dst: usize): void {
  const r = rec(i);
  const self = r.selfMask;
  let va = cfgVmemmapStart + (frameP(r, f) << 6);
  for (let j: usize = 0; j < 64; j++) {
    const d = dst + (j << 6);
    for (let w: u32 = 0; w < 8; w++) store<u64>(d + (<usize>w << 3), recWord(r, w) + (va & selfWordMask(self, w)));
    va += 64;
  }
}

/** Plain patterns strMaterialise would make for [fa, fb): one per period intersected. */
export function strPieces(fa: u64, fb: u64): u64 {
  let n: u64 = 0;
  for (let i: u32 = 0; i < strCount; i++) {
    const r = rec(i);
    const a = firstCovered(r, fa, fb);
    if (a >= fb) continue;
    const b = lastCoveredEnd(r, a, fb);
    n += (b - 1 - r.origin) / <u64>r.period - (a - r.origin) / <u64>r.period + 1;
  }
  return n;
}

/** Turn the stride content of frames [fa, fb) into plain patterns (the caller has checked their room), then cut it. */
export function strMaterialise(fa: u64, fb: u64): void {
  for (let i: u32 = 0; i < strCount; i++) {
    const r = rec(i);
    let a = firstCovered(r, fa, fb);
    while (a < fb) {
      const ps = a - (a - r.origin) % <u64>r.period;
      let b = ps + <u64>r.width;
      if (b > fb) b = fb;
      if (b > r.end) b = r.end;
      patPlace(a, b, frameP(r, a), changetype<usize>(r) + WORDS, r.selfMask);
      a = firstCovered(r, b, fb);
    }
  }
  strCut(fa, fb);
}

/** Narrow record r to the frames of [s, e) it covers; false when none (the record is then to go). */
function narrow(r: Stride, s: u64, e: u64): bool {
  const a = firstCovered(r, s, e);
  if (a >= e) return false;
  const b = lastCoveredEnd(r, a, e);
  r.start = a;
  r.end = b;
  return true;
}

function strDelete(i: u32): void {
  strCount--;
  if (i != strCount) memory.copy(changetype<usize>(rec(i)), changetype<usize>(rec(strCount)), STR_REC);
}

/**
 * Remove stride coverage from frames [fa, fb): each record covering some of them is restricted to [start,
 * fa) and [fb, end). With no room for a second piece (over STR_MAX records, not reachable by sane runs),
 * the part above fb is dropped too: a documented limit of the model.
 */
export function strCut(fa: u64, fb: u64): void {
  cutWhere(fa, fb, false, 0, 1, 0);
}

/** Is record r of this geometry: period, width, and periods beginning where one begins at `origin`? */
@inline
function sameGeometry(r: Stride, origin: u64, period: u64, width: u64): bool {
  return <u64>r.period == period && <u64>r.width == width && (origin >= r.origin ? origin - r.origin : r.origin - origin) % period == 0;
}

/** Does a record not of this geometry (sameGeometry) cover a frame of [fa, fb)? */
export function strCoversOther(fa: u64, fb: u64, origin: u64, period: u64, width: u64): bool {
  for (let i: u32 = 0; i < strCount; i++) {
    const r = rec(i);
    if (firstCovered(r, fa, fb) < fb && !sameGeometry(r, origin, period, width)) return true;
  }
  return false;
}

/**
 * Can no record cover a frame of [fa, fb) in the first `width` of a period beginning at origin (periods of
 * `period`)? Each record is outside the span, of this geometry (`full`: a full op replaces those), or of
 * the same period with its filled frames elsewhere in each period.
 */
export function strApart(fa: u64, fb: u64, origin: u64, period: u64, width: u64, full: bool): bool {
  for (let i: u32 = 0; i < strCount; i++) {
    const r = rec(i);
    if (r.end <= fa || r.start >= fb) continue;
    if (full && sameGeometry(r, origin, period, width)) continue;
    if (<u64>r.period != period) return false;
    // r fills [d, d + r.width) of each period from origin: apart from [0, width) without wrapping onto it
    const d = r.origin >= origin ? (r.origin - origin) % period : (period - (origin - r.origin) % period) % period;
    if (d < width || d + <u64>r.width > period) return false;
  }
  return true;
}

/**
 * strCut of [fa, fb) for the records of this geometry only: what a full op over the frames of a record
 * of that geometry spanning [fa, fb) cuts (the others cover none of them), step by step or at once.
 */
export function strCutGeometry(fa: u64, fb: u64, origin: u64, period: u64, width: u64): void {
  cutWhere(fa, fb, true, origin, period, width);
}

function cutWhere(fa: u64, fb: u64, geometry: bool, origin: u64, period: u64, width: u64): void {
  let i: u32 = 0;
  while (i < strCount) {
    const r = rec(i);
    if (firstCovered(r, fa, fb) >= fb || (geometry && !sameGeometry(r, origin, period, width))) {
      i++;
      continue;
    }
    const s = r.start;
    const e = r.end;
    const hasLeft = firstCovered(r, s, fa) < fa;
    const hasRight = firstCovered(r, fb, e) < e;
    if (hasRight && hasLeft && strCount < STR_MAX) {
      const n = rec(strCount);
      memory.copy(changetype<usize>(n), changetype<usize>(r), STR_REC);
      strCount++;
      narrow(n, fb, e);
    } else if (hasRight && !hasLeft) {
      narrow(r, fb, e);
      i++;
      continue;
    }
    if (hasLeft) {
      narrow(r, s, fa);
      i++;
    } else {
      strDelete(i);
    }
  }
  if (strLast >= strCount) strLast = 0;
}

/**
 * Add the op as a record: frames [origin + n * period, + width) for n < steps, frame origin holding the
 * struct page of p0, P advancing by pStride a period. Merged into a record it continues when there is
 * one. False when out of room, or with `mergeOnly` when none continues (the caller takes the single steps).
 */
export function strAdd(origin: u64, period: u64, width: u64, steps: u64, p0: u64, pStride: u64, mergeOnly: bool): bool {
  const self = opSelf & opMask;
  const start = origin;
  const end = origin + (steps - 1) * period + width;
  for (let i: u32 = 0; i < strCount; i++) {
    const r = rec(i);
    if (<u64>r.period != period || <u64>r.width != width || r.selfMask != self || r.pStride != pStride) continue;
    if ((start >= r.origin ? start - r.origin : r.origin - start) % period != 0) continue;
    let same = true;
    for (let w: u32 = 0; w < 8; w++) if (recWord(r, w) != ((opMask >> w) & 1 ? opWord(w) : 0)) same = false;
    if (!same) continue;
    // after it: its last period is whole and the new one is the next; before it: the mirror
    if (r.end + (period - width) == start && r.end - width >= r.start && (r.end - width - r.origin) % period == 0) {
      if (self != 0 && frameP(r, r.end - width) + pStride != p0) continue;
      r.end = end;
      return true;
    }
    if (end + (period - width) == r.start && (r.start - r.origin) % period == 0) {
      if (self != 0 && p0 + steps * pStride != frameP(r, r.start)) continue;
      r.start = start;
      r.origin = origin;
      r.pagePfn0 = p0;
      return true;
    }
  }
  if (mergeOnly || strCount >= STR_MAX - STR_HEADROOM || !ensureMemory(<u64>STRIDES + <u64>STR_MAX * STR_REC)) return false;
  const r = rec(strCount);
  r.start = start;
  r.end = end;
  r.origin = origin;
  r.pagePfn0 = p0;
  r.pStride = pStride;
  r.period = <u32>period;
  r.width = <u32>width;
  r.selfMask = self;
  r.pad = 0;
  for (let w: u32 = 0; w < 8; w++) setRecWord(r, w, (opMask >> w) & 1 ? opWord(w) : 0);
  strCount++;
  return true;
}
