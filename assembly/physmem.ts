/**
 * Sparse physical memory (docs/core.md "Physical memory").
 *
 * A 4 KiB frame is *backed* when it has its own slot in the pool; the frame index (a radix tree,
 * layout.ts) maps pfn -> slot. An unbacked frame reads as the fill pattern covering it, or as zero.
 * Backing copies the current content into the new slot first and costs 4096 bytes of the budget.
 *
 * Fill patterns are kept in one array sorted by startPfn, never overlapping. A pattern may lie under a
 * backed frame (the frame's bytes win); discarding a frame drops both. Adjacent patterns with the same
 * words and a consistent pagePfn0 are merged on every change, so sequential memmap runs stay O(1).
 */
import {
  CTL_OP_WORDS,
  IO,
  LEAF_CACHE,
  LEAF_CACHE_ENTRIES,
  MAX_FRAME,
  MEMORY_LIMIT,
  NODE_COUNT,
  PATTERNS,
  PAT_HEADROOM,
  PAT_MAX,
  PAT_REC,
  RADIX_ROOT,
  SCRATCH,
} from './layout';
import { cfgVmemmapStart, ensureMemory, FAULT_BACKING, faultFires } from './state';

// =====================================================================================================
// Pool of 4 KiB slots (backed frames and frame-index nodes)
// =====================================================================================================
let poolBase: usize = 0;
/** Slots handed out from fresh (zero) memory so far. */
let poolTop: u32 = 0;
let poolCap: u32 = 0;
/** Free list through word 0 of each free slot: slot + 1, 0 = empty. */
let poolFreeHead: u32 = 0;
let poolFreeCount: u32 = 0;

export function poolInit(base: usize): void {
  poolBase = base;
  poolCap = <u32>((MEMORY_LIMIT - <u64>base) >> 12);
  poolTop = 0;
  poolFreeHead = 0;
  poolFreeCount = 0;
}

@inline
export function slotAddr(slot: u32): usize {
  return poolBase + (<usize>slot << 12);
}

/** A slot (returned as slot + 1, 0 when out of room). `zero`: its 4 KiB must read as zero. */
export function slotAlloc(zero: bool): u32 {
  if (poolFreeHead != 0) {
    const s = poolFreeHead - 1;
    const a = slotAddr(s);
    poolFreeHead = load<u32>(a);
    poolFreeCount--;
    if (zero) memory.fill(a, 0, 4096);
    return s + 1;
  }
  if (poolTop >= poolCap) return 0;
  if (!ensureMemory(<u64>poolBase + ((<u64>poolTop + 1) << 12))) return 0;
  poolTop++;
  return poolTop;
}

export function slotFree(slot: u32): void {
  store<u32>(slotAddr(slot), poolFreeHead);
  poolFreeHead = slot + 1;
  poolFreeCount++;
}

function poolAvailable(): u64 {
  return <u64>(poolCap - poolTop) + <u64>poolFreeCount;
}

// =====================================================================================================
// Frame index: root (pfn bits 39..30) -> L1 (29..20) -> L2 (19..10) -> leaf (9..0) -> slot + 1
// =====================================================================================================
@inline
export function nodeCountAt(node: usize): usize {
  return NODE_COUNT + (((node - poolBase) >> 12) << 1);
}

/** Live entries of a radix node (a pool slot), adjusted by delta; the new count. */
@inline
export function countAdd(node: usize, delta: i32): u32 {
  const at = nodeCountAt(node);
  const c = <u32>(<i32>load<u16>(at) + delta);
  store<u16>(at, <u16>c);
  return c;
}

@inline
function cacheSlot(key: u64): usize {
  return LEAF_CACHE + ((<usize>key & (LEAF_CACHE_ENTRIES - 1)) << 4);
}

/**
 * The leaf of a 4-level, 1024-way tree of 4 KiB nodes rooted at `root` (pfn bits 39..10 -> node), or 0.
 * With `create`, missing nodes come from the slot pool (0 when out of room). The frame index and the
 * share counts (shares.ts) are both such trees.
 */
