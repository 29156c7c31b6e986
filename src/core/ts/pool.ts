/**
 * Where the twin keeps backed frames (as assembly/pool.ts, whose slots and frame index do the same in
 * linear memory): a map from pfn to the frame's 1024 u32 words, and a count of backed frames per 2 MiB
 * block, so that a walk over a range visits only the blocks that hold some.
 */
const BLOCK_SHIFT = 9;
const BLOCK = 1 << BLOCK_SHIFT;

const blockOf = (pfn: number) => (pfn >>> 0 === pfn ? pfn >>> BLOCK_SHIFT : Math.floor(pfn / BLOCK));

export class FramePool {
  /** pfn -> words; read it directly (hot paths), change it only through add and dropRange. */
  readonly frames = new Map<number, Uint32Array>();
  private readonly blockCounts = new Map<number, number>();

  /** A frame that was not backed gets its words. */
  add(pfn: number, words: Uint32Array): void {
    this.frames.set(pfn, words);
    const b = blockOf(pfn);
    this.blockCounts.set(b, (this.blockCounts.get(b) ?? 0) + 1);
  }

  /** Drop the backed frames of [start, end), visiting only blocks that hold some. */
  dropRange(start: number, end: number): void {
    if (this.frames.size === 0) return;
    for (let b = Math.floor(start / BLOCK); b * BLOCK < end; b++) {
      const n = this.blockCounts.get(b);
      if (!n) continue;
      const lo = Math.max(start, b * BLOCK);
      const hi = Math.min(end, b * BLOCK + BLOCK);
      let left = n;
      for (let pfn = lo; pfn < hi; pfn++) {
        if (this.frames.delete(pfn)) left--;
      }
      if (left === 0) this.blockCounts.delete(b);
      else this.blockCounts.set(b, left);
    }
  }

  /** True if any frame of [start, end) is backed. */
  anyIn(start: number, end: number): boolean {
    if (this.frames.size === 0) return false;
    for (let b = Math.floor(start / BLOCK); b * BLOCK < end; b++) {
      if (!this.blockCounts.get(b)) continue;
      const lo = Math.max(start, b * BLOCK);
      const hi = Math.min(end, b * BLOCK + BLOCK);
      for (let pfn = lo; pfn < hi; pfn++) if (this.frames.has(pfn)) return true;
    }
    return false;
  }
}
