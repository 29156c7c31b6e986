/**
 * struct page initialisation through the vmemmap (twin of assembly/memmap.ts; the layout is drawn in
 * src/core/structPage.ts). An op sets some of the 8 words of every struct page in a pfn range. Whole
 * frames that are not backed get a fill pattern (O(1) per contiguous run); partial or backed frames get
 * bytes.
 */
import { ENOMEM } from '../core.ts';
import { LIST_POISON2, NODES_PGSHIFT, PG_RESERVED, ZONES_PGSHIFT } from '../structPage.ts';
import { FULL, writeStructPage, type Fill, type Patterns } from './patterns.ts';
import { STR_HEADROOM, STR_MAX, strideFrameP } from './strides.ts';
import { entryPfn, PMD_SIZE, PTE_PRESENT, PTE_PSE, PUD_SIZE, type PageTable } from './pgtable.ts';
import type { PhysMem } from './physmem.ts';
import type { Vmemmap } from './vmemmap.ts';

/** memmap_init_zone's lru = { self, self }: &page->lru = page + 32 (words 4 and 5, self-relative). */
const LRU_OFFSET = 32;

/** memmap_init_zone's op: zone, node, PG_reserved, _count 1, _mapcount -1, lru at itself. */
function initFill(zone: number, nid: number): Fill {
  const lo = new Uint32Array(8);
  const hi = new Uint32Array(8);
  lo[0] = 1 << Number(PG_RESERVED);
  hi[0] = ((nid << (Number(NODES_PGSHIFT) - 32)) | (zone << (Number(ZONES_PGSHIFT) - 32))) >>> 0;
  lo[3] = 0xffffffff; // _mapcount -1
  hi[3] = 1; // _count 1
  lo[4] = LRU_OFFSET;
  lo[5] = LRU_OFFSET;
  return { mask: FULL, lo, hi, selfMask: 0x30 };
}

function zeroFill(): Fill {
  return { mask: FULL, lo: new Uint32Array(8), hi: new Uint32Array(8), selfMask: 0 };
}

/** page->pgmap = pgmap; lru.prev = LIST_POISON2. */
function pgmapFill(pgmap: bigint): Fill {
  const lo = new Uint32Array(8);
  const hi = new Uint32Array(8);
  const u = BigInt.asUintN(64, pgmap);
  lo[4] = Number(u & 0xffffffffn);
  hi[4] = Number(u >> 32n);
  lo[5] = Number(LIST_POISON2 & 0xffffffffn);
  hi[5] = Number(LIST_POISON2 >> 32n);
  return { mask: 0x30, lo, hi, selfMask: 0 };
}

/** The Fill of a host-drawn op: words where mask has a bit, those in self plus the page's own vaddr. */
function opFill(words: readonly bigint[], mask: number, self: number): Fill {
  const lo = new Uint32Array(8);
  const hi = new Uint32Array(8);
  for (let w = 0; w < 8; w++) {
    const u = BigInt.asUintN(64, words[w] ?? 0n);
    lo[w] = Number(u & 0xffffffffn);
    hi[w] = Number(u >> 32n);
  }
  return { mask: mask & FULL, lo, hi, selfMask: self & mask & FULL };
}

export class Memmap {
  constructor(
    private readonly mem: PhysMem,
    private readonly patterns: Patterns,
    private readonly pt: PageTable,
    private readonly vmemmap: Vmemmap,
    private readonly eager: boolean,
    /** As the Wasm core's cfgDebug: the single steps always (no stride records). */
    private readonly debug = false,
  ) {}

  /** memset of the struct pages to zero (sparse_add_one_section). */
  memmapZero(startPfn: number, nrPages: number): number {
    return this.memmapApply(startPfn, nrPages, zeroFill());
  }

  /** memmap_init_zone: zone, node, PG_reserved, _count 1, _mapcount -1, lru pointing at itself. */
  memmapInit(startPfn: number, nrPages: number, zone: number, nid: number): number {
    return this.memmapApply(startPfn, nrPages, initFill(zone, nid));
  }

  /** Write the op the host drew: words where mask has a bit, those in self plus the page's own vaddr. */
  memmapWrite(startPfn: number, nrPages: number, words: readonly bigint[], mask: number, self: number): number {
    return this.memmapApply(startPfn, nrPages, opFill(words, mask, self));
  }

