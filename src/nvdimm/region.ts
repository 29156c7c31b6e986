/**
 * A region's capacity attributes as the kernel computes them for `ndctl list -R` (drivers/nvdimm/dimm_devs.c,
 * region_devs.c, v6.12): available_size and max_available_extent in DPA space (offsets on each of the
 * interleave set's mappings), busy ranges rounded out and free ranges rounded in to dpa_align(); the
 * region's default align and what makes a valid interleave set.
 */
import { invalid, show } from '../kernel/errno.ts';

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

/**
 * nd_region_available_dpa and nd_region_allocatable_dpa (drivers/nvdimm/region_devs.c): each of the `ways` mappings
 * holds size / ways of the region and an equal share of every namespace; dpa_align() (dimm_devs.c) is the region's
 * align / ways. available_size sums the mappings, max_available_extent is the smallest mapping's extent x ways.
 */
export function regionCapacity(size: bigint, busy: readonly DpaRange[], align: bigint | null, ways = 1): RegionCapacity {
  if (!Number.isInteger(ways) || ways < 1) invalid(`interleave ways ${ways} must be a positive integer`);
  const w = BigInt(ways);
  const a = align ?? w;
  // dpa_align(): a region align that the mappings do not share evenly gives 0 (and a WARN): no capacity
  if (a % w !== 0n || size % w !== 0n) return { availableSize: 0n, maxAvailableExtent: 0n };
  // the mapping's share of each namespace: the namespace is interleaved across all of the set's DIMMs
  const share = busy.map((b) => ({ start: b.start / w, size: (b.start + b.size) / w - b.start / w }));
  const per = size / w;
  return { availableSize: availableDpa(per, share, a / w) * w, maxAvailableExtent: maxContiguousDpa(per, share, a / w) * w };
}

/** MEMREMAP_COMPAT_ALIGN_MAX (drivers/nvdimm/region_devs.c): 16 MiB, PowerPC's memremap_pages() alignment. */
export const MEMREMAP_COMPAT_ALIGN_MAX = 16n << 20n;

/** ND_MAX_MAPPINGS (include/linux/libnvdimm.h): acpi_nfit_register_region() refuses an interleave set of more DIMMs. */
export const ND_MAX_MAPPINGS = 32;

/**
 * default_align() in drivers/nvdimm/region_devs.c (6.1, 6.12): MEMREMAP_COMPAT_ALIGN_MAX, or PAGE_SIZE for a region
 * under it (since v5.18, d9d290d7; v5.7's first version had no such fallback), multiplied by the number of mappings
 * when it does not divide by them: 16 MiB for 1, 2, 4 or 8 DIMMs, 96 MiB for 6. spec/namespaces.md tests the
 * division on 16 MiB only; the kernel tests the align it chose, so a region under 16 MiB over 6 DIMMs gets 6 pages
 * (24 KiB), not 4 KiB: the kernel wins.
 */
export function defaultAlign(size: bigint, mappings: number): bigint {
  if (size < 0n) invalid(`region size ${size} is negative`);
  if (!Number.isInteger(mappings) || mappings < 0) invalid(`mappings ${mappings} must be a non-negative integer`);
  const align = size < MEMREMAP_COMPAT_ALIGN_MAX ? 4096n : MEMREMAP_COMPAT_ALIGN_MAX;
  // max_t(u16, 1, ndr_mappings): a region with no DIMM (the e820 bus) counts as one
  const m = BigInt(Math.max(1, mappings));
  return align % m === 0n ? align : align * m;
}

/**
 * What makes an interleave set the kernel builds (createMachine's interleaveWays): at most ND_MAX_MAPPINGS DIMMs
 * (acpi_nfit_register_region, "spa%d exceeds max mappings"), and each DIMM's share a whole number of pages
 * (nd_region_create: "mapping%d is not %ld aligned"). A given region align must split evenly over the DIMMs into a
 * power of two of at least PAGE_SIZE per DIMM (align_store). Regions are named by their index, in address order.
 */
export function checkInterleaveWays(ways: unknown, regionSizes: readonly bigint[], regionAlign?: bigint | null): number[] {
  if (!Array.isArray(ways)) invalid(`interleaveWays ${show(ways)} is not a list of DIMM counts, one per Persistent Memory region`);
  if (ways.length > regionSizes.length) invalid(`interleaveWays names ${ways.length} regions, the machine has ${regionSizes.length} Persistent Memory region${regionSizes.length === 1 ? '' : 's'}`);
  // one DIMM per region: the model's own rule for a given align (a power of two, or a multiple of 16 MiB)
  const a = regionAlign ?? null;
  if (a !== null && !ways.some((w) => w !== 1) && (a < 4096n || (a & (a - 1n)) !== 0n) && a % MEMREMAP_COMPAT_ALIGN_MAX !== 0n) invalid(`regionAlign ${a} is not a power of two nor a multiple of 16 MiB`);
  const out = ways.map((w: unknown, i: number) => {
    const what = `interleaveWays[${i}] (the region of ${regionSizes[i]} bytes, in address order)`;
    if (typeof w !== 'number' || !Number.isInteger(w) || w < 1) invalid(`${what}: ${show(w)} is not a positive integer`);
    if (w > ND_MAX_MAPPINGS) invalid(`${what}: ${w} DIMMs exceed ND_MAX_MAPPINGS (${ND_MAX_MAPPINGS})`);
    const grain = BigInt(w) * 4096n;
    if (regionSizes[i]! % grain !== 0n) invalid(`${what}: ${w} DIMMs do not split it into equal whole-page shares (needs a multiple of ${grain} bytes)`);
    return w;
  });
  // with interleave sets, a given align is what align_store would take on every region
  if (a !== null && out.some((w) => w !== 1)) {
    regionSizes.forEach((_, i) => {
      const w = BigInt(out[i] ?? 1);
      const per = a / w;
      if (a % w !== 0n || per < 4096n || (per & (per - 1n)) !== 0n) invalid(`interleaveWays[${i}] (the region of ${regionSizes[i]} bytes, in address order): regionAlign ${a} does not split over ${w} DIMM${w === 1n ? '' : 's'} into a power of two of at least 4096 bytes each (align_store)`);
    });
  }
  return out;
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
