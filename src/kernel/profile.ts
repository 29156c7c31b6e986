/**
 * Kernel profiles: which version of each behaviour a machine runs. `v4.5-rc1` and `v4.5` are fixed
 * by kernel.md's opening section; `v4.18` is v4.18.0, `v6` is v6.12 (kernel.md "M", namespaces.md),
 * `v6.1` is Debian 12's 6.1 (6.1.192), which differs from 6.12 where the recorded fixtures show it.
 */

export const KERNELS = ['v4.5', 'v4.5-rc1', 'v4.18', 'v6', 'v6.1'] as const;
/** A modelled kernel, one of {@link KERNELS}: v4.5, v4.5-rc1, v4.18, v6 (6.12) or v6.1 (each with the era's memremap, altmap and ndctl behaviour). */
export type KernelName = (typeof KERNELS)[number];

export interface Profile {
  name: KernelName;
  /** struct page's layout and flag bits (src/core/structPage.ts): v4.x keep v4.5's, 6.1 and 6.12 their own. */
  structPage: 'v4.5' | 'v6.1' | 'v6.12';
  /** The pfn info block's era (its version, layout and validation): 6.1 writes and checks what 6.12 does. */
  pfnEra: 'v4.5-rc1' | 'v4.5' | 'v4.18' | 'v6';
  /** The version string dmesg's banner prints. */
  release: string;
  /** PAGE_OFFSET with 4-level paging (no KASLR); 5-level uses 0xff11000000000000. */
  pageOffset: bigint;
  /** Whether `paging: 5` is offered (LA57). */
  la57: boolean;

  // ---- devm_memremap_pages / memremap_pages ----
  /** The lookup: 'section' (pgmap_radix keyed by section, v4.5) or 'pfn' (pfn ranges, v4.8+). */
  lookup: 'section' | 'pfn';
  /** 5f29a77: region_intersects on the section-aligned range (false: on the resource itself). */
  mixedCheckAligned: boolean;
  /** v5.3+: a range inside System RAM is refused (-ENXIO) instead of returning __va. */
  refuseRam: boolean;
  /** ~v4.18+: "Conflicting mapping in same section" when a pgmap already holds the first or last pfn. */
  conflictCheck: 'none' | 'aligned' | 'exact';
  /** eb7d78c9: the section-keyed insert covers the aligned range. */
  radixInsertAligned: boolean;
  /** 5f29a77 fold-in: the hot-add size from the end address (C rounds the size). */
  addSizeEndAligned: boolean;
  /** S13 (v4.16): the release removes the end-aligned size too. */
  releaseSizeEndAligned: boolean;
  /** C: the release deletes the lookup before arch_remove_memory (the T33 crash). */
  releaseLookupFirst: boolean;
  /** Hotplug granularity for device memory: whole sections, or 2 MiB sub-sections (v5.3+). */
  hotplug: 'section' | 'subsection';
  /** v4.16+: the altmap is passed down explicitly (no to_vmem_altmap lookups). */
  altmapExplicit: boolean;
  /** v5.8+: vmemmap base pages may come from the altmap. */
  basePagesUseAltmap: boolean;
  /** sparse_add_one_section zeroes the new memmap (gone in v5.3's sparse_add_section). */
  zeroMemmapOnAdd: boolean;
  /** Which pages memmap init touches (kernel.md §2.10): v4.5 per section (machine option), v4.16+ skips the reserve, v4.20+ defers device pages to memmap_init_zone_device. */
  memmapInit: 'v4.5' | 'v4.16' | 'v4.20';
  /** Where page->pgmap is set: none (C), base + offset .. end (F), res.start + offset .. end (v4.18), in memmap_init_zone_device (v4.20+). */
  pgmapInit: 'none' | 'base' | 'res' | 'zone-device';

  // ---- messages ----
  /** vmemmap fallback message: v4.5's pr_warn_once, or v4.15+'s warn_alloc on a failed block. */
  fallbackMessage: 'falling-back' | 'alloc-failure';
  /** The altmap_alloc_block_buf pr_debug also prints failures (C, F). */
  altmapDebugOnFailure: boolean;
  /** The release WARN: dev_WARN_ONCE with __func__ (v4.x) or a plain WARN_ONCE (M). */
  releaseWarn: 'dev' | 'plain';

