/**
 * The pmem driver over "Persistent Memory" e820 ranges: one region per range, namespaces placed
 * at the region's lowest free address, the pfn info block written to the media, and the
 * devm_memremap_pages call with the altmap the era's arithmetic builds (nvdimm_namespace_attach_pfn).
 */
import { ERRNO, HostMemoryError, KernelError, invalid, show } from '../kernel/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { Resource } from '../kernel/resource.ts';
import type { Device } from '../kernel/devres.ts';
import { encodeInfoBlock, infoBlockForLayout } from './infoblock.ts';
import { NdctlError, libndctlOrder, checkAltName, checkCreateNamespace, checkNamespaceOptions, enableFailed, namespaceJson, uuidFromSeed, type NamespaceMode } from './ndctl.ts';
import { pfnLayout, type PfnLayout } from './pfn.ts';
import { parseSize } from './units.ts';
import { RegionSeeds, holderName, type Holder, type SeedKind } from './seeds.ts';
import { altmapCounters } from '../kernel/altmap.ts';
import { defaultAlign } from './region.ts';
import { hex } from '../kernel/printk.ts';

/** ndctl create-namespace's options (cmd_create_namespace); NdctlError for what ndctl refuses. */
export interface CreateNamespaceOptions {
  /** --size: bytes, or ndctl's size syntax ("16G"); default the region's free space. */
  size?: bigint | number | string;
  /** --mode (default fsdax). */
  mode?: 'fsdax' | 'devdax' | 'raw' | 'sector';
  /** --map: memmap on the device (dev, an altmap) or in DRAM (mem); fsdax/devdax only. */
  map?: 'dev' | 'mem';
  /** --align: the pfn/dax device's mapping alignment (2M default; 4K, 1G). */
  align?: bigint | number | string;
  /** -l: the sector size (sector mode: the btt's; default 4096 there, as setup_namespace() picks). */
  sectorSize?: bigint | number | string;
  /** Region id (0, 1, ...); default: the first region with room. */
  region?: number;
  /** -e: reconfigure this namespace ("namespace0.0") in place: its configuration destroyed, then set up again with these options. */
  reconfig?: string;
  /** -n: the namespace's alt_name (its label's name, under NSLABEL_NAME_LEN = 64 bytes); -e keeps the old one by default. */
  name?: string;
}

export interface Region {
  id: number;
  res: Resource;
  /** The configured namespaces (idle ones are only ids, in seeds). */
  namespaces: Namespace[];
  /** The region's idas and seed devices. */
  seeds: RegionSeeds;
  /** No labels (NVDIMM_NO_LABELS, or a legacy e820 range): one fixed raw namespace, nd_namespace_io, over the whole region. */
  io: boolean;
  /** On the e820 bus (drivers/nvdimm/e820.c, "Persistent Memory (legacy)"), not an ACPI NFIT one: no DIMM. */
  legacy?: boolean;
  /** Its first DIMM's index (nmemN, the NFIT slot): DIMMs count from 0 region by region in address order, region ids may not. */
  dimm: number;
  /** The interleave set's width: its DIMMs (mappings) are nmem(dimm) .. nmem(dimm + ways - 1); 1 on the e820 bus, which has none. */
  ways: number;
}

export interface Namespace {
  dev: string;
  /** alt_name: the label's name ('' for none; a label-less namespace has no label to keep one). */
  altName: string;
  region: Region;
  idx: number;
  start: bigint;
  raw: bigint;
  mode: 'fsdax' | 'devdax' | 'raw' | 'sector';
  map: 'dev' | 'mem';
  align: bigint;
  uuid: string;
  claim: Resource;
  blockdev: string;
  pfnDev: Device | null;
  /** The pfn, dax or btt device that claims the namespace (its id from the region's seed), null for raw. */
  holder: Holder | null;
  /** A namespace left not active: a label-less one ndctl disabled (destroy-namespace, or a failed reconfigure; raw, unbound, holder_class as ndctl left it), or a sector one whose btt failed to probe. */
  disabled?: { holderClass: Holder['kind'] | '' };
  layout: PfnLayout | null;
  /** The device-dax instance's own iomem resource (v5.x+), beside the namespace's. */
  daxRes?: Resource;
  /** sector mode: the btt's sector size and the size it exports. */
  sectorSize?: bigint;
  bttSize?: bigint;
}

/** A validated createNamespace request: everything decided, nothing changed yet. */
export interface NamespacePlan {
  region: Region;
  /** alt_name to write (setup_namespace: ndctl_namespace_set_alt_name before the size). */
  name?: string;
  start: bigint;
  size: bigint;
  mode: 'fsdax' | 'devdax' | 'raw' | 'sector';
  map: 'dev' | 'mem';
  align: bigint;
  layout: PfnLayout | null;
  /** sector mode: the btt's sector size. */
  sectorSize?: bigint;
  /** What the driver's probe will refuse with (pfn/dax: nd_pfn_init's alignment check), logged when it runs. */
  probeFailure?: string;
  /** -e: the namespace whose configuration goes first. */
  reconfig?: Namespace;
}

const ALIGNS = [4096n, 2n << 20n, 1n << 30n];

/** A namespace's placement and its info block's numbers (machine.namespaceInfo). */
export interface NamespaceDetail {
  /** The namespace's name, "namespaceR.N". */
  dev: string;
  /** The region's id (regionN). */
  region: number;
  /** The pfn (fsdax) or dax (devdax) device the driver bound; null for raw. */
  device: string | null;
  /** The pmem block device (pmemN, pmemN.M, or pmemNs for sector), null for devdax. */
  blockdev: string | null;
  /** Its mode, as ndctl names it. */
  mode: 'fsdax' | 'devdax' | 'raw' | 'sector';
  /** Where its memmap lives; null for raw and sector. */
  map: 'dev' | 'mem' | null;
  /** Physical start, in bytes. */
  start: bigint;
  /** Raw size (ndctl's raw_size), in bytes. */
  raw: bigint;
  /** What ndctl reports. */
  size: bigint;
  /** dataoff: bytes from start + startPad to the first data page. */
  offset: bigint;
  /** start_pad, in bytes. */
  startPad: bigint;
  /** end_trunc, in bytes. */
  endTrunc: bigint;
  /** npfns: data pages. */
  npfns: number;
  /** The pfn of the first data page. */
  dataPfn: number;
}

