/**
 * /proc as the profile's kernel prints it: /proc/iomem (kernel/resource.c r_show) and /proc/meminfo
 * (fs/proc/meminfo.c meminfo_proc_show, the lines the model keeps: see the README).
 */
import type { Kernel } from './kernel.ts';
import { Purpose } from './pagealloc.ts';
import type { Resource } from './resource.ts';
import { dir, file, type VfsDir } from './vfs.ts';

/** /proc: the files the model has. */
export function procDir(k: Kernel, bootUsed: number): VfsDir {
  return dir(() => ({
    iomem: () => file(() => procIomem(k)),
    meminfo: () => file(() => procMeminfo(k, bootUsed)),
  }));
}

/** r_show: "%*s%0*llx-%0*llx : %s", two spaces per depth, addresses at least 8 hex digits wide (iomem's end is ~0). */
export function procIomem(k: Kernel): string {
  const lines: string[] = [];
  const show = (r: Resource, depth: number) => {
    lines.push(`${'  '.repeat(depth)}${r.start.toString(16).padStart(8, '0')}-${r.end.toString(16).padStart(8, '0')} : ${r.name}`);
    for (const c of r.children) show(c, depth + 1);
  };
  for (const r of k.iomem.top) show(r, 0);
  return lines.map((l) => `${l}\n`).join('');
}

/** direct_pages_count[]: the direct map's leaves by size, from the page tables (arch/x86/mm/pat/set_memory.c). */
export function directMapCounts(k: Kernel): { '4k': number; '2M': number; '1G': number } {
  const out = { '4k': 0, '2M': 0, '1G': 0 };
  const { pageOffset, physBits } = k.layout;
  const end = pageOffset + (1n << BigInt(physBits));
  for (const l of k.pgtable.leaves()) {
    if (l.va < pageOffset || l.va >= end) continue;
    if (l.shift === 12) out['4k']++;
    else if (l.shift === 21) out['2M']++;
    else if (l.shift === 30) out['1G']++;
  }
  return out;
}

/** show_val_kb: the label padded to 16 columns, the value right-aligned in 8, " kB". */
const kb = (label: string, kib: number) => `${`${label}:`.padEnd(16)}${String(kib).padStart(8)} kB\n`;

/**
 * meminfo_proc_show, the lines the model has: MemTotal is System RAM less what boot took (memblock's
 * reservations: the boot memmap and page tables), kmem's onlined blocks included (they joined it);
 * MemFree the page allocator's free pages; PageTables counts user page tables, and the model
 * has no user processes; the HugeTLB pool; the direct map by leaf size.
 */
export function procMeminfo(k: Kernel, bootUsedPages: number): string {
  const d = k.pageAlloc.stats();
  const hp = k.hugetlb.summary();
  const dm = directMapCounts(k);
  const pagesKb = (n: number) => n * 4;
  return [
    kb('MemTotal', pagesKb(d.totalPages - bootUsedPages)),
    kb('MemFree', pagesKb(d.freePages)),
    kb('PageTables', 0),
    `HugePages_Total:   ${String(hp.pages2M).padStart(5)}\n`,
    `HugePages_Free:    ${String(hp.pages2M).padStart(5)}\n`,
    kb('Hugepagesize', 2048),
    kb('Hugetlb', hp.pages2M * 2048 + hp.pages1G * 1048576),
    kb('DirectMap4k', dm['4k'] * 4),
    kb('DirectMap2M', dm['2M'] * 2048),
    kb('DirectMap1G', dm['1G'] * 1048576),
  ].join('');
}

/** Pages in use right after boot (memblock's share: never part of MemTotal). */
export function bootUsedPages(k: Kernel): number {
  const d = k.pageAlloc.stats();
  return d.totalPages - d.freePages - d.byPurpose[Purpose.Slab];
}
