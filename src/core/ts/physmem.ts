/**
 * Sparse physical memory (twin of assembly/physmem.ts): frames backed on first write, fill
 * patterns for struct page runs, zero elsewhere. 64-bit words are kept as lo/hi u32 halves.
 */
import { PAGE_SIZE, type Faults } from './util.ts';
import { FaultKind } from '../core.ts';

/** A run of frames holding struct pages of consecutive pfns, all built from one template. */
export interface Pattern {
  start: number;
  end: number;
  /** The pfn whose struct page sits at byte 0 of frame `start`. */
  pagePfn0: number;
  lo: Uint32Array; // 8 words, low halves
  hi: Uint32Array; // 8 words, high halves
  selfMask: number;
}

const BLOCK_SHIFT = 9;

export class PhysMem {
  private readonly frames = new Map<number, Uint32Array>();
  /** Backed frames per 2 MiB block, so discarding a range skips empty blocks. */
  private readonly blockCounts = new Map<number, number>();
  readonly patterns: Pattern[] = [];
  private readonly limitFrames: number;

  constructor(
    hostMemoryLimit: number,
    /** VMEMMAP_START as lo/hi halves, for self-relative pattern words. */
    readonly vmemmapLo: number,
    readonly vmemmapHi: number,
    private readonly faults: Faults,
  ) {
    this.limitFrames = Math.floor(hostMemoryLimit / PAGE_SIZE);
  }

  backedFrames(): number {
    return this.frames.size;
  }

  isBacked(pfn: number): boolean {
    return this.frames.has(pfn);
  }

  /** The frame's words if backed (callers must not keep it across a discard). */
  peek(pfn: number): Uint32Array | undefined {
    return this.frames.get(pfn);
  }

  /** Room for n more backed frames under the budget (and no Backing fault armed to fire). */
  canBack(n: number): boolean {
    return this.frames.size + n <= this.limitFrames;
  }

  /** Back a frame (copying its pattern content); null when the budget is exhausted. */
  back(pfn: number): Uint32Array | null {
    const have = this.frames.get(pfn);
    if (have) return have;
    if (this.frames.size >= this.limitFrames || this.faults.fire(FaultKind.Backing)) return null;
    const words = new Uint32Array(PAGE_SIZE / 4);
    const p = this.findPattern(pfn);
    if (p) this.synthFrame(p, pfn, words);
    this.frames.set(pfn, words);
    const b = pfn >>> 0 === pfn ? pfn >>> BLOCK_SHIFT : Math.floor(pfn / 512);
    this.blockCounts.set(b, (this.blockCounts.get(b) ?? 0) + 1);
    return words;
  }

  /** Read a 32-bit word of physical memory (word index within the frame). */
  readWord(pfn: number, index: number): number {
    const f = this.frames.get(pfn);
    if (f) return f[index];
    const p = this.findPattern(pfn);
    if (!p) return 0;
    const tmp = new Uint32Array(PAGE_SIZE / 4);
    this.synthFrame(p, pfn, tmp);
    return tmp[index];
  }

  /** Copy a frame's current content into `out` (1024 words). */
  readFrame(pfn: number, out: Uint32Array): void {
    const f = this.frames.get(pfn);
    if (f) {
      out.set(f);
      return;
    }
    const p = this.findPattern(pfn);
    if (p) this.synthFrame(p, pfn, out);
    else out.fill(0);
  }

  /** Drop backing and patterns of frames [start, end): they read as zero. */
  discard(start: number, end: number): void {
    this.dropFrames(start, end);
    this.cutPatterns(start, end);
  }

  /** Drop backed frames in [start, end), visiting only blocks that hold some. */
  dropFrames(start: number, end: number): void {
    if (this.frames.size === 0) return;
    for (let b = Math.floor(start / 512); b * 512 < end; b++) {
      const n = this.blockCounts.get(b);
      if (!n) continue;
      const lo = Math.max(start, b * 512);
      const hi = Math.min(end, b * 512 + 512);
      let left = n;
      for (let pfn = lo; pfn < hi; pfn++) {
        if (this.frames.delete(pfn)) left--;
      }
      if (left === 0) this.blockCounts.delete(b);
      else this.blockCounts.set(b, left);
    }
  }

