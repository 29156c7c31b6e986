/**
 * Fill patterns (as assembly/patterns.ts; docs/core.md "Physical memory"): runs of frames holding struct
 * pages of consecutive pfns built from one template, so that a huge memmap costs O(extents). Frame
 * start + k, byte 64*j, holds the struct page of P = pagePfn0 + 64*k + j, whose word i is
 * words[i] + ((selfMask >> i) & 1 ? vmemmapStart + 64*P : 0); a table pattern (selfShift s > 0) holds
 * page-table entries, its self words adding P * 2^s (a run table: pgtable.ts). Sorted by start, never
 * overlapping, neighbours merged. 64-bit words are lo/hi u32 halves.
 */
import { strideFrameP, Strides, type Stride } from './strides.ts';

/** A run of frames holding struct pages of consecutive pfns, all built from one template. */
export interface Pattern {
  start: number;
  end: number;
  /** The pfn whose struct page sits at byte 0 of frame `start`. */
  pagePfn0: number;
  lo: Uint32Array; // 8 words, low halves
  hi: Uint32Array; // 8 words, high halves
  selfMask: number;
  /** Absent or 0: struct pages; s > 0: page-table entries whose self words add P * 2^s. */
  selfShift?: number;
}

/** A memmap operation (the core's *op*): which words it sets, their values and which add the page's own VA. */
export interface Fill {
  mask: number;
  lo: Uint32Array;
  hi: Uint32Array;
  selfMask: number;
}

/** A Fill's mask when it sets all 8 words. */
export const FULL = 0xff;

const isZero = (words: Uint32Array) => words.every((x) => x === 0);

/** The most patterns the core holds (assembly/layout.ts PAT_MAX): past it memmap ops write bytes instead. */
export const PAT_MAX = 2 ** 20;
/** Patterns kept free for discards (assembly/layout.ts PAT_HEADROOM); memmap ops stop short of them. */
export const PAT_HEADROOM = 4096;

export class Patterns {
  readonly list: Pattern[] = [];
  /** Bumped on every change of the list (physmem.ts keys its synthesised run tables by it). */
  version = 0;

  /** The strided fill patterns (strides.ts): patApply and patClear cut their coverage first. */
  readonly strides: Strides;

  constructor(
    /** VMEMMAP_START as lo/hi halves, for self-relative words. */
    readonly vmemmapLo: number,
    readonly vmemmapHi: number,
  ) {
    this.strides = new Strides();
  }

