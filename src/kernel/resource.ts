/** The iomem resource tree (kernel/resource.c) and region_intersects(). */

export const IORESOURCE_MEM = 0x200;
export const IORESOURCE_BUSY = 0x80000000;

/** region_intersects()'s answer (kernel/resource.c): no overlap with the named resources, overlap only with them, or with them and others. */
export type RegionResult = 'REGION_DISJOINT' | 'REGION_INTERSECTS' | 'REGION_MIXED';

export interface Resource {
  name: string;
  start: bigint;
  /** Inclusive, as in struct resource. */
  end: bigint;
  flags: number;
  children: Resource[];
}

export class IomemTree {
  /** Top-level children of iomem_resource, sorted by start. */
  readonly top: Resource[] = [];

  /** Insert a top-level resource (e820 at boot). */
  addTop(name: string, start: bigint, end: bigint, flags = IORESOURCE_MEM | IORESOURCE_BUSY): Resource {
    const r: Resource = { name, start, end, flags, children: [] };
    this.top.push(r);
    this.top.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return r;
  }

  /**
   * insert_resource at the top level: the new resource takes the top-level ones inside its range as
   * its children (platform_device_add's "hmem.N" over the e820 "Soft Reserved" on 6.1).
   */
  insertResource(name: string, start: bigint, end: bigint, flags = IORESOURCE_MEM): Resource {
    const inside = this.top.filter((c) => c.start >= start && c.end <= end);
    for (const c of inside) this.top.splice(this.top.indexOf(c), 1);
    const r = this.addTop(name, start, end, flags);
    r.children.push(...inside);
    return r;
  }

  /** The top-level resource containing [start, end], if one does. */
  parentOf(start: bigint, end: bigint): Resource | undefined {
    return this.top.find((r) => r.start <= start && end <= r.end);
  }

  /** __request_region under `parent`: null when it conflicts with a sibling. */
  request(parent: Resource, name: string, start: bigint, end: bigint, flags = IORESOURCE_MEM | IORESOURCE_BUSY): Resource | null {
    if (start < parent.start || end > parent.end) return null;
    if (parent.children.some((c) => c.start <= end && start <= c.end)) return null;
    const r: Resource = { name, start, end, flags, children: [] };
    parent.children.push(r);
    parent.children.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return r;
  }

  /** The resource whose child `r` is, if `r` is in the tree. */
  containerOf(r: Resource, among: readonly Resource[] = this.top): Resource | undefined {
    for (const c of among) {
      if (c.children.includes(r)) return c;
      const inner = this.containerOf(r, c.children);
      if (inner) return inner;
    }
    return undefined;
  }

  /** Put a released resource back under `parent` (it keeps its children); false when it conflicts. */
  reinsert(parent: Resource, r: Resource): boolean {
    if (r.start < parent.start || r.end > parent.end || parent.children.some((c) => c.start <= r.end && r.start <= c.end)) return false;
    parent.children.push(r);
    parent.children.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    return true;
  }

  release(parent: Resource, r: Resource): void {
    const i = parent.children.indexOf(r);
    if (i >= 0) parent.children.splice(i, 1);
  }

  /**
   * region_intersects (v4.5, name-matched): only top-level resources count. "Type" ones are named
   * `name` with flags exactly MEM|BUSY; each of start-inside, end-inside and wholly-inside adds one.
   */
  regionIntersects(start: bigint, size: bigint, name: string): RegionResult {
    const end = start + size - 1n;
    let type = 0;
    let other = 0;
    for (const p of this.top) {
      const isType = p.name === name && p.flags === (IORESOURCE_MEM | IORESOURCE_BUSY);
      let hits = 0;
      if (p.start <= start && start <= p.end) hits++;
      if (p.start <= end && end <= p.end) hits++;
      if (start <= p.start && p.end <= end) hits++;
      if (isType) type += hits;
      else other += hits;
    }
    if (other === 0) return type > 0 ? 'REGION_INTERSECTS' : 'REGION_DISJOINT';
    return type > 0 ? 'REGION_MIXED' : 'REGION_DISJOINT';
  }

  /** A deep copy, for comparing machine states. */
  snapshot(): unknown {
    const copy = (r: Resource): unknown => ({ name: r.name, start: r.start, end: r.end, flags: r.flags, children: r.children.map(copy) });
    return this.top.map(copy);
  }
}