export function treeLeaf(root: usize, key: u64, create: bool): usize {
  let node: usize = root;
  let sh: u32 = 20;
  while (true) {
    const at = node + ((<usize>(key >> sh) & 1023) << 2);
    let e = load<u32>(at);
    if (e == 0) {
      if (!create) return 0;
      e = slotAlloc(true);
      if (e == 0) return 0;
      store<u32>(at, e);
      if (node != root) countAdd(node, 1);
    }
    node = slotAddr(e - 1);
    if (sh == 0) return node;
    sh -= 10;
  }
  return 0;
}

/** The leaf node of frames [key << 10, +1024), or 0. With `create`, missing nodes are made (0 when out of room). */
function radixLeaf(key: u64, create: bool): usize {
  if (key >= MAX_FRAME >> 10) return 0;
  return treeLeaf(RADIX_ROOT, key, create);
}

/**
 * Free the empty nodes on the path of `key` in a tree made by treeLeaf, bottom-up (the root stays).
 * True when the leaf itself went (callers drop whatever they cached for it).
 */
export function treePrune(root: usize, key: u64): bool {
  const a0 = root + ((<usize>(key >> 20) & 1023) << 2);
  const e0 = load<u32>(a0);
  if (e0 == 0) return false;
  const n1 = slotAddr(e0 - 1);
  const a1 = n1 + ((<usize>(key >> 10) & 1023) << 2);
  const e1 = load<u32>(a1);
  let leafFreed = false;
  if (e1 != 0) {
    const n2 = slotAddr(e1 - 1);
    const a2 = n2 + ((<usize>key & 1023) << 2);
    const e2 = load<u32>(a2);
    if (e2 != 0 && load<u16>(nodeCountAt(slotAddr(e2 - 1))) == 0) {
      leafFreed = true;
      slotFree(e2 - 1);
      store<u32>(a2, 0);
      countAdd(n2, -1);
    }
    if (load<u16>(nodeCountAt(n2)) != 0) return leafFreed;
    slotFree(e1 - 1);
    store<u32>(a1, 0);
    countAdd(n1, -1);
  }
  if (load<u16>(nodeCountAt(n1)) != 0) return leafFreed;
  slotFree(e0 - 1);
  store<u32>(a0, 0);
  return leafFreed;
}

/** Prune the frame index after a frame went, forgetting a cached leaf that no longer exists. */
function radixPrune(key: u64): void {
  if (key >= MAX_FRAME >> 10) return;
  if (treePrune(RADIX_ROOT, key)) {
    const c = cacheSlot(key);
    if (load<u64>(c) == key + 1) store<u64>(c, 0);
  }
}

/** Address in linear memory of a backed frame's bytes, or 0 when the frame is not backed. */
@inline
export function frameAddr(frame: u64): usize {
  const key = frame >> 10;
  const c = cacheSlot(key);
  let leaf: usize;
  if (load<u64>(c) == key + 1) {
    leaf = <usize>load<u32>(c, 8);
  } else {
    leaf = radixLeaf(key, false);
    if (leaf == 0) return 0;
    store<u64>(c, key + 1);
    store<u32>(c, <u32>leaf, 8);
  }
  const e = load<u32>(leaf + ((<usize>frame & 1023) << 2));
  return e != 0 ? slotAddr(e - 1) : 0;
}

/** The lowest backed frame in [f, end), or end. Skips absent subtrees whole. */
export function nextBacked(f: u64, end: u64): u64 {
  while (f < end) {
    if (f >= MAX_FRAME) return end;
    const e0 = load<u32>(RADIX_ROOT + ((<usize>(f >> 30) & 1023) << 2));
    if (e0 == 0) {
      f = ((f >> 30) + 1) << 30;
      continue;
    }
    const e1 = load<u32>(slotAddr(e0 - 1) + ((<usize>(f >> 20) & 1023) << 2));
    if (e1 == 0) {
      f = ((f >> 20) + 1) << 20;
      continue;
    }
    const e2 = load<u32>(slotAddr(e1 - 1) + ((<usize>(f >> 10) & 1023) << 2));
    if (e2 == 0) {
      f = ((f >> 10) + 1) << 10;
      continue;
    }
    const leaf = slotAddr(e2 - 1);
    const lim = umin64((((f >> 10) + 1) << 10), end);
    while (f < lim) {
      if (load<u32>(leaf + ((<usize>f & 1023) << 2)) != 0) return f;
      f++;
    }
  }
  return end;
}

