/**
 * The DRAM check of a dax kmem hot-add: without memmap_on_memory, add_memory_resource's arch_add_memory
 * allocates the whole range's memmap from free DRAM before any block is online, and fails the hot-add
 * ("mapping%d: ... memory add failed", -ENOMEM) when it is not there; with it, each block holds its own.
 */
import { kmemHotAddCost, memmapOnMemoryPages } from '../dax/kmem.ts';
import { invalid, show } from '../kernel/errno.ts';
import { profileFor, type KernelName } from '../kernel/profile.ts';
import { parseSize } from '../nvdimm/units.ts';
import { checkKernel } from './configs.ts';

/** hotAddDram's answer, in bytes. */
export interface HotAddDram {
  kernel: KernelName;
  /** Memory blocks the range holds once trimmed to block boundaries (dax_kmem_range). */
  blocks: number;
  /** The block size used. */
  blockSize: number;
  /** Free DRAM the hot-add needs first without memmap_on_memory: the blocks' struct pages (page tables on top). */
  withoutMemmapOnMemory: number;
  /** With memmap_on_memory: the struct pages stay in the blocks, so no DRAM memmap; null where the blocks cannot hold it. */
  withMemmapOnMemory: number | null;
  /** With memmap_on_memory, the bytes each block gives up to its own memmap, all blocks together. */
  memmapOnMemoryGivenUp: number | null;
}

/**
 * How much free DRAM a dax kmem hot-add of `size` bytes starting at `start` (default: block-aligned) needs
 * on a kernel, with and without memmap_on_memory. A pmem devdax namespace's data starts after its info block:
 * pass that start to count the block lost at the head (12 GiB of map=dev at 0x100000000: 94 blocks, 188 MiB).
 */
export function hotAddDram(opts: { kernel?: KernelName; size: bigint | number | string; start?: bigint | number | string; blockSize?: bigint | number | string }): HotAddDram {
  if (typeof opts !== 'object' || opts === null) invalid('hotAddDram needs { size }');
  const kernel = opts.kernel ?? 'v6';
  checkKernel(kernel);
  const p = profileFor(kernel);
  if (!p.memmapOnMemory) invalid(`dax kmem is modelled for the v6 and v6.1 profiles, not ${kernel}`);
  const size = parseSize(opts.size, 'size');
  const start = opts.start === undefined ? 0n : parseSize(opts.start, 'start');
  const blockSize = opts.blockSize === undefined ? 128n << 20n : parseSize(opts.blockSize, 'blockSize');
  if (blockSize < 128n << 20n || blockSize > 2n << 30n || (blockSize & (blockSize - 1n)) !== 0n) invalid(`blockSize ${show(opts.blockSize)} is not a power of two from 128 MiB to 2 GiB`);
  if (size <= 0n) invalid(`size ${show(opts.size)} is not positive`);
  const off = kmemHotAddCost(p, blockSize, start, start + size, false);
  const on = kmemHotAddCost(p, blockSize, start, start + size, true);
  return {
    kernel,
    blocks: off.blocks,
    blockSize: Number(blockSize),
    withoutMemmapOnMemory: Number(off.dramMemmapBytes),
    withMemmapOnMemory: on.memmapOnMemory ? Number(on.dramMemmapBytes) : null,
    memmapOnMemoryGivenUp: on.memmapOnMemory ? off.blocks * memmapOnMemoryPages(blockSize, true) * 4096 : null,
  };
}
