/**
 * The pure-TypeScript twin of the Wasm core, file for file with assembly/ (physmem, pagealloc,
 * pgtable, altmap, vmemmap, hvo, memmap). It shares no source with assembly/: the semantics are
 * those of docs/core.md, and test/core.diff.test.ts holds the two to the same bytes.
 */
import {
  Purpose,
  type AltmapField,
  type AltmapFields,
  type Core,
  type CoreConfig,
  type CoreEvent,
  type CoreWalk,
  type DramStats,
  type FaultKind,
  type WalkLevel,
} from '../core.ts';
import { AltmapTable } from './altmap.ts';
import { Hvo } from './hvo.ts';
import { initFill, Memmap, pgmapFill, zeroFill } from './memmap.ts';
import { PageAlloc } from './pagealloc.ts';
import { entryPfn, mapRange, PageTable, PTE_PRESENT, PTE_PSE, removeRange, SZ_1G, SZ_2M } from './pgtable.ts';
import { PhysMem } from './physmem.ts';
import { ENOMEM, Events, Faults, fromHalves, toHalves, vaLow } from './util.ts';
import { Vmemmap } from './vmemmap.ts';

class TsCore implements Core {
  readonly backend = 'ts' as const;
  private cfg!: CoreConfig;
  private mem!: PhysMem;
  private alloc!: PageAlloc;
  private pt!: PageTable;
  private altmaps!: AltmapTable;
  private vmemmap!: Vmemmap;
  private hvo!: Hvo;
  private memmap!: Memmap;
  private readonly events = new Events();
  private readonly faults = new Faults();
  private pageOffset = 0;

  init(cfg: CoreConfig): number {
    this.cfg = cfg;
    const [vmLo, vmHi] = toHalves(cfg.vmemmapStart);
    this.mem = new PhysMem(cfg.hostMemoryLimit, vmLo, vmHi, this.faults);
    this.alloc = new PageAlloc(cfg.ramRanges, this.mem, this.faults, this.events);
    this.pt = new PageTable(cfg.levels, this.mem, this.alloc);
    this.altmaps = new AltmapTable(this.events, this.faults, cfg.debug);
    this.vmemmap = new Vmemmap(this.pt, this.altmaps, this.events, vaLow(cfg.vmemmapStart), cfg.pse, cfg.debug);
    this.hvo = new Hvo(this.pt, this.vmemmap);
    this.memmap = new Memmap(this.mem, this.pt, this.vmemmap, cfg.eagerMemmap);
    this.pageOffset = vaLow(cfg.pageOffset);
    const root = this.alloc.allocPages(0, Purpose.PageTable);
    if (root < 0) return ENOMEM;
    this.pt.root = root;
    return 0;
  }

  dispose(): void {
    this.mem = undefined as unknown as PhysMem;
  }

  // ---- physmem ----
  readPhys(phys: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const frame = new Uint32Array(1024);
    const bytes = new Uint8Array(frame.buffer);
    let done = 0;
    let addr = Number(phys);
    while (done < length) {
      const pfn = Math.floor(addr / 4096);
      const off = addr % 4096;
      const n = Math.min(4096 - off, length - done);
      this.mem.readFrame(pfn, frame);
      out.set(bytes.subarray(off, off + n), done);
      done += n;
      addr += n;
    }
    return out;
  }

  writePhys(phys: bigint, data: Uint8Array): number {
    const start = Number(phys);
    const first = Math.floor(start / 4096);
    const last = Math.floor((start + data.length - 1) / 4096);
    let need = 0;
    for (let pfn = first; pfn <= last && data.length > 0; pfn++) if (!this.mem.isBacked(pfn)) need++;
    if (!this.mem.canBack(need)) return ENOMEM;
    const backed: number[] = [];
    for (let pfn = first; pfn <= last && data.length > 0; pfn++) {
      if (this.mem.isBacked(pfn)) continue;
      if (!this.mem.back(pfn)) {
        // a Backing fault partway: nothing changes, not even which frames are backed
        for (const b of backed) this.mem.dropFrames(b, b + 1);
        return ENOMEM;
      }
      backed.push(pfn);
    }
    for (let i = 0; i < data.length; ) {
      const addr = start + i;
      const pfn = Math.floor(addr / 4096);
      const off = addr % 4096;
      const n = Math.min(4096 - off, data.length - i);
      const words = this.mem.peek(pfn)!;
      new Uint8Array(words.buffer, words.byteOffset, 4096).set(data.subarray(i, i + n), off);
      i += n;
    }
    return 0;
  }

  backedBytes(): number {
    return this.mem.backedFrames() * 4096;
  }

  // ---- pagealloc ----
  allocPages(order: number, purpose: Purpose): number {
    return this.alloc.allocPages(order, purpose);
  }
  freePages(pfn: number, order: number, purpose: Purpose): number {
    return this.alloc.freePages(pfn, order, purpose);
  }
  dramStats(): DramStats {
    return this.alloc.stats();
  }

