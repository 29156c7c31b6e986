/**
 * The vmemmap as the page draws it: which 2 MiB block of struct pages (one per 128 MiB section) is
 * mapped where, found with the library's page-table walks (Machine.walk), not recomputed.
 *
 * Only present sections have a memmap, so only they are walked. A run of blocks whose two ends map
 * to the same place, with the physical addresses 2 MiB apart per block (the altmap's bump allocator
 * and the lowest-first DRAM allocator both hand out such runs), is taken whole; any other run is
 * split in half until it is. A 48 TiB device thus costs a few dozen walks, not 393,216.
 */
import { PAGES_PER_SECTION, type Machine } from 'altmap-sim';
import type { VmemmapRun } from './protocol.ts';

const BLOCK = 2 * 1024 * 1024;

export type Place = { target: VmemmapRun['target']; device: string | null };

interface Sample {
  mapped: boolean;
  phys: number;
  pageSize: number;
  place: Place;
}

export function scanVmemmap(m: Machine, placeOf: (phys: number) => Place): { runs: VmemmapRun[]; walks: number } {
  const runs: VmemmapRun[] = [];
  let walks = 0;
  const cache = new Map<number, Sample>();
  const sample = (section: number): Sample => {
    let s = cache.get(section);
    if (s) return s;
    walks++;
    const w = m.walk(m.pfnToPage(section * PAGES_PER_SECTION));
    s = w ? { mapped: true, phys: Number(w.phys), pageSize: w.pageSize, place: placeOf(Number(w.phys)) } : { mapped: false, phys: 0, pageSize: 0, place: { target: 'unmapped', device: null } };
    cache.set(section, s);
    return s;
  };
  const alike = (a: Sample, b: Sample, blocks: number): boolean => {
    if (a.mapped !== b.mapped || a.pageSize !== b.pageSize || a.place.target !== b.place.target || a.place.device !== b.place.device) return false;
    // 4 KiB mappings (the fallback without an altmap) are classed by their first page only
    return !a.mapped || a.pageSize !== BLOCK || b.phys - a.phys === blocks * BLOCK;
  };
  let last = -1;
  /** Blocks from..to map like sample s, taken at block `at`. */
  const emit = (from: number, to: number, s: Sample, at: number): void => {
    if (to <= last) return;
    from = Math.max(from, last + 1);
    const phys = s.mapped && s.pageSize === BLOCK ? s.phys + (from - at) * BLOCK : s.phys;
    const prev = runs[runs.length - 1];
    const continues =
      prev !== undefined &&
      prev.endPfn === from * PAGES_PER_SECTION &&
      prev.target === s.place.target &&
      prev.device === s.place.device &&
      prev.pageSize === s.pageSize &&
      (!s.mapped || s.pageSize !== BLOCK || phys === prev.phys + prev.blocks * BLOCK);
    if (continues) {
      prev.endPfn = (to + 1) * PAGES_PER_SECTION;
      prev.blocks += to - from + 1;
    } else {
      runs.push({ firstPfn: from * PAGES_PER_SECTION, endPfn: (to + 1) * PAGES_PER_SECTION, target: s.place.target, device: s.place.device, phys, pageSize: s.pageSize, blocks: to - from + 1 });
    }
    last = to;
  };
  const solve = (a: number, b: number): void => {
    const A = sample(a);
    const B = sample(b);
    if (alike(A, B, b - a)) return emit(a, b, A, a);
    if (b - a <= 1) {
      emit(a, a, A, a);
      return emit(b, b, B, b);
    }
    const mid = Math.floor((a + b) / 2);
    solve(a, mid);
    solve(mid, b);
  };
  for (const [first, lastSection] of m.presentSections()) solve(first, lastSection);
  return { runs, walks };
}