  // ---- the pmem driver ----
  /** Device-dax namespaces exist (v4.7+). */
  devdax: boolean;
  /** ndctl's region align attribute (v5.7+), in bytes; null before. */
  regionAlign: bigint | null;
  /** v5.17+: device-dax pgmaps carry vmemmap_shift (compound devmaps). */
  compoundDevmaps: boolean;
  /** v5.13+: memmap_on_memory for hot-plugged System RAM (dax kmem). */
  memmapOnMemory: boolean;
  /** probe_memory_block_size()'s rule (src/kernel/memory.ts): 'ram-end' before v4.17, 'aligned-end' to v5.7, 'bare-metal' from v5.8. */
  memoryBlockProbe: MemoryBlockProbe;
  /**
   * v5.x+ dax_pmem: the namespace keeps only its metadata (nsio->size = offset) and device_dax's
   * dev_dax_probe requests the data range under the device's own name (drivers/dax/device.c), so
   * /proc/iomem shows namespaceX.Y and daxX.Y side by side (6.12 fixture ns-devdax-dev-1G).
   */
  daxOwnResource: boolean;
  /** /sys/devices/system/memory/auto_online_blocks at boot (memhp_default_state): Debian's 6.12 onlines, 6.1 does not. */
  autoOnlineBlocks: 'online' | 'offline';
  /** /sys/devices/system/memory/crash_hotplug (v6.6+). */
  crashHotplug: boolean;
  /** v6.6+: memory_hotplug.memmap_on_memory=force (a bool before: 6.1 reads "force" as false, fixture kmem-mom-force). */
  memmapOnMemoryForce: boolean;
  /**
   * Starting function_graph the first time splits a 2 MiB page of the direct map: ftrace_startup's dynamic
   * trampoline is module memory made read-only/executable (set_memory_rox), which changes the page's direct-map
   * alias too (DirectMap4k +2048 kB, DirectMap2M -2048 kB in every recorded 6.12.117 trace case; 6.1.192 shows
   * it in some runs only, where the trampoline lands in a page already split, so v6.1 leaves it out).
   */
  ftraceTrampolineSplit: boolean;
  /** v6.8+: /sys/bus/dax/devices/daxX.Y/memmap_on_memory, which dax kmem honours. */
  daxMemmapOnMemory: boolean;
  /** v5.14+: HugeTLB Vmemmap Optimization (hugetlb_optimize_vmemmap). */
  hvo: boolean;
  /** v6.5+: nd_pfn_init refuses a layout that leaves no data pages ("unable to satisfy requested alignment"); 6.1 makes a zero-sized device. */
  pfnRefuseZeroSize: boolean;
  /**
   * Before 6.3 (7dab174e2e27, "dax/hmem: Move hmem device registration to dax_hmem.ko") hmem devices
   * are registered at boot, before the NVDIMM regions take their memregion ids, with an iomem
   * resource "hmem.N" over the Soft Reserved range (fixture softres-with-pmem on 6.1.192).
   */
  hmemBootRegister: boolean;
  /** 6.3+ (33cf94d71766, "dax: Assign RAM regions to memory-hotplug by default"): a Soft Reserved range's dax device binds kmem. */
  hmemDefaultKmem: boolean;
  /** The dynamic char major of the nvdimm DIMM devices (nmemN/dev): Debian's 6.12 boot gets 244, 6.1's 245. */
  nvdimmMajor: number;
}

const V45: Profile = {
  name: 'v4.5',
  structPage: 'v4.5',
  pfnEra: 'v4.5',
  release: '4.5.0',
  pageOffset: 0xffff880000000000n,
  la57: false,
  lookup: 'section',
  mixedCheckAligned: true,
  refuseRam: false,
  conflictCheck: 'none',
  radixInsertAligned: true,
  addSizeEndAligned: true,
  releaseSizeEndAligned: false,
  releaseLookupFirst: false,
  hotplug: 'section',
  altmapExplicit: false,
  basePagesUseAltmap: false,
  zeroMemmapOnAdd: true,
  memmapInit: 'v4.5',
  pgmapInit: 'base',
  fallbackMessage: 'falling-back',
  altmapDebugOnFailure: true,
  releaseWarn: 'dev',
  devdax: false,
  regionAlign: null,
  compoundDevmaps: false,
  memmapOnMemory: false,
  memoryBlockProbe: 'ram-end',
  daxOwnResource: false,
  ftraceTrampolineSplit: false,
  autoOnlineBlocks: 'offline',
  crashHotplug: false,
  daxMemmapOnMemory: false,
  hvo: false,
  nvdimmMajor: 244,
  pfnRefuseZeroSize: true,
  hmemBootRegister: false,
  hmemDefaultKmem: false,
  memmapOnMemoryForce: false,
};

