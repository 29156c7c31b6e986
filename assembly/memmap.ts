/**
 * struct page initialisation through the vmemmap (docs/core.md "memmap"). The struct page layout is
 * drawn in src/core/structPage.ts; the constants below are its, and index.ts exports them so that
 * test/core/abi.test.ts holds the two to the same values.
 *
 * Each op walks the vmemmap of its pfns; per leaf, the frames it covers whole get the op as a fill
 * pattern when unbacked (bytes when backed, or always with eagerMemmap); frames covered only in part
 * are backed and written. Pages whose vmemmap is not mapped are skipped.
 */
import { ENOMEM } from './abi';
import { IO, RES, STR_HEADROOM, STR_MAX } from './layout';
import { opMask, opSelf, opWord, patAny, patApply, patFind, patWord, selfWordMask, setOp, setOpWord } from './patterns';
import { crBase, crCount, crCsShift, crFind, crFirstEndingAbove, crFrameCount } from './compoundrun';
import { findTable, leafTableStride, NO_TABLE, PMD_SIZE, PTE_PFN_MASK, PTE_PRESENT, PTE_PSE, translate, translateRun, trPhys, trRun, trSize, trTable } from './pgtable';
import { frameAddr, frameForWrite, nextBacked, physRead64 } from './physmem';
import { strAdd, strApart, strCount, strCovers, strCoversOther, strCutGeometry, strFind, strWord } from './strides';
import { cfgDebug, cfgEager, cfgVmemmapStart, faultsArmed } from './state';

export const STRUCT_PAGE_SIZE: u64 = 64;
export const NODES_PGSHIFT: u64 = 58;
export const ZONES_PGSHIFT: u64 = 55;
export const PG_RESERVED: u64 = 10;
/** LIST_POISON2 = 0x200 + POISON_POINTER_DELTA (x86-64). */
export const LIST_POISON2: u64 = 0xdead000000000200;
/** _mapcount -1 (low half), _count 1 (high half). */
const COUNT_WORD: u64 = 0x00000001_ffffffff;
/** memmap_init_zone's lru = { self, self }: &page->lru = page + 32. */
const LRU_OFFSET: u64 = 32;

/** Write the op into `count` struct pages at addr, the first being pfn P's. */
function writePages(addr: usize, P: u64, count: u32): void {
  const mask = opMask;
  const self = opSelf & mask;
  if (mask == 0xff && self == 0) {
    let zero = true;
    for (let w: u32 = 0; w < 8; w++) if (opWord(w) != 0) zero = false;
    if (zero) {
      memory.fill(addr, 0, <usize>count << 6);
      return;
    }
  }
  let va = cfgVmemmapStart + (P << 6);
  if (mask == 0xff) {
    // a whole struct page per step: four 16-byte stores, the self-relative words advanced by 64 each
    // time (memmap_init_zone's lru points at the page itself; which words depends on the layout)
    const m0 = selfWordMask(self, 0);
    const m1 = selfWordMask(self, 1);
    const m2 = selfWordMask(self, 2);
    const m3 = selfWordMask(self, 3);
    const m4 = selfWordMask(self, 4);
    const m5 = selfWordMask(self, 5);
    const m6 = selfWordMask(self, 6);
    const m7 = selfWordMask(self, 7);
    let a = i64x2.replace_lane(i64x2.splat(opWord(0) + (va & m0)), 1, opWord(1) + (va & m1));
    let b = i64x2.replace_lane(i64x2.splat(opWord(2) + (va & m2)), 1, opWord(3) + (va & m3));
    let c = i64x2.replace_lane(i64x2.splat(opWord(4) + (va & m4)), 1, opWord(5) + (va & m5));
    let e = i64x2.replace_lane(i64x2.splat(opWord(6) + (va & m6)), 1, opWord(7) + (va & m7));
    const sa = i64x2.replace_lane(i64x2.splat(<u64>64 & m0), 1, <u64>64 & m1);
    const sb = i64x2.replace_lane(i64x2.splat(<u64>64 & m2), 1, <u64>64 & m3);
    const sc = i64x2.replace_lane(i64x2.splat(<u64>64 & m4), 1, <u64>64 & m5);
    const se = i64x2.replace_lane(i64x2.splat(<u64>64 & m6), 1, <u64>64 & m7);
    const end = addr + (<usize>count << 6);
    for (let d = addr; d < end; d += 64) {
      v128.store(d, a);
      v128.store(d, b, 16);
      v128.store(d, c, 32);
      v128.store(d, e, 48);
      a = i64x2.add(a, sa);
      b = i64x2.add(b, sb);
      c = i64x2.add(c, sc);
      e = i64x2.add(e, se);
    }
    return;
  }
  if (mask == 0x30 && self == 0) {
    // memmapSetPgmap: page->pgmap and lru.prev, one 16-byte store per struct page
    const pg = i64x2.replace_lane(i64x2.splat(opWord(4)), 1, opWord(5));
    const end = addr + (<usize>count << 6);
    for (let d = addr; d < end; d += 64) v128.store(d, pg, 32);
    return;
  }
  for (let j: u32 = 0; j < count; j++) {
    const d = addr + (<usize>j << 6);
    for (let w: u32 = 0; w < 8; w++) {
      if ((mask >> w) & 1) store<u64>(d + (<usize>w << 3), opWord(w) + ((self >> w) & 1 ? va : 0));
    }
    va += 64;
  }
}