  /**
   * memmapWrite of [pfn, +min(count, end - pfn)) for pfn = start, start + step, ... below end (assembly/
   * memmap.ts memmapWriteEvery); a GiB of vmemmap held as a compound run in one fill.
   */
  memmapWriteEvery(start: number, end: number, step: number, count: number, words: readonly bigint[], mask: number, self: number): number {
    const f = opFill(words, mask, self);
    const runs = this.mem.runs.list.length !== 0 && !this.eager && f.selfMask === 0 && count * 64 === 8192;
    // whole frames a step, steps a whole number of frames apart: try one stride record for many steps
    const strided = !this.eager && !this.debug && !this.mem.faultsArmed() && count > 0 && count % 64 === 0 && step % 64 === 0 && start % 64 === 0 && count <= step && step < 2 ** 32;
    for (let pfn = start; pfn < end; pfn += step) {
      if (runs && this.vmemmap.va(pfn) % PUD_SIZE === 0 && end - pfn >= PUD_SIZE / 64 && this.writeRun(pfn, step, f)) {
        pfn += PUD_SIZE / 64 - step;
        continue;
      }
      if (strided && end - pfn >= count) {
        const n = this.writeStrided(pfn, end, step, count, f);
        if (n !== 0) {
          pfn += (n - 1) * step;
          continue;
        }
      }
      const r = this.memmapApply(pfn, Math.min(count, end - pfn), f);
      if (r < 0) return r;
    }
    return 0;
  }

  /**
   * memmapWriteEvery's steps over the GiB of vmemmap from pfn's struct page at once (assembly/memmap.ts
   * writeRun): a compound run of compound pages of `step` pfns, no frame of it backed, gets the op as one
   * pattern over its frames (its tables keep reading as tables). False when it does not apply.
   */
  private writeRun(pfn: number, step: number, f: Fill): boolean {
    const t = this.pt.findTable(this.vmemmap.va(pfn), this.pt.pmd);
    const r = t >= 0 ? this.mem.runs.find(t) : undefined;
    if (!r || r.base !== t || 2 ** r.csShift !== step * 64 || this.mem.anyBacked(r.base, r.base + r.frames)) return false;
    return this.patterns.patApply(r.base, r.base + r.frames, pfn, f);
  }

  /** First frame of pfn q's `count` struct pages when they are whole frames of one physically contiguous run, else -1 (assembly/memmap.ts stepFrame). */
  private stepFrame(q: number, count: number): number {
    const pt = this.pt;
    let va = this.vmemmap.va(q);
    const len = count * 64;
    const phys0 = pt.translate(va);
    if (phys0 < 0 || phys0 % 4096 !== 0) return -1;
    let done = pt.lastSize - (va % pt.lastSize);
    while (done < len) {
      va = this.vmemmap.va(q) + done;
      const phys = pt.translate(va);
      if (phys !== phys0 + done) return -1;
      done += pt.lastSize - (va % pt.lastSize);
    }
    return phys0 / 4096;
  }

  /** Frames [fa, fb) hold nothing an op would compose with or leave (assembly/memmap.ts framesClean). */
  private framesClean(fa: number, fb: number, step: number, full: boolean): boolean {
    if (this.mem.anyBacked(fa, fb) || this.patterns.anyIn(fa, fb)) return false;
    if (this.mem.runs.list.length !== 0 && this.mem.runs.overlapping(fa, fb).length !== 0) return false;
    const st = this.patterns.strides;
    if (st.list.length === 0) return true;
    // a full op may replace records of its own geometry
    return full ? !st.coversOther(fa, fb, fa, step, fb - fa) : !st.coversAny(fa, fb);
  }

