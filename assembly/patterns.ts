/**
 * Fill patterns (docs/core.md "Physical memory"): runs of frames holding struct pages of consecutive
 * pfns built from one template, so that a huge memmap costs O(extents), not O(pages).
 *
 * Frame start + k, byte 64*j + 8*i, holds word i of the struct page of P = pagePfn0 + 64*k + j:
 * words[i] + ((selfMask >> i) & 1 ? vmemmapStart + 64*P : 0); a *table pattern* (selfShift s > 0) holds
 * page-table entries instead, its self words adding P << s (an arithmetic run of leaves: a PMD table
 * whose 512 entries map the next 2 MiB each is one record). The patterns are kept in one array
 * (PATTERNS) sorted by start, never overlapping. A pattern may lie under a backed frame (the frame's
 * bytes win); discarding a frame drops both (physmem.ts). Adjacent patterns with the same words and a
 * consistent pagePfn0 are merged on every change, so sequential memmap runs stay O(1).
 *
 * The memmap operation being applied (memmap.ts sets it) is the *op*: its words at CTL_OP_WORDS, which
 * words it writes (opMask) and which of them are self-relative (opSelf).
 */
import { CTL_OP_WORDS, PATTERNS, PAT_HEADROOM, PAT_MAX, PAT_REC } from './layout';
import { cfgVmemmapStart, ensureMemory } from './state';
import { strCount, strCovers, strCut, strMaterialise, strPieces } from './strides';

/** A pattern record: frames [start, end), the pfn whose struct page is at byte 0 of frame start, the template. */
@unmanaged
class Pattern {
  start: u64;
  end: u64;
  pagePfn0: u64;
  selfMask: u32;
  /** 0: struct pages (self words add vmemmapStart + 64*P); s > 0: page-table entries (self words add P << s). */
  selfShift: u32;
  w0: u64;
  w1: u64;
  w2: u64;
  w3: u64;
  w4: u64;
  w5: u64;
  w6: u64;
  w7: u64;
}
if (offsetof<Pattern>() != PAT_REC) ERROR('class Pattern must be PAT_REC bytes');
/** Byte offset of words[0] in a record (word w at WORDS + 8*w). */
const WORDS: usize = offsetof<Pattern>('w0');

export let patCount: u32 = 0;

export let opMask: u32 = 0;
export let opSelf: u32 = 0;
/** The selfShift patterns written by patApply get: 0 for memmap ops; pgtable.ts sets it around a table run. */
export let opShift: u32 = 0;

export function setOpShift(s: u32): void {
  opShift = s;
}

export function setOp(mask: u32, self: u32): void {
  opMask = mask;
  opSelf = self;
}

/** Word w of the op. */
@inline
export function opWord(w: u32): u64 {
  return load<u64>(CTL_OP_WORDS + (<usize>w << 3));
}
@inline
export function setOpWord(w: u32, v: u64): void {
  store<u64>(CTL_OP_WORDS + (<usize>w << 3), v);
}

/** All ones when word w of an op or pattern is self-relative (holds the struct page's own vaddr), else 0. */
@inline
export function selfWordMask(self: u32, w: u32): u64 {
  return <u64>0 - <u64>((self >> w) & 1);
}

// The array is a gap buffer: logical index i is record i below the gap and i + gapLen above it, so
// the runs of inserts and deletes at one place (a hot-add's blocks, a free walking down) move only the
// records between two places, not the whole tail (tens of thousands of records on an 8 TiB machine).
let gapAt: u32 = 0;
let gapLen: u32 = 0;

@inline
function patAt(i: u32): usize {
  return PATTERNS + <usize>(i < gapAt ? i : i + gapLen) * PAT_REC;
}

/** Put the gap before logical index i. */
function moveGap(i: u32): void {
  if (gapLen != 0 && i < gapAt) memory.copy(PATTERNS + <usize>(i + gapLen) * PAT_REC, PATTERNS + <usize>i * PAT_REC, <usize>(gapAt - i) * PAT_REC);
  else if (gapLen != 0 && i > gapAt) memory.copy(PATTERNS + <usize>gapAt * PAT_REC, PATTERNS + <usize>(gapAt + gapLen) * PAT_REC, <usize>(i - gapAt) * PAT_REC);
  gapAt = i;
}
@inline
function pat(i: u32): Pattern {
  return changetype<Pattern>(patAt(i));
}
@inline
function patWordAt(p: Pattern, w: u32): usize {
  return changetype<usize>(p) + WORDS + (<usize>w << 3);
}

