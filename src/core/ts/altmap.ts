/**
 * struct vmem_altmap and its bump allocator (twin of assembly/altmap.ts).
 * Fields are u64 in the kernel. Here they are numbers holding the value as a signed 64-bit
 * integer (exact while |value| < 2^53): small counts stay positive, and an underflowing
 * vmem_altmap_free wraps to a small negative number, which reads back as 2^64 - k.
 */
import { EventType, FaultKind, type AltmapField, type AltmapFields, type LookupEntryInput } from '../core.ts';
import type { Events, Faults } from './state.ts';

interface Altmap {
  basePfn: number;
  reserve: number;
  free: number;
  align: number;
  alloc: number;
}

const toSigned = (v: bigint): number => Number(BigInt.asIntN(64, v));
const toU64 = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

/** a > b as unsigned 64-bit values (both in signed representation). */
function u64Greater(a: number, b: number): boolean {
  if (a < 0 !== b < 0) return a < 0;
  return a > b;
}

/** 1 << __ffs(n): natural alignment of an n-pfn request (1 for n = 0). */
function lowestBit(n: number): number {
  if (n === 0) return 1;
  if (n < 2 ** 31) return n & -n;
  let unit = 1;
  while ((n / unit) % 2 === 0) unit *= 2;
  return unit;
}

/** Two's-complement wrap of a sum back into the signed 64-bit range (exact while small). */
function wrap(v: number): number {
  if (v >= 2 ** 63) return v - 2 ** 64;
  if (v < -(2 ** 63)) return v + 2 ** 64;
  return v;
}

export class AltmapTable {
  private readonly maps: Array<Altmap | null> = [];
  /** Every id below it is in use: the lowest-free-id search starts here (as assembly/altmap.ts). */
  private freeHint = 0;
  private lookup: Array<{ startPfn: number; endPfn: number; altmapId: number; pgmapId: number }> = [];

  constructor(
    private readonly events: Events,
    private readonly faults: Faults,
    private readonly debug: boolean,
  ) {}

  altmapCreate(f: AltmapFields): number {
    const m: Altmap = {
      basePfn: toSigned(f.basePfn),
      reserve: toSigned(f.reserve),
      free: toSigned(f.free),
      align: toSigned(f.align),
      alloc: toSigned(f.alloc),
    };
    const id = this.maps.indexOf(null, this.freeHint);
    if (id >= 0) {
      this.maps[id] = m;
      this.freeHint = id + 1;
      return id;
    }
    this.maps.push(m);
    this.freeHint = this.maps.length;
    return this.maps.length - 1;
  }

  altmapRelease(id: number): void {
    if (id >= 0 && id < this.maps.length) {
      this.maps[id] = null;
      if (id < this.freeHint) this.freeHint = id;
    }
  }

  private get(id: number): Altmap | null {
    return this.maps[id] ?? null;
  }

  altmapRead(id: number): AltmapFields {
    const m = this.get(id);
    if (!m) return { basePfn: 0n, reserve: 0n, free: 0n, align: 0n, alloc: 0n };
    return { basePfn: toU64(m.basePfn), reserve: toU64(m.reserve), free: toU64(m.free), align: toU64(m.align), alloc: toU64(m.alloc) };
  }

  altmapWrite(id: number, field: AltmapField, value: bigint): void {
    const m = this.get(id);
    if (m) m[field] = toSigned(value);
  }

  /** vmem_altmap_next_pfn: base + reserve + alloc + align. */
  private nextPfn(m: Altmap): number {
    return wrap(m.basePfn + m.reserve + m.alloc + m.align);
  }

  /** vmem_altmap_nr_free: free > alloc + align ? free - (alloc + align) : 0. */
  private nrFree(m: Altmap): number {
    const used = wrap(m.alloc + m.align);
    return u64Greater(m.free, used) ? wrap(m.free - used) : 0;
  }

  /** vmem_altmap_alloc: the pfn, or -1 (no state change). */
  altmapAlloc(id: number, n: number): number {
    const m = this.get(id);
    if (!m) return -1;
    if (this.faults.faultFires(FaultKind.AltmapAlloc)) {
      this.trace(m, -1, n);
      return -1;
    }
    const pfn = this.nextPfn(m);
    const unit = lowestBit(n);
    const pad = (unit - (pfn % unit)) % unit;
    const nrFree = this.nrFree(m);
    if (u64Greater(n + pad, nrFree)) {
      this.trace(m, -1, n);
      return -1;
    }
    m.alloc = wrap(m.alloc + n);
    m.align = wrap(m.align + pad);
    this.trace(m, pfn + pad, n);
    return pfn + pad;
  }

  /**
   * `count` calls of altmapAlloc(id, n) in one step when all succeed (assembly/altmap.ts altmapAllocRun):
   * only the first can pad, so they do exactly when pad + n * count <= nr_free. The first pfn (the blocks
   * follow it, n apart), or -1 with no change (then the single calls give the exact partial result).
   * Only with debug off and no fault armed, else -1.
   */
  altmapAllocRun(id: number, n: number, count: number): number {
    const m = this.get(id);
    if (!m || this.debug || this.faults.anyArmed() || n <= 0 || count <= 0) return -1;
    const pfn = this.nextPfn(m);
    if (pfn < 0) return -1; // next_pfn past 2^63: the single calls
    const unit = lowestBit(n);
    const pad = (unit - (pfn % unit)) % unit;
    const nrFree = this.nrFree(m);
    // nr_free > 0 means free > alloc + align (no wrap on the way); nr_free is below 2^63 here
    if (nrFree < 0 || pad + n * count > nrFree) return -1;
    m.alloc = wrap(m.alloc + n * count);
    m.align = wrap(m.align + pad);
    return pfn + pad;
  }

  /** vmem_altmap_free: alloc -= n, modulo 2^64. */
  altmapFree(id: number, n: number): void {
    const m = this.get(id);
    if (!m) return;
    m.alloc = wrap(m.alloc - n);
  }

  private trace(m: Altmap, pfn: number, n: number): void {
    if (!this.debug) return;
    this.events.emit(EventType.AltmapAlloc, pfn < 0 ? 0xffffffffffffffffn : BigInt(pfn), toU64(m.alloc), toU64(m.align), BigInt(n));
  }

  setAltmapLookup(entries: LookupEntryInput[]): void {
    this.lookup = entries.map((e) => ({ startPfn: e.startPfn, endPfn: e.endPfn, altmapId: e.altmapId, pgmapId: e.pgmapId ?? -1 })).sort((a, b) => a.startPfn - b.startPfn);
  }

  /** to_vmem_altmap as free_pagetable sees it: of the entries starting at or below pfn, the last; -1 if it does not hold pfn. */
  lookupAltmap(pfn: number): number {
    let found = -1;
    for (const e of this.lookup) {
      if (e.startPfn > pfn) break;
      found = pfn < e.endPfn ? e.altmapId : -1;
    }
    return found;
  }

  /** find_dev_pagemap: the host's id of the pgmap covering pfn (the same rule as lookupAltmap), or -1. */
  lookupPgmap(pfn: number): number {
    let found = -1;
    for (const e of this.lookup) {
      if (e.startPfn > pfn) break;
      found = pfn < e.endPfn ? e.pgmapId : -1;
    }
    return found;
  }
}
