/**
 * A region's device ids and seeds (drivers/nvdimm/region_devs.c, namespace_devs.c, pfn_devs.c,
 * dax_devs.c, btt_devs.c): each kind of nd device takes its id from its own per-region ida, and the
 * region keeps one idle "seed" device of each kind for ndctl to configure. A seed that a successful
 * probe used is replaced by a new one with the lowest free id; a destroyed device that is not a seed
 * goes away, its id free again. So a later namespace can be namespace0.6 held by pfn0.1.
 */

/** The kinds of device a region hands out (namespace, and the three that can hold one). */
export type SeedKind = 'namespace' | 'pfn' | 'dax' | 'btt';

/** The device that claims a namespace: nd_pfn (fsdax), nd_dax (devdax) or nd_btt (sector). */
export interface Holder {
  kind: 'pfn' | 'dax' | 'btt';
  id: number;
}

/** nd_region's seeds and idas: the ids registered now, and which of them are the seeds. */
export class RegionSeeds {
  /** Registered namespace devices with no configuration (size 0): the seed, and namespaceX.0 kept by size_store. */
  readonly idleNamespaces: number[] = [];
  /** Ids of the holders now attached to a namespace, per kind. */
  private readonly held: Record<Holder['kind'], Set<number>> = { pfn: new Set(), dax: new Set(), btt: new Set() };
  readonly seed: Record<SeedKind, number | null> = { namespace: null, pfn: null, dax: null, btt: null };
  /** The align ndctl wrote to a pfn or dax seed whose enable then failed: the seed keeps it. */
  readonly seedAlign: Partial<Record<'pfn' | 'dax', bigint>> = {};
  /** Each registered namespace device's sector size once ndctl set one: kept while the device lives, idle or not. */
  readonly lbasize = new Map<number, number>();

  constructor(
    readonly region: number,
    /** The ids of the configured namespaces (the region's namespaces, as they are at each call). */
    private readonly configured: () => number[],
    /** device-dax exists in this era (nd_region_create_dax_seed arrived with it, v4.7). */
    private readonly dax: boolean,
    /** A label-less region: its one namespace, id 0, is the seed for good (nd_region_create_ns_seed makes none). */
    private readonly io = false,
  ) {}

  /** nd_region_probe: the region's first namespace device (namespaceX.0, idle) and the btt, pfn and dax seeds. */
  registerRegion(): void {
    if (this.io) this.seed.namespace = 0;
    else this.nsCreateSeed();
    this.createSeed('btt');
    this.createSeed('pfn');
    if (this.dax) this.createSeed('dax');
  }

  /** The registered ids of one kind (what the ida has handed out and not got back). */
  private used(kind: SeedKind): Set<number> {
    if (kind === 'namespace') return new Set([...this.configured(), ...this.idleNamespaces]);
    const s = new Set(this.held[kind]);
    const seed = this.seed[kind];
    if (seed !== null) s.add(seed);
    return s;
  }

  /** ida_alloc: the lowest id not in use. */
  private idaAlloc(kind: SeedKind): number {
    const used = this.used(kind);
    let id = 0;
    while (used.has(id)) id++;
    return id;
  }

  /** nd_region_create_ns_seed: a new idle namespace device, the region's namespace_seed. */
  private nsCreateSeed(): void {
    const id = this.idaAlloc('namespace');
    this.idleNamespaces.push(id);
    this.seed.namespace = id;
  }

  /** nd_region_create_{pfn,dax,btt}_seed: a new idle device of that kind, the region's seed for it. */
  private createSeed(kind: Holder['kind']): void {
    if (kind !== 'btt') delete this.seedAlign[kind];
    this.seed[kind] = this.idaAlloc(kind);
  }

  /** ndctl's region_get_namespace: prefer namespaceX.0 when it is idle, else the region's namespace seed. */
  regionGetNamespace(): number {
    if (this.io || this.idleNamespaces.includes(0)) return 0;
    return this.seed.namespace!;
  }

  /** The holder seed ndctl configures for a mode (ndctl_region_get_{pfn,dax,btt}_seed); null for raw. */
  holderSeed(mode: 'fsdax' | 'devdax' | 'raw' | 'sector'): Holder | null {
    const kind = mode === 'fsdax' ? 'pfn' : mode === 'devdax' ? 'dax' : mode === 'sector' ? 'btt' : null;
    if (kind === null) return null;
    const id = this.seed[kind];
    if (id === null) throw new Error(`region${this.region} has no ${kind} seed`);
    return { kind, id };
  }

  /** The namespace takes a configuration (its size is set): no longer idle; its holder is attached. */
  configure(ns: number, holder: Holder | null, lbasize: number): void {
    this.lbasize.set(ns, lbasize);
    const i = this.idleNamespaces.indexOf(ns);
    if (i >= 0) this.idleNamespaces.splice(i, 1);
    if (holder) this.held[holder.kind].add(holder.id);
  }

  /** The configuration is undone before it was ever enabled (ndctl's rollback after a failed enable): idle again. */
  unconfigure(ns: number, holder: Holder | null, align: bigint): void {
    if (holder) this.held[holder.kind].delete(holder.id);
    if (holder && holder.kind !== 'btt' && this.seed[holder.kind] === holder.id) this.seedAlign[holder.kind] = align;
    if (!this.io && !this.idleNamespaces.includes(ns)) this.idleNamespaces.push(ns);
  }

  /** nd_region_advance_seeds: after a successful probe, the seeds it used are replaced. */
  advanceSeeds(ns: number, holder: Holder | null): void {
    if (holder && this.seed[holder.kind] === holder.id) this.createSeed(holder.kind);
    if (this.seed.namespace === ns && !this.io) this.nsCreateSeed();
  }

  /**
   * The namespace is destroyed: nd_detach_and_reset unregisters its holder unless it is a seed (is_idle),
   * and size_store(0) unregisters the namespace unless it is namespaceX.0 or the seed.
   */
  destroy(ns: number, holder: Holder | null): void {
    if (holder) this.held[holder.kind].delete(holder.id);
    if (this.io) return; // the io namespace is added again as it is reconfigured
    if (ns === 0 || ns === this.seed.namespace) {
      if (!this.idleNamespaces.includes(ns)) this.idleNamespaces.push(ns);
    } else this.lbasize.delete(ns);
  }

  /** The ids of one holder kind registered now (the seed and the attached ones), ascending. */
  devices(kind: Holder['kind']): number[] {
    return [...this.used(kind)].sort((a, b) => a - b);
  }
}

/** The nd device name of a holder ("pfn0.1", "dax0.0", "btt0.2"). */
export const holderName = (region: number, h: Holder): string => `${h.kind}${region}.${h.id}`;