/** Struct pages [P, P + len/64) at phys [phys, phys + len) inside one frame: back it, write. */
function fillPartial(phys: u64, len: u64, P: u64): i32 {
  const a = frameForWrite(phys >> 12);
  if (a == 0) return ENOMEM;
  writePages(a + (<usize>phys & 4095), P, <u32>(len >> 6));
  return 0;
}

/** Whole frames [fa, fa + n) holding struct pages from P on. */
function fillFrames(fa: u64, n: u64, P: u64): i32 {
  const fb = fa + n;
  if (!cfgEager && patApply(fa, fb, P)) {
    // patterns lie under backed frames too; those get the bytes
    let f = nextBacked(fa, fb);
    while (f < fb) {
      writePages(frameAddr(f), P + ((f - fa) << 6), 64);
      f = nextBacked(f + 1, fb);
    }
    return 0;
  }
  for (let f = fa; f < fb; f++) {
    const a = frameForWrite(f);
    if (a == 0) return ENOMEM;
    writePages(a, P + ((f - fa) << 6), 64);
  }
  return 0;
}

/** Struct pages from P on at phys [phys, phys + len) (physically contiguous, 64-byte granular). */
function fillPhys(phys: u64, len: u64, P: u64): i32 {
  let r: i32 = 0;
  let head = (4096 - (phys & 4095)) & 4095;
  if (head > len) head = len;
  if (head != 0) {
    r = fillPartial(phys, head, P);
    if (r < 0) return r;
    phys += head;
    len -= head;
    P += head >> 6;
  }
  const frames = len >> 12;
  if (frames != 0) {
    r = fillFrames(phys >> 12, frames, P);
    if (r < 0) return r;
    phys += frames << 12;
    len -= frames << 12;
    P += frames << 6;
  }
  if (len != 0) r = fillPartial(phys, len, P);
  return r;
}

/** Apply the current op to the struct pages of pfns [p, p + n), leaf by leaf (run by run) through the vmemmap. */
function memmapApply(p: u64, n: u64): i32 {
  let va = cfgVmemmapStart + (p << 6);
  let left = n << 6;
  while (left != 0) {
    if (!translateRun(va)) {
      const skip = trSize - (va & (trSize - 1));
      if (skip >= left) break;
      va += skip;
      left -= skip;
      continue;
    }
    // a run table's leaves are one physically contiguous run: one fill for all of them
    let chunk = trRun;
    if (chunk > left) chunk = left;
    const r = fillPhys(trPhys, chunk, (va - cfgVmemmapStart) >> 6);
    if (r < 0) return r;
    va += chunk;
    left -= chunk;
  }
  return 0;
}

/** memset of the struct pages to zero (sparse_add_one_section). */
export function memmapZero(p: u64, n: u64): i32 {
  for (let w: u32 = 0; w < 8; w++) setOpWord(w, 0);
  setOp(0xff, 0);
  return memmapApply(p, n);
}

