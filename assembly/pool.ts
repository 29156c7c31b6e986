/**
 * The pool of 4 KiB slots above the DRAM allocator's metadata (layout.ts POOL): backed frames and the
 * nodes of the pool's 4-level trees, the frame index (physmem.ts) and the share counts (shares.ts).
 * Slots come from fresh (zero) memory, growing it as needed, or from a free list threaded through word 0
 * of each free slot; the pool ends where linear memory does (4 GiB).
 *
 * A tree of the pool: a root node at a fixed address -> L1 -> L2 -> leaf, 1024 u32 entries a node
 * (pfn bits 39..30, 29..20, 19..10, 9..0). An inner entry holds the child's slot + 1 (0 = absent);
 * NODE_COUNT counts the live entries of every non-root node, so that an emptied node goes back.
 */
import { MEMORY_LIMIT, NODE_COUNT } from './layout';
import { ensureMemory } from './state';

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

/** n contiguous fresh (zero) slots: the first slot + 1, or 0 when out of room. They go back one by one (slotFree). */
export function slotAllocRun(n: u32): u32 {
  if (n == 0 || <u64>poolTop + n > <u64>poolCap) return 0;
  if (!ensureMemory(<u64>poolBase + ((<u64>poolTop + n) << 12))) return 0;
  const first = poolTop + 1;
  poolTop += n;
  return first;
}

/**
 * A table of `bytes` at `old` (in `oldSlots` contiguous slots from slot oldSlot, none when oldSlots is 0)
 * moved into `n` fresh contiguous slots, the old ones freed: its new address, or 0 when out of room
 * (nothing changes). The growable tables (the allocator's ranges, the compound runs) double this way.
 */
export function slotsMove(old: usize, oldSlots: u32, bytes: usize, n: u32): usize {
  const t = slotAllocRun(n);
  if (t == 0) return 0;
  const a = slotAddr(t - 1);
  if (bytes != 0) memory.copy(a, old, bytes);
  const first = old != 0 ? <u32>((old - slotAddr(0)) >> 12) : 0;
  for (let j: u32 = 0; j < oldSlots; j++) slotFree(first + j);
  return a;
}

export function slotFree(slot: u32): void {
  store<u32>(slotAddr(slot), poolFreeHead);
  poolFreeHead = slot + 1;
  poolFreeCount++;
}

/** Slots that can still be handed out. */
export function poolAvailable(): u64 {
  return <u64>(poolCap - poolTop) + <u64>poolFreeCount;
}

// ---- the pool's trees ----
@inline
function nodeCountAt(node: usize): usize {
  return NODE_COUNT + (((node - poolBase) >> 12) << 1);
}

/** Live entries of a tree node (a pool slot), adjusted by delta; the new count. */
@inline
export function countAdd(node: usize, delta: i32): u32 {
  const at = nodeCountAt(node);
  const c = <u32>(<i32>load<u16>(at) + delta);
  store<u16>(at, <u16>c);
  return c;
}

/**
 * The leaf of the tree rooted at `root` for key (pfn bits 39..10 -> node), or 0. With `create`, missing
 * nodes come from the slot pool (0 when out of room).
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
