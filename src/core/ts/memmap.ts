/**
 * struct page initialisation through the vmemmap (twin of assembly/memmap.ts).
 * A fill sets some of the 8 words of every struct page in a pfn range. Whole frames that are
 * not backed get a fill pattern (O(1) per contiguous run); partial or backed frames get bytes.
 */
import { ENOMEM } from './util.ts';
import { writeStructPage, type Pattern, type PhysMem } from './physmem.ts';
import { entryPfn, PTE_PRESENT, PTE_PSE, SZ_1G, SZ_2M, type PageTable } from './pgtable.ts';
import type { Vmemmap } from './vmemmap.ts';

export const FULL = 0xff;

/** A fill: which words to set, their values (lo/hi halves) and which add the page's own VA. */
export interface Fill {
  mask: number;
  lo: Uint32Array;
  hi: Uint32Array;
  selfMask: number;
}

/** memmap_init_zone's template: zone, node, PG_reserved, _count 1, _mapcount -1, lru at itself. */
export function initFill(zone: number, nid: number): Fill {
  const lo = new Uint32Array(8);
  const hi = new Uint32Array(8);
  lo[0] = 1 << 10;
  hi[0] = ((nid << 26) | (zone << 23)) >>> 0;
  lo[3] = 0xffffffff;
  hi[3] = 1;
  lo[4] = 32;
  lo[5] = 32;
  return { mask: FULL, lo, hi, selfMask: 0x30 };
}

export function zeroFill(): Fill {
  return { mask: FULL, lo: new Uint32Array(8), hi: new Uint32Array(8), selfMask: 0 };
}

/** page->pgmap = pgmap; lru.prev = LIST_POISON2. */
export function pgmapFill(pgmapLo: number, pgmapHi: number): Fill {
  const lo = new Uint32Array(8);
  const hi = new Uint32Array(8);
  lo[4] = pgmapLo;
  hi[4] = pgmapHi;
  lo[5] = 0x200;
  hi[5] = 0xdead0000;
  return { mask: 0x30, lo, hi, selfMask: 0 };
}

export class Memmap {
  constructor(
    private readonly mem: PhysMem,
    private readonly pt: PageTable,
    private readonly vmemmap: Vmemmap,
    private readonly eager: boolean,
  ) {}

  /** Apply a fill to the struct pages of [startPfn, startPfn + nrPages). 0 or -ENOMEM. */
  fill(startPfn: number, nrPages: number, f: Fill): number {
    const vm = this.vmemmap;
    const pt = this.pt;
    const end = vm.va(startPfn + nrPages);
    // physically contiguous backing is filled in one go: an altmap's blocks usually are
    let runPhys = -1;
    let runLen = 0;
    let runPfn = 0;
    // the PMD table of the current 1 GiB of vmemmap, valid for this call only
    let gib = -1;
    let pmd: Uint32Array | undefined;
    for (let va = vm.va(startPfn); va < end; ) {
      let phys = -1;
      let size = 4096;
      const g = Math.floor(va / SZ_1G);
      if (g !== gib) {
        gib = g;
        const t = pt.findTable(va, pt.pmd);
        pmd = t >= 0 ? this.mem.peek(t) : undefined;
      }
      const lo = pmd ? pmd[2 * pt.index(va, pt.pmd)] : 0;
      if (lo & PTE_PRESENT && lo & PTE_PSE) {
        phys = entryPfn(lo, pmd![2 * pt.index(va, pt.pmd) + 1]) * 4096 + (va % SZ_2M);
        size = SZ_2M;
      } else {
        phys = pt.translate(va);
        size = phys < 0 ? 4096 : pt.lastSize;
      }
      const chunkEnd = Math.min(end, Math.floor(va / size) * size + size);
      if (phys >= 0 && runPhys >= 0 && phys === runPhys + runLen) runLen += chunkEnd - va;
      else {
        if (runPhys >= 0) {
          const r = this.fillPhys(runPhys, runLen, runPfn, f);
          if (r < 0) return r;
        }
        runPhys = phys;
        runLen = phys >= 0 ? chunkEnd - va : 0;
        runPfn = (va - vm.base) / 64;
      }
      va = chunkEnd;
    }
    return runPhys >= 0 ? this.fillPhys(runPhys, runLen, runPfn, f) : 0;
  }