/** memmap_init_zone: zone, node, PG_reserved, _count 1, _mapcount -1, lru pointing at itself. */
export function memmapInit(p: u64, n: u64, zone: u32, nid: u32): i32 {
  setOpWord(0, (<u64>nid << NODES_PGSHIFT) | (<u64>zone << ZONES_PGSHIFT) | (<u64>1 << PG_RESERVED));
  setOpWord(1, 0);
  setOpWord(2, 0);
  setOpWord(3, COUNT_WORD);
  setOpWord(4, LRU_OFFSET);
  setOpWord(5, LRU_OFFSET);
  setOpWord(6, 0);
  setOpWord(7, 0);
  setOp(0xff, 0x30);
  return memmapApply(p, n);
}

/**
 * Write the op the host drew (its 8 words already at CTL_OP_WORDS, by memmapOpIo): the struct page
 * layouts of later eras are the host's (src/core/structPage.ts), the core only stores them.
 */
export function memmapWrite(p: u64, n: u64, mask: u32, self: u32): i32 {
  setOp(mask & 0xff, self & mask & 0xff);
  return memmapApply(p, n);
}

/**
 * memmapWrite of [pfn, +min(count, end - pfn)) for pfn = start, start + step, ... below end (the op's
 * words already at CTL_OP_WORDS), stopping at the first failure: one call for the head and first tail
 * pages of every compound page of a devmap that shares its vmemmap.
 */
export function memmapWriteEvery(start: u64, end: u64, step: u64, count: u64, mask: u32, self: u32): i32 {
  setOp(mask & 0xff, self & mask & 0xff);
  pteBlock = ~(<u64>0);
  // the compound pages of a GiB of vmemmap held as a compound run: their head and first-tail pages are
  // all the run's vmemmap pages, so (the op not self-relative) one fill over the run does them all
  const runs = crCount != 0 && !cfgEager && (self & mask) == 0 && count << 6 == 8192;
  // whole frames a step, steps a whole number of frames apart: try one stride record for many steps
  const strided = !cfgEager && !cfgDebug && !faultsArmed() && count != 0 && (count & 63) == 0 && (step & 63) == 0 && (start & 63) == 0 && count <= step && step < <u64>1 << 32;
  pmdGib = ~(<u64>0);
  for (let p = start; p < end; p += step) {
    if (runs && ((cfgVmemmapStart + (p << 6)) & (PUD_SIZE - 1)) == 0 && end - p >= PUD_SIZE >> 6) {
      if (writeRun(p, step)) {
        p += (PUD_SIZE >> 6) - step;
        continue;
      }
    }
    if (strided && end - p >= count) {
      const n = writeStrided(p, end, step, count);
      if (n != 0) {
        p += (n - 1) * step;
        continue;
      }
    }
    const r = memmapApplyCached(p, end - p < count ? end - p : count);
    if (r < 0) return r;
  }
  return 0;
}

const PUD_SIZE: u64 = 1 << 30;

/**
 * memmapWriteEvery's steps over the GiB of vmemmap from pfn p's struct page at once, when it is one
 * compound run of compound pages of `step` pfns no frame of which is backed: the op as one pattern over
 * the run's frames (its table frames keep reading as tables: a run wins over a pattern). 1 done, 0 when
 * it does not apply (or the pattern table is full: the single steps then write bytes where they must).
 */
function writeRun(p: u64, step: u64): bool {
  const pmd = findTable(cfgVmemmapStart + (p << 6), 21);
  if (pmd == NO_TABLE) return false;
  const i = crFind(pmd >> 12);
  if (i < 0) return false;
  const base = crBase(i);
  const end = base + crFrameCount(i);
  if (base != pmd >> 12 || <u64>1 << crCsShift(i) != step << 6 || nextBacked(base, end) < end) return false;
  return patApply(base, end, p);
}

/** stepFrame's PMD table: the GiB of vmemmap VA it maps (va >> 30; all ones = none), and its phys. */
let pmdGib: u64 = ~(<u64>0);
let pmdTable: u64 = 0;
const NO_FRAME: u64 = ~(<u64>0);

