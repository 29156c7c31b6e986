/**
 * A region's capacity attributes as the kernel computes them for `ndctl list -R` (drivers/nvdimm/dimm_devs.c,
 * region_devs.c, v6.12): available_size and max_available_extent in DPA space (offsets from the
 * region's start on its one mapping), busy ranges rounded out and free ranges rounded in to dpa_align().
 */
import { invalid } from '../kernel/errno.ts';

/** An allocated range of the region, as an offset from its start and a length, in bytes. */
export interface DpaRange {
  start: bigint;
  size: bigint;
}

/** What region_to_json() reads of a region's sysfs attributes. */
export interface RegionCapacity {
  /** available_size */
  availableSize: bigint;
  /** max_available_extent */
  maxAvailableExtent: bigint;
}

const alignDown = (v: bigint, a: bigint): bigint => v - (v % a);
const alignUp = (v: bigint, a: bigint): bigint => alignDown(v + a - 1n, a);

function checkArgs(size: bigint, busy: readonly DpaRange[], align: bigint): void {
  if (size < 0n) invalid(`region size ${size} is negative`);
  if (align < 1n) invalid(`region align ${align} must be >= 1`);
  for (const b of busy) if (b.start < 0n || b.size <= 0n || b.start + b.size > size) invalid(`busy range [${b.start}, +${b.size}] is outside the region of ${size} bytes`);
}

/** nd_pmem_available_dpa (drivers/nvdimm/dimm_devs.c): the mapping less its busy ranges (each rounded out to align), aligned down. */
export function availableDpa(size: bigint, busy: readonly DpaRange[], align: bigint): bigint {
  checkArgs(size, busy, align);
  let used = 0n;
  for (const b of busy) used += alignUp(b.start + b.size, align) - alignDown(b.start, align);
  return used >= size ? 0n : alignDown(size - used, align);
}

/** nd_pmem_max_contiguous_dpa (drivers/nvdimm/dimm_devs.c): the largest free range, trimmed in to align. */
export function maxContiguousDpa(size: bigint, busy: readonly DpaRange[], align: bigint): bigint {
  checkArgs(size, busy, align);
  const sorted = [...busy].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let max = 0n;
  let at = 0n;
  const gap = (from: bigint, to: bigint): void => {
    const s = alignUp(from, align);
    const e = alignDown(to, align);
    if (e > s && e - s > max) max = e - s;
  };
  for (const b of sorted) {
    gap(at, b.start);
    if (b.start + b.size > at) at = b.start + b.size;
  }
  gap(at, size);
  return max;
}

/** nd_region_available_dpa and nd_region_allocatable_dpa for a region of one mapping. */
export function regionCapacity(size: bigint, busy: readonly DpaRange[], align: bigint | null): RegionCapacity {
  const a = align ?? 1n;
  return { availableSize: availableDpa(size, busy, a), maxAvailableExtent: maxContiguousDpa(size, busy, a) };
}

/** One DIMM's line in an interleave set (struct nfit_set_info, drivers/acpi/nfit/core.c): its offset in the region and its serial. */
export interface IsetMap {
  regionOffset: bigint;
  /** The control region's serial_number, as the NFIT stores it (little-endian u32). */
  serial: number;
}

/** nd_fletcher64 (drivers/nvdimm/core.c) over 32-bit little-endian words: lo32 wraps at 2^32, the result is hi32 << 32 | lo32 in 64 bits. */
export function ndFletcher64(words: readonly number[]): bigint {
  let lo = 0n;
  let hi = 0n;
  for (const w of words) {
    if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) invalid(`fletcher64 word ${w} is not a u32`);
    lo = (lo + BigInt(w)) & 0xffffffffn;
    hi = (hi + lo) & ((1n << 64n) - 1n);
  }
  return ((hi << 32n) | lo) & ((1n << 64n) - 1n);
}

/**
 * acpi_nfit_init_interleave_set (drivers/acpi/nfit/core.c): cookie1, the set_cookie a region with v1.1 labels
 * shows (ndctl's iset_id): nd_fletcher64 over the nfit_set_info entries sorted by region_offset.
 */
export function isetCookie1(maps: readonly IsetMap[]): bigint {
  if (maps.length === 0) invalid('an interleave set needs at least one mapping');
  const sorted = [...maps].sort((a, b) => (a.regionOffset < b.regionOffset ? -1 : a.regionOffset > b.regionOffset ? 1 : 0));
  const words: number[] = [];
  for (const m of sorted) {
    if (m.regionOffset < 0n || m.regionOffset >= 1n << 64n) invalid(`region_offset ${m.regionOffset} is not a u64`);
    words.push(Number(m.regionOffset & 0xffffffffn), Number(m.regionOffset >> 32n), m.serial, 0);
  }
  return ndFletcher64(words);
}