const V6: Profile = {
  ...V45,
  name: 'v6',
  structPage: 'v6.12',
  pfnEra: 'v6',
  release: '6.12.0',
  pageOffset: 0xffff888000000000n,
  la57: true,
  lookup: 'pfn',
  mixedCheckAligned: false,
  refuseRam: true,
  conflictCheck: 'exact',
  radixInsertAligned: false,
  releaseSizeEndAligned: true,
  hotplug: 'subsection',
  altmapExplicit: true,
  basePagesUseAltmap: true,
  zeroMemmapOnAdd: false,
  memmapInit: 'v4.20',
  pgmapInit: 'zone-device',
  fallbackMessage: 'alloc-failure',
  altmapDebugOnFailure: false,
  releaseWarn: 'plain',
  devdax: true,
  regionAlign: 16n << 20n,
  compoundDevmaps: true,
  memmapOnMemory: true,
  memoryBlockProbe: 'bare-metal',
  daxOwnResource: true,
  ftraceTrampolineSplit: true,
  autoOnlineBlocks: 'online',
  crashHotplug: true,
  daxMemmapOnMemory: true,
  hvo: true,
  hmemDefaultKmem: true,
  memmapOnMemoryForce: true,
};

const PROFILES: Record<KernelName, Profile> = {
  'v4.5': V45,
  'v4.5-rc1': {
    ...V45,
    name: 'v4.5-rc1',
    pfnEra: 'v4.5-rc1',
    release: '4.5.0-rc1',
    mixedCheckAligned: false,
    radixInsertAligned: false,
    addSizeEndAligned: false,
    releaseLookupFirst: true,
    pgmapInit: 'none',
  },
  'v4.18': {
    ...V45,
    name: 'v4.18',
    pfnEra: 'v4.18',
    release: '4.18.0',
    lookup: 'pfn',
    conflictCheck: 'aligned',
    radixInsertAligned: false,
    releaseSizeEndAligned: true,
    altmapExplicit: true,
    memmapInit: 'v4.16',
    pgmapInit: 'res',
    fallbackMessage: 'alloc-failure',
    devdax: true,
    memoryBlockProbe: 'aligned-end',
  },
  v6: V6,
  // Debian 12's config leaves hot-plugged blocks offline; crash_hotplug (6.6) and the per-device
  // memmap_on_memory file (6.8) do not exist yet (fixtures kmem-policy-refusal, ns-fsdax-dev-1G on 6.1.192)
  'v6.1': { ...V6, name: 'v6.1', structPage: 'v6.1', release: '6.1.0', autoOnlineBlocks: 'offline', crashHotplug: false, daxMemmapOnMemory: false, nvdimmMajor: 245, pfnRefuseZeroSize: false, ftraceTrampolineSplit: false, hmemBootRegister: true, hmemDefaultKmem: false, memmapOnMemoryForce: false },
};

/** Which probe_memory_block_size() an era has. */
export type MemoryBlockProbe = 'ram-end' | 'aligned-end' | 'bare-metal';

export function profileFor(name: string): Profile {
  const p = PROFILES[name as KernelName];
  if (!p) throw new RangeError(name);
  return p;
}

/** x86-64 address-space constants for a paging mode. */
export function layoutFor(p: Profile, paging: 4 | 5): { pageOffset: bigint; vmemmapStart: bigint; physBits: number } {
  if (paging === 5) return { pageOffset: 0xff11000000000000n, vmemmapStart: 0xffd4000000000000n, physBits: 52 };
  return { pageOffset: p.pageOffset, vmemmapStart: 0xffffea0000000000n, physBits: 46 };
}