/** The leaf of va for stepFrame: true with leafPhys (phys of va) and leafLeft (bytes to the end of its run). */
let leafPhys: u64 = 0;
let leafLeft: u64 = 0;
function leafOf(va: u64): bool {
  if (va >> 30 == pmdGib) {
    // a 2 MiB leaf of the PMD table last seen: one entry read, not a walk (memmap ops change no table)
    const e = physRead64(pmdTable + (((va >> 21) & 511) << 3));
    if ((e & PTE_PRESENT) != 0 && (e & PTE_PSE) != 0) {
      leafPhys = (e & PTE_PFN_MASK & ~(PMD_SIZE - 1)) + (va & (PMD_SIZE - 1));
      leafLeft = PMD_SIZE - (va & (PMD_SIZE - 1));
      return true;
    }
  }
  if (!translateRun(va)) return false;
  leafPhys = trPhys;
  leafLeft = trRun;
  if (trSize == PMD_SIZE) {
    pmdGib = va >> 30;
    pmdTable = trTable;
  }
  return true;
}

/** First frame of pfn q's `count` struct pages when they are whole frames of one physically contiguous run, else NO_FRAME. */
function stepFrame(q: u64, count: u64): u64 {
  let va = cfgVmemmapStart + (q << 6);
  const len = count << 6;
  if (!leafOf(va)) return NO_FRAME;
  const phys0 = leafPhys;
  if ((phys0 & 4095) != 0) return NO_FRAME;
  let done = leafLeft;
  while (done < len) {
    va += leafLeft;
    if (!leafOf(va) || leafPhys != phys0 + done) return NO_FRAME;
    done += leafLeft;
  }
  return phys0 >> 12;
}

/** Does a compound run hold a frame of [fa, fb)? */
function runsIn(fa: u64, fb: u64): bool {
  if (crCount == 0) return false;
  const i = crFirstEndingAbove(fa);
  return i < crCount && crBase(<i32>i) < fb;
}

/**
 * Frames [fa, fb) hold nothing the op would compose with or leave: not backed, no compound run, no
 * pattern, no stride record; a full op may replace records of its own geometry (period `step`, width fb - fa, phase fa).
 */
function framesClean(fa: u64, fb: u64, step: u64): bool {
  if (nextBacked(fa, fb) < fb || patAny(fa, fb) || runsIn(fa, fb)) return false;
  if (strCount == 0) return true;
  return opMask == 0xff ? !strCoversOther(fa, fb, fa, step, fb - fa) : !strCovers(fa, fb);
}

/**
 * Steps from pfn q (one PMD entry each) whose struct pages the rest of q's vmemmap PMD table maps at
 * frame f, f + step, ...: the table a leaf table (pgtable.ts leafTableStride) whose entries lie `step`
 * frames apart and whose entry for q maps f. 0 when it is not such a table.
 */
function tableSteps(q: u64, end: u64, step: u64, count: u64, f: u64): u64 {
  const va = cfgVmemmapStart + (q << 6);
  const table = findTable(va, 21);
  if (table == NO_TABLE || <u64>1 << leafTableStride(table, 21) != step << 12) return 0;
  const i = (va >> 21) & 511;
  if ((((physRead64(table + (i << 3)) & PTE_PFN_MASK) + (va & (PMD_SIZE - 1))) >> 12) != f) return 0;
  const left = (end - q - count) / step + 1;
  return min<u64>(512 - i, left);
}

/**
 * memmapWriteEvery's steps from pfn p on at once while they are physically periodic (memmap_on_memory's
 * blocks, each with its memmap at its head): each step's struct pages are whole frames of one contiguous
 * run, step n's frames are step 0's + n * step, and none holds anything (framesClean; a full op may
 * replace a record of its own geometry). Then what the
 * single steps would leave, one plain pattern a step, is one stride record (strides.ts). Steps done; 0
 * takes the single step (a lone step joins a record only when it continues one).
 */
