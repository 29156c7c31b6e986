/**
 * The model's own consistency checks (machine.checkInvariants): DRAM accounting against the page
 * tables, every altmap's alloc against the blocks mapped from it, vmemmap mappings against present
 * sections, lookup entries against present sections. Cost grows with tables and extents, not frames.
 */
import { Purpose } from './pagealloc.ts';
import { leavesOf } from './pgtable.ts';
import { hex } from './printk.ts';
import type { Kernel } from './kernel.ts';
import type { PageMap } from './memremap.ts';

/** What Machine.checkInvariants counted while checking the model's consistency. */
export interface InvariantReport {
  /** Page-table pages reachable from the root, by the part of the address space they map. */
  tables: {
    /** Tables under the vmemmap's pgd entries. */
    vmemmap: number;
    /** Tables under the other kernel-half pgd entries (the direct map). */
    directMap: number;
    /** The root, and tables under the user-half pgd entries. */
    other: number;
  };
  /** Leaf entries mapping vmemmap (struct page) memory. */
  vmemmapLeaves: number;
  /** DRAM pages backing vmemmap leaves (memmap pages not from an altmap). */
  dramMemmapPages: number;
  /** One line per violated invariant; empty when all hold (checkInvariants throws otherwise). */
  problems: string[];
}

/** Walk every page table; classify tables and vmemmap leaves. */
export function checkInvariants(k: Kernel): InvariantReport {
  const levels = k.layout.paging;
  const topShift = levels === 5 ? 48n : 39n;
  const mask = (1n << (topShift + 9n)) - 1n;
  const vmemmapIndex = Number((k.layout.vmemmapStart & mask) >> topShift);
  const vmemmapPgdSpan = Math.max(1, Number((64n << BigInt(k.layout.physBits - 12)) >> topShift));
  const report: InvariantReport = { tables: { vmemmap: 0, directMap: 0, other: 0 }, vmemmapLeaves: 0, dramMemmapPages: 0, problems: [] };
  const problems = report.problems;
  const stats = k.pageAlloc.stats();
  const isDram = (pfn: number) => k.ramRanges.some(([s, e]) => pfn >= s && pfn < e);
  const altmapUse = new Map<PageMap, number>();
  const altmaps = [...k.memremap.live].filter((pm) => pm.altmap !== null);
  const seenTables = new Set<bigint>();
  const sharedSeen = new Set<number>();

  /** The vmemmap leaf of nrStructPages struct pages from firstPagePfn's, backed at backingPfn for `pages` pages. */
  const vmemmapLeaf = (firstPagePfn: number, nrStructPages: number, backingPfn: number, pages: number) => {
    report.vmemmapLeaves++;
    if (!k.sparse.pfnValid(firstPagePfn) && !k.sparse.pfnValid(firstPagePfn + nrStructPages - 1)) {
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
    const adder = k.sparse.ownerOf(firstPagePfn);
    const owner = altmaps.find((pm) => pm === adder);
    if (owner) altmapUse.set(owner, (altmapUse.get(owner) ?? 0) + pages);
  };

  /** Which part of the address space a table below the root serves, by its PGD index. */
  const regionOf = (depth: number, vaBase: bigint): 'vmemmap' | 'directMap' | 'other' => {
    if (depth === 0) return 'other';
    const i = Number((vaBase >> topShift) & 511n);
    return i >= vmemmapIndex && i < vmemmapIndex + vmemmapPgdSpan ? 'vmemmap' : i >= 256 ? 'directMap' : 'other';
  };

  const tables = [...k.pgtable.tables()];
  for (const t of tables) {
    if (seenTables.has(t.table)) problems.push(`page-table page ${hex(t.table)} is linked twice`);
    seenTables.add(t.table);
    report.tables[regionOf(t.depth, t.vaBase)]++;
  }
  for (const l of leavesOf(tables, levels)) {
    if (regionOf(l.table.depth, l.table.vaBase) !== 'vmemmap') continue;
    const pages = 2 ** (l.shift - 12);
    const off = Number((l.va - (k.layout.vmemmapStart & mask)) & mask);
    vmemmapLeaf(off / 64, (pages * 4096) / 64, Number(l.phys >> 12n), pages);
  }

  const tablesFromRoot = report.tables.vmemmap + report.tables.directMap + report.tables.other;
  const tablesCounted = stats.byPurpose[Purpose.PageTable] + stats.byPurpose[Purpose.DirectMap];
  if (tablesFromRoot !== tablesCounted) problems.push(`${tablesFromRoot} page-table pages are linked but the allocator counts ${tablesCounted}`);
  if (report.tables.directMap !== stats.byPurpose[Purpose.DirectMap]) problems.push(`${report.tables.directMap} direct-map tables linked, ${stats.byPurpose[Purpose.DirectMap]} counted`);
  if (report.dramMemmapPages !== stats.byPurpose[Purpose.Memmap]) problems.push(`${report.dramMemmapPages} DRAM pages back the vmemmap but ${stats.byPurpose[Purpose.Memmap]} are counted as memmap`);
  const used = stats.byPurpose.reduce((a, b) => a + b, 0);
  if (used + stats.freePages !== stats.totalPages) problems.push(`DRAM: ${used} used + ${stats.freePages} free != ${stats.totalPages}`);
  const slab = [...k.memremap.live].length;
  if (stats.byPurpose[Purpose.Slab] !== slab) problems.push(`${stats.byPurpose[Purpose.Slab]} slab pages for ${slab} live page_maps`);
  // after v4.5's pgmap_radix_release deleted a live mapping's keys, frees land on the wrong altmap
  const accountable = k.memremap.clobbered.size === 0;
  for (const pm of accountable ? altmaps : []) {
    const alloc = Number(BigInt.asIntN(64, k.altmaps.read(pm.altmap!).alloc));
    const mapped = altmapUse.get(pm) ?? 0;
    if (alloc !== mapped) problems.push(`altmap of ${pm.dev.name}: alloc ${alloc} but ${mapped} pfns of its pool are mapped`);
  }
  // stale entries of a freed mapping are the kernel's own leftovers (kernel.md §2.2, T36)
  for (const r of k.memremap.lookup.all()) {
    if (r.value.freed) continue;
    if (!k.sparse.pfnValid(r.start) || !k.sparse.pfnValid(r.end - 1)) {
      problems.push(`lookup entry [${hex(r.start)}, ${hex(r.end)}) of ${r.value.dev.name} covers pfns whose section is not present`);
    }
  }
  return report;
}

