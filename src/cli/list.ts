/** ndctl's list (ndctl/list.c cmd_list, v76.1): the filter walk over regions and namespaces, and list_display(). */
import { Command } from 'commander';
import {
  type Machine,
  type ListFlags,
  type ListCollected,
  type RegionListing,
  decodeInfoBlock,
  PFN_SB_SIZE,
  regionJson,
  busJson,
  dimmJson,
  namespaceVerbose,
  listDisplay,
  libndctlOrder,
  regionFilter,
  namespaceFilter,
  nsModeName,
} from '../index.ts';
import { out, err } from './output.ts';
import { type MachineOpts, openSession } from './session.ts';

export interface ListOpts extends MachineOpts {
  buses?: boolean;
  regions?: boolean;
  namespaces?: boolean;
  dimms?: boolean;
  deviceDax?: boolean;
  idle?: boolean;
  configured?: boolean;
  human?: boolean;
  verbose?: number;
  region?: string;
  namespace?: string;
  mode?: string;
  /** --altmap: add each device's altmap (the model's own key, kernel field names). */
  altmap?: boolean;
}

/** The list.* switches after cmd_list()'s defaulting: no kind named lists namespaces; -v turns kinds on (ndctl/list.c). */
export interface ListPlan {
  buses: boolean;
  dimms: boolean;
  regions: boolean;
  namespaces: boolean;
  flags: ListFlags;
  /** -c: configured namespaces, active or not. */
  configured: boolean;
  region?: string;
  namespace?: string;
  mode?: string;
}

/** cmd_list (ndctl/list.c): num_list_flags(), the -v switch (without NDCTL_LIST_LINT) and listopts_to_flags(). */
export function listPlan(o: ListOpts): ListPlan {
  let buses = !!o.buses;
  let dimms = !!o.dimms;
  let regions = !!o.regions;
  let namespaces = !!o.namespaces;
  let dax = !!o.deviceDax;
  let idle = !!o.idle;
  let mode = o.mode;
  if (!buses && !dimms && !regions && !namespaces) {
    regions = o.region !== undefined;
    if (dax && mode === undefined) mode = 'dax';
  }
  const v = o.verbose ?? 0;
  if (v >= 3) idle = true;
  if (v >= 2) buses = dimms = regions = true;
  if (v >= 1) namespaces = dax = true;
  if (!buses && !dimms && !regions && !namespaces) namespaces = true;
  return { buses, dimms, regions, namespaces, flags: { human: !!o.human, verbose: v > 0, dax, idle }, configured: !!o.configured, region: o.region, namespace: o.namespace, mode };
}

/** ndctl_namespace_get_uuid(): the namespace's own (label) uuid, the pfn/dax info block's parent_uuid on the model's media. */
function rawUuid(m: Machine, dev: string): string | undefined {
  const info = m.namespaceInfo(dev);
  if (info.device === null) return undefined;
  return decodeInfoBlock(m.readPhys(info.start + 4096n, PFN_SB_SIZE))?.parentUuid;
}

/** util_namespace_to_json for one of the model's namespaces, as the flags ask. */
function namespaceEntry(m: Machine, ns: Record<string, unknown>, r: RegionListing, p: ListPlan, altmap: boolean): Record<string, unknown> {
  let c: Record<string, unknown> = { ...ns };
  if (!altmap) delete c.altmap;
  // an idle seed has no info block to read
  if (p.flags.verbose) c = namespaceVerbose(c, { rawUuid: r.namespaces.includes(String(ns.dev)) ? rawUuid(m, String(ns.dev)) : undefined, numaNode: r.numaNode, targetNode: r.targetNode });
  return c;
}

/** filter_namespace (ndctl/list.c): an active namespace, any with -i, a configured one (size > 0) with -c. */
function listed(ns: Record<string, unknown>, p: ListPlan): boolean {
  if (ns.state !== 'disabled' || p.flags.idle) return true;
  return p.configured && ns.size !== 0 && ns.size !== '0';
}