/** ARENA_MIN_SIZE (drivers/nvdimm/btt.h): 16 MiB. */
const ARENA_MIN_SIZE = 1n << 24n;
/** ARENA_MAX_SIZE: 512 GiB per arena. */
const ARENA_MAX_SIZE = 1n << 39n;

/**
 * The size a btt exports (btt->nlba * sector_size): btt_arena_alloc() per arena of at most 512 GiB —
 * two 4 KiB info blocks, a log of nfree (256 lanes) x 64-byte groups rounded to 4 KiB, then
 * internal_nlba = (available - 4 KiB) / (internal lbasize + 4-byte map entry), less nfree.
 */
export function bttExternalSize(rawsize: bigint, sectorSize: bigint): bigint {
  const internal = ((sectorSize + 255n) / 256n) * 256n;
  const nfree = 256n;
  let left = rawsize;
  let nlba = 0n;
  while (left >= ARENA_MIN_SIZE) {
    const arena = left > ARENA_MAX_SIZE ? ARENA_MAX_SIZE : left;
    left -= arena;
    const logsize = ((nfree * 64n + 4095n) / 4096n) * 4096n;
    const available = arena - 2n * 4096n - logsize;
    nlba += (available - 4096n) / (internal + 4n) - nfree;
  }
  return nlba * sectorSize;
}

export class Pmem {
  readonly regions: Region[] = [];
  private uuidSeed = 1;

  constructor(
    private readonly k: Kernel,
    /** The region's align attribute (ndctl refuses sizes that are not a multiple of it). */
    readonly regionAlign: bigint | null,
    /** Regions (by index) whose DIMM has no labels. */
    private readonly labelLess: readonly number[] = [],
    /** The DIMMs interleaved in each NFIT region (by index, in address order); default 1. */
    private readonly interleaveWays: readonly number[] = [],
    /** The machine set regionAlign itself (as if written to each region's align): no default_align(). */
    private readonly regionAlignGiven = false,
  ) {}

  /**
   * The region's align attribute: nd_region_create's default_align() (5.7+), or what the machine set; null before 5.7.
   * The spec's 16 MiB is default_align() for one DIMM of at least 16 MiB.
   */
  alignOf(r: Region): bigint | null {
    if (this.regionAlign === null || this.regionAlignGiven) return this.regionAlign;
    return defaultAlign(r.res.end + 1n - r.res.start, r.legacy ? 0 : r.ways);
  }

  /** The dynamic char major nvdimm_bus_init() got for the DIMMs (nmemN/dev) on this kernel's boot. */
  get dimmMajor(): number {
    return this.k.profile.nvdimmMajor;
  }

  /**
   * nd_region_probe: the region (its id from the memregion IDA), its seeds, and on a label-less region
   * its one raw namespace, enabled. `legacy`: a region of the e820 bus (memmap=nn!ss), always label-less.
   */
  addRegion(res: Resource, legacy = false): void {
    const namespaces: Namespace[] = [];
    const io = legacy || this.labelLess.includes(this.regions.length);
    const id = this.k.memregion.memregionAlloc();
    const seeds = new RegionSeeds(id, () => namespaces.map((n) => n.idx), this.k.profile.devdax, io);
    seeds.registerRegion();
    // QEMU's NFIT: the DIMM of the Nth NVDIMM region is nmemN, whatever id the region got; an interleave set's
    // DIMMs follow on, region by region (acpi_nfit_register_dimms walks the NFIT's memory devices in order)
    const nfit = this.regions.filter((r) => !r.legacy);
    const dimm = nfit.reduce((n, r) => n + r.ways, 0);
    const ways = legacy ? 1 : (this.interleaveWays[nfit.length] ?? 1);
    const region: Region = { id, res, namespaces, seeds, io, dimm, ways, ...(legacy ? { legacy } : {}) };
    this.regions.push(region);
    if (io) this.addIoNamespace(region);
  }

  /** ndctl_namespace_disable after a failed enable of a label-less namespace: unbound (its claim released), holder_class as ndctl wrote it. */
  private disableIo(ns: Namespace, holderClass: Holder['kind'] | ''): void {
    // a disabled namespace has no driver: nd_pmem's page map (pmemShouldMapPages) goes with it
    if (ns.pfnDev?.bound) this.k.devices.unbind(ns.pfnDev);
    this.k.iomem.release(ns.region.res, ns.claim);
    this.k.dax.detachDisk(ns.dev);
    ns.disabled = { holderClass };
  }

  /** nd_namespace_io: the label-less region's namespaceX.0 over all of it, raw, bound to nd_pmem. */
  private addIoNamespace(region: Region): void {
    const size = region.res.end + 1n - region.res.start;
    this.create({ region, start: region.res.start, size, mode: 'raw', map: 'dev', align: 4096n, layout: null }, false);
  }

  ownsDevice(name: string): boolean {
    return this.regions.some((r) => r.namespaces.some((ns) => ns.pfnDev?.name === name));
  }

  /** An idle seed namespace (registered, size 0) of some region. */
  isIdleSeed(name: unknown): boolean {
    return this.regions.some((r) => r.seeds.idleNamespaces.some((id) => `namespace${r.id}.${id}` === name));
  }

  /**
   * ndctl's destroy of an idle seed: zero_info_block enables it, nd_pmem_probe refuses a size-0 namespace ("too
   * small", -ENODEV) before anything is set up; the size write of 0 that follows is refused by __size_store
   * (no uuid) without reaching nd_namespace_pmem_set_resource. Nothing changes.
   */
  probeIdleSeed(): void {
    if (this.k.ftrace.on) this.k.ftrace.leaf('nd_pmem_probe');
  }

