/**
 * /sys/bus/nd/devices (drivers/nvdimm/bus.c, dimm_devs.c, region_devs.c, namespace_devs.c, pfn_devs.c,
 * dax_devs.c, btt_devs.c): the nd bus, its DIMMs, regions, namespaces and the pfn, dax and btt devices,
 * idle seeds included, as 6.12 shows them for a labelled NFIT region (fixtures seeds-*, ns-*).
 */
import type { Numa } from '../kernel/node.ts';
import { hex } from '../kernel/printk.ts';
import { dir, file, type VfsDir, type VfsNode } from '../kernel/vfs.ts';
import { uuidFromSeed, type DimmInfo, type MappingInfo } from './ndctl.ts';
import { isetCookie1 } from './region.ts';
import { pmemShouldMapPages, type Namespace, type Pmem, type Region } from './pmem.ts';
import { holderName, type Holder } from './seeds.ts';

/** ND_DEVICE_DIMM, ND_DEVICE_REGION_PMEM, ND_DEVICE_NAMESPACE_PMEM, ND_DEVICE_DAX_PMEM (include/linux/nd.h / nd-core.h). */
const ND_DEVICE_DIMM = 1;
const ND_DEVICE_REGION_PMEM = 2;
const ND_DEVICE_NAMESPACE_IO = 4;
const ND_DEVICE_NAMESPACE_PMEM = 5;
const ND_DEVICE_DAX_PMEM = 7;

/** The label slots of a 128 KiB label area once ndctl init-labels wrote its index blocks (nvdimm_num_label_slots). */
const LABEL_SLOTS = 1019;

/** The region's align attribute when the machine sets none: memremap_compat_align(), 16 MiB. */
const DEFAULT_REGION_ALIGN = 16n << 20n;

/** nd_pfn_supported_alignments: PAGE_SIZE, HPAGE_PMD_SIZE, HPAGE_PUD_SIZE. */
const SUPPORTED_ALIGNMENTS = '4096 2097152 1073741824 \n';

/** btt_lbasize_supported: the sector sizes a btt offers. */
const BTT_LBASIZE = [512, 520, 528, 4096, 4104, 4160, 4224];
/** pmem_lbasize_supported: the sector sizes a pmem namespace offers. */
const PMEM_LBASIZE = [512, 4096];

const f = (text: () => string) => () => file(() => `${text()}\n`);
const fixed = (text: string) => f(() => text);

/** nd_size_select_show: the supported sizes, the selected one in brackets, each followed by a space. */
function sizeSelectShow(current: number | undefined, supported: number[]): string {
  return supported.map((s) => (s === current ? `[${s}] ` : `${s} `)).join('');
}

/** The configured namespace of a region with this id, if any. */
const configured = (r: Region, id: number): Namespace | undefined => r.namespaces.find((n) => n.idx === id);

/** The namespace a holder is attached to, if any. */
const heldBy = (r: Region, h: Holder): Namespace | undefined => r.namespaces.find((n) => n.holder?.kind === h.kind && n.holder.id === h.id);

/** The namespace's own uuid: a holder keeps the uuid ndctl reports; the namespace's is the info block's parent uuid. */
const namespaceUuid = (ns: Namespace): string => (ns.holder ? uuidFromSeed(0x7f000000 + ns.idx) : ns.uuid);

/** nd_region_to_nstype: the type of namespace a region hands out (and its pfn and btt devices' modalias). */
const nstype = (r: Region) => (r.io ? ND_DEVICE_NAMESPACE_IO : ND_DEVICE_NAMESPACE_PMEM);

/** QEMU's NFIT for the DIMM in slot N (hw/acpi/nvdimm.c): its control region's serial number, 0x123456 + N. */
const dimmSerial = (n: number): number => 0x123456 + n;

/**
 * The interleave granularity of the model's NFIT: DIMM K's memory device has region_offset K x 4 KiB (struct
 * acpi_nfit_memory_map), the line size Optane platforms interleave with. A set of one DIMM has region_offset 0.
 */
const ISET_LINE = 4096n;