/** ndctl_filter_walk with cmd_list's filter_region / filter_namespace (ndctl/list.c): regions and namespaces in libndctl's order. */
export function collectList(m: Machine, p: ListPlan, altmap = false): ListCollected {
  // filter_bus: with -B each bus object is the container of its regions (and of namespaces without -R)
  const bus = p.buses ? m.listBuses().map((b) => busJson(b))[0] : undefined;
  const c: ListCollected = bus ? { buses: [bus] } : {};
  const attach = (key: 'dimms' | 'regions' | 'namespaces', item: unknown): void => {
    if (bus) ((bus[key] ??= []) as unknown[]).push(item);
    else (c[key] ??= []).push(item);
  };
  const wantMode = p.mode === undefined ? undefined : nsModeName(p.mode);
  // UTIL_JSON_DAX (-X): a devdax namespace with its daxregion, else its chardev; idle ones too, filter_namespace picks
  const plain = new Map(m.listNamespaces({ human: p.flags.human, daxRegion: p.flags.dax, idle: true }).map((n) => [String(n.dev), n]));
  const regions = libndctlOrder(m.listRegions(), (x) => x.dev);
  // ndctl_namespace_foreach: the configured namespaces and the idle seeds, in libndctl's order
  const devices = (r: RegionListing): string[] => libndctlOrder([...r.namespaces, ...r.idleSeeds], (x) => x);
  // ndctl_filter_walk: a namespace filter also picks the regions (and DIMMs) that hold a match
  const picked = (r: RegionListing): boolean =>
    regionFilter(r.dev, r.id, p.region) && (p.namespace === undefined || p.namespace === 'all' || devices(r).some((n) => namespaceFilter(n, p.namespace)));
  if (p.dimms) {
    // filter_dimm: each DIMM of the bus, filtered by the regions it maps (util_dimm_filter_by_region / _by_namespace)
    const mapped = new Set(regions.filter(picked).flatMap((r) => r.mappings.map((x) => x.dimm)));
    for (const d of libndctlOrder(m.listDimms(), (x) => x.dev)) if (mapped.has(d.dev)) attach('dimms', dimmJson(d, p.flags.human));
  }
  // filter_region clears lfa->jnamespaces at each region: list_display counts the last region's namespaces only
  let lastNamespaces: unknown[] | undefined;
  for (const r of regions) {
    if (!picked(r)) continue;
    let jnamespaces: unknown[] | undefined;
    let jregion: Record<string, unknown> | undefined;
    if (p.regions) {
      // region_to_json: the mappings only under -D; mappings_init() list_add()s each mappingN at the head of the
      // region's list (ccan list), so ndctl prints the last mapping first
      jregion = regionJson({ ...r, mappings: p.dimms ? [...r.mappings].reverse() : undefined }, p.flags);
      attach('regions', jregion);
      lastNamespaces = undefined;
    }
    if (!p.namespaces) continue;
    for (const dev of devices(r)) {
      const ns = plain.get(dev);
      if (!ns || !namespaceFilter(dev, p.namespace) || !listed(ns, p)) continue;
      if (wantMode !== undefined && ns.mode !== wantMode) continue;
      const entry = namespaceEntry(m, ns, r, p, altmap);
      if (jregion) {
        jnamespaces ??= (jregion.namespaces = []) as unknown[];
        jnamespaces.push(entry);
        lastNamespaces = jnamespaces;
      } else attach('namespaces', entry);
    }
  }
  if (lastNamespaces && !bus) c.namespaces = lastNamespaces;
  return c;
}

/** cmd_list (ndctl/list.c): prints list_display()'s JSON, nothing at all when nothing matched. */
export async function cmdList(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<ListOpts>();
  if (o.mode !== undefined && nsModeName(o.mode) === null) {
    // ndctl_filter_walk: error("invalid mode: '%s'\n") and -EINVAL
    err(`  Error: invalid mode: '${o.mode}'\n`);
    return 234;
  }
  const s = await openSession(cmd);
  try {
    const text = listDisplay(collectList(s.m, listPlan(o), !!o.altmap), !!o.human);
    if (text !== null) out(text);
    return 0;
  } finally {
    await s.close();
  }
}