  find(name: unknown): Namespace {
    for (const r of this.regions) for (const ns of r.namespaces) if (ns.dev === name) return ns;
    throw new KernelError('ENODEV', `no namespace ${show(name)}`);
  }

  /**
   * nd_region_allocatable_dpa / nd_region_available_dpa: the region's free extents, each cut down to the
   * region's align (5.7+; none where the machine sets no align), so what ndctl sees as room.
   */
  allocatableExtents(r: Region, without?: Namespace): Array<{ start: bigint; size: bigint }> {
    if (r.io) return [];
    const a = this.alignOf(r);
    if (a === null || a <= 0n) return this.freeExtents(r, without);
    return this.freeExtents(r, without)
      .map((e) => ({ start: e.start, size: (e.size / a) * a }))
      .filter((e) => e.size > 0n);
  }

  /** Free extents of a region, lowest first. */
  freeExtents(r: Region, without?: Namespace): Array<{ start: bigint; size: bigint }> {
    const out: Array<{ start: bigint; size: bigint }> = [];
    let at = r.res.start;
    const used = r.namespaces.filter((n) => n !== without).sort((a, b) => (a.start < b.start ? -1 : 1));
    for (const ns of used) {
      if (ns.start > at) out.push({ start: at, size: ns.start - at });
      at = ns.start + ns.raw;
    }
    if (at <= r.res.end) out.push({ start: at, size: r.res.end + 1n - at });
    return out;
  }

  /** namespace_reconfig's target: a configured namespace, or ndctl's ENXIO (exit 250). */
  private reconfigTarget(name: string): Namespace {
    for (const r of this.regions) for (const ns of r.namespaces) if (ns.dev === name) return ns;
    throw new NdctlError('ENXIO', `no namespace ${show(name)} to reconfigure`, 'failed to reconfigure namespace: No such device or address\n', 250);
  }

  /** Validate a request as ndctl and the era's arithmetic would, before anything changes. */
  plan(o: CreateNamespaceOptions): NamespacePlan {
    if (typeof o !== 'object' || o === null) invalid('createNamespace needs an options object { size?, mode, map?, align? }');
    for (const key of Object.keys(o)) if (!['size', 'mode', 'map', 'align', 'region', 'sectorSize', 'reconfig', 'name'].includes(key)) invalid(`unknown namespace option ${show(key)}`);
    if (o.reconfig !== undefined && typeof o.reconfig !== 'string') invalid(`reconfig ${show(o.reconfig)} is not a namespace name`);
    if (o.mode !== undefined && typeof o.mode !== 'string') invalid(`mode ${show(o.mode)} is not fsdax, devdax, raw or sector`);
    if (o.map !== undefined && typeof o.map !== 'string') invalid(`map ${show(o.map)} is not dev or mem`);
    // ndctl/namespace.c parse_namespace_options(): mode, map and their combination, size and align syntax (exit 129)
    checkNamespaceOptions({
      mode: o.mode,
      map: o.map,
      size: typeof o.size === 'string' ? o.size : undefined,
      align: o.align === undefined ? undefined : String(o.align),
    });
    const mode = o.mode === undefined ? 'fsdax' : ((({ memory: 'fsdax', dax: 'devdax', safe: 'sector' }) as Record<string, string>)[o.mode] ?? o.mode) as NamespacePlan['mode'];
    if (mode === 'devdax' && !this.k.profile.devdax) invalid('mode devdax needs device-dax, which arrived in v4.7 (kernel profile is ' + this.k.profile.name + ')');
    const map = o.map ?? 'dev';
    let align = o.align === undefined ? 2n << 20n : parseSize(o.align, 'align');
    const sectorSize = o.sectorSize === undefined ? undefined : parseSize(o.sectorSize, 'sector size');
    if (this.regions.length === 0) throw new KernelError('ENODEV', 'no Persistent Memory region on this machine');
    // ndctl_region_foreach: libndctl's region list (kernfs hash order, list_add at the head), which puts region1
    // before region0 (fixtures seeds-two-regions-spill, ndctl list -R) and, with four, region1, region3, region0,
    // region2; the first that fails for a reason other than room stops it
    let regions = libndctlOrder(this.regions, (r) => `region${r.id}`);
    if (o.region !== undefined) {
      const r = this.regions.find((x) => x.id === o.region);
      if (!Number.isInteger(o.region) || !r) invalid(`no region ${show(o.region)}`);
      regions = [r];
    }
    if (o.name !== undefined && typeof o.name !== 'string') invalid(`name ${show(o.name)} is not a string`);
    if (o.name !== undefined) checkAltName(o.name);
    const old = o.reconfig === undefined ? undefined : this.reconfigTarget(o.reconfig);
    if (old) regions = [old.region];
    // validate_namespace_options: reconfigured to the mode it has, the namespace keeps its pfn/dax align,
    // PAGE_SIZE without one (a legacy raw namespace is "memory" already: legacy-fsdax-dev gets 4096)
    if (old && o.align === undefined && (pmemShouldMapPages(old) ? 'fsdax' : old.mode) === mode) align = old.holder && old.holder.kind !== 'btt' ? old.align : 4096n;
    let wanted = o.size === undefined ? undefined : typeof o.size === 'string' ? o.size : parseSize(o.size, 'size');
    // validate_namespace_options: a label-less region's namespace is the whole region, never a part of it
    if (wanted !== undefined && regions.length === 1 && regions[0]!.io) subdivideRefused();
    // -e: the namespace keeps its size (ndctl reads it back), its space counts as free
    if (old && wanted === undefined) wanted = old.raw;
    let lastErr: unknown;
    for (const region of regions) {
      const extents = old?.region.io ? [{ start: old.start, size: old.raw }] : this.allocatableExtents(region, old);
      const largest = extents.reduce((m, e) => (e.size > m ? e.size : m), 0n);
      try {
        const size = checkCreateNamespace({
          size: wanted,
          align,
          alignParam: o.align === undefined ? undefined : String(o.align),
          // the pfn/dax seed's supported_alignments: PAGE_SIZE, PMD_SIZE and PUD_SIZE (nd_pfn_supported_alignments)
          supportedAlignments: ALIGNS,
          sectorSize,
          available: largest,
          regionAlign: this.alignOf(region),
          labelLess: region.io,
          interleaveWidth: region.legacy ? 1 : region.ways,
          mode,
          region: `region${region.id}`,
        });
        const ext = extents.find((e) => e.size >= size)!;
        const re = { ...(old ? { reconfig: old } : {}), ...(o.name !== undefined ? { name: o.name } : {}) };
        if (mode === 'raw' || mode === 'sector') {
          return { region, start: ext.start, size, mode, map, align: 4096n, layout: null, ...(mode === 'sector' ? { sectorSize: sectorSize ?? 4096n } : {}), ...re };
        }
        try {
          const layout = this.layout(ext.start, size, mode as 'fsdax' | 'devdax', map, align);
          return { region, start: ext.start, size, mode, map, align, layout, ...re };
        } catch (e) {
          // nd_pfn_init() runs in the driver's probe, after ndctl configured the namespace: the kernel's refusal
          if (!(e instanceof KernelError) || e.code !== 'ENXIO' || !/unable to satisfy requested alignment/.test(e.message)) throw e;
          return { region, start: ext.start, size, mode, map, align, layout: null, probeFailure: 'unable to satisfy requested alignment', ...re };
        }
      } catch (e) {
        lastErr = e;
        if (!(e instanceof KernelError) || e.code !== 'ENOSPC') throw e;
      }
    }
    throw lastErr;
  }

