/**
 * Share counts of vmemmap pages (docs/core.md "vmemmapPopulateCompound"): per pfn, how many extra
 * 4 KiB vmemmap mappings vmemmapPopulateCompound created by reusing it (the kernel's get_page on the
 * reused tail page), or vmemmapOptimizeHuge (hvo.ts) by remapping a HugeTLB page's vmemmap onto it.
 * vmemmapFree drops one share per such mapping and frees the page only with the last one
 * (put_page_testzero).
 *
 * Storage: a tree of the pool (pool.ts) shaped like the frame index: root at SHARE_ROOT (pfn bits 39..30)
 * -> L1 (29..20) -> L2 (19..10) -> leaf (9..0), one u32 count per pfn in the leaf. Nodes come from the
 * slot pool when a first share lands under them and go back when their last one is dropped, so the cost
 * is O(pages shared), nothing up front, at any machine size.
 */
import { crCount, crFind, crImplicitTail, crSetExplicit, crTail, crTails, crTailShares } from './compoundrun';
import { MAX_FRAME, SHARE_ROOT } from './layout';
import { countAdd, treeLeaf, treePrune } from './pool';
import { hostFailure } from './state';

/** Shares held over all pfns (0: vmemmapFree skips the lookups). */
export let shareTotal: u64 = 0;

/** A compound run's tails hold `n` shares implicitly (compoundrun.ts): counted here, as explicit ones are. */
export function shareImplicit(n: i64): void {
  shareTotal += <u64>n;
}

/**
 * Before pfn's count changes: when pfn is a tail of a compound run whose shares are implicit, move all of
 * that run's counts into the tree (room for every leaf first: it fails whole, counted as a host failure,
 * and the shares stay implicit). False only then.
 */
function shareMakeExplicit(pfn: u64): bool {
  if (crCount == 0) return true;
  const i = crFind(pfn);
  if (i < 0 || !crImplicitTail(i, pfn)) return true;
  return shareMakeRunExplicit(i);
}

/** Compound run i's implicit counts into the tree (see shareMakeExplicit). */
export function shareMakeRunExplicit(i: i32): bool {
  const n = crTails(i);
  const per = crTailShares(i);
  for (let k: u64 = 0; k < n; k++) {
    if (!shareReserve(crTail(i, k))) {
      for (let j: u64 = 0; j <= k; j++) shareUnreserve(crTail(i, j));
      hostFailure();
      return false;
    }
  }
  crSetExplicit(i, true);
  shareTotal -= n * <u64>per;
  for (let k: u64 = 0; k < n; k++) addCount(crTail(i, k), per);
  return true;
}

/** One-entry cache of the last leaf: key + 1 (0 = empty) and its address. */
let cacheKey: u64 = 0;
let cacheLeaf: usize = 0;

/** The leaf of pfns [key << 10, +1024), or 0. With `create`, missing nodes are made (0 when out of room). */
function shareLeaf(key: u64, create: bool): usize {
  if (cacheKey == key + 1) return cacheLeaf;
  const node = treeLeaf(SHARE_ROOT, key, create);
  if (node == 0) return 0;
  cacheKey = key + 1;
  cacheLeaf = node;
  return node;
}

/** Free the empty nodes on the path of `key`, bottom-up (the root stays). */
function sharePrune(key: u64): void {
  if (treePrune(SHARE_ROOT, key) && cacheKey == key + 1) cacheKey = 0;
}

/** One more share of pfn. False when there is no room for the count (-ENOMEM; nothing changes). */
export function shareAdd(pfn: u64): bool {
  return shareAddMany(pfn, 1);
}

/**
 * n more shares of pfn at once (n single shareAdd calls that all succeed). False, changing nothing, when
 * the count would overflow or there is no room for it: the caller makes the single calls.
 */
export function shareAddMany(pfn: u64, n: u32): bool {
  if (pfn >= MAX_FRAME || n == 0) return false;
  if (!shareMakeExplicit(pfn)) return false;
  return addCount(pfn, n);
}

/** n more shares in pfn's tree count (shareAddMany's work). */
function addCount(pfn: u64, n: u32): bool {
  const key = pfn >> 10;
  const leaf = shareLeaf(key, true);
  if (leaf == 0) {
    sharePrune(key);
    return false;
  }
  const at = leaf + ((<usize>pfn & 1023) << 2);
  const c = load<u32>(at);
  if (c > 0xffff_ffff - n) {
    if (c == 0) sharePrune(key);
    return false;
  }
  if (c == 0) countAdd(leaf, 1);
  store<u32>(at, c + n);
  shareTotal += n;
  return true;
}

/** Drop one share of pfn: true when it had one (the mapping goes, the page stays), false when it had none. */
export function shareDrop(pfn: u64): bool {
  if (shareTotal == 0 || pfn >= MAX_FRAME) return false;
  if (!shareMakeExplicit(pfn)) return true; // out of host room: the mapping's share stays (hostFailure counted)
  const key = pfn >> 10;
  const leaf = shareLeaf(key, false);
  if (leaf == 0) return false;
  const at = leaf + ((<usize>pfn & 1023) << 2);
  const c = load<u32>(at);
  if (c == 0) return false;
  store<u32>(at, c - 1);
  shareTotal--;
  if (c == 1 && countAdd(leaf, -1) == 0) sharePrune(key);
  return true;
}

/** pfn's share count (0 when it has none). */
export function shareCount(pfn: u64): u32 {
  if (shareTotal == 0 || pfn >= MAX_FRAME) return 0;
  if (crCount != 0) {
    const i = crFind(pfn);
    if (i >= 0 && crImplicitTail(i, pfn)) return crTailShares(i);
  }
  const leaf = shareLeaf(pfn >> 10, false);
  return leaf == 0 ? 0 : load<u32>(leaf + ((<usize>pfn & 1023) << 2));
}

/** Drop n of pfn's shares at once (n shareDrop calls; the caller checked that it has n). */
export function shareDropMany(pfn: u64, n: u32): void {
  if (!shareMakeExplicit(pfn)) return;
  const key = pfn >> 10;
  const leaf = shareLeaf(key, false);
  const at = leaf + ((<usize>pfn & 1023) << 2);
  const c = load<u32>(at);
  store<u32>(at, c - n);
  shareTotal -= n;
  if (c == n && countAdd(leaf, -1) == 0) sharePrune(key);
}

/**
 * Make room for pfn's count ahead of time (its tree path exists), so that the shareAdd calls that
 * follow cannot fail for lack of room (vmemmapOptimizeHuge reserves before it changes anything).
 * False when there is no room (nothing changes).
 */
export function shareReserve(pfn: u64): bool {
  if (pfn >= MAX_FRAME) return false;
  const key = pfn >> 10;
  if (shareLeaf(key, true) != 0) return true;
  sharePrune(key);
  return false;
}

/** Undo a reservation that ended up unused: free the nodes on pfn's path that hold no counts. */
export function shareUnreserve(pfn: u64): void {
  if (pfn < MAX_FRAME) sharePrune(pfn >> 10);
}
