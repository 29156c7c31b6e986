/**
 * Sparse physical memory (docs/core.md "Physical memory").
 *
 * A 4 KiB frame is *backed* when it has its own slot in the pool (pool.ts); the frame index, a tree of
 * the pool rooted at RADIX_ROOT (layout.ts), maps pfn -> slot. An unbacked frame reads as the fill
 * pattern covering it (patterns.ts), else its strided one (strides.ts), or as zero. Backing copies the current content into the new slot
 * first and costs 4096 bytes of the host-memory budget.
 */
import { ENOMEM, FAULT_BACKING } from './abi';
import { IO, LEAF_CACHE, LEAF_CACHE_ENTRIES, MAX_FRAME, RADIX_ROOT, SCRATCH } from './layout';
import { crBase, crCount, crDelete, crEntry, crExplicit, crFind, crFirstEndingAbove, crFrameCount, crIsTable, crSynth, crTails, crTailShares } from './compoundrun';
import { patClear, patFind, patWord, synthFrame } from './patterns';
import { strCount, strFind, strSynth, strWord } from './strides';
import { shareImplicit, shareMakeRunExplicit } from './shares';
import { countAdd, poolAvailable, slotAddr, slotAlloc, slotFree, treeLeaf, treePrune } from './pool';
import { faultFires, hostFailure } from './state';

// ---- the frame index: root (pfn bits 39..30) -> L1 (29..20) -> L2 (19..10) -> leaf (9..0) -> slot + 1 ----
/** An entry of the leaf cache (LEAF_CACHE, direct-mapped by key): key + 1 (0 = empty) and the leaf's address. */
@unmanaged
class CachedLeaf {
  key: u64;
  leaf: u32;
  pad: u32;
}
if (offsetof<CachedLeaf>() != 16) ERROR('class CachedLeaf must be 16 bytes');

@inline
function cacheSlot(key: u64): CachedLeaf {
  return changetype<CachedLeaf>(LEAF_CACHE + ((<usize>key & (LEAF_CACHE_ENTRIES - 1)) << 4));
}

/** The leaf node of frames [key << 10, +1024), or 0. With `create`, missing nodes are made (0 when out of room). */
function radixLeaf(key: u64, create: bool): usize {
  if (key >= MAX_FRAME >> 10) return 0;
  return treeLeaf(RADIX_ROOT, key, create);
}

/** Prune the frame index after a frame went, forgetting a cached leaf that no longer exists. */
function radixPrune(key: u64): void {
  if (key >= MAX_FRAME >> 10) return;
  if (treePrune(RADIX_ROOT, key)) {
    const c = cacheSlot(key);
    if (c.key == key + 1) c.key = 0;
  }
}

/** Address in linear memory of a backed frame's bytes, or 0 when the frame is not backed. */
@inline
export function frameAddr(frame: u64): usize {
  const key = frame >> 10;
  const c = cacheSlot(key);
  let leaf: usize;
  if (c.key == key + 1) {
    leaf = <usize>c.leaf;
  } else {
    leaf = radixLeaf(key, false);
    if (leaf == 0) return 0;
    c.key = key + 1;
    c.leaf = <u32>leaf;
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
    const lim = min<u64>(((f >> 10) + 1) << 10, end);
    while (f < lim) {
      if (load<u32>(leaf + ((<usize>f & 1023) << 2)) != 0) return f;
      f++;
    }
  }
  return end;
}

// ---- backing and the host-memory budget ----
export let backedFrames: u64 = 0;
let hostLimit: u64 = 0;

export function setHostLimit(bytes: u64): void {
  hostLimit = bytes;
}

/** Can n more frames be backed under the budget? */
export function hostRoom(n: u64): bool {
  return (backedFrames + n) << 12 <= hostLimit;
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
  synthUnbacked(frame, a);
  store<u32>(leaf + ((<usize>frame & 1023) << 2), s);
  countAdd(leaf, 1);
  backedFrames++;
  return a;
}

/** An unbacked frame's content as the CPU reads it, to dst: a compound run's table, else its fill pattern, else zero. */
function synthUnbacked(frame: u64, dst: usize): void {
  const r = crCount != 0 ? crFind(frame) : -1;
  if (r >= 0 && crIsTable(r, frame)) {
    crSynth(r, frame, dst);
    return;
  }
  const p = patFind(frame);
  if (p >= 0) {
    synthFrame(<u32>p, frame, dst);
    return;
  }
  const s = strCount != 0 ? strFind(frame) : -1;
  if (s >= 0) strSynth(<u32>s, frame, dst);
  else memory.fill(dst, 0, 4096);
}