  /** Fill struct pages stored at [phys, phys + len), the first being pfn `firstPfn`'s; ascending addresses. */
  private fillPhys(phys: number, len: number, firstPfn: number, f: Fill): number {
    const endByte = phys + len;
    const wholeStart = Math.ceil(phys / 4096);
    const wholeEnd = Math.floor(endByte / 4096);
    if (wholeStart >= wholeEnd) return this.writeBytes(phys, endByte, firstPfn, f);
    const pfnAt = (byte: number) => firstPfn + (byte - phys) / 64;
    if (phys % 4096) {
      const r = this.writeBytes(phys, wholeStart * 4096, firstPfn, f);
      if (r < 0) return r;
    }
    const r = this.fillFrames(wholeStart, wholeEnd, pfnAt(wholeStart * 4096), f);
    if (r < 0) return r;
    return endByte % 4096 ? this.writeBytes(wholeEnd * 4096, endByte, pfnAt(wholeEnd * 4096), f) : 0;
  }

  /** Whole frames: a backed frame gets bytes, a run of unbacked ones a fill pattern (bytes in eager mode). */
  private fillFrames(start: number, end: number, pagePfn0: number, f: Fill): number {
    if (this.eager) return this.fillFramesSlow(start, end, pagePfn0, f);
    if (!this.mem.anyBacked(start, end)) return this.fillPattern(start, end, pagePfn0, f);
    for (let frame = start; frame < end; ) {
      const first = pagePfn0 + (frame - start) * 64;
      if (this.mem.isBacked(frame)) {
        const r = this.fillFramesSlow(frame, frame + 1, first, f);
        if (r < 0) return r;
        frame++;
        continue;
      }
      let runEnd = frame + 1;
      while (runEnd < end && !this.mem.isBacked(runEnd)) runEnd++;
      const r = this.fillPattern(frame, runEnd, first, f);
      if (r < 0) return r;
      frame = runEnd;
    }
    return 0;
  }

  /** Whole unbacked frames: set or compose fill patterns. */
  private fillPattern(start: number, end: number, pagePfn0: number, f: Fill): number {
    const mem = this.mem;
    if (f.mask === FULL) {
      if (f.selfMask === 0 && f.lo.every((x) => x === 0) && f.hi.every((x) => x === 0)) mem.cutPatterns(start, end);
      else mem.setPattern({ start, end, pagePfn0, lo: f.lo.slice(), hi: f.hi.slice(), selfMask: f.selfMask });
      return 0;
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
      if (nself === 0 && nlo.every((x) => x === 0) && nhi.every((x) => x === 0)) {
        pieces.push({ start: s, end: e, pagePfn0: -1, lo: nlo, hi: nhi, selfMask: 0 });
        return;
      }
      // an op without self-relative words leaves surviving self words on the base they had
      const pagePfn0 = opSelf !== 0 || nself === 0 ? pagePfn0At(s) : oldPfn0;
      pieces.push({ start: s, end: e, pagePfn0, lo: nlo, hi: nhi, selfMask: nself });
    };
    const pagePfn0At = (frame: number) => pagePfn0 + (frame - start) * 64;
    for (const p of mem.patternsIn(start, end)) {
      if (p.start > at) compose(at, p.start, zero, zero, 0, pagePfn0At(at));
      compose(p.start, p.end, p.lo, p.hi, p.selfMask, p.pagePfn0);
      at = p.end;
    }
    if (at < end) compose(at, end, zero, zero, 0, pagePfn0At(at));
    for (const p of pieces) {
      if (p.pagePfn0 < 0) mem.cutPatterns(p.start, p.end);
      else mem.setPattern(p);
    }
    return 0;
  }

  /** Whole frames written as bytes, backing each. */
  private fillFramesSlow(start: number, end: number, pagePfn0: number, f: Fill): number {
    const fast = f.mask === FULL && (f.selfMask & 0xcf) === 0;
    for (let frame = start; frame < end; frame++) {
      const words = this.mem.back(frame);
      if (!words) return ENOMEM;
      const first = pagePfn0 + (frame - start) * 64;
      if (fast) this.writeFrameInit(words, first, f);
      else for (let j = 0; j < 64; j++) this.writePage(words, j * 16, first + j, f);
    }
    return 0;
  }