/** Index of the pattern covering frame f, or -1. */
export function patFind(f: u64): i32 {
  let lo: u32 = 0;
  let hi = patCount;
  if (hi == 0) return -1;
  // fast path: the last pattern (sequential runs append there)
  const last = hi - 1;
  if (pat(last).start <= f) return pat(last).end > f ? <i32>last : -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pat(mid).start <= f) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  const i = lo - 1;
  return pat(i).end > f ? <i32>i : -1;
}

/** First index whose end is above f (patterns are disjoint and sorted, so ends are sorted too). */
function patFirstEndAbove(f: u64): u32 {
  let lo: u32 = 0;
  let hi = patCount;
  if (hi == 0 || pat(hi - 1).end <= f) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pat(mid).end <= f) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose start is at or above f. */
function patFirstStartFrom(f: u64): u32 {
  let lo: u32 = 0;
  let hi = patCount;
  if (hi == 0 || pat(hi - 1).start < f) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pat(mid).start < f) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Word at byte offset `off` (8-aligned) of frame `frame` under pattern i. */
export function patWord(i: u32, frame: u64, off: u32): u64 {
  const p = pat(i);
  const w = (off >> 3) & 7;
  let v = load<u64>(patWordAt(p, w));
  if ((p.selfMask >> w) & 1) {
    const P = p.pagePfn0 + ((frame - p.start) << 6) + <u64>(off >> 6);
    v += p.selfShift != 0 ? P << p.selfShift : cfgVmemmapStart + (P << 6);
  }
  return v;
}

/** Pattern i's selfShift (0: struct pages, else a table pattern's entry stride * 8). */
export function patSelfShift(i: u32): u32 {
  return pat(i).selfShift;
}

/** Write the 4 KiB content of `frame` under pattern i to dst. */
export function synthFrame(i: u32, frame: u64, dst: usize): void {
  const p = pat(i);
  const self = p.selfMask;
  const w0 = p.w0;
  const w1 = p.w1;
  const w2 = p.w2;
  const w3 = p.w3;
  const w4 = p.w4;
  const w5 = p.w5;
  const w6 = p.w6;
  const w7 = p.w7;
  if (self == 0) {
    for (let j: usize = 0; j < 64; j++) {
      const d = dst + (j << 6);
      store<u64>(d, w0);
      store<u64>(d, w1, 8);
      store<u64>(d, w2, 16);
      store<u64>(d, w3, 24);
      store<u64>(d, w4, 32);
      store<u64>(d, w5, 40);
      store<u64>(d, w6, 48);
      store<u64>(d, w7, 56);
    }
    return;
  }
  const m0 = selfWordMask(self, 0);
  const m1 = selfWordMask(self, 1);
  const m2 = selfWordMask(self, 2);
  const m3 = selfWordMask(self, 3);
  const m4 = selfWordMask(self, 4);
  const m5 = selfWordMask(self, 5);
  const m6 = selfWordMask(self, 6);
  const m7 = selfWordMask(self, 7);
  const P0 = p.pagePfn0 + ((frame - p.start) << 6);
  const table = p.selfShift != 0;
  let va = table ? P0 << p.selfShift : cfgVmemmapStart + (P0 << 6);
  const stride: u64 = table ? <u64>1 << p.selfShift : 64;
  for (let j: usize = 0; j < 64; j++) {
    const d = dst + (j << 6);
    store<u64>(d, w0 + (va & m0));
    store<u64>(d, w1 + (va & m1), 8);
    store<u64>(d, w2 + (va & m2), 16);
    store<u64>(d, w3 + (va & m3), 24);
    store<u64>(d, w4 + (va & m4), 32);
    store<u64>(d, w5 + (va & m5), 40);
    store<u64>(d, w6 + (va & m6), 48);
    store<u64>(d, w7 + (va & m7), 56);
    va += stride;
  }
}

