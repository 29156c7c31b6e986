/**
 * Compound runs (as assembly/compoundrun.ts; docs/core.md "Compound runs"): one GiB of a compound devmap's
 * vmemmap whose PMD table, PTE tables and head and first-tail pages came from one contiguous DRAM run,
 * kept as one record: its tables are drawn on read, its tails' share counts are implicit.
 */
import { NX_HI, PAGE_FLAGS, TABLE_FLAGS } from './pgtable.ts';

const PMD_SHIFT = 21;
const PUD_SHIFT = 30;

export interface CompoundRun {
  /** The PMD table's frame: the run is frames [base, base + frames). */
  base: number;
  frames: number;
  /** A compound page has 2^csShift bytes of vmemmap. */
  csShift: number;
  /** Its tails' share counts are in the share map. */
  explicit: boolean;
}

/** Frames a run of 1 GiB of vmemmap takes. */
export function crFrames(csShift: number): number {
  if (csShift <= PMD_SHIFT) return 1 + 512 * (1 + 2 ** (PMD_SHIFT - csShift + 1));
  return 1 + 2 ** (PUD_SHIFT - csShift) * (2 ** (csShift - PMD_SHIFT) + 2);
}

function unitFrames(cs: number): number {
  return cs <= PMD_SHIFT ? 1 + 2 ** (PMD_SHIFT - cs + 1) : 2 ** (cs - PMD_SHIFT) + 2;
}

/** Frame of the run's PTE table i (0..511). */
function tableFrame(r: CompoundRun, i: number): number {
  const u = unitFrames(r.csShift);
  if (r.csShift <= PMD_SHIFT) return r.base + 1 + i * u;
  const t = 2 ** (r.csShift - PMD_SHIFT);
  const j = i % t;
  return r.base + 1 + Math.floor(i / t) * u + (j === 0 ? 0 : 2 + j);
}

/** PTE table index of frame f of r, -1 for the PMD table, -2 for a head or tail page. */
function tableIndex(r: CompoundRun, f: number): number {
  const o = f - r.base;
  if (o === 0) return -1;
  const u = unitFrames(r.csShift);
  const k = Math.floor((o - 1) / u);
  const m = (o - 1) % u;
  if (r.csShift <= PMD_SHIFT) return m === 0 ? k : -2;
  const t = 2 ** (r.csShift - PMD_SHIFT);
  if (m === 0) return k * t;
  return m <= 2 ? -2 : k * t + m - 2;
}

export class CompoundRuns {
  /** Sorted by base, disjoint. */
  readonly list: CompoundRun[] = [];

  /** Index of the first run whose base is above f. */
  private above(f: number): number {
    const l = this.list;
    let lo = 0;
    let hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid].base <= f) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The run holding frame f. */
  find(f: number): CompoundRun | undefined {
    if (this.list.length === 0) return undefined;
    const lo = this.above(f);
    const r = lo > 0 ? this.list[lo - 1] : undefined;
    return r && f < r.base + r.frames ? r : undefined;
  }

  /** Is frame f of r one of its tables? */
  isTable(r: CompoundRun, f: number): boolean {
    return tableIndex(r, f) !== -2;
  }

  /** Table frame f of r as 1024 u32 words (lo, hi per entry). */
  synth(r: CompoundRun, f: number, out: Uint32Array): void {
    const ti = tableIndex(r, f);
    const put = (e: number, pfn: number, flags: number, nx: number) => {
      out[2 * e] = ((pfn % 1048576) * 4096 + flags) >>> 0;
      out[2 * e + 1] = (Math.floor(pfn / 1048576) | nx) >>> 0;
    };
    if (ti === -1) {
      for (let e = 0; e < 512; e++) put(e, tableFrame(r, e), TABLE_FLAGS, 0);
      return;
    }
    const cs = r.csShift;
    const u = unitFrames(cs);
    if (cs <= PMD_SHIFT) {
      const per = 2 ** (cs - 12);
      for (let e = 0; e < 512; e++) put(e, r.base + 1 + ti * u + 1 + 2 * Math.floor(e / per) + (e % per === 0 ? 0 : 1), PAGE_FLAGS, NX_HI);
      return;
    }
    const t = 2 ** (cs - PMD_SHIFT);
    const at = r.base + 1 + Math.floor(ti / t) * u;
    for (let e = 0; e < 512; e++) put(e, at + (ti % t === 0 && e === 0 ? 1 : 2), PAGE_FLAGS, NX_HI);
  }

  /** Tail pages of r (one per compound page) and the shares each holds. */
  tails(r: CompoundRun): number {
    return 2 ** (PUD_SHIFT - r.csShift);
  }
  tailShares(r: CompoundRun): number {
    return 2 ** (r.csShift - 12) - 2;
  }

  /** Frame of r's tail page k, in allocation order. */
  tail(r: CompoundRun, k: number): number {
    const u = unitFrames(r.csShift);
    if (r.csShift > PMD_SHIFT) return r.base + 1 + k * u + 2;
    const m = 2 ** (PMD_SHIFT - r.csShift);
    return r.base + 1 + Math.floor(k / m) * u + 2 + 2 * (k % m);
  }

  /** Is frame f of r a tail whose shares are still implicit? */
  implicitTail(r: CompoundRun, f: number): boolean {
    if (r.explicit) return false;
    const o = f - r.base;
    if (o === 0) return false;
    const m = (o - 1) % unitFrames(r.csShift);
    return r.csShift <= PMD_SHIFT ? m !== 0 && m % 2 === 0 : m === 2;
  }

  /** Record a run over [base, base + crFrames(csShift)). */
  create(base: number, csShift: number): CompoundRun {
    const r: CompoundRun = { base, frames: crFrames(csShift), csShift, explicit: false };
    let i = this.list.length;
    while (i > 0 && this.list[i - 1].base > base) i--;
    this.list.splice(i, 0, r);
    return r;
  }

  delete(r: CompoundRun): void {
    const i = this.above(r.base) - 1;
    if (i >= 0 && this.list[i] === r) this.list.splice(i, 1);
  }

  /** The runs overlapping frames [fa, fb), ascending. */
  overlapping(fa: number, fb: number): CompoundRun[] {
    const out: CompoundRun[] = [];
    const l = this.list;
    for (let i = Math.max(0, this.above(fa) - 1); i < l.length && l[i].base < fb; i++) if (l[i].base + l[i].frames > fa) out.push(l[i]);
    return out;
  }
}
