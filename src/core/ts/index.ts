/**
 * The pure-TypeScript twin of the Wasm core, file for file and function for function with assembly/
 * (state, pool, physmem, patterns, pagealloc, pgtable, altmap, vmemmap, shares, hvo, memmap; the core's
 * abi.ts, layout.ts and bench.ts have no twin). It shares no source with assembly/: the semantics are
 * those of docs/core.md, and test/core/diff.test.ts holds the two to the same bytes.
 */
import {
  allocRunArgsOk,
  writeEveryArgsOk,
  EINVAL,
  ENOMEM,
  MAX_NUMNODES,
  dramFits,
  lookupFits,
  Purpose,
  type AltmapField,
  type AltmapFields,
  type Core,
  type CoreConfig,
  type CoreEvent,
  type CoreWalk,
  type MemmapOp,
  type DramStats,
  type FaultKind,
  type LookupEntryInput,
} from '../core.ts';
import { AltmapTable } from './altmap.ts';
import { CompoundRuns } from './compoundrun.ts';
import { MemoryBlocks } from './hotplug.ts';
import { hugeArgsBad, Hvo } from './hvo.ts';
import { Memmap } from './memmap.ts';
import { PageAlloc } from './pagealloc.ts';
import { Patterns } from './patterns.ts';
import { initMemoryMapping, kernelPhysicalMappingRemove, PageTable, vaLow, walk, walkLeaf, walkMany } from './pgtable.ts';
import { PhysMem } from './physmem.ts';
import { Shares } from './shares.ts';
import { Events, Faults } from './state.ts';
import { compoundArgsBad, pageToPfn, pfnToPage, toVmemAltmap, Vmemmap } from './vmemmap.ts';

class TsCore implements Core {
  readonly backend = 'ts' as const;
  private mem!: PhysMem;
  private alloc!: PageAlloc;
  private pt!: PageTable;
  private altmaps!: AltmapTable;
  private vmemmap!: Vmemmap;
  private hvo!: Hvo;
  private blocks!: MemoryBlocks;
  private memmap!: Memmap;
  private readonly events = new Events();
  private readonly faults = new Faults();
  /** walkLeaf's levels (core.ts WALK_RES_*). */
  private readonly res = new Float64Array(16);
  private vmemmapStart = 0n;
  private levels: 4 | 5 = 4;

  init(cfg: CoreConfig): number {
    // the Wasm core's room for the DRAM allocator, so that both refuse the same machines
    const nodes = cfg.ramNodes ?? [];
    if (!cfg.ramRanges.every((_, i) => nodes[i] === undefined || (Number.isInteger(nodes[i]) && nodes[i] >= 0 && nodes[i] < MAX_NUMNODES))) return EINVAL;
    if (!dramFits(cfg.ramRanges, cfg.ramRanges.reduce((m, _, i) => Math.max(m, (nodes[i] ?? 0) + 1), 1))) return ENOMEM;
    const vm = BigInt.asUintN(64, cfg.vmemmapStart);
    this.vmemmapStart = vm;
    this.levels = cfg.levels;
    const patterns = new Patterns(Number(vm & 0xffffffffn), Number(vm >> 32n));
    const runs = new CompoundRuns();
    const shares = new Shares(runs);
    this.mem = new PhysMem(cfg.hostMemoryLimit, patterns, this.faults, runs, shares);
    this.alloc = new PageAlloc(cfg.ramRanges, nodes, this.mem, this.faults, this.events);
    this.altmaps = new AltmapTable(this.events, this.faults, cfg.debug);
    const paging = { levels: cfg.levels, pse: cfg.pse, gbpages: cfg.gbpages, pageOffset: vaLow(cfg.pageOffset) };
    this.pt = new PageTable(paging, this.mem, this.alloc, this.altmaps, shares);
    this.vmemmap = new Vmemmap(this.pt, this.altmaps, shares, this.events, vaLow(cfg.vmemmapStart), cfg.pse, cfg.debug);
    this.hvo = new Hvo(this.pt, this.vmemmap, shares);
    this.blocks = new MemoryBlocks(this.pt, vaLow(cfg.vmemmapStart), cfg.debug);
    this.memmap = new Memmap(this.mem, patterns, this.pt, this.vmemmap, cfg.eagerMemmap, cfg.debug);
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
    return this.mem.physRead(phys, length);
  }
  writePhys(phys: bigint, data: Uint8Array): number {
    return this.mem.physWrite(phys, data);
  }
  backedBytes(): number {
    return this.mem.backedFrames() * 4096;
  }
  /** Diagnostic, not part of Core (as the Wasm core's): fill patterns held. */
  patternCount(): number {
    return this.mem.patterns.list.length;
  }
  /** Diagnostic, not part of Core (as the Wasm core's): strided fill patterns held. */
  strideCount(): number {
    return this.mem.patterns.strides.list.length;
  }
  hostFailures(): number {
    return this.faults.hostFailures;
  }

