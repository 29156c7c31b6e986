/**
 * The model's own consistency checks (machine.checkInvariants): DRAM accounting against the page
 * tables, every altmap's alloc against the blocks mapped from it, vmemmap mappings against present
 * sections, lookup entries against present sections. Cost grows with tables and extents, not frames.
 */
import { Purpose } from '../core/core.ts';
import { PAGES_PER_SECTION } from './hotplug.ts';
import type { Kernel } from './kernel.ts';

export interface InvariantReport {
  tables: { vmemmap: number; directMap: number; other: number };
  vmemmapLeaves: number;
  dramMemmapPages: number;
  problems: string[];
}

/** Walk every page table; classify tables and vmemmap leaves. */
export function checkInvariants(k: Kernel): InvariantReport {
  const core = k.core;
  const levels = k.layout.paging;
  const topShift = levels === 5 ? 48n : 39n;
  const mask = (1n << (topShift + 9n)) - 1n;
  const vmemmapIndex = Number((k.layout.vmemmapStart & mask) >> topShift);
  const vmemmapPgdSpan = Math.max(1, Number((64n << BigInt(k.layout.physBits - 12)) >> topShift));
  const report: InvariantReport = { tables: { vmemmap: 0, directMap: 0, other: 0 }, vmemmapLeaves: 0, dramMemmapPages: 0, problems: [] };
  const problems = report.problems;
  const stats = core.dramStats();
  const isDram = (pfn: number) => k.ramRanges.some(([s, e]) => pfn >= s && pfn < e);
  const altmapUse = new Map<number, number>();
  const altmaps = [...k.memremap.live].filter((pm) => pm.altmapId !== null);
  const seenTables = new Set<bigint>();
  const sharedSeen = new Set<number>();
  const root = core.walk(0n).levels[0].table;

  /** The vmemmap leaf [pfnStart, pfnEnd) of struct pages, backed at backingPfn for `pages` pages. */
  const vmemmapLeaf = (firstPagePfn: number, nrStructPages: number, backingPfn: number, pages: number) => {
    report.vmemmapLeaves++;
    if (!k.hotplug.pfnValid(firstPagePfn) && !k.hotplug.pfnValid(firstPagePfn + nrStructPages - 1)) {
      problems.push(`vmemmap of pfns ${hex(firstPagePfn)}.. is mapped but no section there is present`);
    }
    if (isDram(backingPfn)) {
      // a page that compound devmaps or HVO map many times counts once
      if (pages === 1) {
        if (sharedSeen.has(backingPfn)) return;
        sharedSeen.add(backingPfn);
      }
      report.dramMemmapPages += pages;
      return;
    }
    // a block counts against a live mapping's altmap when that mapping hot-added the section it serves
    // (leftovers of failed or freed mappings may sit in the same pool: those are the kernel's business)
    const adder = k.hotplug.ownerOf(firstPagePfn);
    const owner = altmaps.find((pm) => pm === adder);
    if (owner) altmapUse.set(owner.altmapId!, (altmapUse.get(owner.altmapId!) ?? 0) + pages);
  };

  const visit = (table: bigint, level: number, vaBase: bigint, region: 'vmemmap' | 'directMap' | 'other') => {
    if (seenTables.has(table)) problems.push(`page-table page ${hex(table)} is linked twice`);
    seenTables.add(table);
    report.tables[region]++;
    const bytes = core.readPhys(table, 4096);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, 4096);
    const shift = BigInt(12 + 9 * (levels - 1 - level));
    for (let i = 0; i < 512; i++) {
      const e = dv.getBigUint64(i * 8, true);
      if (!(e & 1n)) continue;
      let r = region;
      if (level === 0) r = i >= vmemmapIndex && i < vmemmapIndex + vmemmapPgdSpan ? 'vmemmap' : i >= 256 ? 'directMap' : 'other';
      const va = vaBase + (BigInt(i) << shift);
      const pfn = Number((e & 0x000ffffffffff000n) >> 12n);
      const leaf = level === levels - 1 || (level > 0 && e & 0x80n);
      if (!leaf) {
        visit(BigInt(pfn) << 12n, level + 1, va, r);
        continue;
      }
      if (r === 'vmemmap') {
        const pages = Number((1n << shift) >> 12n);
        const off = Number((va - (k.layout.vmemmapStart & mask)) & mask);
        vmemmapLeaf(off / 64, (pages * 4096) / 64, pfn, pages);
      }
    }
  };
  visit(root, 0, 0n, 'other');

  const tablesFromRoot = report.tables.vmemmap + report.tables.directMap + report.tables.other;
  const tablesCounted = stats.byPurpose[Purpose.PageTable] + stats.byPurpose[Purpose.DirectMap];
  if (tablesFromRoot !== tablesCounted) problems.push(`${tablesFromRoot} page-table pages are linked but the allocator counts ${tablesCounted}`);
  if (report.tables.directMap !== stats.byPurpose[Purpose.DirectMap]) problems.push(`${report.tables.directMap} direct-map tables linked, ${stats.byPurpose[Purpose.DirectMap]} counted`);
  if (report.dramMemmapPages !== stats.byPurpose[Purpose.Memmap]) problems.push(`${report.dramMemmapPages} DRAM pages back the vmemmap but ${stats.byPurpose[Purpose.Memmap]} are counted as memmap`);
  const used = stats.byPurpose.reduce((a, b) => a + b, 0);
  if (used + stats.freePages !== stats.totalPages) problems.push(`DRAM: ${used} used + ${stats.freePages} free != ${stats.totalPages}`);
  const slab = [...k.memremap.live].length;
  if (stats.byPurpose[Purpose.Slab] !== slab) problems.push(`${stats.byPurpose[Purpose.Slab]} slab pages for ${slab} live page_maps`);
  for (const pm of altmaps) {
    const alloc = Number(BigInt.asIntN(64, core.altmapRead(pm.altmapId!).alloc));
    const mapped = altmapUse.get(pm.altmapId!) ?? 0;
    if (alloc !== mapped) problems.push(`altmap of ${pm.dev.name}: alloc ${alloc} but ${mapped} pfns of its pool are mapped`);
  }
  // stale entries of a freed mapping are the kernel's own leftovers (kernel.md §2.2, T36)
  for (const r of k.memremap.lookup.all()) {
    if (r.value.freed) continue;
    if (!k.hotplug.pfnValid(r.start) || !k.hotplug.pfnValid(r.end - 1)) {
      problems.push(`lookup entry [${hex(r.start)}, ${hex(r.end)}) of ${r.value.dev.name} covers pfns whose section is not present`);
    }
  }
  return report;
}

function hex(x: number | bigint): string {
  return `0x${x.toString(16)}`;
}