  /** 64 struct pages of the memmap_init_zone shape (only lru may point at the page itself), unrolled. */
  private writeFrameInit(words: Uint32Array, firstPfn: number, f: Fill): void {
    const { lo, hi } = f;
    const s4 = (f.selfMask >> 4) & 1;
    const s5 = (f.selfMask >> 5) & 1;
    const off = firstPfn * 64;
    const offLo = off % 4294967296;
    let vaLo = (this.mem.vmemmapLo + offLo) % 4294967296;
    let vaHi = (this.mem.vmemmapHi + (off - offLo) / 4294967296 + (this.mem.vmemmapLo + offLo >= 4294967296 ? 1 : 0)) >>> 0;
    const l0 = lo[0], h0 = hi[0], l1 = lo[1], h1 = hi[1], l2 = lo[2], h2 = hi[2], l3 = lo[3], h3 = hi[3];
    const l4 = lo[4], h4 = hi[4], l5 = lo[5], h5 = hi[5], l6 = lo[6], h6 = hi[6], l7 = lo[7], h7 = hi[7];
    for (let at = 0; at < 1024; at += 16) {
      words[at] = l0;
      words[at + 1] = h0;
      words[at + 2] = l1;
      words[at + 3] = h1;
      words[at + 4] = l2;
      words[at + 5] = h2;
      words[at + 6] = l3;
      words[at + 7] = h3;
      const a4 = l4 + vaLo * s4;
      words[at + 8] = a4;
      words[at + 9] = h4 + vaHi * s4 + (a4 > 0xffffffff ? 1 : 0);
      const a5 = l5 + vaLo * s5;
      words[at + 10] = a5;
      words[at + 11] = h5 + vaHi * s5 + (a5 > 0xffffffff ? 1 : 0);
      words[at + 12] = l6;
      words[at + 13] = h6;
      words[at + 14] = l7;
      words[at + 15] = h7;
      vaLo += 64;
      if (vaLo >= 4294967296) {
        vaLo -= 4294967296;
        vaHi = (vaHi + 1) >>> 0;
      }
    }
  }

  /** Struct pages in [from, to) bytes of physical memory, each backed and written. */
  private writeBytes(from: number, to: number, firstPfnAtPhys: number, f: Fill): number {
    // firstPfnAtPhys is the pfn of the struct page at `from`
    for (let at = from; at < to; at += 64) {
      const frame = Math.floor(at / 4096);
      const words = this.mem.back(frame);
      if (!words) return ENOMEM;
      this.writePage(words, (at % 4096) / 4, firstPfnAtPhys + (at - from) / 64, f);
    }
    return 0;
  }

  private readonly tmpLo = new Uint32Array(8);
  private readonly tmpHi = new Uint32Array(8);

  private writePage(words: Uint32Array, at: number, pfn: number, f: Fill): void {
    const mem = this.mem;
    if (f.mask === FULL) {
      writeStructPage(words, at, f.lo, f.hi, f.selfMask, pfn, mem.vmemmapLo, mem.vmemmapHi);
      return;
    }
    if ((f.selfMask & f.mask) === 0) {
      // no self-relative words in the op (memmapSetPgmap): store the masked words as they are
      for (let i = 0; i < 8; i++) {
        if ((f.mask >> i) & 1) {
          words[at + 2 * i] = f.lo[i];
          words[at + 2 * i + 1] = f.hi[i];
        }
      }
      return;
    }
    // compose with the words already there: only masked words change
    const lo = this.tmpLo;
    const hi = this.tmpHi;
    for (let i = 0; i < 8; i++) {
      lo[i] = words[at + 2 * i];
      hi[i] = words[at + 2 * i + 1];
    }
    const full = new Uint32Array(16);
    writeStructPage(full, 0, f.lo, f.hi, f.selfMask, pfn, mem.vmemmapLo, mem.vmemmapHi);
    for (let i = 0; i < 8; i++) {
      if ((f.mask >> i) & 1) {
        words[at + 2 * i] = full[2 * i];
        words[at + 2 * i + 1] = full[2 * i + 1];
      }
    }
  }

  /** The 8 words of pfn's struct page, or null when its vmemmap is not mapped. */
  readPage(pfn: number): BigUint64Array | null {
    const phys = this.pt.translate(this.vmemmap.va(pfn));
    if (phys < 0) return null;
    const frame = Math.floor(phys / 4096);
    const at = (phys % 4096) / 4;
    const out = new BigUint64Array(8);
    const words = this.mem.peek(frame);
    if (words) {
      for (let i = 0; i < 8; i++) out[i] = (BigInt(words[at + 2 * i + 1]) << 32n) | BigInt(words[at + 2 * i]);
      return out;
    }
    const p = this.mem.findPattern(frame);
    if (!p) return out;
    const tmp = new Uint32Array(16);
    writeStructPage(tmp, 0, p.lo, p.hi, p.selfMask, p.pagePfn0 + (frame - p.start) * 64 + at / 16, this.mem.vmemmapLo, this.mem.vmemmapHi);
    for (let i = 0; i < 8; i++) out[i] = (BigInt(tmp[2 * i + 1]) << 32n) | BigInt(tmp[2 * i]);
    return out;
  }
}