  // ---- pagealloc ----
  allocPages(order: number, purpose: Purpose, flags = 0): number {
    return this.alloc.allocPages(order, purpose, flags);
  }
  allocPagesRun(order: number, count: number, purpose: Purpose, flags = 0): number {
    if (!allocRunArgsOk(order, count, purpose)) return EINVAL;
    return this.alloc.allocPagesRun(order, count, purpose, flags);
  }
  dramAddRange(startPfn: number, endPfn: number, node: number, movable: boolean): number {
    return this.alloc.dramAddRange(startPfn, endPfn, node, movable);
  }
  dramRemoveRange(startPfn: number, endPfn: number): number {
    return this.alloc.dramRemoveRange(startPfn, endPfn);
  }
  dramAddRanges(startPfn: number, nrPages: number, count: number, stride: number, node: number, movable: boolean): number {
    return this.alloc.dramAddRanges(startPfn, nrPages, count, stride, node, movable);
  }
  dramRemoveRanges(startPfn: number, nrPages: number, count: number, stride: number): number {
    return this.alloc.dramRemoveRanges(startPfn, nrPages, count, stride);
  }
  dramHostBytes(): number {
    return this.alloc.hostBytes();
  }
  freePages(pfn: number, order: number, purpose: Purpose): number {
    return this.alloc.freePages(pfn, order, purpose);
  }
  dramStats(): DramStats {
    return this.alloc.dramStats();
  }
  setZonelist(nodes: readonly number[]): number {
    return this.alloc.setZonelist(nodes);
  }

  // ---- page tables ----
  directMapAdd(startPfn: number, endPfn: number): number {
    return initMemoryMapping(this.pt, startPfn, endPfn);
  }
  directMapRemove(startPfn: number, endPfn: number): number {
    return kernelPhysicalMappingRemove(this.pt, startPfn, endPfn);
  }
  walk(va: bigint): CoreWalk {
    return walk(this.pt, va);
  }
  vmemmapTranslate(pfns: Float64Array, out: Float64Array): void {
    const pt = this.pt;
    const vm = this.vmemmap;
    for (let i = 0; i < pfns.length; i++) out[i] = pt.translate(vm.va(pfns[i]));
  }

  walkLeaf(va: bigint): bigint {
    return walkLeaf(this.pt, va, this.res);
  }
  walkRes(): Float64Array {
    return this.res;
  }
  walkMany(vas: BigUint64Array, out: BigUint64Array): number {
    return walkMany(this.pt, vas, out);
  }

  // ---- inspection ----
  pfnToPage(pfn: number): bigint {
    return pfnToPage(this.vmemmapStart, pfn);
  }
  pageToPfn(va: bigint): number {
    return pageToPfn(this.vmemmapStart, this.levels, va);
  }
  pgmapAt(pfn: number): number {
    return pfn >= 0 ? this.altmaps.lookupPgmap(pfn) : -1;
  }
  toVmemAltmap(va: bigint): number {
    return toVmemAltmap(this.vmemmapStart, this.levels, this.altmaps, va);
  }
  toVmemAltmapMany(vas: BigUint64Array, out: Int32Array): number {
    let bad = -1;
    for (let i = 0; i < vas.length; i++) {
      const r = toVmemAltmap(this.vmemmapStart, this.levels, this.altmaps, vas[i]);
      if (r < -1 && bad < 0) bad = i;
      out[i] = r;
    }
    return bad;
  }
  readPages(startPfn: number, count: number, words: BigUint64Array, mapped: Uint8Array): void {
    this.memmap.readPages(startPfn, count, words, mapped);
  }