/** The region's DIMM indexes, mapping0 first (acpi_nfit_register_region: the NFIT's memory devices of its SPA range, in order). */
const dimmIndexes = (r: Region): number[] => Array.from({ length: r.ways }, (_, k) => r.dimm + k);

/**
 * The DIMM in NFIT slot N as libndctl reads it (add_dimm, ndctl/lib/libndctl.c): nmemN, its nfit/id ("%04x-%08x" of the
 * big-endian vendor 0x8086 and serial, nfit id_show), handle N + 1 and phys_id N (QEMU's slot numbering).
 */
function dimmInfo(n: number): DimmInfo {
  const s = dimmSerial(n);
  const be32 = ((s & 0xff) << 24) | ((s & 0xff00) << 8) | ((s >> 8) & 0xff00) | ((s >>> 24) & 0xff);
  return { dev: `nmem${n}`, id: `8680-${(be32 >>> 0).toString(16).padStart(8, '0')}`, handle: n + 1, physId: n };
}

/** The DIMMs of the region's interleave set (add_dimm for each nmemN it maps), mapping0's first; none on the e820 bus. */
export function regionDimms(r: Region): DimmInfo[] {
  return r.legacy ? [] : dimmIndexes(r).map(dimmInfo);
}

/**
 * mappingN_show (region_devs.c): "nmemX,start,size,position" of each DIMM: from DPA 0 (QEMU's NFIT), size / ways of the
 * region, and the position acpi_nfit_init_interleave_set() gave it (its rank by region_offset). None on the e820 bus.
 */
export function regionMappings(r: Region): MappingInfo[] {
  if (r.legacy) return [];
  const length = (r.res.end + 1n - r.res.start) / BigInt(r.ways);
  return dimmIndexes(r).map((n, k) => ({ dimm: `nmem${n}`, offset: 0n, length, position: k }));
}

/** set_cookie (region_devs.c): the interleave set's cookie1 over its DIMMs (acpi_nfit_init_interleave_set). */
export function regionSetCookie(r: Region): bigint {
  return isetCookie1(dimmIndexes(r).map((n, k) => ({ regionOffset: BigInt(k) * ISET_LINE, serial: dimmSerial(n) })));
}

/** nvdimm_dev_attrs + the DIMM's nd_device attributes (dimm_devs.c): DIMM n of the region, with labels or with no label area. */
function nmemDir(r: Region, n: number, major: number): VfsDir {
  return dir(() => ({
    // each namespace of an interleave set has a label on every DIMM of it (nd_pmem_namespace_label_update)
    available_slots: f(() => (r.io ? '' : String(LABEL_SLOTS - r.namespaces.length))),
    commands: fixed(r.io ? 'cmd_call ' : 'get_size get_data set_data cmd_call '),
    dev: fixed(`${major}:${n}`),
    devtype: fixed('nvdimm'),
    flags: fixed(r.io ? '' : 'label '),
    modalias: fixed(`nd:t${ND_DEVICE_DIMM}`),
    state: fixed(r.io ? 'idle' : 'active'),
  }));
}

/** Free space of a region, each extent aligned down to the region's align (nd_region_available_dpa, max_available_extent). */
function regionAvailable(pmem: Pmem, r: Region): { total: bigint; max: bigint } {
  const ext = pmem.allocatableExtents(r);
  const total = ext.reduce((s, e) => s + e.size, 0n);
  const max = ext.reduce((m, e) => (e.size > m ? e.size : m), 0n);
  return { total, max };
}