  /**
   * memmapWriteEvery's steps from pfn p on at once while they are physically periodic (assembly/memmap.ts
   * writeStrided): one stride record for what the single steps would leave, a plain pattern each. Steps done, 0 for the single step.
   * The Wasm core first checks the whole span of the steps' frames at once; the twin checks step by step (the same answer).
   */
  private writeStrided(p: number, end: number, step: number, count: number, f: Fill): number {
    const width = count / 64;
    let f0 = 0;
    let n = 0;
    for (let q = p; q + count <= end; q += step) {
      const fr = this.stepFrame(q, count);
      if (fr < 0 || (n !== 0 && fr !== f0 + n * step) || !this.framesClean(fr, fr + width, step, f.mask === FULL)) break;
      if (n === 0) f0 = fr;
      n++;
    }
    if (n === 0) return 0;
    const st = this.patterns.strides;
    // a full op replaces the records of its geometry over its frames, as each single step's cut would;
    // only when the record is sure to follow (room for the cut's split and a record, not a lone step)
    const last = f0 + (n - 1) * step + width;
    if (f.mask === FULL && st.list.length !== 0 && st.coversAny(f0, last)) {
      if (n === 1 || st.list.length + 2 > STR_MAX - STR_HEADROOM) return 0;
      st.cutGeometry(f0, last, f0, step, width);
    }
    const lo = new Uint32Array(8);
    const hi = new Uint32Array(8);
    for (let w = 0; w < 8; w++) {
      if ((f.mask >> w) & 1) {
        lo[w] = f.lo[w];
        hi[w] = f.hi[w];
      }
    }
    const self = f.selfMask & f.mask;
    // an op that leaves zero leaves clean frames as they are
    if (self === 0 && lo.every((x) => x === 0) && hi.every((x) => x === 0)) return n;
    return this.patterns.strides.add(f0, step, width, n, p, step, lo, hi, self, n === 1) ? n : 0;
  }

  /** The F loop after arch_add_memory: page->pgmap = pgmap, lru.prev = LIST_POISON2. */
  memmapSetPgmap(startPfn: number, nrPages: number, pgmap: bigint): number {
    return this.memmapApply(startPfn, nrPages, pgmapFill(pgmap));
  }