function writeStrided(p: u64, end: u64, step: u64, count: u64): u64 {
  const width = count >> 6;
  const f0 = stepFrame(p, count);
  if (f0 == NO_FRAME) return 0;
  // the frames of all the steps, should they be periodic, checked at once when nothing lies in their
  // span (the usual hot-add: fresh blocks), else step by step
  const spanEnd = f0 + ((end - p - count) / step) * step + width;
  const whole = nextBacked(f0, spanEnd) >= spanEnd && !patAny(f0, spanEnd) && !runsIn(f0, spanEnd) && (strCount == 0 || strApart(f0, spanEnd, f0, step, width, opMask == 0xff));
  let n: u64 = 0;
  // a step a PMD entry (memmap_on_memory's 128 MiB blocks): a vmemmap table pattern whose entries lie a
  // step apart maps the table's steps a step apart, checked at once
  const perEntry = whole && step << 6 == PMD_SIZE;
  for (let q = p; q + count <= end; q += step) {
    if (perEntry && n != 0) {
      const k = tableSteps(q, end, step, count, f0 + n * step);
      if (k != 0) {
        n += k;
        q += (k - 1) * step;
        continue;
      }
    }
    const f = n == 0 ? f0 : stepFrame(q, count);
    if (f != f0 + n * step || (!whole && !framesClean(f, f + width, step))) break;
    n++;
  }
  if (n == 0) return 0;
  // a full op replaces the records of its geometry over its frames, as each single step's cut would;
  // only when the record is sure to follow (room for the cut's split and a record, not a lone step)
  const last = f0 + (n - 1) * step + width;
  if (opMask == 0xff && strCount != 0 && strCovers(f0, last)) {
    if (n == 1 || strCount + 2 > STR_MAX - STR_HEADROOM) return 0;
    strCutGeometry(f0, last, f0, step, width);
  }
  // an op that leaves zero (all its words zero, none self-relative) leaves clean frames as they are
  let zero = (opSelf & opMask) == 0;
  for (let w: u32 = 0; w < 8; w++) if ((opMask >> w) & 1 && opWord(w) != 0) zero = false;
  if (zero) return n;
  return strAdd(f0, step, width, n, p, step, n == 1) ? n : 0;
}

/** memmapApplyCached's PTE table: the 2 MiB block of vmemmap VA it maps (va >> 21; all ones = none), and its phys. */
let pteBlock: u64 = ~(<u64>0);
let pteTable: u64 = 0;

/**
 * memmapApply for many small ranges in one call (memmapWriteEvery): the last PTE table found stays
 * known (memmap ops change no page table, so it holds for the call), and physically contiguous
 * 4 KiB leaves are filled in one go, as one fill of the same bytes.
 */
function memmapApplyCached(p: u64, n: u64): i32 {
  let va = cfgVmemmapStart + (p << 6);
  let left = n << 6;
  let runPhys: u64 = 0;
  let runLen: u64 = 0;
  let runP: u64 = 0;
  while (left != 0) {
    let phys: u64 = 0;
    let chunk: u64 = 0;
    let mapped = true;
    if (va >> 21 == pteBlock) {
      const e = physRead64(pteTable + (((va >> 12) & 511) << 3));
      chunk = 4096 - (va & 4095);
      if ((e & PTE_PRESENT) == 0) mapped = false;
      else phys = (e & PTE_PFN_MASK) + (va & 4095);
    } else if (translateRun(va)) {
      phys = trPhys;
      chunk = trRun;
      if (trSize == 4096) {
        pteBlock = va >> 21;
        pteTable = trTable;
      }
    } else {
      mapped = false;
      chunk = trSize - (va & (trSize - 1));
    }
    if (chunk > left) chunk = left;
    if (!mapped || runLen == 0 || phys != runPhys + runLen) {
      if (runLen != 0) {
        const r = fillPhys(runPhys, runLen, runP);
        if (r < 0) return r;
      }
      runLen = 0;
      if (mapped) {
        runPhys = phys;
        runP = (va - cfgVmemmapStart) >> 6;
      }
    }
    if (mapped) runLen += chunk;
    va += chunk;
    left -= chunk;
  }
  return runLen != 0 ? fillPhys(runPhys, runLen, runP) : 0;
}