/** nd_region_attributes (region_devs.c) of a pmem region. */
function regionDir(pmem: Pmem, r: Region, n: NodeIds): VfsDir {
  const size = r.res.end + 1n - r.res.start;
  const seeds = r.seeds;
  const seedName = (kind: 'pfn' | 'dax' | 'btt') => (seeds.seed[kind] === null ? '' : holderName(r.id, { kind, id: seeds.seed[kind]! }));
  const entries: Record<string, () => VfsNode> = {
    align: fixed(hex(pmem.alignOf(r) ?? DEFAULT_REGION_ALIGN)),
    available_size: f(() => String(regionAvailable(pmem, r).total)),
    badblocks: fixed(''),
    btt_seed: f(() => seedName('btt')),
    deep_flush: fixed('0'),
    devtype: fixed('nd_pmem'),
    init_namespaces: fixed('1/1'),
    // an e820 region maps no DIMM
    mappings: fixed(r.legacy ? '0' : String(r.ways)),
    max_available_extent: f(() => String(regionAvailable(pmem, r).max)),
    modalias: fixed(`nd:t${ND_DEVICE_REGION_PMEM}`),
    namespace_seed: f(() => `namespace${r.id}.${seeds.seed.namespace}`),
    nstype: fixed(String(nstype(r))),
    numa_node: fixed(n.numa),
    pfn_seed: f(() => seedName('pfn')),
    read_only: fixed('0'),
    resource: fixed(hex(r.res.start)),
    // nd_region's set cookie: from the interleave set's DIMM serial numbers (QEMU's, one DIMM per set)
    set_cookie: fixed(hex(regionSetCookie(r))),
    size: fixed(String(size)),
    target_node: fixed(n.target),
  };
  regionMappings(r).forEach((m, k) => (entries[`mapping${k}`] = fixed(`${m.dimm},${m.offset},${m.length},${m.position}`)));
  if (seeds.seed.dax !== null) entries.dax_seed = f(() => seedName('dax'));
  return dir(() => entries);
}

/** nd_namespace_attributes (namespace_devs.c) of a label-backed pmem namespace, configured or idle, or of a label-less io one. */
function namespaceDir(r: Region, id: number, n: NodeIds): VfsDir {
  return dir((): Record<string, () => VfsNode> => {
    const ns = configured(r, id);
    const holder = ns?.holder ?? null;
    // mode_show: an unclaimed namespace whose pages are mapped (pmem_should_map_pages) is "memory"
    const mode = !holder ? (ns && pmemShouldMapPages(ns) ? 'memory' : 'raw') : { pfn: 'memory', dax: 'dax', btt: 'safe' }[holder.kind];
    if (r.io) {
      // namespace_visible: an io namespace has no label, so no uuid, alt_name, sector_size or dpa_extents
      return {
        devtype: fixed('nd_namespace_io'),
        force_raw: fixed('0'),
        holder: fixed(holder ? holderName(r.id, holder) : ''),
        holder_class: fixed(holder ? holder.kind : (ns?.disabled?.holderClass ?? '')),
        modalias: fixed(`nd:t${ND_DEVICE_NAMESPACE_IO}`),
        mode: fixed(mode),
        nstype: fixed(String(ND_DEVICE_NAMESPACE_IO)),
        numa_node: fixed(n.numa),
        resource: fixed(hex(r.res.start)),
        size: fixed(String(r.res.end + 1n - r.res.start)),
        target_node: fixed(n.target),
      };
    }
    return {
      alt_name: fixed(ns?.altName ?? ''),
      devtype: fixed('nd_namespace_pmem'),
      // dpa_extents_show: the namespace's DPA resources on every DIMM of the set, one each
      dpa_extents: fixed(ns ? String(r.ways) : '0'),
      force_raw: fixed('0'),
      holder: fixed(holder ? holderName(r.id, holder) : ''),
      holder_class: fixed(holder ? holder.kind : ''),
      modalias: fixed(`nd:t${ND_DEVICE_NAMESPACE_PMEM}`),
      mode: fixed(mode),
      nstype: fixed(String(ND_DEVICE_NAMESPACE_PMEM)),
      numa_node: fixed(n.numa),
      resource: fixed(ns ? hex(ns.start) : ''),
      sector_size: fixed(sizeSelectShow(r.seeds.lbasize.get(id), PMEM_LBASIZE)),
      size: fixed(ns ? String(ns.raw) : '0'),
      target_node: fixed(n.target),
      uuid: fixed(ns ? namespaceUuid(ns) : ''),
    };
  });
}