  /** Apply an op to the struct pages of [startPfn, startPfn + nrPages) through the vmemmap. 0 or -ENOMEM. */
  private memmapApply(startPfn: number, nrPages: number, f: Fill): number {
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
    // a run table's first block (entry i maps it + 512 * i), or -1
    let run = -1;
    for (let va = vm.va(startPfn); va < end; ) {
      let phys = -1;
      let size = 4096;
      const g = Math.floor(va / PUD_SIZE);
      if (g !== gib) {
        gib = g;
        const t = pt.findTable(va, pt.pmd);
        run = t >= 0 ? pt.runTableFirstPfn(t) : -1;
        pmd = t >= 0 && run < 0 ? pt.mem.tableWords(t) : undefined;
      }
      const lo = pmd ? pmd[2 * pt.index(va, pt.pmd)] : 0;
      if (run >= 0) {
        // a run table's leaves are one physically contiguous run: to the end of its GiB in one step
        phys = (run + 512 * pt.index(va, pt.pmd)) * 4096 + (va % PMD_SIZE);
        size = PUD_SIZE;
      } else if (lo & PTE_PRESENT && lo & PTE_PSE) {
        phys = entryPfn(lo, pmd![2 * pt.index(va, pt.pmd) + 1]) * 4096 + (va % PMD_SIZE);
        size = PMD_SIZE;
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
    if (wholeStart >= wholeEnd) return this.fillPartial(phys, endByte, firstPfn, f);
    const pfnAt = (byte: number) => firstPfn + (byte - phys) / 64;
    if (phys % 4096) {
      const r = this.fillPartial(phys, wholeStart * 4096, firstPfn, f);
      if (r < 0) return r;
    }
    const r = this.fillFrames(wholeStart, wholeEnd, pfnAt(wholeStart * 4096), f);
    if (r < 0) return r;
    return endByte % 4096 ? this.fillPartial(wholeEnd * 4096, endByte, pfnAt(wholeEnd * 4096), f) : 0;
  }

  /** Whole frames: a backed frame gets bytes, a run of unbacked ones a fill pattern (bytes in eager mode). */
  private fillFrames(start: number, end: number, pagePfn0: number, f: Fill): number {
    if (this.eager) return this.fillFramesSlow(start, end, pagePfn0, f);
    if (!this.mem.anyBacked(start, end)) {
      return this.patterns.patApply(start, end, pagePfn0, f) ? 0 : this.fillFramesSlow(start, end, pagePfn0, f);
    }
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
      // past the pattern table's cap the run gets bytes, as the Wasm core's fillFrames
      if (!this.patterns.patApply(frame, runEnd, first, f)) {
        const r = this.fillFramesSlow(frame, runEnd, first, f);
        if (r < 0) return r;
      }
      frame = runEnd;
    }
    return 0;
  }

  /** Whole frames written as bytes, backing each. */
  private fillFramesSlow(start: number, end: number, pagePfn0: number, f: Fill): number {
    const fast = f.mask === FULL && (f.selfMask & 0xcf) === 0;
    for (let frame = start; frame < end; frame++) {
      const words = this.mem.frameForWrite(frame);
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
    const { vmemmapLo, vmemmapHi } = this.patterns;
    let vaLo = (vmemmapLo + offLo) % 4294967296;
    let vaHi = (vmemmapHi + (off - offLo) / 4294967296 + (vmemmapLo + offLo >= 4294967296 ? 1 : 0)) >>> 0;
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

  /** Struct pages in [from, to) bytes of physical memory (frames covered in part), each backed and written. */
  private fillPartial(from: number, to: number, firstPfnAtPhys: number, f: Fill): number {
    // firstPfnAtPhys is the pfn of the struct page at `from`
    for (let at = from; at < to; at += 64) {
      const frame = Math.floor(at / 4096);
      const words = this.mem.frameForWrite(frame);
      if (!words) return ENOMEM;
      this.writePage(words, (at % 4096) / 4, firstPfnAtPhys + (at - from) / 64, f);
    }
    return 0;
  }

  private readonly tmpLo = new Uint32Array(8);
  private readonly tmpHi = new Uint32Array(8);

  private writePage(words: Uint32Array, at: number, pfn: number, f: Fill): void {
    const pats = this.patterns;
    if (f.mask === FULL) {
      writeStructPage(words, at, f.lo, f.hi, f.selfMask, pfn, pats.vmemmapLo, pats.vmemmapHi);
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
    writeStructPage(full, 0, f.lo, f.hi, f.selfMask, pfn, pats.vmemmapLo, pats.vmemmapHi);
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
    const words = this.mem.frameWords(frame);
    if (words) {
      for (let i = 0; i < 8; i++) out[i] = (BigInt(words[at + 2 * i + 1]) << 32n) | BigInt(words[at + 2 * i]);
      return out;
    }
    const pats = this.patterns;
    const p = pats.patFind(frame);
    const st = p || pats.strides.list.length === 0 ? undefined : pats.strides.find(frame);
    if (!p && !st) return out;
    const tmp = new Uint32Array(16);
    if (p) writeStructPage(tmp, 0, p.lo, p.hi, p.selfMask, p.pagePfn0 + (frame - p.start) * 64 + at / 16, pats.vmemmapLo, pats.vmemmapHi);
    else writeStructPage(tmp, 0, st!.lo, st!.hi, st!.selfMask, strideFrameP(st!, frame) + at / 16, pats.vmemmapLo, pats.vmemmapHi);
    for (let i = 0; i < 8; i++) out[i] = (BigInt(tmp[2 * i + 1]) << 32n) | BigInt(tmp[2 * i]);
    return out;
  }

  /** The struct pages of [start, +count) into words (8 each, zero when unmapped) and mapped (1 when mapped). */
  readPages(start: number, count: number, words: BigUint64Array, mapped: Uint8Array): void {
    // the words as u32 halves (little-endian, as the frames hold them): no BigInt per word
    const out = new Uint32Array(words.buffer, words.byteOffset, 16 * count);
    const pats = this.patterns;
    for (let i = 0; i < count; i++) {
      const pfn = start + i;
      const phys = this.pt.translate(this.vmemmap.va(pfn));
      mapped[i] = phys < 0 ? 0 : 1;
      if (phys < 0) {
        out.fill(0, 16 * i, 16 * i + 16);
        continue;
      }
      const frame = Math.floor(phys / 4096);
      const at = (phys % 4096) / 4;
      const src = this.mem.frameWords(frame);
      if (src) {
        out.set(src.subarray(at, at + 16), 16 * i);
        continue;
      }
      const p = pats.patFind(frame);
      const st = p || pats.strides.list.length === 0 ? undefined : pats.strides.find(frame);
      if (p) writeStructPage(out, 16 * i, p.lo, p.hi, p.selfMask, p.pagePfn0 + (frame - p.start) * 64 + at / 16, pats.vmemmapLo, pats.vmemmapHi);
      else if (st) writeStructPage(out, 16 * i, st.lo, st.hi, st.selfMask, strideFrameP(st, frame) + at / 16, pats.vmemmapLo, pats.vmemmapHi);
      else out.fill(0, 16 * i, 16 * i + 16);
    }
  }
}