  private layout(start: bigint, raw: bigint, mode: 'fsdax' | 'devdax', map: 'dev' | 'mem', align: bigint): PfnLayout {
    return pfnLayout({
      era: this.k.profile.pfnEra,
      start,
      raw,
      mode,
      map,
      align,
      regionIntersects: (s, n) => this.k.iomem.regionIntersects(s, n, 'System RAM'),
      refuseZeroSize: this.k.profile.pfnRefuseZeroSize,
    });
  }

  /**
   * ndctl's setup_namespace, once the size is set: the namespace's resource must sit on the region's align;
   * ndctl then deletes the configuration, the sector size it wrote stays (EINVAL, exit 237).
   */
  private checkResourceAlignment(p: NamespacePlan, idx: number, dev: string): void {
    const a = this.regionAlign;
    if (a === null || a <= 0n || p.start % a === 0n) return;
    // ndctl deletes the configuration: size 0
    if (this.k.ftrace.on) this.k.ftrace.leaf('nd_namespace_pmem_set_resource');
    p.region.seeds.lbasize.set(idx, p.mode === 'sector' ? 4096 : 512);
    const text = `${dev} misaligned to ${a >> 20n}M, adjust region alignment and retry`;
    throw new NdctlError('EINVAL', text, `  Error: ${text}\n\nfailed to create namespace: Invalid argument\n`, 237);
  }

  /** Create, claim, write the info block and enable: nvdimm_namespace_attach_pfn. `traced`: the kernel's calls are ftrace'd (not for the model's own re-creation of a label-less namespace). */
  create(p: NamespacePlan, traced = true): Record<string, unknown> {
    const k = this.k;
    // -e: namespace_reconfig destroys the old configuration first; zero_info_block enables it raw
    // once (nd_pmem's probe, which on the e820 bus warns: fixtures legacy-fsdax-dev, legacy-devdax-mem)
    if (p.reconfig) {
      this.teardown(p.reconfig);
      if (p.region.legacy) this.noFlushWarning(p.reconfig.dev);
    }
    try {
      return this.setupNamespace(p, traced);
    } catch (e) {
      // a label-less region's namespace does not go away: raw again, left disabled by ndctl
      if (p.region.io && !p.region.namespaces.length && !k.poisoned) {
        this.addIoNamespace(p.region);
        const holder = p.region.seeds.holderSeed(p.mode);
        if (holder) this.disableIo(p.region.namespaces[0]!, holder.kind);
      }
      throw e;
    }
  }