/** Move the op's 8 words from IO to the op (the host's half of memmapWrite). */
export function memmapOpFromIo(): void {
  for (let w: u32 = 0; w < 8; w++) setOpWord(w, load<u64>(IO + (<usize>w << 3)));
}

/** The F loop after arch_add_memory: page->pgmap = pgmap, lru.prev = LIST_POISON2. */
export function memmapSetPgmap(p: u64, n: u64, pgmap: u64): i32 {
  setOpWord(4, pgmap);
  setOpWord(5, LIST_POISON2);
  setOp(0x30, 0);
  return memmapApply(p, n);
}

/**
 * vmemmapTranslate: n f64 pfns in IO, replaced in place by the physical address of each one's struct
 * page (the walk of va(pfn)), or -1 when it is not mapped.
 */
export function translateIo(n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const at = IO + (<usize>i << 3);
    const pfn = <u64><i64>load<f64>(at);
    store<f64>(at, translate(cfgVmemmapStart + (pfn << 6)) ? <f64>trPhys : -1);
  }
}

/** The 64 bytes of the struct page at phys (64-aligned: inside one frame) to out, as the CPU reads them: one frame lookup. */
function copyStructPage(phys: u64, out: usize): void {
  const frame = phys >> 12;
  const off = <u32>phys & 4095;
  const a = frameAddr(frame);
  if (a != 0) {
    memory.copy(out, a + off, 64);
    return;
  }
  const p = patFind(frame);
  if (p >= 0) {
    for (let w: u32 = 0; w < 8; w++) store<u64>(out + (<usize>w << 3), patWord(<u32>p, frame, off + (w << 3)));
    return;
  }
  const s = strCount != 0 ? strFind(frame) : -1;
  if (s < 0) memory.fill(out, 0, 64);
  else for (let w: u32 = 0; w < 8; w++) store<u64>(out + (<usize>w << 3), strWord(<u32>s, frame, off + (w << 3)));
}

/** The 8 words of pfn's struct page into RES; false when its vmemmap is not mapped. */
export function readPageToRes(pfn: u64): bool {
  if (!translate(cfgVmemmapStart + (pfn << 6))) return false;
  copyStructPage(trPhys, RES);
  return true;
}

/**
 * The struct pages of pfns [start, start + n) into IO (the host checks 65 * n <= IO size): 8 u64 words
 * each, zero when unmapped, then one byte per page, 1 when its vmemmap is mapped. One walk per leaf, one
 * frame lookup per frame (a struct page never straddles frames).
 */
export function readPagesIo(start: u64, n: u32): void {
  const flags = IO + (<usize>n << 6);
  let leafVa: u64 = 1; // no leaf yet (never a struct page address: those are 64-aligned)
  let leafEnd: u64 = 0;
  let leafPhys: u64 = 0;
  let frame: u64 = ~(<u64>0);
  let addr: usize = 0;
  let pat: i32 = -1;
  let str: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    const va = cfgVmemmapStart + ((start + i) << 6);
    const out = IO + (<usize>i << 6);
    if (!(va >= leafVa && va < leafEnd)) {
      if (!translate(va)) {
        memory.fill(out, 0, 64);
        store<u8>(flags + i, 0);
        continue;
      }
      leafVa = va & ~(trSize - 1);
      leafEnd = leafVa + trSize;
      leafPhys = trPhys - (va - leafVa);
    }
    const phys = leafPhys + (va - leafVa);
    store<u8>(flags + i, 1);
    if (phys >> 12 != frame) {
      frame = phys >> 12;
      addr = frameAddr(frame);
      pat = addr != 0 ? -1 : patFind(frame);
      str = addr != 0 || pat >= 0 || strCount == 0 ? -1 : strFind(frame);
    }
    const off = <u32>phys & 4095;
    if (addr != 0) memory.copy(out, addr + off, 64);
    else if (pat >= 0) for (let w: u32 = 0; w < 8; w++) store<u64>(out + (<usize>w << 3), patWord(<u32>pat, frame, off + (w << 3)));
    else if (str >= 0) for (let w: u32 = 0; w < 8; w++) store<u64>(out + (<usize>w << 3), strWord(<u32>str, frame, off + (w << 3)));
    else memory.fill(out, 0, 64);
  }
}