  /** Index of the first pattern whose end is > pfn. */
  private lowerBound(pfn: number): number {
    const ps = this.list;
    let lo = 0;
    let hi = ps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ps[mid].end <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The pattern covering frame pfn, if any. */
  patFind(pfn: number): Pattern | undefined {
    if (this.list.length === 0) return undefined;
    const p = this.list[this.lowerBound(pfn)];
    return p && p.start <= pfn ? p : undefined;
  }

  /**
   * Remove pattern coverage of [start, end), splitting patterns that straddle its ends. As the Wasm
   * core, with no room for two more records the patterns stay (a documented limit of the model).
   */
  patClear(start: number, end: number): void {
    if (this.strides.list.length !== 0) this.strides.cut(start, end);
    const ps = this.list;
    if (ps.length + 2 > PAT_MAX && this.overlapping(start, end) > 0) return;
    this.clear(start, end);
  }

  /** Does a pattern cover a frame of [start, end)? */
  anyIn(start: number, end: number): boolean {
    const p = this.list[this.lowerBound(start)];
    return p !== undefined && p.start < end;
  }

  /** How many patterns overlap [start, end). */
  private overlapping(start: number, end: number): number {
    const ps = this.list;
    let j = this.lowerBound(start);
    const i = j;
    while (j < ps.length && ps[j].start < end) j++;
    return j - i;
  }

  /** patClear without the room check: patApply has checked it for the whole op. */
  private clear(start: number, end: number): void {
    const ps = this.list;
    if (ps.length === 0) return;
    const i = this.lowerBound(start);
    const replaced: Pattern[] = [];
    let j = i;
    while (j < ps.length && ps[j].start < end) {
      const p = ps[j];
      if (p.start < start) replaced.push({ ...p, end: start });
      if (p.end > end) replaced.push({ ...p, start: end, pagePfn0: p.pagePfn0 + (end - p.start) * 64 });
      j++;
    }
    if (j > i) {
      this.version++;
      ps.splice(i, j - i, ...replaced);
    }
  }

  /** The patterns overlapping [start, end), clipped to it (copies). */
  private patternsIn(start: number, end: number): Pattern[] {
    const out: Pattern[] = [];
    const ps = this.list;
    for (let i = this.lowerBound(start); i < ps.length && ps[i].start < end; i++) {
      const p = ps[i];
      const s = Math.max(p.start, start);
      out.push({ ...p, start: s, end: Math.min(p.end, end), pagePfn0: p.pagePfn0 + (s - p.start) * 64 });
    }
    return out;
  }

  /** Install a pattern over frames that are not backed, replacing what covered them; merges neighbours. */
  private patSet(p: Pattern): void {
    this.clear(p.start, p.end);
    this.version++;
    const ps = this.list;
    const i = this.lowerBound(p.start);
    const prev = ps[i - 1];
    if (prev && prev.end === p.start && samePattern(prev, p) && follows(prev, p.pagePfn0)) {
      prev.end = p.end;
      const next = ps[i];
      if (next && next.start === prev.end && samePattern(prev, next) && follows(prev, next.pagePfn0)) {
        prev.end = next.end;
        ps.splice(i, 1);
      }
      return;
    }
    const next = ps[i];
    if (next && next.start === p.end && samePattern(p, next) && follows(p, next.pagePfn0)) {
      next.start = p.start;
      next.pagePfn0 = p.pagePfn0;
      return;
    }
    ps.splice(i, 0, p);
  }

  /**
   * Apply the op to whole frames [start, end) that are not backed; frame start holds the struct page of
   * pagePfn0. A full op replaces what was there (an all-zero one leaves no pattern); a partial op
   * composes with each pattern and fills the gaps between them (which read as zero) with the op over
   * zero words. False, changing nothing, when the op could take the table past PAT_MAX - PAT_HEADROOM
   * (the Wasm core's patRoom): the caller writes bytes instead, under the host budget.
   */
  patApply(start: number, end: number, pagePfn0: number, f: Fill): boolean {
    const st = this.strides;
    if (st.list.length !== 0 && st.coversAny(start, end)) {
      // stride coverage goes first: a full op just cuts it, a partial one composes with it as plain patterns
      const m = f.mask === FULL ? 0 : st.pieces(start, end);
      if (this.list.length + this.overlapping(start, end) + m + 3 > PAT_MAX - PAT_HEADROOM) return false;
      if (m === 0) st.cut(start, end);
      else {
        this.version++;
        for (const p of st.materialise(start, end)) this.list.splice(this.lowerBound(p.start), 0, { ...p, lo: p.lo.slice(), hi: p.hi.slice() });
      }
    } else if (this.list.length + this.overlapping(start, end) + 3 > PAT_MAX - PAT_HEADROOM) return false;
    if (f.mask === FULL) {
      if (f.selfMask === 0 && isZero(f.lo) && isZero(f.hi)) this.clear(start, end);
      else this.patSet({ start, end, pagePfn0, lo: f.lo.slice(), hi: f.hi.slice(), selfMask: f.selfMask });
      return true;
    }
    const zero = new Uint32Array(8);
    const pieces: Pattern[] = [];
    const opSelf = f.selfMask & f.mask;
    let at = start;
    // compose the op with what covers [s, e); a piece left all zero is no pattern at all
    const compose = (s: number, e: number, lo: Uint32Array, hi: Uint32Array, self: number, oldPfn0: number): void => {
      const nlo = lo.slice();
      const nhi = hi.slice();
      for (let i = 0; i < 8; i++) {
        if ((f.mask >> i) & 1) {
          nlo[i] = f.lo[i];
          nhi[i] = f.hi[i];
        }
      }
      const nself = (self & ~f.mask) | opSelf;
      if (nself === 0 && isZero(nlo) && isZero(nhi)) {
        pieces.push({ start: s, end: e, pagePfn0: -1, lo: nlo, hi: nhi, selfMask: 0 });
        return;
      }
      // an op without self-relative words leaves surviving self words on the base they had
      const p0 = opSelf !== 0 || nself === 0 ? pagePfn0At(s) : oldPfn0;
      pieces.push({ start: s, end: e, pagePfn0: p0, lo: nlo, hi: nhi, selfMask: nself });
    };
    const pagePfn0At = (frame: number) => pagePfn0 + (frame - start) * 64;
    for (const p of this.patternsIn(start, end)) {
      if (p.start > at) compose(at, p.start, zero, zero, 0, pagePfn0At(at));
      compose(p.start, p.end, p.lo, p.hi, p.selfMask, p.pagePfn0);
      at = p.end;
    }
    if (at < end) compose(at, end, zero, zero, 0, pagePfn0At(at));
    for (const p of pieces) {
      if (p.pagePfn0 < 0) this.clear(p.start, p.end);
      else this.patSet(p);
    }
    return true;
  }

  /**
   * Make frame `pfn` (not backed, no pattern) a run table (assembly/pgtable.ts setRunTable): entry i =
   * phys + i * 2^entryShift + flags (flagsLo/flagsHi the halves of the flags, NX included). False when the pattern list has no room.
   */
  setRunTable(pfn: number, entryShift: number, phys: number, flagsLo: number, flagsHi: number, frames = 1): boolean {
    // as patApply: no room short of the headroom, and the caller writes the entries instead
    if (this.list.length + this.overlapping(pfn, pfn + frames) + 3 > PAT_MAX - PAT_HEADROOM) return false;
    const s = entryShift + 3;
    const step = 2 ** s;
    const low = phys % step;
    const lo = new Uint32Array(8);
    const hi = new Uint32Array(8);
    for (let i = 0; i < 8; i++) {
      // the low part stays below 2^(s+1): no carry into the high half for the shifts used (21 + 3)
      const v = low + i * 2 ** entryShift + flagsLo;
      lo[i] = v % 4294967296;
      hi[i] = (flagsHi + Math.floor(v / 4294967296)) >>> 0;
    }
    // `frames` consecutive tables of consecutive runs: one pattern
    this.patSet({ start: pfn, end: pfn + frames, pagePfn0: Math.floor(phys / step), lo, hi, selfMask: FULL, selfShift: s });
    return true;
  }

  /** Write the 1024 words of frame `pfn`, covered by stride record `r`, as it defines them. */
  synthStride(r: Stride, pfn: number, out: Uint32Array): void {
    const first = strideFrameP(r, pfn);
    for (let j = 0; j < 64; j++) writeStructPage(out, j * 16, r.lo, r.hi, r.selfMask, first + j, this.vmemmapLo, this.vmemmapHi);
  }

  /** Write the 1024 words of frame `pfn` as pattern `p` defines them. */
  synthFrame(p: Pattern, pfn: number, out: Uint32Array): void {
    const firstPage = p.pagePfn0 + (pfn - p.start) * 64;
    if (p.selfShift) return synthTable(p, firstPage, out);
    for (let j = 0; j < 64; j++) writeStructPage(out, j * 16, p.lo, p.hi, p.selfMask, firstPage + j, this.vmemmapLo, this.vmemmapHi);
  }
}

/** A table pattern's frame: word i of step j adds (firstPage + j) * 2^selfShift to its template word. */
function synthTable(p: Pattern, firstPage: number, out: Uint32Array): void {
  const scale = 2 ** p.selfShift!;
  for (let j = 0; j < 64; j++) {
    const term = (firstPage + j) * scale; // below 2^53: firstPage * scale is at most the phys of entry 0 (below 2^52), and 64 steps of 2^30 (hotplug.ts) add 2^36
    const tLo = term % 4294967296;
    const tHi = Math.floor(term / 4294967296);
    for (let i = 0; i < 8; i++) {
      const at = j * 16 + 2 * i;
      if ((p.selfMask >> i) & 1) {
        const l = p.lo[i] + tLo;
        out[at] = l >>> 0;
        out[at + 1] = (p.hi[i] + tHi + (l > 0xffffffff ? 1 : 0)) >>> 0;
      } else {
        out[at] = p.lo[i];
        out[at + 1] = p.hi[i];
      }
    }
  }
}

/**
 * Does a pattern starting at struct page pagePfn0 continue `a` (assembly/patterns.ts patMergeable)? Without
 * self-relative words every frame reads the same whatever its pfns, so any does.
 */
function follows(a: Pattern, pagePfn0: number): boolean {
  return a.selfMask === 0 || a.pagePfn0 + (a.end - a.start) * 64 === pagePfn0;
}

function samePattern(a: Pattern, b: Pattern): boolean {
  if (a.selfMask !== b.selfMask || (a.selfShift ?? 0) !== (b.selfShift ?? 0)) return false;
  for (let i = 0; i < 8; i++) if (a.lo[i] !== b.lo[i] || a.hi[i] !== b.hi[i]) return false;
  return true;
}

/** Write one struct page (16 u32 words at `at`) from a template; self-relative words add the page's VA. */
export function writeStructPage(
  out: Uint32Array,
  at: number,
  lo: Uint32Array,
  hi: Uint32Array,
  selfMask: number,
  pfn: number,
  vmLo: number,
  vmHi: number,
): void {
  // va(pfn) = vmemmap + 64 * pfn, as halves
  let vaLo = 0;
  let vaHi = 0;
  if (selfMask !== 0) {
    const off = pfn * 64;
    const offLo = off % 4294967296;
    const offHi = (off - offLo) / 4294967296;
    vaLo = (vmLo + offLo) >>> 0;
    vaHi = (vmHi + offHi + (vmLo + offLo > 0xffffffff ? 1 : 0)) >>> 0;
  }
  for (let i = 0; i < 8; i++) {
    if ((selfMask >> i) & 1) {
      const l = lo[i] + vaLo;
      out[at + 2 * i] = l >>> 0;
      out[at + 2 * i + 1] = (hi[i] + vaHi + (l > 0xffffffff ? 1 : 0)) >>> 0;
    } else {
      out[at + 2 * i] = lo[i];
      out[at + 2 * i + 1] = hi[i];
    }
  }
}
