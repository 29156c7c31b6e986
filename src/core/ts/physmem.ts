/**
 * Sparse physical memory (as assembly/physmem.ts; docs/core.md "Physical memory"): frames backed on first
 * write (pool.ts), fill patterns for struct page runs (patterns.ts, strides.ts), zero elsewhere. 64-bit words are
 * kept as lo/hi u32 halves.
 */
import { ENOMEM, FaultKind } from '../core.ts';
import type { CompoundRun, CompoundRuns } from './compoundrun.ts';
import type { Pattern, Patterns } from './patterns.ts';
import { FramePool } from './pool.ts';
import type { Shares } from './shares.ts';
import type { Faults } from './state.ts';

const PAGE_SIZE = 4096;

export class PhysMem {
  private readonly pool = new FramePool();
  /** The pool's map, held here so that the hot reads are one lookup. */
  private readonly frames = this.pool.frames;
  private readonly limitFrames: number;

  constructor(
    hostMemoryLimit: number,
    readonly patterns: Patterns,
    private readonly faults: Faults,
    readonly runs: CompoundRuns,
    private readonly shares: Shares,
  ) {
    this.limitFrames = Math.floor(hostMemoryLimit / PAGE_SIZE);
  }

  backedFrames(): number {
    return this.frames.size;
  }

  isBacked(pfn: number): boolean {
    return this.frames.has(pfn);
  }

  /** The words of a backed frame, or undefined (assembly: frameAddr). Callers must not keep it across a discard. */
  frameWords(pfn: number): Uint32Array | undefined {
    return this.frames.get(pfn);
  }

  /**
   * Tables synthesised for reading, by pfn, with the pattern they came from (assembly reads them word by
   * word): valid while the frame's pattern is the same record with the same words and position (patterns
   * are replaced, not rewritten, when what a frame holds changes), so memmap ops between reads do not
   * throw them away.
   */
  private synth = new Map<number, { p: Pattern; first: number; lo: Uint32Array; hi: Uint32Array; w: Uint32Array }>();

  /**
   * A page table's words for reading: its backed frame, else its pattern's content (a run table,
   * pgtable.ts; as assembly's physRead64 reads any frame), else undefined (all zero). Callers must not write to it nor keep it across a change.
   */
  tableWords(pfn: number): Uint32Array | undefined {
    const f = this.frames.get(pfn);
    if (f) return f;
    const r = this.runTable(pfn);
    if (r) {
      const c = this.runSynth.get(pfn);
      if (c && c.r === r) return c.w;
      if (this.runSynth.size > 64) this.runSynth.clear();
      const w = new Uint32Array(PAGE_SIZE / 4);
      this.runs.synth(r, pfn, w);
      this.runSynth.set(pfn, { r, w });
      return w;
    }
    if (this.patterns.list.length === 0 && this.patterns.strides.list.length === 0) return f;
    const p = this.patterns.patFind(pfn);
    if (!p) return this.strideWords(pfn);
    const first = p.pagePfn0 + (pfn - p.start) * 64;
    const c = this.synth.get(pfn);
    if (c && c.p === p && c.first === first && c.lo === p.lo && c.hi === p.hi) return c.w;
    if (this.synth.size > 64) this.synth.clear();
    const w = new Uint32Array(PAGE_SIZE / 4);
    this.patterns.synthFrame(p, pfn, w);
    this.synth.set(pfn, { p, first, lo: p.lo, hi: p.hi, w });
    return w;
  }

  /** A stride-covered frame's words for reading (tableWords' last resort; not cached: no table lives there), or undefined. */
  private strideWords(pfn: number): Uint32Array | undefined {
    const st = this.patterns.strides;
    const r = st.list.length !== 0 ? st.find(pfn) : undefined;
    if (!r) return undefined;
    const w = new Uint32Array(PAGE_SIZE / 4);
    this.patterns.synthStride(r, pfn, w);
    return w;
  }

  /** Compound run tables drawn for reading, by pfn, with their run (a run's tables never change while it exists). */
  private runSynth = new Map<number, { r: CompoundRun; w: Uint32Array }>();

  /** The compound run whose table frame pfn is (not backed), or undefined. */
  private runTable(pfn: number): CompoundRun | undefined {
    if (this.runs.list.length === 0) return undefined;
    const r = this.runs.find(pfn);
    return r && this.runs.isTable(r, pfn) ? r : undefined;
  }

  /** Is frame pfn neither backed nor under a pattern (of either kind) nor in a compound run (a page fresh from the allocator)? */
  isBlank(pfn: number): boolean {
    const st = this.patterns.strides;
    return !this.frames.has(pfn) && !this.patterns.patFind(pfn) && !(this.runs.list.length !== 0 && this.runs.find(pfn)) && !(st.list.length !== 0 && st.find(pfn));
  }

  /** An unbacked frame's content as the CPU reads it, to out: a compound run's table, else its pattern, else zero. */
  private synthUnbacked(pfn: number, out: Uint32Array): void {
    const r = this.runTable(pfn);
    if (r) return this.runs.synth(r, pfn, out);
    const p = this.patterns.patFind(pfn);
    if (p) return this.patterns.synthFrame(p, pfn, out);
    const st = this.patterns.strides;
    const s = st.list.length !== 0 ? st.find(pfn) : undefined;
    if (s) this.patterns.synthStride(s, pfn, out);
    else out.fill(0);
  }

