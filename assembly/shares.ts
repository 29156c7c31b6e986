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
import { MAX_FRAME, SHARE_ROOT } from './layout';
import { countAdd, treeLeaf, treePrune } from './pool';

/** Shares held over all pfns (0: vmemmapFree skips the lookups). */
export let shareTotal: u64 = 0;

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
  const leaf = shareLeaf(pfn >> 10, false);
  return leaf == 0 ? 0 : load<u32>(leaf + ((<usize>pfn & 1023) << 2));
}

/** Drop n of pfn's shares at once (n shareDrop calls; the caller checked that it has n). */
export function shareDropMany(pfn: u64, n: u32): void {
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