/** Open a hole of n records at index i (patRoom has checked the cap). */
function patInsert(i: u32, n: u32): void {
  if (gapLen < n) {
    // a wider gap at the end, with slack so that the next inserts need no move
    moveGap(patCount);
    const slack = max<u32>(64, patCount >> 3);
    gapLen = min<u32>(n + slack, PAT_MAX - patCount);
  }
  moveGap(i);
  gapAt += n;
  gapLen -= n;
  patCount += n;
}

/** Remove n records at index i. */
function patDelete(i: u32, n: u32): void {
  if (n == 0) return;
  moveGap(i + n);
  gapAt = i;
  gapLen += n;
  patCount -= n;
}

/** Split record i at frame f (start < f < end): [start, f) stays at i, [f, end) goes to i + 1. */
function patSplit(i: u32, f: u64): void {
  patInsert(i + 1, 1);
  const a = pat(i);
  const b = pat(i + 1);
  memory.copy(changetype<usize>(b), changetype<usize>(a), PAT_REC);
  const start = a.start;
  a.end = f;
  b.start = f;
  b.pagePfn0 = a.pagePfn0 + ((f - start) << 6);
}

/** Room for `more` records (memmap ops keep PAT_HEADROOM for discards). */
function patRoom(more: u32, forDiscard: bool): bool {
  const cap = forDiscard ? PAT_MAX : PAT_MAX - PAT_HEADROOM;
  // not a failure: past the cap memmap ops write bytes instead (backed frames, under the budget)
  if (<u64>patCount + <u64>more > <u64>cap) return false;
  return ensureMemory(<u64>PATTERNS + <u64>PAT_MAX * PAT_REC);
}

/**
 * Remove pattern coverage from frames [fa, fb). If even the headroom is used up (over a million
 * patterns), the patterns stay: a documented limit of the model, not reachable by sane runs.
 */
export function patClear(fa: u64, fb: u64): void {
  if (strCount != 0) strCut(fa, fb);
  let i = patFirstEndAbove(fa);
  if (i >= patCount || pat(i).start >= fb) return;
  if (!patRoom(2, true)) return;
  if (pat(i).start < fa) {
    patSplit(i, fa);
    i++;
  }
  const j = patFirstStartFrom(fb);
  if (j > i && pat(j - 1).end > fb) patSplit(j - 1, fb);
  patDelete(i, j - i);
}

@inline
function patIsZero(p: Pattern): bool {
  return p.selfMask == 0 && (p.w0 | p.w1 | p.w2 | p.w3 | p.w4 | p.w5 | p.w6 | p.w7) == 0;
}

function patMergeable(i: u32, j: u32): bool {
  const a = pat(i);
  const b = pat(j);
  if (a.end != b.start) return false;
  const self = a.selfMask;
  if (self != b.selfMask || a.selfShift != b.selfShift) return false;
  for (let w: u32 = 0; w < 8; w++) if (load<u64>(patWordAt(a, w)) != load<u64>(patWordAt(b, w))) return false;
  if (self == 0) return true;
  return b.pagePfn0 == a.pagePfn0 + ((a.end - a.start) << 6);
}

/** Merge neighbours among records lo..hi (inclusive), right to left. */
function patMergeAround(lo: u32, hi: u32): void {
  if (patCount < 2) return;
  if (hi > patCount - 1) hi = patCount - 1;
  for (let m = hi; m > lo; m--) {
    if (patMergeable(m - 1, m)) {
      pat(m - 1).end = pat(m).end;
      patDelete(m, 1);
    }
  }
}

/** Does a pattern cover a frame of [fa, fb)? */
export function patAny(fa: u64, fb: u64): bool {
  const i = patFirstEndAbove(fa);
  return i < patCount && pat(i).start < fb;
}

/**
 * A pattern over frames [s, e) that no pattern covers (strides.ts strMaterialise; the caller has checked
 * the room): struct page p0 at byte 0 of frame s, the 8 words at `words`, self-relative ones in selfMask.
 */