  /** Has a table frame of compound run r been backed (written) since it was made? */
  runTablesBacked(r: CompoundRun): boolean {
    if (!this.pool.anyIn(r.base, r.base + r.frames)) return false;
    for (let f = r.base; f < r.base + r.frames; f++) if (this.frames.has(f) && this.runs.isTable(r, f)) return true;
    return false;
  }

  /** Compound run r becomes what it stands for: its tables backed as they read (no budget check), its shares explicit; then it is forgotten. */
  dissolveRun(r: CompoundRun): void {
    if (!r.explicit) this.shares.makeRunExplicit(r);
    for (let f = r.base; f < r.base + r.frames; f++) {
      if (!this.runs.isTable(r, f) || this.frames.has(f)) continue;
      const w = new Uint32Array(PAGE_SIZE / 4);
      this.runs.synth(r, f, w);
      this.pool.add(f, w);
    }
    this.runs.delete(r);
  }

  /** Is any fault armed (assembly: faultsArmed)? */
  faultsArmed(): boolean {
    return this.faults.anyArmed();
  }

  /** Can n more frames be backed under the budget (assembly: hostRoom)? */
  hostRoom(n: number): boolean {
    return this.canBack(n);
  }

  /** Room for n more backed frames under the budget. */
  private canBack(n: number): boolean {
    return this.frames.size + n <= this.limitFrames;
  }

  /**
   * The frame's words for writing, backed first if needed (its pattern content copied in): the budget,
   * then fault Backing (an attempt). Null = -ENOMEM.
   */
  frameForWrite(pfn: number): Uint32Array | null {
    const have = this.frames.get(pfn);
    if (have) return have;
    if (this.frames.size >= this.limitFrames || this.faults.faultFires(FaultKind.Backing)) {
      this.faults.hostFailure();
      return null;
    }
    const words = new Uint32Array(PAGE_SIZE / 4);
    this.synthUnbacked(pfn, words);
    this.pool.add(pfn, words);
    return words;
  }

  /** Copy a frame's current content into `out` (1024 words): backed bytes, else its pattern, else zero. */
  readFrame(pfn: number, out: Uint32Array): void {
    const f = this.frames.get(pfn);
    if (f) {
      out.set(f);
      return;
    }
    this.synthUnbacked(pfn, out);
  }

  /**
   * Discard frames [start, end): drop their backing and any pattern over them; they read as zero. A
   * compound run wholly inside goes with them; one partly inside is dissolved first.
   */
  discardFrames(start: number, end: number): void {
    if (this.runs.list.length !== 0) {
      for (const r of this.runs.overlapping(start, end)) {
        if (r.base >= start && r.base + r.frames <= end) {
          if (!r.explicit) this.shares.shareImplicit(-this.runs.tails(r) * this.runs.tailShares(r));
          this.runs.delete(r);
        } else this.dissolveRun(r);
      }
    }
    this.pool.dropRange(start, end);
    this.patterns.patClear(start, end);
  }

  /** True if any frame of [start, end) is backed (assembly: nextBacked(start, end) < end). */
  anyBacked(start: number, end: number): boolean {
    return this.pool.anyIn(start, end);
  }

  /** readPhys: bytes as the CPU would read them. */
  physRead(phys: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const frame = new Uint32Array(1024);
    const bytes = new Uint8Array(frame.buffer);
    let done = 0;
    let addr = Number(phys);
    while (done < length) {
      const pfn = Math.floor(addr / 4096);
      const off = addr % 4096;
      const n = Math.min(4096 - off, length - done);
      this.readFrame(pfn, frame);
      out.set(bytes.subarray(off, off + n), done);
      done += n;
      addr += n;
    }
    return out;
  }

  /** writePhys: the budget for every frame it needs first, then backing (faults), then the bytes. 0 or -ENOMEM (nothing changes). */
  physWrite(phys: bigint, data: Uint8Array): number {
    const start = Number(phys);
    const first = Math.floor(start / 4096);
    const last = Math.floor((start + data.length - 1) / 4096);
    let need = 0;
    for (let pfn = first; pfn <= last && data.length > 0; pfn++) if (!this.isBacked(pfn)) need++;
    if (!this.canBack(need)) {
      this.faults.hostFailure();
      return ENOMEM;
    }
    const backed: number[] = [];
    for (let pfn = first; pfn <= last && data.length > 0; pfn++) {
      if (this.isBacked(pfn)) continue;
      if (!this.frameForWrite(pfn)) {
        // a Backing fault partway: nothing changes, not even which frames are backed
        for (const b of backed) this.pool.dropRange(b, b + 1);
        return ENOMEM;
      }
      backed.push(pfn);
    }
    for (let i = 0; i < data.length; ) {
      const addr = start + i;
      const pfn = Math.floor(addr / 4096);
      const off = addr % 4096;
      const n = Math.min(4096 - off, data.length - i);
      const words = this.frames.get(pfn)!;
      new Uint8Array(words.buffer, words.byteOffset, 4096).set(data.subarray(i, i + n), off);
      i += n;
    }
    return 0;
  }
}