/** nd_pfn_attributes / nd_dax_attributes (pfn_devs.c, dax_devs.c): the pfn info block's view of the data. */
function pfnDir(r: Region, h: Holder, n: NodeIds): VfsDir {
  return dir(() => {
    const ns = heldBy(r, h);
    const l = ns?.layout ?? null;
    return {
      align: fixed(String(ns ? ns.align : h.kind !== 'btt' && r.seeds.seed[h.kind] === h.id ? (r.seeds.seedAlign[h.kind] ?? 2n << 20n) : 2n << 20n)),
      devtype: fixed(h.kind === 'dax' ? 'nd_dax' : 'nd_pfn'),
      modalias: fixed(`nd:t${h.kind === 'dax' ? ND_DEVICE_DAX_PMEM : nstype(r)}`),
      mode: fixed(!ns ? 'none' : ns.map === 'mem' ? 'ram' : 'pmem'),
      namespace: fixed(ns ? ns.dev : ''),
      numa_node: fixed(n.numa),
      // resource_show / size_show: the data after the info block and the memmap, once the device is enabled
      resource: fixed(ns && l ? hex(ns.start + l.startPad + l.offset) : ''),
      size: fixed(ns && l ? String(l.size) : ''),
      supported_alignments: () => file(() => SUPPORTED_ALIGNMENTS),
      target_node: fixed(n.target),
      uuid: fixed(ns ? ns.uuid : ''),
    };
  });
}

/** nd_btt_attributes (btt_devs.c). */
function bttDir(r: Region, h: Holder, n: NodeIds): VfsDir {
  return dir(() => {
    const ns = heldBy(r, h);
    return {
      devtype: fixed('nd_btt'),
      log_zero_flags: fixed('Y'),
      modalias: fixed(`nd:t${nstype(r)}`),
      namespace: fixed(ns ? ns.dev : ''),
      numa_node: fixed(n.numa),
      sector_size: fixed(sizeSelectShow(ns?.sectorSize === undefined ? undefined : Number(ns.sectorSize), BTT_LBASIZE)),
      // size_show: the btt's exported size once it probed (a btt that failed to probe has none)
      size: fixed(ns && ns.mode === 'sector' && ns.bttSize !== undefined ? String(ns.bttSize) : ''),
      target_node: fixed(n.target),
      uuid: fixed(ns ? ns.uuid : ''),
    };
  });
}

/** The nd bus's own attributes (bus.c): an ACPI NFIT bus, or the e820 one (drivers/nvdimm/e820.c: no commands). */
function ndbusDir(legacy: boolean): VfsDir {
  return dir(() => ({
    commands: fixed(legacy ? '' : 'cmd_call '),
    provider: fixed(legacy ? 'e820' : 'ACPI.NFIT'),
    wait_probe: fixed('1'),
  }));
}

/** /sys/bus/nd/devices */
/** A region's numa_node and target_node (acpi_nfit: pxm_to_online_node and pxm_to_node of its SPA range), as sysfs prints them; its namespaces and pfn/dax/btt devices inherit them. */
interface NodeIds {
  numa: string;
  target: string;
}

export function ndBusDevices(pmem: Pmem, numa?: Numa): VfsDir {
  return dir(() => {
    const out: Record<string, () => VfsNode> = {};
    if (pmem.regions.length === 0) return out;
    // one bus: the e820 one when its regions are legacy (the model has no machine with both)
    const legacy = pmem.regions.every((r) => r.legacy);
    out.ndbus0 = () => ndbusDir(legacy);
    for (const r of pmem.regions) {
      if (!r.legacy) for (const n of dimmIndexes(r)) out[`nmem${n}`] = () => nmemDir(r, n, pmem.dimmMajor);
      const n = { numa: String(numa?.numaNode(r.res.start) ?? 0), target: String(numa?.targetNode(r.res.start) ?? 0) };
      out[`region${r.id}`] = () => regionDir(pmem, r, n);
      const ids = [...r.namespaces.map((n) => n.idx), ...r.seeds.idleNamespaces];
      for (const id of ids) out[`namespace${r.id}.${id}`] = () => namespaceDir(r, id, n);
      for (const kind of ['pfn', 'dax', 'btt'] as const) {
        for (const id of r.seeds.devices(kind)) out[`${kind}${r.id}.${id}`] = () => (kind === 'btt' ? bttDir(r, { kind, id }, n) : pfnDir(r, { kind, id }, n));
      }
    }
    return out;
  });
}