export function patPlace(s: u64, e: u64, p0: u64, words: usize, selfMask: u32): void {
  const i = patFirstStartFrom(s);
  patInsert(i, 1);
  const p = pat(i);
  p.start = s;
  p.end = e;
  p.pagePfn0 = p0;
  p.selfMask = selfMask;
  p.selfShift = 0;
  memory.copy(patWordAt(p, 0), words, 64);
}

/** Write a record at i: frames [s, e), pagePfn0 p0, words = op words under opMask, zero elsewhere. */
function patWriteOp(i: u32, s: u64, e: u64, p0: u64): void {
  const p = pat(i);
  p.start = s;
  p.end = e;
  p.pagePfn0 = p0;
  p.selfMask = opSelf & opMask;
  p.selfShift = opShift;
  for (let w: u32 = 0; w < 8; w++) store<u64>(patWordAt(p, w), (opMask >> w) & 1 ? opWord(w) : 0);
}

/** Compose the op into record i (its first frame holds struct page p0). */
function patComposeOp(i: u32, p0: u64): void {
  const p = pat(i);
  for (let w: u32 = 0; w < 8; w++) {
    if ((opMask >> w) & 1) store<u64>(patWordAt(p, w), opWord(w));
  }
  const self = (p.selfMask & ~opMask) | (opSelf & opMask);
  // Partial ops carry no self-relative words (memmapSetPgmap), so a surviving self word keeps its base.
  if ((opSelf & opMask) != 0 || self == 0) p.pagePfn0 = p0;
  p.selfMask = self;
}

/**
 * Apply the current op to frames [fa, fb) as patterns; frame fa holds the struct page of p0.
 * A full op (mask 0xff) replaces what was there; a partial op composes with each pattern and fills
 * the gaps between them (which read as zero) with the op over zero words. False when out of room
 * (the caller writes bytes instead). Backed frames are the caller's business.
 */
export function patApply(fa: u64, fb: u64, p0: u64): bool {
  let i = patFirstEndAbove(fa);
  let j = patFirstStartFrom(fb);
  if (j < i) j = i;
  const pieces = j - i;
  if (strCount != 0 && strCovers(fa, fb)) {
    // stride coverage goes first: a full op just cuts it, a partial one composes with it as plain patterns
    const m = opMask == 0xff ? 0 : strPieces(fa, fb);
    if (!patRoom(<u32>min<u64>(<u64>pieces + m + 3, 0xffffffff), false)) return false;
    if (m != 0) strMaterialise(fa, fb);
    else strCut(fa, fb);
    i = patFirstEndAbove(fa);
    j = patFirstStartFrom(fb);
    if (j < i) j = i;
  } else if (!patRoom(pieces + 3, false)) return false;
  if (i < patCount && pat(i).start < fa && pat(i).end > fa) {
    patSplit(i, fa);
    i++;
    j++;
  }
  if (j > i && pat(j - 1).end > fb) patSplit(j - 1, fb);

  // An op over zero words: is it zero everywhere it writes?
  let gapZero = (opSelf & opMask) == 0;
  if (gapZero) {
    for (let w: u32 = 0; w < 8; w++) {
      if ((opMask >> w) & 1 && opWord(w) != 0) {
        gapZero = false;
        break;
      }
    }
  }

  let k = i;
  if (opMask == 0xff) {
    patDelete(i, j - i);
    if (!gapZero) {
      patInsert(i, 1);
      patWriteOp(i, fa, fb, p0);
      k = i + 1;
    }
  } else {
    let stop = j;
    let c = fa;
    while (c < fb) {
      if (k < stop && pat(k).start == c) {
        const e = pat(k).end;
        patComposeOp(k, p0 + ((c - fa) << 6));
        if (patIsZero(pat(k))) {
          patDelete(k, 1);
          stop--;
        } else {
          k++;
        }
        c = e;
      } else {
        const ge = k < stop ? pat(k).start : fb;
        if (!gapZero) {
          patInsert(k, 1);
          patWriteOp(k, c, ge, p0 + ((c - fa) << 6));
          k++;
          stop++;
        }
        c = ge;
      }
    }
  }
  patMergeAround(i > 0 ? i - 1 : 0, k);
  return true;
}