  /** ndctl's setup_namespace and the probe it triggers: configure the seed, claim, enable. */
  private setupNamespace(p: NamespacePlan, traced: boolean): Record<string, unknown> {
    const k = this.k;
    const ft = traced && k.ftrace.on ? k.ftrace : null;
    // ndctl writes the namespace's size (size_store -> nd_namespace_pmem_set_resource); a label-less one has no size to write
    if (ft && !p.region.io) ft.leaf('nd_namespace_pmem_set_resource');
    // ndctl configures namespaceX.0 if idle, else the region's namespace seed, and the mode's holder seed
    const seeds = p.region.seeds;
    const idx = seeds.regionGetNamespace();
    const holder = seeds.holderSeed(p.mode);
    const dev = `namespace${p.region.id}.${idx}`;
    if (!p.region.io) this.checkResourceAlignment(p, idx, dev);
    const end = p.start + p.size - 1n;
    const claim = k.iomem.request(p.region.res, dev, p.start, end);
    if (!claim) throw new KernelError('EBUSY', `${dev}: [${p.start}, ${end}] is already claimed`);
    const ns: Namespace = {
      dev,
      region: p.region,
      idx,
      start: p.start,
      raw: p.size,
      mode: p.mode,
      map: p.map,
      align: p.align,
      altName: p.region.io ? '' : (p.name ?? p.reconfig?.altName ?? ''),
      uuid: uuidFromSeed(this.uuidSeed++),
      claim,
      blockdev: idx === 0 ? `pmem${p.region.id}` : `pmem${p.region.id}.${idx}`,
      pfnDev: null,
      holder,
      layout: p.layout,
    };
    p.region.namespaces.push(ns);
    // setup_namespace(): ndctl sets the namespace's sector size, 4096 under a btt, else 512
    seeds.configure(idx, holder, p.mode === 'sector' ? 4096 : 512);
    if (p.probeFailure !== undefined) {
      // the pfn/dax device is configured and probed: nd_pfn_init refuses, the probe returns -ENXIO (no
      // "probe ... failed" line for -ENXIO), ndctl reports the enable failure and deletes the namespace
      const dax = p.mode === 'devdax';
      const devName = holderName(p.region.id, holder!);
      if (ft) {
        // nd_pfn_init's alignment check fails inside nvdimm_setup_pfn; ndctl then deletes the configuration
        this.traceProbeStart(dax, p.layout === null ? 'mem' : p.map);
        ft.exit(dax ? 'dax_pmem_probe' : 'nd_pmem_probe');
        if (!p.region.io) ft.leaf('nd_namespace_pmem_set_resource');
      }
      k.log.printk('err', `${dax ? 'dax_pmem' : 'nd_pmem'} ${devName}: ${dev} ${p.probeFailure}`);
      k.iomem.release(p.region.res, claim);
      p.region.namespaces.splice(p.region.namespaces.indexOf(ns), 1);
      seeds.unconfigure(idx, holder, p.align);
      enableFailed(dax ? 'dax' : 'pfn', devName, dev);
    }
    if (ft && p.mode === 'sector') {
      // the btt device binds nd_pmem: nvdimm_namespace_attach_btt claims the namespace (btt_init's calls are not modelled functions)
      ft.enter('nd_pmem_probe');
      ft.enter('nvdimm_namespace_attach_btt');
      this.traceNsioEnable();
      ft.exit('nd_pmem_probe');
    }
    if (ft && p.mode === 'raw') this.traceRawProbe(false);
    if (p.mode === 'sector') {
      // nd_btt_probe -> btt_init (drivers/nvdimm/btt.c): rawsize is the namespace less the 4 KiB initial offset
      const btt = holderName(p.region.id, holder!);
      const rawsize = p.size - 4096n;
      // ndctl wrote the btt's sector size before enabling it: it stays even when the probe fails
      ns.sectorSize = p.sectorSize ?? 4096n;
      if (rawsize < ARENA_MIN_SIZE) {
        // "%s must be at least %lld bytes" (ARENA_MIN_SIZE + the initial offset) is a dev_dbg the model does not
        // print; the probe fails with -ENXIO (nd_pmem's claim released) and the namespace stays configured,
        // btt0.0 its holder (mode "safe"), not active: ndctl list shows it with -i only
        k.iomem.release(p.region.res, claim);
        ns.disabled = { holderClass: 'btt' };
        enableFailed('btt', btt, dev);
      }
      k.log.printk('info', `nd_pmem ${btt}: No existing arenas`);
      ns.bttSize = bttExternalSize(rawsize, ns.sectorSize);
      ns.blockdev = `${ns.blockdev}s`;
    }
    // nd_pmem's probe of an unclaimed namespace on the e820 bus: pmem_should_map_pages (ND_REGION_PAGEMAP)
    if (pmemShouldMapPages(ns)) this.attachRawPages(ns);
    if (p.layout) {
      try {
        this.attachPfn(ns, p.layout, ft !== null);
      } catch (e) {
        // ndctl gives up on a namespace that fails to enable and deletes its configuration
        if (ns.pfnDev && !k.poisoned) k.devices.unbind(ns.pfnDev);
        k.iomem.release(p.region.res, claim);
        p.region.namespaces.splice(p.region.namespaces.indexOf(ns), 1);
        seeds.unconfigure(idx, holder, p.align);
        throw e;
      }
    }
    // pmem_attach_disk: a raw or fsdax namespace that came up has a pmem disk, and its fs-dax dax_device
    if ((p.mode === 'raw' || (p.mode === 'fsdax' && p.layout)) && !ns.disabled) k.dax.attachDisk(dev);
    const before = { ...seeds.seed };
    seeds.advanceSeeds(idx, holder);
    if (ft) this.traceSeedProbes(before, seeds.seed);
    return this.json(ns, false);
  }

  /** pmem_attach_disk on a region without flush hints (the e820 bus's): nvdimm_has_flush < 0. */
  private noFlushWarning(dev: string): void {
    this.k.log.printk('warn', `nd_pmem ${dev}: unable to guarantee persistence of writes`);
  }

  /** pmem_attach_disk with pmem_should_map_pages: the whole namespace memremap'd, its memmap in DRAM (MEMORY_DEVICE_FSDAX, no altmap). */
  private attachRawPages(ns: Namespace): void {
    const dev = this.k.devices.create(ns.dev, 'nd_pmem');
    ns.pfnDev = dev;
    this.noFlushWarning(ns.dev);
    this.k.memremap.devmMemremapPages(dev, ns.start, ns.start + ns.raw - 1n, null, 0);
  }