// =====================================================================================================
// Backing and the host-memory budget
// =====================================================================================================
export let backedFrames: u64 = 0;
let hostLimit: u64 = 0;

export function setHostLimit(bytes: u64): void {
  hostLimit = bytes;
}

/** Give an unbacked frame its own slot holding its current content; no budget or fault check. */
function backFrameRaw(frame: u64): usize {
  const key = frame >> 10;
  const leaf = radixLeaf(key, true);
  if (leaf == 0) {
    radixPrune(key);
    return 0;
  }
  const s = slotAlloc(false);
  if (s == 0) {
    radixPrune(key);
    return 0;
  }
  const a = slotAddr(s - 1);
  const p = patFind(frame);
  if (p >= 0) synthFrame(<u32>p, frame, a);
  else memory.fill(a, 0, 4096);
  store<u32>(leaf + ((<usize>frame & 1023) << 2), s);
  countAdd(leaf, 1);
  backedFrames++;
  return a;
}

/** Back an unbacked frame: the budget, then fault Backing (an attempt), then room. Address, or 0 (-ENOMEM). */
export function backFrame(frame: u64): usize {
  if ((backedFrames + 1) << 12 > hostLimit) return 0;
  if (faultFires(FAULT_BACKING)) return 0;
  if (frame >= MAX_FRAME) return 0;
  return backFrameRaw(frame);
}

/** The frame's bytes for writing: backed first if needed. 0 = -ENOMEM. */
@inline
export function frameForWrite(frame: u64): usize {
  const a = frameAddr(frame);
  return a != 0 ? a : backFrame(frame);
}

/** Drop a backed frame's slot; free frame-index nodes left empty. */
function unback(frame: u64): void {
  const key = frame >> 10;
  const leaf = radixLeaf(key, false);
  if (leaf == 0) return;
  const at = leaf + ((<usize>frame & 1023) << 2);
  const e = load<u32>(at);
  if (e == 0) return;
  store<u32>(at, 0);
  slotFree(e - 1);
  backedFrames--;
  if (countAdd(leaf, -1) == 0) radixPrune(key);
}

/** Discard frames [fa, fb): drop their backing and any pattern over them; they read as zero again. */
export function discardFrames(fa: u64, fb: u64): void {
  let f = nextBacked(fa, fb);
  while (f < fb) {
    unback(f);
    f = nextBacked(f + 1, fb);
  }
  patClear(fa, fb);
}

// =====================================================================================================
// Reading and writing
// =====================================================================================================
/** The u64 at a physical address (8-aligned). */
export function physRead64(phys: u64): u64 {
  const frame = phys >> 12;
  const a = frameAddr(frame);
  if (a != 0) return load<u64>(a + (<usize>phys & 4095));
  const p = patFind(frame);
  return p >= 0 ? patWord(<u32>p, frame, <u32>phys & 4095) : 0;
}

/** Store a u64 at a physical address (8-aligned), backing the frame if needed. False = -ENOMEM. */
export function physWrite64(phys: u64, v: u64): bool {
  const a = frameForWrite(phys >> 12);
  if (a == 0) return false;
  store<u64>(a + (<usize>phys & 4095), v);
  return true;
}

/**
 * Give frame `dst` a copy of frame `src`'s content as the CPU reads it (backed bytes, else its fill
 * pattern, else zero), as bytes: `dst` is backed first if needed (budget, Backing fault, room).
 * False = -ENOMEM, nothing copied.
 */
export function physCopyFrame(dst: u64, src: u64): bool {
  const d = frameForWrite(dst);
  if (d == 0) return false;
  const s = frameAddr(src);
  if (s != 0) {
    memory.copy(d, s, 4096);
    return true;
  }
  const p = patFind(src);
  if (p >= 0) synthFrame(<u32>p, src, d);
  else memory.fill(d, 0, 4096);
  return true;
}