/** Back an unbacked frame: the budget, then fault Backing (an attempt), then room. Address, or 0 (-ENOMEM). */
function backFrame(frame: u64): usize {
  const a = (backedFrames + 1) << 12 > hostLimit || faultFires(FAULT_BACKING) || frame >= MAX_FRAME ? <usize>0 : backFrameRaw(frame);
  if (a == 0) hostFailure();
  return a;
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

/**
 * Discard frames [fa, fb): drop their backing and any pattern over them; they read as zero again. A
 * compound run wholly inside goes with them; one partly inside is first dissolved (its tables backed as
 * they read, its shares made explicit), so that its other frames keep what they hold.
 */
export function discardFrames(fa: u64, fb: u64): void {
  if (crCount != 0) discardRuns(fa, fb);
  let f = nextBacked(fa, fb);
  while (f < fb) {
    unback(f);
    f = nextBacked(f + 1, fb);
  }
  patClear(fa, fb);
}

/** discardFrames' part for the compound runs over [fa, fb). */
function discardRuns(fa: u64, fb: u64): void {
  let i = crFirstEndingAbove(fa);
  while (i < crCount && crBase(<i32>i) < fb) {
    const base = crBase(<i32>i);
    const end = base + crFrameCount(<i32>i);
    if (base >= fa && end <= fb) {
      if (!crExplicit(<i32>i)) shareImplicit(-<i64>(crTails(<i32>i) * <u64>crTailShares(<i32>i)));
      crDelete(<i32>i);
      continue;
    }
    dissolveRun(<i32>i);
  }
}

/** Has a table frame of compound run i been backed (written) since the run was made? */
export function runTablesBacked(i: i32): bool {
  const end = crBase(i) + crFrameCount(i);
  let f = nextBacked(crBase(i), end);
  while (f < end) {
    if (crIsTable(i, f)) return true;
    f = nextBacked(f + 1, end);
  }
  return false;
}

/**
 * Turn compound run i into what it stands for: each table frame backed with its entries (no budget
 * check: the bytes were there all along), its tails' counts in the share tree; then forget it.
 */
export function dissolveRun(i: i32): void {
  const base = crBase(i);
  const end = base + crFrameCount(i);
  if (!crExplicit(i)) shareMakeRunExplicit(i);
  for (let f = base; f < end; f++) {
    if (crIsTable(i, f) && frameAddr(f) == 0) backFrameRaw(f);
  }
  crDelete(i);
}

// ---- reading and writing ----
/** The u64 at a physical address (8-aligned). */
export function physRead64(phys: u64): u64 {
  const frame = phys >> 12;
  const a = frameAddr(frame);
  if (a != 0) return load<u64>(a + (<usize>phys & 4095));
  if (crCount != 0) {
    const r = crFind(frame);
    if (r >= 0 && crIsTable(r, frame)) return crEntry(r, frame, (phys & 4095) >> 3);
  }
  const p = patFind(frame);
  if (p >= 0) return patWord(<u32>p, frame, <u32>phys & 4095);
  const s = strCount != 0 ? strFind(frame) : -1;
  return s >= 0 ? strWord(<u32>s, frame, <u32>phys & 4095) : 0;
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
  synthUnbacked(src, d);
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
    const r = a == 0 && crCount != 0 ? crFind(frame) : -1;
    if (a != 0) {
      memory.copy(dst, a + off, n);
    } else if (r >= 0 && crIsTable(r, frame)) {
      crSynth(r, frame, SCRATCH);
      memory.copy(dst, SCRATCH + off, n);
    } else {
      const p = patFind(frame);
      if (p >= 0 && n <= 512) {
        // a short read (a struct page or a few): only the words it covers, not the whole frame
        for (let w = off & ~7; w < off + n; w += 8) store<u64>(SCRATCH + w, patWord(<u32>p, frame, w));
        memory.copy(dst, SCRATCH + off, n);
      } else if (p >= 0) {
        synthFrame(<u32>p, frame, SCRATCH);
        memory.copy(dst, SCRATCH + off, n);
      } else {
        const s = strCount != 0 ? strFind(frame) : -1;
        if (s >= 0 && n <= 512) {
          for (let w = off & ~7; w < off + n; w += 8) store<u64>(SCRATCH + w, strWord(<u32>s, frame, w));
          memory.copy(dst, SCRATCH + off, n);
        } else if (s >= 0) {
          strSynth(<u32>s, frame, SCRATCH);
          memory.copy(dst, SCRATCH + off, n);
        } else {
          memory.fill(dst, 0, n);
        }
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
      if (f >= MAX_FRAME) return ENOMEM;
      need++;
    }
  }
  if (need == 0) return 0;
  if ((backedFrames + need) << 12 > hostLimit) return hostFull();
  for (let k: u64 = 0; k < need; k++) if (faultFires(FAULT_BACKING)) return hostFull();
  if (poolAvailable() < need + 3 * ((need >> 10) + 2)) return hostFull();
  for (let f = f0; f <= f1; f++) {
    if (frameAddr(f) == 0 && backFrameRaw(f) == 0) return ENOMEM; // not reached: room was checked
  }
  return 0;
}

/** -ENOMEM for a host-room failure, counted. */
function hostFull(): i32 {
  hostFailure();
  return ENOMEM;
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
