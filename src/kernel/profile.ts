/** Kernel profiles: which version of each behaviour a machine runs (kernel.md, opening section). */

export const KERNELS = ['v4.5', 'v4.5-rc1'] as const;
export type KernelName = (typeof KERNELS)[number];

export interface Profile {
  name: KernelName;
  /** PAGE_OFFSET, the direct map's base (4-level, no KASLR). */
  pageOffset: bigint;
  /** VMEMMAP_START (4-level). */
  vmemmapStart: bigint;
  /** 5f29a77: region_intersects on the section-aligned range. */
  mixedCheckAligned: boolean;
  /** eb7d78c9: the pgmap radix insert loop covers the aligned range. */
  radixInsertAligned: boolean;
  /** 5f29a77 fold-in: align_size from the end address (C rounds the size). */
  addSizeEndAligned: boolean;
  /** C: the release deletes the lookup before arch_remove_memory (the T33 crash). */
  releaseLookupFirst: boolean;
  /** F: page->pgmap set for every data page after arch_add_memory. */
  pgmapPageInit: boolean;
  /** d9cbe09 (S8): the pmem altmap's base_pfn rounded down to a section, the gap added to reserve. */
  pmemBaseSectionRounded: boolean;
}

const V45: Profile = {
  name: 'v4.5',
  pageOffset: 0xffff880000000000n,
  vmemmapStart: 0xffffea0000000000n,
  mixedCheckAligned: true,
  radixInsertAligned: true,
  addSizeEndAligned: true,
  releaseLookupFirst: false,
  pgmapPageInit: true,
  pmemBaseSectionRounded: true,
};

const PROFILES: Record<KernelName, Profile> = {
  'v4.5': V45,
  'v4.5-rc1': {
    ...V45,
    name: 'v4.5-rc1',
    mixedCheckAligned: false,
    radixInsertAligned: false,
    addSizeEndAligned: false,
    releaseLookupFirst: true,
    pgmapPageInit: false,
    pmemBaseSectionRounded: false,
  },
};

export function profileFor(name: string): Profile {
  const p = PROFILES[name as KernelName];
  if (!p) throw new RangeError(name);
  return p;
}