  /** nd_pfn_init + devm_memremap_pages with the on-stack altmap. */
  private attachPfn(ns: Namespace, layout: PfnLayout, traced: boolean): void {
    const k = this.k;
    const ft = traced ? k.ftrace : null;
    // fsdax: the pmem driver binds the pfn device; devdax: dax_pmem binds the dax device
    const dax = ns.mode === 'devdax';
    const ndName = holderName(ns.region.id, ns.holder!);
    // devdax: the memmap is the device-dax instance's, named daxR.N after its namespace (dax_pmem's
    // sscanf of "namespace%d.%d"), not after the nd_dax device that holds the namespace
    const pfnName = dax ? `dax${ns.region.id}.${ns.idx}` : ndName;
    const driver = dax ? 'dax_pmem' : 'nd_pmem';
    const dev = k.devices.create(pfnName, driver);
    ns.pfnDev = dev;
    for (const m of layout.messages) k.log.printk('info', `${dax ? 'nd_dax' : 'nd_pfn'} ${ndName}: ${m}`);
    if (!dax && ns.region.legacy) this.noFlushWarning(ndName);
    const sb = encodeInfoBlock(infoBlockForLayout(k.profile.pfnEra, layout, { mode: ns.mode as 'fsdax', map: ns.map, align: ns.align, uuid: ns.uuid, parentUuid: uuidFromSeed(0x7f000000 + ns.idx) }));
    if (k.physmem.write(ns.start + 4096n, sb) < 0) k.hostOom();
    // 6.1's zero-sized device-dax region (a1G-ll-devdax-dev on 6.1.192): an empty instance, nothing mapped
    if (ft) this.traceProbeStart(dax, ns.map);
    try {
      if (ft && dax) {
        // __dax_pmem_probe: the region, then devm_create_dev_dax, whose device_dax binding maps the pages
        ft.leaf('alloc_dax_region');
        ft.enter('devm_create_dev_dax');
        ft.leaf('alloc_dev_dax_range');
        ft.enter('dev_dax_probe');
        ft.leaf('region_intersects');
      }
      if (!(dax && layout.npfns === 0)) this.probe(ns, layout, dev, pfnName, driver);
      if (dax) this.addDevDax(ns, layout, pfnName);
    } finally {
      if (ft) ft.exit(dax ? 'dax_pmem_probe' : 'nd_pmem_probe');
    }
  }

  // ---------------------------------------------------------------- ftrace: the drivers' calls around the model's work

  /** devm_nsio_enable (drivers/nvdimm/claim.c): the claim, then devm_memremap's is-RAM check and nsio_rw_bytes' (two region_intersects). */
  private traceNsioEnable(): void {
    const ft = this.k.ftrace;
    ft.enter('devm_nsio_enable');
    ft.leaf('region_intersects');
    ft.leaf('region_intersects');
    ft.exit('devm_nsio_enable');
  }

  /**
   * The pfn/dax device's probe up to the memremap: nd_pmem_probe -> pmem_attach_disk (fsdax) or dax_pmem_probe ->
   * __dax_pmem_probe (devdax), each enabling the namespace, nvdimm_setup_pfn (nd_pfn_init -> nd_pfn_validate; with
   * map=dev the namespace is enabled again past the info block's reserve), the raw access disabled, and the
   * data range checked against System RAM. Left open: the caller adds the rest and exits the probe.
   */
  private traceProbeStart(dax: boolean, map: 'dev' | 'mem'): void {
    const ft = this.k.ftrace;
    const era = this.k.profile.pfnEra;
    if (era === 'v4.5' || era === 'v4.5-rc1') {
      // v4.5's pmem.c: nd_pmem_probe -> nvdimm_namespace_attach_pfn -> nd_pfn_init (nd_pfn_validate), then devm_memremap_pages itself
      ft.enter('nd_pmem_probe');
      ft.enter('nvdimm_namespace_attach_pfn');
      ft.leaf('nd_pfn_validate');
      return;
    }
    ft.enter(dax ? 'dax_pmem_probe' : 'nd_pmem_probe');
    ft.enter(dax ? '__dax_pmem_probe' : 'pmem_attach_disk');
    this.traceNsioEnable();
    ft.enter('nvdimm_setup_pfn');
    ft.leaf('nd_pfn_validate');
    if (map === 'dev') {
      ft.leaf('devm_nsio_disable');
      this.traceNsioEnable();
    }
    ft.exit('nvdimm_setup_pfn');
    ft.leaf('devm_nsio_disable');
    ft.leaf('region_intersects');
  }

  /**
   * nd_pmem_probe of a raw namespace (drivers/nvdimm/pmem.c): enabled, nd_btt_probe / nd_pfn_probe / nd_dax_probe
   * find no info block (with force_raw, as destroy-namespace's zeroing sets it, they return at once), disabled,
   * then pmem_attach_disk (devm_memremap of the whole namespace: two region_intersects).
   */
  private traceRawProbe(forceRaw: boolean): void {
    const ft = this.k.ftrace;
    ft.enter('nd_pmem_probe');
    this.traceNsioEnable();
    ft.leaf('nd_btt_probe');
    ft.enter('nd_pfn_probe');
    if (!forceRaw) ft.leaf('nd_pfn_validate');
    ft.exit('nd_pfn_probe');
    if (ft.available('nd_dax_probe')) {
      ft.enter('nd_dax_probe');
      if (!forceRaw) ft.leaf('nd_pfn_validate');
      ft.exit('nd_dax_probe');
    }
    ft.leaf('devm_nsio_disable');
    ft.enter('pmem_attach_disk');
    this.traceNsioEnable();
    ft.leaf('devm_nsio_disable');
    ft.leaf('region_intersects');
    ft.leaf('region_intersects');
    ft.exit('nd_pmem_probe');
  }

  /** nd_region_advance_seeds' new seed devices, probed asynchronously: nd_pmem for namespaces, pfn and btt devices (-ENODEV, no namespace), dax_pmem for dax ones. */
  private traceSeedProbes(before: Readonly<Record<SeedKind, number | null>>, after: Readonly<Record<SeedKind, number | null>>): void {
    const ft = this.k.ftrace;
    for (const kind of ['namespace', 'pfn', 'btt', 'dax'] as const) {
      if (before[kind] === after[kind] || after[kind] === null) continue;
      ft.deferWork(() => {
        if (kind !== 'dax') return ft.leaf('nd_pmem_probe');
        ft.enter('dax_pmem_probe');
        ft.leaf('__dax_pmem_probe');
        ft.exit('dax_pmem_probe');
      });
    }
  }

  /**
   * ndctl's namespace_destroy as the kernel sees it: the holder unbound (its driver's remove and devres), the
   * namespace enabled raw with force_raw to zero its info block and disabled again, then its size set to 0.
   */
  private traceTeardown(ns: Namespace): void {
    const ft = this.k.ftrace;
    if (!ns.disabled) {
      if (ns.mode === 'sector') {
        ft.enter('nd_pmem_remove');
        ft.leaf('nvdimm_namespace_detach_btt');
        ft.exit('nd_pmem_remove');
      } else if (ns.mode !== 'devdax') {
        ft.leaf('nd_pmem_remove');
        ft.leaf('pmem_release_disk');
      }
    }
  }