/** Copy [phys, phys + len) as the CPU would read it into IO. */
export function physReadToIo(phys: u64, len: u32): void {
  let dst: usize = IO;
  let left = len;
  while (left != 0) {
    const frame = phys >> 12;
    const off = <u32>phys & 4095;
    const n = min<u32>(4096 - off, left);
    const a = frameAddr(frame);
    if (a != 0) {
      memory.copy(dst, a + off, n);
    } else {
      const p = patFind(frame);
      if (p >= 0) {
        synthFrame(<u32>p, frame, SCRATCH);
        memory.copy(dst, SCRATCH + off, n);
      } else {
        memory.fill(dst, 0, n);
      }
    }
    dst += n;
    phys += n;
    left -= n;
  }
}

/**
 * writePhys, first half: check the budget for every frame [phys, phys + len) needs, then the Backing
 * fault (one attempt per frame, ascending), then back them all, so that the copies that follow
 * (physWriteFromIo) cannot fail. 0 or -ENOMEM (nothing changed but an armed fault's count).
 */
export function physWritePrepare(phys: u64, len: u64): i32 {
  if (len == 0) return 0;
  const f0 = phys >> 12;
  const f1 = (phys + len - 1) >> 12;
  let need: u64 = 0;
  for (let f = f0; f <= f1; f++) {
    if (frameAddr(f) == 0) {
      if (f >= MAX_FRAME) return -12;
      need++;
    }
  }
  if (need == 0) return 0;
  if ((backedFrames + need) << 12 > hostLimit) return -12;
  for (let k: u64 = 0; k < need; k++) if (faultFires(FAULT_BACKING)) return -12;
  if (poolAvailable() < need + 3 * ((need >> 10) + 2)) return -12;
  for (let f = f0; f <= f1; f++) {
    if (frameAddr(f) == 0 && backFrameRaw(f) == 0) return -12; // not reached: room was checked
  }
  return 0;
}

/** writePhys, second half: copy len bytes from IO to [phys, +len), all frames already backed. */
export function physWriteFromIo(phys: u64, len: u32): void {
  let src: usize = IO;
  let left = len;
  while (left != 0) {
    const off = <u32>phys & 4095;
    const n = min<u32>(4096 - off, left);
    const a = frameAddr(phys >> 12);
    if (a != 0) memory.copy(a + off, src, n);
    src += n;
    phys += n;
    left -= n;
  }
}

// =====================================================================================================
// Fill patterns
//   record: +0 startPfn, +8 endPfn, +16 pagePfn0, +24 selfMask (u32), +32 words[8]
//   frame startPfn + k, byte 64*j + 8*i holds word i of the struct page of P = pagePfn0 + 64*k + j:
//   words[i] + ((selfMask >> i) & 1 ? vmemmapStart + 64*P : 0)
// =====================================================================================================
export let patCount: u32 = 0;

/** The memmap operation being applied (memmap.ts sets it): words at CTL_OP_WORDS, which words it writes, self-relative words. */
export let opMask: u32 = 0;
export let opSelf: u32 = 0;

export function setOp(mask: u32, self: u32): void {
  opMask = mask;
  opSelf = self;
}

@inline
function patAt(i: u32): usize {
  return PATTERNS + <usize>i * PAT_REC;
}
@inline
function patStart(i: u32): u64 {
  return load<u64>(patAt(i));
}
@inline
function patEnd(i: u32): u64 {
  return load<u64>(patAt(i), 8);
}

@inline
function umin64(a: u64, b: u64): u64 {
  return a < b ? a : b;
}

/** Index of the pattern covering frame f, or -1. */
export function patFind(f: u64): i32 {
  let lo: u32 = 0;
  let hi = patCount;
  if (hi == 0) return -1;
  // fast path: the last pattern (sequential runs append there)
  const last = hi - 1;
  if (patStart(last) <= f) return patEnd(last) > f ? <i32>last : -1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (patStart(mid) <= f) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  const i = lo - 1;
  return patEnd(i) > f ? <i32>i : -1;
}