  // ---- page tables ----
  directMapAdd(startPfn: number, endPfn: number): number {
    const pt = this.pt;
    const s = startPfn * 4096;
    const e = endPfn * 4096;
    const up = (x: number, a: number) => Math.ceil(x / a) * a;
    const down = (x: number, a: number) => Math.floor(x / a) * a;
    const big = this.cfg.gbpages && this.cfg.pse ? pt.pud : this.cfg.pse ? pt.pmd : pt.pte;
    const mid = this.cfg.pse ? pt.pmd : pt.pte;
    // split_mem_range: 4K head, 2M up to the first 1G boundary, 1G middle, 2M, 4K tail
    const pieces: Array<[number, number, number]> = [];
    let cur = s;
    const cut = (to: number, level: number) => {
      const end = Math.max(cur, Math.min(to, e));
      pieces.push([cur, end, level]);
      cur = end;
    };
    cut(up(s, SZ_2M), pt.pte);
    cut(Math.min(up(s, SZ_1G), down(e, SZ_2M)), mid);
    cut(down(e, SZ_1G), big);
    cut(down(e, SZ_2M), mid);
    cut(e, pt.pte);
    for (const [from, to, level] of pieces) {
      if (to <= from) continue;
      const r = mapRange(pt, this.pageOffset + from, to - from, from / 4096, level, Purpose.DirectMap);
      if (r < 0) return r;
    }
    return 0;
  }

  directMapRemove(startPfn: number, endPfn: number): number {
    const pt = this.pt;
    return removeRange(pt, pt.root, 0, this.pageOffset + startPfn * 4096, this.pageOffset + endPfn * 4096, null, Purpose.DirectMap);
  }

  walk(va: bigint): CoreWalk {
    const pt = this.pt;
    const levels: WalkLevel[] = [];
    let table = pt.root;
    const n = pt.shifts.length;
    for (let l = 0; l < n; l++) {
      const shift = BigInt(pt.shifts[l]);
      const index = Number((va >> shift) & 511n);
      const entry = fromHalves(pt.readLo(table, index), pt.readHi(table, index));
      levels.push({ level: pt.names[l] as WalkLevel['level'], index, entry, table: BigInt(table) * 4096n });
      const lo = Number(entry & 0xffffffffn);
      if (!(lo & PTE_PRESENT)) return { levels, mapped: false, phys: 0n, pageSize: 0 };
      const pfn = entryPfn(lo, Number(entry >> 32n));
      if (l === n - 1 || lo & PTE_PSE) {
        const size = 1n << shift;
        return { levels, mapped: true, phys: BigInt(pfn) * 4096n + (va & (size - 1n)), pageSize: Number(size) };
      }
      table = pfn;
    }
    return { levels, mapped: false, phys: 0n, pageSize: 0 };
  }

  vmemmapTranslate(pfns: Float64Array, out: Float64Array): void {
    const pt = this.pt;
    const vm = this.vmemmap;
    for (let i = 0; i < pfns.length; i++) out[i] = pt.translate(vm.va(pfns[i]));
  }

  // ---- altmap ----
  altmapCreate(f: AltmapFields): number {
    return this.altmaps.create(f);
  }
  altmapRelease(id: number): void {
    this.altmaps.release(id);
  }
  altmapRead(id: number): AltmapFields {
    return this.altmaps.read(id);
  }
  altmapWrite(id: number, field: AltmapField, value: bigint): void {
    this.altmaps.write(id, field, value);
  }
  altmapAlloc(id: number, nrPfns: number): number {
    return this.altmaps.alloc(id, nrPfns);
  }
  altmapAllocMany(id: number, nrPfns: number, count: number): number {
    for (let i = 0; i < count; i++) if (this.altmaps.alloc(id, nrPfns) < 0) return i;
    return count;
  }
  altmapFree(id: number, nrPfns: number): void {
    this.altmaps.free(id, nrPfns);
  }
  setAltmapLookup(entries: Array<{ startPfn: number; endPfn: number; altmapId: number }>): void {
    this.altmaps.setLookup(entries);
  }

  // ---- vmemmap ----
  vmemmapPopulate(startPfn: number, nrPages: number, altmapId: number, flags: number): number {
    return this.vmemmap.populate(startPfn, nrPages, altmapId, flags);
  }
  vmemmapPopulateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number {
    return this.vmemmap.populateCompound(startPfn, nrPages, compoundPages, rangeStartPfn);
  }
  vmemmapFree(startPfn: number, nrPages: number, altmapId: number): number {
    return this.vmemmap.free(startPfn, nrPages, altmapId);
  }
  vmemmapOptimizeHuge(startPfn: number, nrPages: number): number {
    return this.hvo.optimize(startPfn, nrPages);
  }
  vmemmapRestoreHuge(startPfn: number, nrPages: number): number {
    return this.hvo.restore(startPfn, nrPages);
  }

  // ---- memmap ----
  memmapZero(startPfn: number, nrPages: number): number {
    return this.memmap.fill(startPfn, nrPages, zeroFill());
  }
  memmapInit(startPfn: number, nrPages: number, zone: number, nid: number): number {
    return this.memmap.fill(startPfn, nrPages, initFill(zone, nid));
  }
  memmapSetPgmap(startPfn: number, nrPages: number, pgmap: bigint): number {
    const [lo, hi] = toHalves(pgmap);
    return this.memmap.fill(startPfn, nrPages, pgmapFill(lo, hi));
  }
  readPage(pfn: number): BigUint64Array | null {
    return this.memmap.readPage(pfn);
  }

  // ---- events, faults ----
  takeEvents(): CoreEvent[] {
    return this.events.take();
  }
  setFault(kind: FaultKind, nth: number): void {
    this.faults.arm(kind, nth);
  }
}

/** A fresh, uninitialised TypeScript core; call init(). */
export function createTsCore(): Core {
  return new TsCore();
}