  /** The rest of namespace_destroy once the holder is gone: the zeroing enable (force_raw) and the size write. */
  private traceZeroAndDelete(ns: Namespace): void {
    const ft = this.k.ftrace;
    this.traceRawProbe(true);
    ft.leaf('nd_pmem_remove');
    ft.leaf('pmem_release_disk');
    if (!ns.region.io) ft.leaf('nd_namespace_pmem_set_resource');
  }

  /** devm_create_dev_dax: the device-dax instance over the namespace's data, device_dax bound. */
  private addDevDax(ns: Namespace, layout: PfnLayout, name: string): void {
    const k = this.k;
    const dataStart = ns.start + layout.startPad + layout.offset;
    const dataEnd = ns.start + ns.raw - layout.endTrunc;
    let parent = ns.claim;
    if (k.profile.daxOwnResource) {
      // dax_pmem: the namespace keeps its metadata; dev_dax_probe requests the data under the device's name
      ns.claim.end = dataStart - 1n;
    }
    if (k.profile.daxOwnResource && layout.size > 0n) {
      const res = k.iomem.request(ns.region.res, name, dataStart, dataEnd - 1n);
      if (!res) throw new KernelError('EBUSY', `${name}: [${hex(dataStart)}-${hex(dataEnd - 1n)}] is already claimed`);
      ns.daxRes = res;
      parent = res;
    }
    k.dax.add({
      name,
      regionId: ns.region.id,
      parent,
      start: dataStart,
      end: dataEnd,
      size: layout.size,
      align: ns.align,
      dev: ns.pfnDev,
      // the dax device sits under its nd_dax, in the region's bus tree (the e820 bus is a platform device)
      ...(ns.region.legacy ? { devpath: `platform/e820_pmem/ndbus0/region${ns.region.id}/${holderName(ns.region.id, ns.holder!)}/${name}` } : {}),
      bindDeviceDax: () => {
        // device_dax binds again: a new device instance and the memremap
        const dev = this.k.devices.create(name, 'dax_pmem');
        ns.pfnDev = dev;
        const ft = this.k.ftrace;
        if (ft.on) {
          ft.enter('dev_dax_probe');
          ft.leaf('region_intersects');
        }
        try {
          this.probe(ns, layout, dev, name, 'dax_pmem');
        } finally {
          if (ft.on) ft.exit('dev_dax_probe');
        }
        return dev;
      },
    });
  }

  /** The driver's probe: devm_memremap_pages with the on-stack altmap the info block implies. */
  private probe(ns: Namespace, layout: PfnLayout, dev: Device, pfnName: string, driver: string): void {
    const k = this.k;
    const dax = ns.mode === 'devdax';
    const altmap = layout.altmap ? { basePfn: BigInt(layout.altmap.basePfn), reserve: BigInt(layout.altmap.reserve), free: BigInt(layout.altmap.free), align: 0n, alloc: 0n } : null;
    try {
      // dev_dax_probe: pgmap->vmemmap_shift = order_base_2(align >> PAGE_SHIFT) (v5.17+ compound devmaps)
      const shift = dax && k.profile.compoundDevmaps && ns.align > 4096n ? Math.log2(Number(ns.align >> 12n)) : 0;
      // nvdimm_setup_pfn: the resource loses the start_pad and end_trunc the info block records
      k.memremap.devmMemremapPages(dev, ns.start + layout.startPad, ns.start + ns.raw - 1n - layout.endTrunc, altmap, shift);
    } catch (e) {
      // the model's own budget is no probe failure of the kernel's
      if (e instanceof KernelError && !(e instanceof HostMemoryError) && e.errno !== ERRNO.ENODEV && e.errno !== ERRNO.ENXIO && !k.poisoned) {
        k.log.printk('warn', `${driver}: probe of ${pfnName} failed with error ${e.errno}`);
      }
      throw e;
    }
  }

  /** ndctl destroy-namespace: a label-less region's namespace cannot be destroyed, only disabled (namespace_destroy) and reconfigured (-e). */
  destroy(ns: Namespace): void {
    if (!ns.region.io) return this.teardown(ns);
    if (ns.disabled) return;
    this.teardown(ns);
    this.addIoNamespace(ns.region);
    this.disableIo(ns.region.namespaces[0]!, '');
  }

  /** The namespace's configuration goes: its holder unbound and detached (nd_detach_and_reset), its space released. */
  private teardown(ns: Namespace): void {
    const k = this.k;
    // ndctl_namespace_disable_safe(): ndctl_dax_has_active_memory() refuses while a block of it is online
    if (ns.pfnDev && k.dax.hasActiveMemory(ns.pfnDev.name)) throw new KernelError('EBUSY', `${ns.pfnDev.name} is active as system-ram: offline its memory first`);
    const ft = k.ftrace.on ? k.ftrace : null;
    if (ft) this.traceTeardown(ns);
    // devdax: dax_pmem's devres unregister_dev_dax kills the instance and unbinds device_dax with it
    const unregister = ft !== null && ns.mode === 'devdax' && !ns.disabled;
    if (unregister) {
      ft.enter('unregister_dev_dax');
      ft.leaf('kill_dev_dax');
    }
    if (ns.pfnDev && ns.pfnDev.bound) k.devices.unbind(ns.pfnDev);
    if (unregister) ft.exit('unregister_dev_dax');
    if (k.poisoned) return;
    if (ft) this.traceZeroAndDelete(ns);
    if (ns.pfnDev) k.dax.remove(ns.pfnDev.name);
    k.dax.detachDisk(ns.dev);
    if (ns.daxRes) k.iomem.release(ns.region.res, ns.daxRes);
    if (!ns.disabled) k.iomem.release(ns.region.res, ns.claim);
    // zero_info_block: ndctl enables a namespace its holder failed to claim in raw mode; that probe succeeds,
    // and nd_region_advance_seeds replaces it as the namespace seed (ns-sector-16M: namespace0.1)
    else if (!ns.region.io) ns.region.seeds.advanceSeeds(ns.idx, null);
    ns.region.namespaces.splice(ns.region.namespaces.indexOf(ns), 1);
    ns.region.seeds.destroy(ns.idx, ns.holder);
  }