/** First index whose end is above f (patterns are disjoint and sorted, so ends are sorted too). */
function patFirstEndAbove(f: u64): u32 {
  let lo: u32 = 0;
  let hi = patCount;
  if (hi == 0 || patEnd(hi - 1) <= f) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (patEnd(mid) <= f) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose start is at or above f. */
function patFirstStartFrom(f: u64): u32 {
  let lo: u32 = 0;
  let hi = patCount;
  if (hi == 0 || patStart(hi - 1) < f) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (patStart(mid) < f) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Word at byte offset `off` (8-aligned) of frame `frame` under pattern p. */
function patWord(p: u32, frame: u64, off: u32): u64 {
  const r = patAt(p);
  const w = (off >> 3) & 7;
  let v = load<u64>(r + 32 + (<usize>w << 3));
  if ((load<u32>(r, 24) >> w) & 1) {
    const P = load<u64>(r, 16) + ((frame - load<u64>(r)) << 6) + <u64>(off >> 6);
    v += cfgVmemmapStart + (P << 6);
  }
  return v;
}

/** Write the 4 KiB content of `frame` under pattern p to dst. */
function synthFrame(p: u32, frame: u64, dst: usize): void {
  const r = patAt(p);
  const self = load<u32>(r, 24);
  const w0 = load<u64>(r, 32);
  const w1 = load<u64>(r, 40);
  const w2 = load<u64>(r, 48);
  const w3 = load<u64>(r, 56);
  const w4 = load<u64>(r, 64);
  const w5 = load<u64>(r, 72);
  const w6 = load<u64>(r, 80);
  const w7 = load<u64>(r, 88);
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
  const m0 = <u64>0 - <u64>(self & 1);
  const m1 = <u64>0 - <u64>((self >> 1) & 1);
  const m2 = <u64>0 - <u64>((self >> 2) & 1);
  const m3 = <u64>0 - <u64>((self >> 3) & 1);
  const m4 = <u64>0 - <u64>((self >> 4) & 1);
  const m5 = <u64>0 - <u64>((self >> 5) & 1);
  const m6 = <u64>0 - <u64>((self >> 6) & 1);
  const m7 = <u64>0 - <u64>((self >> 7) & 1);
  let va = cfgVmemmapStart + ((load<u64>(r, 16) + ((frame - load<u64>(r)) << 6)) << 6);
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
    va += 64;
  }
}

/** Open a hole of n records at index i. */
function patInsert(i: u32, n: u32): void {
  const at = patAt(i);
  memory.copy(at + <usize>n * PAT_REC, at, <usize>(patCount - i) * PAT_REC);
  patCount += n;
}

/** Remove n records at index i. */
function patDelete(i: u32, n: u32): void {
  if (n == 0) return;
  const at = patAt(i);
  memory.copy(at, at + <usize>n * PAT_REC, <usize>(patCount - i - n) * PAT_REC);
  patCount -= n;
}

/** Split record i at frame f (start < f < end): [start, f) stays at i, [f, end) goes to i + 1. */
function patSplit(i: u32, f: u64): void {
  patInsert(i + 1, 1);
  const a = patAt(i);
  const b = patAt(i + 1);
  memory.copy(b, a, PAT_REC);
  const start = load<u64>(a);
  store<u64>(a, f, 8);
  store<u64>(b, f);
  store<u64>(b, load<u64>(a, 16) + ((f - start) << 6), 16);
}

/** Room for `more` records (memmap ops keep PAT_HEADROOM for discards). */
function patRoom(more: u32, forDiscard: bool): bool {
  const cap = forDiscard ? PAT_MAX : PAT_MAX - PAT_HEADROOM;
  if (<u64>patCount + <u64>more > <u64>cap) return false;
  return ensureMemory(<u64>PATTERNS + (<u64>patCount + more) * PAT_REC);
}

/**
 * Remove pattern coverage from frames [fa, fb). If even the headroom is used up (over a million
 * patterns), the patterns stay: a documented limit of the model, not reachable by sane runs.
 */
function patClear(fa: u64, fb: u64): void {
  let i = patFirstEndAbove(fa);
  if (i >= patCount || patStart(i) >= fb) return;
  if (!patRoom(2, true)) return;
  if (patStart(i) < fa) {
    patSplit(i, fa);
    i++;
  }
  const j = patFirstStartFrom(fb);
  if (j > i && patEnd(j - 1) > fb) patSplit(j - 1, fb);
  patDelete(i, j - i);
}

@inline
function patIsZero(r: usize): bool {
  return (
    load<u32>(r, 24) == 0 &&
    (load<u64>(r, 32) | load<u64>(r, 40) | load<u64>(r, 48) | load<u64>(r, 56) |
      load<u64>(r, 64) | load<u64>(r, 72) | load<u64>(r, 80) | load<u64>(r, 88)) == 0
  );
}

function patMergeable(a: u32, b: u32): bool {
  const ra = patAt(a);
  const rb = patAt(b);
  if (load<u64>(ra, 8) != load<u64>(rb)) return false;
  const self = load<u32>(ra, 24);
  if (self != load<u32>(rb, 24)) return false;
  for (let o: usize = 32; o < 96; o += 8) if (load<u64>(ra + o) != load<u64>(rb + o)) return false;
  if (self == 0) return true;
  return load<u64>(rb, 16) == load<u64>(ra, 16) + ((load<u64>(ra, 8) - load<u64>(ra)) << 6);
}

/** Merge neighbours among records lo..hi (inclusive), right to left. */
function patMergeAround(lo: u32, hi: u32): void {
  if (patCount < 2) return;
  if (hi > patCount - 1) hi = patCount - 1;
  for (let m = hi; m > lo; m--) {
    if (patMergeable(m - 1, m)) {
      store<u64>(patAt(m - 1), patEnd(m), 8);
      patDelete(m, 1);
    }
  }
}

/** Write a record at i: frames [s, e), pagePfn0 p0, words = op words under opMask, zero elsewhere. */
function patWriteOp(i: u32, s: u64, e: u64, p0: u64): void {
  const r = patAt(i);
  store<u64>(r, s);
  store<u64>(r, e, 8);
  store<u64>(r, p0, 16);
  store<u32>(r, opSelf & opMask, 24);
  store<u32>(r, 0, 28);
  for (let w: u32 = 0; w < 8; w++) {
    const v = (opMask >> w) & 1 ? load<u64>(CTL_OP_WORDS + (<usize>w << 3)) : 0;
    store<u64>(r + 32 + (<usize>w << 3), v);
  }
}

/** Compose the op into record i (its first frame holds struct page p0). */
function patComposeOp(i: u32, p0: u64): void {
  const r = patAt(i);
  for (let w: u32 = 0; w < 8; w++) {
    if ((opMask >> w) & 1) store<u64>(r + 32 + (<usize>w << 3), load<u64>(CTL_OP_WORDS + (<usize>w << 3)));
  }
  const self = (load<u32>(r, 24) & ~opMask) | (opSelf & opMask);
  // Partial ops carry no self-relative words (memmapSetPgmap), so a surviving self word keeps its base.
  if ((opSelf & opMask) != 0 || self == 0) store<u64>(r, p0, 16);
  store<u32>(r, self, 24);
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
  if (!patRoom(pieces + 3, false)) return false;
  if (i < patCount && patStart(i) < fa && patEnd(i) > fa) {
    patSplit(i, fa);
    i++;
    j++;
  }
  if (j > i && patEnd(j - 1) > fb) patSplit(j - 1, fb);

  // An op over zero words: is it zero everywhere it writes?
  let gapZero = (opSelf & opMask) == 0;
  if (gapZero) {
    for (let w: u32 = 0; w < 8; w++) {
      if ((opMask >> w) & 1 && load<u64>(CTL_OP_WORDS + (<usize>w << 3)) != 0) {
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
      if (k < stop && patStart(k) == c) {
        const e = patEnd(k);
        patComposeOp(k, p0 + ((c - fa) << 6));
        if (patIsZero(patAt(k))) {
          patDelete(k, 1);
          stop--;
        } else {
          k++;
        }
        c = e;
      } else {
        const ge = k < stop ? patStart(k) : fb;
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