  /** True if any frame of [start, end) is backed. */
  anyBacked(start: number, end: number): boolean {
    if (this.frames.size === 0) return false;
    for (let b = Math.floor(start / 512); b * 512 < end; b++) {
      if (!this.blockCounts.get(b)) continue;
      const lo = Math.max(start, b * 512);
      const hi = Math.min(end, b * 512 + 512);
      for (let pfn = lo; pfn < hi; pfn++) if (this.frames.has(pfn)) return true;
    }
    return false;
  }

  // ---- fill patterns ----

  /** Index of the first pattern whose end is > pfn. */
  private lowerBound(pfn: number): number {
    const ps = this.patterns;
    let lo = 0;
    let hi = ps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ps[mid].end <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  findPattern(pfn: number): Pattern | undefined {
    if (this.patterns.length === 0) return undefined;
    const i = this.lowerBound(pfn);
    const p = this.patterns[i];
    return p && p.start <= pfn ? p : undefined;
  }

  /** Remove pattern coverage of [start, end), splitting patterns that straddle its ends. */
  cutPatterns(start: number, end: number): void {
    const ps = this.patterns;
    if (ps.length === 0) return;
    let i = this.lowerBound(start);
    const replaced: Pattern[] = [];
    let j = i;
    while (j < ps.length && ps[j].start < end) {
      const p = ps[j];
      if (p.start < start) replaced.push({ ...p, end: start });
      if (p.end > end) replaced.push({ ...p, start: end, pagePfn0: p.pagePfn0 + (end - p.start) * 64 });
      j++;
    }
    if (j > i) ps.splice(i, j - i, ...replaced);
  }

  /** The patterns overlapping [start, end), clipped to it (copies). */
  patternsIn(start: number, end: number): Pattern[] {
    const out: Pattern[] = [];
    const ps = this.patterns;
    for (let i = this.lowerBound(start); i < ps.length && ps[i].start < end; i++) {
      const p = ps[i];
      const s = Math.max(p.start, start);
      out.push({ ...p, start: s, end: Math.min(p.end, end), pagePfn0: p.pagePfn0 + (s - p.start) * 64 });
    }
    return out;
  }

  /** Install a pattern over frames that are not backed, replacing what covered them; merges neighbours. */
  setPattern(p: Pattern): void {
    this.cutPatterns(p.start, p.end);
    const ps = this.patterns;
    let i = this.lowerBound(p.start);
    const prev = ps[i - 1];
    if (prev && prev.end === p.start && samePattern(prev, p) && prev.pagePfn0 + (prev.end - prev.start) * 64 === p.pagePfn0) {
      prev.end = p.end;
      const next = ps[i];
      if (next && next.start === prev.end && samePattern(prev, next) && prev.pagePfn0 + (prev.end - prev.start) * 64 === next.pagePfn0) {
        prev.end = next.end;
        ps.splice(i, 1);
      }
      return;
    }
    const next = ps[i];
    if (next && next.start === p.end && samePattern(p, next) && p.pagePfn0 + (p.end - p.start) * 64 === next.pagePfn0) {
      next.start = p.start;
      next.pagePfn0 = p.pagePfn0;
      return;
    }
    ps.splice(i, 0, p);
  }

  /** Write the 1024 words of frame `pfn` as pattern `p` defines them. */
  synthFrame(p: Pattern, pfn: number, out: Uint32Array): void {
    const firstPage = p.pagePfn0 + (pfn - p.start) * 64;
    for (let j = 0; j < 64; j++) writeStructPage(out, j * 16, p.lo, p.hi, p.selfMask, firstPage + j, this.vmemmapLo, this.vmemmapHi);
  }
}

export function samePattern(a: Pattern, b: Pattern): boolean {
  if (a.selfMask !== b.selfMask) return false;
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