  /** `ndctl list -N`: a devdax namespace shows its chardev, not the whole daxregion. */
  list(human: boolean, daxRegion = false, idle = false): Array<Record<string, unknown>> {
    // a disabled namespace is listed with -i only, and so are the idle seed devices
    return this.regions.flatMap((r) => [
      ...r.namespaces.filter((ns) => idle || !ns.disabled).map((ns) => this.json(ns, human, daxRegion)),
      ...(idle ? r.seeds.idleNamespaces.map((id) => this.idleJson(r, id, human)) : []),
    ]);
  }

  /**
   * util_namespace_to_json (ndctl/json.c) of an idle seed namespace: raw (no holder), size 0, the all-zero uuid of a
   * label-backed namespace without a label (ndctl_namespace_get_uuid), its sector_size (512 until ndctl set one), disabled.
   */
  idleJson(r: Region, id: number, human: boolean): Record<string, unknown> {
    return namespaceJson(
      {
        dev: `namespace${r.id}.${id}`,
        mode: 'raw',
        size: 0n,
        uuid: r.io ? undefined : '00000000-0000-0000-0000-000000000000',
        sectorSize: r.seeds.lbasize.get(id) ?? 512,
        state: 'disabled',
      },
      { human },
    );
  }

  /** Every namespace, region by region. */
  namespaces(): Namespace[] {
    return this.regions.flatMap((r) => r.namespaces);
  }

  /** Where everything of a namespace is: placement, the info block's numbers, the device. */
  info(ns: Namespace): NamespaceDetail {
    const l = ns.layout;
    return {
      dev: ns.dev,
      region: ns.region.id,
      device: ns.pfnDev?.name ?? null,
      blockdev: ns.mode === 'devdax' ? null : ns.blockdev,
      mode: ns.mode,
      map: ns.mode === 'raw' || ns.mode === 'sector' ? null : ns.map,
      start: ns.start,
      raw: ns.raw,
      size: l ? l.size : ns.bttSize ?? ns.raw,
      offset: l ? l.offset : 0n,
      startPad: l ? l.startPad : 0n,
      endTrunc: l ? l.endTrunc : 0n,
      npfns: l ? l.npfns : Number(ns.raw >> 12n),
      dataPfn: l ? l.dataPfn : Number(ns.start >> 12n),
    };
  }

  /** ndctl's namespace JSON plus the altmap the device got. */
  json(ns: Namespace, human: boolean, daxRegion = true): Record<string, unknown> {
    const size = ns.layout ? ns.layout.size : ns.bttSize ?? ns.raw;
    const out = namespaceJson(
      {
        dev: ns.dev,
        // a page-mapped raw namespace is mode "memory" to the kernel: ndctl's fsdax with its memmap in DRAM
        mode: (pmemShouldMapPages(ns) ? 'fsdax' : ns.mode) as NamespaceMode,
        map: pmemShouldMapPages(ns) ? 'mem' : ns.mode === 'raw' || ns.mode === 'sector' ? undefined : ns.map,
        size,
        // a label-less raw namespace has no uuid (no label); a pfn, dax or btt has its own
        uuid: ns.region.io && !ns.holder ? undefined : ns.uuid,
        sectorSize: ns.mode === 'devdax' ? undefined : ns.mode === 'sector' ? Number(ns.sectorSize) : 512,
        align: ns.mode === 'raw' || ns.mode === 'sector' ? undefined : ns.align,
        blockdev: ns.mode === 'devdax' || ns.disabled ? undefined : ns.blockdev,
        ...(ns.disabled ? { state: 'disabled' as const } : {}),
        ...(ns.altName ? { name: ns.altName } : {}),
        daxRegion:
          ns.mode === 'devdax'
            ? {
                id: ns.region.id,
                size,
                align: ns.align,
                devices: [
                  {
                    chardev: ns.pfnDev?.name ?? `dax${ns.region.id}.${ns.idx}`,
                    size,
                    // the dax device's target_node and align attributes arrived after v4.18
                    ...(this.k.profile.pfnEra === 'v6' ? { targetNode: this.k.numa.targetNode(ns.region.res.start), align: ns.align } : {}),
                  },
                ],
              }
            : undefined,
      },
      { human, daxRegion },
    );
    const pm = ns.pfnDev ? this.k.memremap.findDevPagemap(ns.start) : null;
    out.altmap = pm && pm.dev === ns.pfnDev && pm.altmap !== null ? altmapCounters(this.k.altmaps.read(pm.altmap)) : null;
    return out;
  }
}

/**
 * pmem_should_map_pages (drivers/nvdimm/namespace_devs.c): an unclaimed, enabled namespace of a
 * region with ND_REGION_PAGEMAP (the e820 bus sets it; QEMU's NFIT regions do not) gets struct pages.
 */
export function pmemShouldMapPages(ns: Namespace): boolean {
  return !!ns.region.legacy && ns.mode === 'raw' && !ns.holder && !ns.disabled;
}

/** validate_namespace_options on a label-less region given -s: ndctl's two errors, EINVAL, exit 237. */
function subdivideRefused(): never {
  throw new NdctlError(
    'EINVAL',
    'Legacy / label-less namespaces do not support sub-dividing a region',
    '  Error: Legacy / label-less namespaces do not support sub-dividing a region\n\n  Error: Retry without -s/--size=\n\nfailed to create namespace: Invalid argument\n',
    237,
  );
}