  // ---- altmap ----
  altmapCreate(f: AltmapFields): number {
    return this.altmaps.altmapCreate(f);
  }
  altmapRelease(id: number): void {
    this.altmaps.altmapRelease(id);
  }
  altmapRead(id: number): AltmapFields {
    return this.altmaps.altmapRead(id);
  }
  altmapWrite(id: number, field: AltmapField, value: bigint): void {
    this.altmaps.altmapWrite(id, field, value);
  }
  altmapAlloc(id: number, nrPfns: number): number {
    return this.altmaps.altmapAlloc(id, nrPfns);
  }
  altmapAllocMany(id: number, nrPfns: number, count: number): number {
    for (let i = 0; i < count; i++) if (this.altmaps.altmapAlloc(id, nrPfns) < 0) return i;
    return count;
  }
  altmapFree(id: number, nrPfns: number): void {
    this.altmaps.altmapFree(id, nrPfns);
  }
  setAltmapLookup(entries: LookupEntryInput[]): number {
    // the Wasm core's table size, so that both refuse the same tables
    if (!lookupFits(entries)) return ENOMEM;
    this.altmaps.setAltmapLookup(entries);
    return 0;
  }

  // ---- memory hot-plug ----
  addMemoryBlocks(startPfn: number, count: number, memmapPages: number): number {
    if (![startPfn, count, memmapPages].every((v) => Number.isInteger(v) && v >= 0)) return EINVAL;
    return this.blocks.addMemoryBlocks(startPfn, count, memmapPages);
  }

  // ---- vmemmap ----
  vmemmapPopulate(startPfn: number, nrPages: number, altmapId: number, flags: number): number {
    return this.vmemmap.vmemmapPopulate(startPfn, nrPages, altmapId, flags);
  }
  vmemmapPopulateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number {
    const bad = compoundArgsBad(startPfn, nrPages, compoundPages, rangeStartPfn);
    if (bad < 0) return bad;
    return this.vmemmap.vmemmapPopulateCompound(startPfn, nrPages, compoundPages, rangeStartPfn);
  }
  vmemmapFree(startPfn: number, nrPages: number, altmapId: number): number {
    return this.vmemmap.vmemmapFree(startPfn, nrPages, altmapId);
  }
  vmemmapOptimizeHuge(startPfn: number, nrPages: number): number {
    const bad = hugeArgsBad(startPfn, nrPages);
    if (bad < 0) return bad;
    return this.hvo.vmemmapOptimizeHuge(startPfn, nrPages);
  }
  vmemmapRestoreHuge(startPfn: number, nrPages: number): number {
    const bad = hugeArgsBad(startPfn, nrPages);
    if (bad < 0) return bad;
    return this.hvo.vmemmapRestoreHuge(startPfn, nrPages);
  }

  // ---- memmap ----
  memmapZero(startPfn: number, nrPages: number): number {
    return this.memmap.memmapZero(startPfn, nrPages);
  }
  memmapInit(startPfn: number, nrPages: number, zone: number, nid: number): number {
    return this.memmap.memmapInit(startPfn, nrPages, zone, nid);
  }
  memmapSetPgmap(startPfn: number, nrPages: number, pgmap: bigint): number {
    return this.memmap.memmapSetPgmap(startPfn, nrPages, pgmap);
  }
  memmapWrite(startPfn: number, nrPages: number, op: MemmapOp): number {
    return this.memmap.memmapWrite(startPfn, nrPages, op.words, op.mask, op.self);
  }
  memmapWriteEvery(startPfn: number, endPfn: number, step: number, count: number, op: MemmapOp): number {
    if (!writeEveryArgsOk(startPfn, endPfn, step, count)) return EINVAL;
    return this.memmap.memmapWriteEvery(startPfn, endPfn, step, count, op.words, op.mask, op.self);
  }
  readPage(pfn: number): BigUint64Array | null {
    return this.memmap.readPage(pfn);
  }

  // ---- events, faults ----
  takeEvents(): CoreEvent[] {
    return this.events.take();
  }
  setFault(kind: FaultKind, nth: number): void {
    this.faults.setFault(kind, nth);
  }
}

/** A fresh, uninitialised TypeScript core; call init(). */
export function createTsCore(): Core {
  return new TsCore();
}
