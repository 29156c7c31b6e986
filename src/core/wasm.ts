/**
 * The Wasm core: build/core.wasm (compiled from assembly/) behind the Core interface.
 *
 * The host creates the WebAssembly.Memory (1 page, maximum 65536) and never grows it: the core does,
 * lazily, so every typed-array view is rebuilt whenever memory.buffer has changed. Values cross the
 * boundary as f64 (pfns, counts, lengths) or i64/BigInt (addresses, entries, altmap fields); results
 * that do not fit one number come back in the core's result block, events in its event buffer (drained
 * after every call that may raise one), bytes through its IO buffer (assembly/layout.ts).
 *
 * A Wasm trap (WebAssembly.RuntimeError) becomes CoreTrap and leaves the core unusable; so does
 * dispose(). In Node the module is read from build/core.wasm at the package root (located from this
 * module's URL); a browser passes a compiled WebAssembly.Module instead.
 */
import {
  allocRunArgsOk,
  writeEveryArgsOk,
  ALTMAP_FIELDS,
  CoreTrap,
  ALLOC_MOVABLE,
  EINVAL,
  ENOMEM,
  MAX_NUMNODES,
  PURPOSES,
  dramFits,
  lookupFits,
  type AltmapField,
  type AltmapFields,
  type Core,
  type CoreConfig,
  type CoreEvent,
  type CoreWalk,
  type DramStats,
  type EventType,
  type FaultKind,
  type LookupEntryInput,
  type MemmapOp,
  type Purpose,
  type WalkLevel,
} from './core.ts';

/** The raw exports of assembly/index.ts. */
interface Exports {
  boot(): number;
  addrCtl(): number;
  addrRes(): number;
  addrIo(): number;
  ioSize(): number;
  addrEvents(): number;
  stageRanges(first: number, n: number): number;
  init(
    levels: number,
    pse: number,
    gbpages: number,
    eager: number,
    debug: number,
    vmemmapStart: bigint,
    pageOffset: bigint,
    hostMemoryLimit: number,
    nRanges: number,
  ): number;
  readPhys(phys: bigint, len: number): void;
  writePhysPrepare(phys: bigint, len: number): number;
  writePhysChunk(phys: bigint, len: number): void;
  backedBytes(): number;
  hostFailureCount(): number;
  patternCount(): number;
  strideCount(): number;
  benchFill(bytes: number, value: number): number;
  benchChaseSetup(bytes: number, seed: number): number;
  benchChase(walks: number, depth: number): number;
  allocPages(order: number, purpose: number, flags: number): number;
  allocPagesRun(order: number, count: number, purpose: number, flags: number): number;
  dramAddRange(startPfn: number, endPfn: number, nid: number, movable: number): number;
  dramRemoveRange(startPfn: number, endPfn: number): number;
  dramAddRanges(startPfn: number, nrPages: number, count: number, stride: number, nid: number, movable: number): number;
  dramRemoveRanges(startPfn: number, nrPages: number, count: number, stride: number): number;
  dramHostBytes(): number;
  freePages(pfn: number, order: number, purpose: number): number;
  dramStats(): void;
  dramNodeStats(nid: number): void;
  dramNodeCount(): number;
  setZonelist(n: number): number;
  directMapAdd(startPfn: number, endPfn: number): number;
  directMapRemove(startPfn: number, endPfn: number): number;
  walk(va: bigint): void;
  vmemmapTranslate(n: number): void;
  walkLeaf(va: bigint): bigint;
  walkMany(n: number): number;
  pfnToPage(pfn: number): bigint;
  pageToPfn(va: bigint): number;
  pgmapAt(pfn: number): number;
  toVmemAltmap(va: bigint): number;
  toVmemAltmapMany(n: number): number;
  readPages(startPfn: number, n: number): void;
  altmapCreate(base: bigint, reserve: bigint, free: bigint, align: bigint, alloc: bigint): number;
  altmapRelease(id: number): void;
  altmapRead(id: number): void;
  altmapWrite(id: number, field: number, value: bigint): void;
  altmapAllocPfns(id: number, nrPfns: number): number;
  altmapAllocMany(id: number, nrPfns: number, count: number): number;
  altmapFree(id: number, nrPfns: number): void;
  lookupReset(): void;
  lookupAppend(n: number): number;
  lookupCommit(): void;
  addMemoryBlocks(startPfn: number, count: number, memmapPages: number): number;
  vmemmapPopulate(startPfn: number, nrPages: number, altmapId: number, flags: number): number;
  vmemmapPopulateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number;
  vmemmapFree(startPfn: number, nrPages: number, altmapId: number): number;
  vmemmapOptimizeHuge(startPfn: number, nrPages: number): number;
  vmemmapRestoreHuge(startPfn: number, nrPages: number): number;
  memmapZero(startPfn: number, nrPages: number): number;
  memmapInit(startPfn: number, nrPages: number, zone: number, nid: number): number;
  memmapSetPgmap(startPfn: number, nrPages: number, pgmap: bigint): number;
  memmapWrite(startPfn: number, nrPages: number, mask: number, self: number): number;
  memmapWriteEvery(startPfn: number, endPfn: number, step: number, count: number, mask: number, self: number): number;
  readPage(pfn: number): number;
  setFault(kind: number, nth: number): void;
}

/** Bytes per event record in the core's event buffer: type, a, b, c, d (assembly/layout.ts EVENT_REC). */
const EVENT_REC = 40;
/** Bytes per lookup entry in IO: f64 startPfn, endPfn, altmap id, pgmap id (assembly/altmap.ts LookupInput). */
const LOOKUP_REC = 32;
/** Bytes per page of readPages in IO: 8 words, then a mapped byte (assembly/memmap.ts readPagesIo). */
const PAGE_IO = 65;
/** RES as f64 slots: walkLeaf's levels (core.ts WALK_RES_*). */
const RES_F64 = 512;
const LEVEL_BY_SHIFT: Record<number, WalkLevel['level']> = { 39: 'p4d', 30: 'pud', 21: 'pmd', 12: 'pte' };

let compiled: Promise<WebAssembly.Module> | null = null;

/**
 * build/core.wasm, found relative to this module (src/core/ in the repository, dist/core/ in the
 * package: both two levels below the package root, wherever the package is installed), read with
 * node:fs and compiled once per process.
 *
 * node:fs is reached through process.getBuiltinModule (Node >= 20.16), not an import, so that a
 * bundler building the browser entry (which always passes a compiled module) sees no Node built-in.
 */
async function loadModule(): Promise<WebAssembly.Module> {
  if (!compiled) {
    compiled = (async () => {
      const fs = globalThis.process?.getBuiltinModule?.('node:fs/promises');
      if (!fs) {
        throw new Error(
          'cannot read build/core.wasm: node:fs is not available here (Node >= 20.16 reads it; in a browser use the ' +
            "package's browser entry, which fetches it, or pass backend: 'ts')",
        );
      }
      const bytes = await fs.readFile(new URL('../../build/core.wasm', import.meta.url));
      return WebAssembly.compile(bytes);
    })();
    compiled.catch(() => (compiled = null));
  }
  return compiled;
}

function imports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort(): never {
        throw new CoreTrap('wasm core aborted');
      },
    },
  };
}

/** The Wasm core, with diagnostics beyond the Core interface. */
export interface WasmCoreDiagnostics extends Core {
  /** Fill patterns the core holds (sequential memmap runs keep this O(1)). */
  patternCount(): number;
  /** Strided fill patterns the core holds (memmap_on_memory's blocks keep this O(1)). */
  strideCount(): number;
  /** Events the core could not store (its buffer holds 2^20 per call). */
  readonly droppedEvents: number;
  /** Physical limits for the benchmarks, on a core that was never init'ed: memory.fill of `bytes`. */
  benchFill(bytes: number, value: number): number;
  /** Lay a random cycle over `bytes` of memory for benchChase. */
  benchChaseSetup(bytes: number, seed: number): number;
  /** `walks` chains of `depth` dependent loads. */
  benchChase(walks: number, depth: number): number;
}

class WasmCore implements WasmCoreDiagnostics {
  readonly backend = 'wasm' as const;

  /** Null once disposed or broken by a trap. */
  private x: Exports | null = null;
  private memory: WebAssembly.Memory | null = null;
  private initialised = false;
  private why = 'the wasm core was disposed';

  // layout (assembly/layout.ts), read from the module once
  private ctl = 0;
  private res = 0;
  private io = 0;
  private ioSize = 0;
  private evBase = 0;

  // views, rebuilt when memory.buffer changes (memory.grow detaches the old buffer)
  private buf: ArrayBuffer | null = null;
  private u8!: Uint8Array;
  private u32!: Uint32Array;
  private f64!: Float64Array;
  private dv!: DataView;
  /** RES as f64s and IO as u64s / i32s: the inspection calls' views (length 0 once memory.grow detached them). */
  private resF64 = new Float64Array(0);
  private io64 = new BigUint64Array(0);
  private io32 = new Int32Array(0);
  private res64 = new BigUint64Array(0);

  private pending: CoreEvent[] = [];
  /** Events the core could not store (its buffer holds one call's worth, 2^20). */
  droppedEvents = 0;

  constructor(private readonly module: WebAssembly.Module) {}

  /** Attach a fresh instance with its own memory. */
  attach(instance: WebAssembly.Instance, memory: WebAssembly.Memory): void {
    const x = instance.exports as unknown as Exports;
    this.x = x;
    this.memory = memory;
    this.buf = null;
    if (x.boot() < 0) throw new CoreTrap('wasm core: no room for its fixed regions');
    this.ctl = x.addrCtl() >>> 0;
    this.res = x.addrRes() >>> 0;
    this.io = x.addrIo() >>> 0;
    this.ioSize = x.ioSize() >>> 0;
    this.evBase = x.addrEvents() >>> 0;
    this.views();
  }

  // ---- plumbing ----
  private ex(): Exports {
    const x = this.x;
    if (x === null) throw new CoreTrap(this.why);
    return x;
  }

  /** Turn a Wasm trap into CoreTrap; the core is unusable afterwards. */
  private trap(e: unknown): unknown {
    const isTrap = e instanceof CoreTrap;
    if (!isTrap && !(e instanceof WebAssembly.RuntimeError)) return e;
    const message = (e as Error).message;
    this.x = null;
    this.memory = null;
    this.buf = null;
    this.why = `the wasm core trapped earlier: ${message}`;
    return isTrap ? e : new CoreTrap(`wasm core trapped: ${message}`, { cause: e });
  }

  private views(): void {
    const b = this.memory!.buffer as ArrayBuffer;
    if (b === this.buf) return;
    this.buf = b;
    this.u8 = new Uint8Array(b);
    this.u32 = new Uint32Array(b);
    this.f64 = new Float64Array(b);
    this.dv = new DataView(b);
    this.resF64 = new Float64Array(b, this.res, RES_F64);
    this.res64 = new BigUint64Array(b, this.res, 8);
    this.io64 = new BigUint64Array(b, this.io, this.ioSize >>> 3);
    this.io32 = new Int32Array(b, this.io, this.ioSize >>> 2);
  }

  /** Move the events of the last call out of the core's buffer. */
  private drain(): void {
    this.views();
    const at = this.ctl >>> 2;
    const n = this.u32[at];
    const dropped = this.u32[at + 1];
    if (n === 0 && dropped === 0) return;
    const dv = this.dv;
    for (let i = 0, p = this.evBase; i < n; i++, p += EVENT_REC) {
      this.pending.push({
        type: dv.getUint32(p, true) as EventType,
        a: dv.getBigUint64(p + 8, true),
        b: dv.getBigUint64(p + 16, true),
        c: dv.getBigUint64(p + 24, true),
        d: dv.getBigUint64(p + 32, true),
      });
    }
    this.droppedEvents += dropped;
    this.u32[at] = 0;
    this.u32[at + 1] = 0;
  }

  /** Run a cold export call: trap mapping, then the events it raised. */
  private run<T>(f: (x: Exports) => T): T {
    const x = this.ex();
    let r: T;
    try {
      r = f(x);
    } catch (e) {
      throw this.trap(e);
    }
    this.drain();
    return r;
  }

  // ---- lifecycle ----
  init(cfg: CoreConfig): number {
    this.ex();
    if (this.initialised) {
      // init on a used core: start over on a fresh instance and memory
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
      this.attach(new WebAssembly.Instance(this.module, imports(memory)), memory);
      this.pending = [];
    }
    this.initialised = true;
    const ranges = cfg.ramRanges;
    const nodes = cfg.ramNodes ?? [];
    // as the core's stageRanges checks each (the count below must be a number)
    if (!ranges.every((_, i) => nodes[i] === undefined || (Number.isInteger(nodes[i]) && nodes[i] >= 0 && nodes[i] < MAX_NUMNODES))) return EINVAL;
    if (!dramFits(ranges, ranges.reduce((m, _, i) => Math.max(m, (nodes[i] ?? 0) + 1), 1))) return ENOMEM;
    // the range table is sized by the machine: as many IO-sized batches as it has RAM ranges
    const batch = Math.floor(this.ioSize / 24);
    for (let first = 0; first < ranges.length; first += batch) {
      const n = Math.min(batch, ranges.length - first);
      this.views();
      const io = this.io >>> 3;
      for (let i = 0; i < n; i++) {
        this.f64[io + 3 * i] = ranges[first + i][0];
        this.f64[io + 3 * i + 1] = ranges[first + i][1];
        this.f64[io + 3 * i + 2] = nodes[first + i] ?? 0;
      }
      const r = this.run((x) => x.stageRanges(first, n));
      if (r < 0) return r;
    }
    return this.run((x) =>
      x.init(
        cfg.levels,
        cfg.pse ? 1 : 0,
        cfg.gbpages ? 1 : 0,
        cfg.eagerMemmap ? 1 : 0,
        cfg.debug ? 1 : 0,
        cfg.vmemmapStart,
        cfg.pageOffset,
        cfg.hostMemoryLimit,
        ranges.length,
      ),
    );
  }

  dispose(): void {
    this.x = null;
    this.memory = null;
    this.buf = null;
    this.pending = [];
    this.why = 'the wasm core was disposed';
  }

  // ---- physical memory ----
  readPhys(phys: bigint, length: number): Uint8Array {
    const x = this.live();
    try {
      if (length <= this.ioSize) {
        // one crossing: the bytes come back as a copy of IO
        x.readPhys(phys, length);
        if (this.u8.length === 0) this.views();
        return this.u8.slice(this.io, this.io + length);
      }
      const out = new Uint8Array(length);
      for (let off = 0; off < length; ) {
        const n = Math.min(this.ioSize, length - off);
        x.readPhys(phys + BigInt(off), n);
        if (this.u8.length === 0) this.views();
        out.set(this.u8.subarray(this.io, this.io + n), off);
        off += n;
      }
      return out;
    } catch (e) {
      throw this.trap(e);
    }
  }

  writePhys(phys: bigint, data: Uint8Array): number {
    const x = this.ex();
    try {
      const r = x.writePhysPrepare(phys, data.length);
      if (r < 0) return r;
      for (let off = 0; off < data.length; ) {
        const n = Math.min(this.ioSize, data.length - off);
        this.views();
        this.u8.set(data.subarray(off, off + n), this.io);
        x.writePhysChunk(phys + BigInt(off), n);
        off += n;
      }
      return 0;
    } catch (e) {
      throw this.trap(e);
    }
  }

  backedBytes(): number {
    return this.run((x) => x.backedBytes());
  }

  hostFailures(): number {
    return this.run((x) => x.hostFailureCount());
  }

  /** Diagnostic, not part of Core: fill patterns the core holds. */
  patternCount(): number {
    return this.run((x) => x.patternCount());
  }

  /** Diagnostic, not part of Core: strided fill patterns the core holds. */
  strideCount(): number {
    return this.run((x) => x.strideCount());
  }

  benchFill(bytes: number, value: number): number {
    return this.run((x) => x.benchFill(bytes, value));
  }

  benchChaseSetup(bytes: number, seed: number): number {
    return this.run((x) => x.benchChaseSetup(bytes, seed));
  }

  benchChase(walks: number, depth: number): number {
    return this.run((x) => x.benchChase(walks, depth));
  }

  // ---- DRAM page allocator ----
  allocPages(order: number, purpose: Purpose, flags = 0): number {
    if (flags !== 0 && flags !== ALLOC_MOVABLE) return EINVAL;
    const x = this.ex();
    try {
      // an order that is not an integer is refused as one out of range (the fault still counts the attempt)
      return x.allocPages(Number.isInteger(order) ? order : -1, purpose, flags);
    } catch (e) {
      throw this.trap(e);
    }
  }

  allocPagesRun(order: number, count: number, purpose: Purpose, flags = 0): number {
    if (!allocRunArgsOk(order, count, purpose) || (flags !== 0 && flags !== ALLOC_MOVABLE)) return EINVAL;
    return this.run((x) => x.allocPagesRun(order, count, purpose, flags));
  }

  dramAddRange(startPfn: number, endPfn: number, node: number, movable: boolean): number {
    if (!Number.isInteger(startPfn) || !Number.isInteger(endPfn) || !Number.isInteger(node) || node < 0 || node >= MAX_NUMNODES || typeof movable !== 'boolean') return EINVAL;
    return this.run((x) => x.dramAddRange(startPfn, endPfn, node, movable ? 1 : 0));
  }

  dramRemoveRange(startPfn: number, endPfn: number): number {
    if (!Number.isInteger(startPfn) || !Number.isInteger(endPfn)) return EINVAL;
    return this.run((x) => x.dramRemoveRange(startPfn, endPfn));
  }

  dramAddRanges(startPfn: number, nrPages: number, count: number, stride: number, node: number, movable: boolean): number {
    if (![startPfn, nrPages, count, stride].every(Number.isInteger) || !Number.isInteger(node) || node < 0 || node >= MAX_NUMNODES || typeof movable !== 'boolean') return EINVAL;
    return this.run((x) => x.dramAddRanges(startPfn, nrPages, count, stride, node, movable ? 1 : 0));
  }

  dramRemoveRanges(startPfn: number, nrPages: number, count: number, stride: number): number {
    if (![startPfn, nrPages, count, stride].every(Number.isInteger)) return EINVAL;
    return this.run((x) => x.dramRemoveRanges(startPfn, nrPages, count, stride));
  }

  dramHostBytes(): number {
    return this.run((x) => x.dramHostBytes());
  }

  freePages(pfn: number, order: number, purpose: Purpose): number {
    const x = this.ex();
    let r: number;
    try {
      r = x.freePages(pfn, order, purpose);
    } catch (e) {
      throw this.trap(e);
    }
    if (r !== 0) this.drain();
    return r;
  }

  dramStats(): DramStats {
    this.run((x) => x.dramStats());
    const at = this.res >>> 3;
    const byPurpose: number[] = [];
    for (let p = 0; p < PURPOSES; p++) byPurpose.push(this.f64[at + 2 + p]);
    const total = this.f64[at];
    const free = this.f64[at + 1];
    const byNode: DramStats['byNode'] = [];
    const n = this.run((x) => x.dramNodeCount());
    for (let nid = 0; nid < n; nid++) {
      this.run((x) => x.dramNodeStats(nid));
      const a = this.res >>> 3;
      const by: number[] = [];
      for (let p = 0; p < PURPOSES; p++) by.push(this.f64[a + 2 + p]);
      byNode.push({ totalPages: this.f64[a], freePages: this.f64[a + 1], byPurpose: by });
    }
    return { totalPages: total, freePages: free, byPurpose, byNode };
  }

  setZonelist(nodes: readonly number[]): number {
    if (!Array.isArray(nodes) || nodes.length === 0 || nodes.length > MAX_NUMNODES || !nodes.every((v) => Number.isInteger(v) && v >= 0 && v < MAX_NUMNODES)) return EINVAL;
    this.ex();
    this.views();
    const at = this.io >>> 2;
    nodes.forEach((v, i) => (this.u32[at + i] = v));
    return this.run((x) => x.setZonelist(nodes.length));
  }

  // ---- page tables ----
  directMapAdd(startPfn: number, endPfn: number): number {
    return this.run((x) => x.directMapAdd(startPfn, endPfn));
  }

  directMapRemove(startPfn: number, endPfn: number): number {
    return this.run((x) => x.directMapRemove(startPfn, endPfn));
  }

  walk(va: bigint): CoreWalk {
    this.run((x) => x.walk(va));
    const dv = this.dv;
    const res = this.res;
    const n = dv.getUint32(res, true);
    const levels: WalkLevel[] = [];
    for (let i = 0; i < n; i++) {
      const p = res + 32 + 32 * i;
      const shift = dv.getUint32(p, true);
      levels.push({
        level: i === 0 ? 'pgd' : LEVEL_BY_SHIFT[shift],
        index: dv.getUint32(p + 4, true),
        entry: dv.getBigUint64(p + 8, true),
        table: dv.getBigUint64(p + 16, true),
      });
    }
    const mapped = dv.getUint32(res + 4, true) !== 0;
    return {
      levels,
      mapped,
      phys: mapped ? dv.getBigUint64(res + 8, true) : 0n,
      pageSize: mapped ? Number(dv.getBigUint64(res + 16, true)) : 0,
    };
  }

  vmemmapTranslate(pfns: Float64Array, out: Float64Array): void {
    const x = this.ex();
    const per = this.ioSize >>> 3;
    const io = this.io >>> 3;
    try {
      for (let i = 0; i < pfns.length; i += per) {
        const n = Math.min(per, pfns.length - i);
        this.views();
        this.f64.set(pfns.subarray(i, i + n), io);
        x.vmemmapTranslate(n);
        this.views();
        out.set(this.f64.subarray(io, io + n), i);
      }
    } catch (e) {
      throw this.trap(e);
    }
  }

  // ---- inspection (one crossing per call, or per IO-sized chunk of a batch; no events) ----
  /** The live instance's exports, or CoreTrap (disposed, or broken by an earlier trap). */
  private live(): Exports {
    const x = this.x;
    if (x === null) throw new CoreTrap(this.why);
    return x;
  }

  walkLeaf(va: bigint): bigint {
    const x = this.live();
    try {
      return x.walkLeaf(va);
    } catch (e) {
      throw this.trap(e);
    }
  }

  walkRes(): Float64Array {
    if (this.resF64.length === 0) this.views();
    return this.resF64;
  }

  walkMany(vas: BigUint64Array, out: BigUint64Array): number {
    return this.batch(vas, out, (x, n) => x.walkMany(n), () => this.io64);
  }

  /**
   * A batch over u64 addresses through IO, a chunk per crossing: copy in, call (the first bad index of the
   * chunk, or -1), copy the chunk's results out of `view()` (IO as the output's element type).
   */
  private batch<T extends BigUint64Array | Int32Array>(vas: BigUint64Array, out: T, call: (x: Exports, n: number) => number, view: () => T): number {
    const x = this.live();
    const per = this.ioSize >>> 3;
    let bad = -1;
    try {
      for (let i = 0; i < vas.length; i += per) {
        const n = Math.min(per, vas.length - i);
        if (this.io64.length === 0) this.views();
        this.io64.set(n === vas.length ? vas : vas.subarray(i, i + n));
        const r = call(x, n);
        if (r >= 0 && bad < 0) bad = i + r;
        if (this.io64.length === 0) this.views();
        out.set(view().subarray(0, n) as never, i);
      }
    } catch (e) {
      throw this.trap(e);
    }
    return bad;
  }

  pfnToPage(pfn: number): bigint {
    const x = this.live();
    try {
      // the export's i64 is signed: kernel addresses come back negative
      return BigInt.asUintN(64, x.pfnToPage(pfn));
    } catch (e) {
      throw this.trap(e);
    }
  }

  pageToPfn(va: bigint): number {
    const x = this.live();
    try {
      return x.pageToPfn(va);
    } catch (e) {
      throw this.trap(e);
    }
  }

  pgmapAt(pfn: number): number {
    const x = this.live();
    try {
      return x.pgmapAt(pfn);
    } catch (e) {
      throw this.trap(e);
    }
  }

  toVmemAltmap(va: bigint): number {
    const x = this.live();
    try {
      return x.toVmemAltmap(va);
    } catch (e) {
      throw this.trap(e);
    }
  }

  toVmemAltmapMany(vas: BigUint64Array, out: Int32Array): number {
    return this.batch(vas, out, (x, n) => x.toVmemAltmapMany(n), () => this.io32);
  }

  readPages(startPfn: number, count: number, words: BigUint64Array, mapped: Uint8Array): void {
    const x = this.live();
    const per = Math.floor(this.ioSize / PAGE_IO);
    try {
      for (let i = 0; i < count; i += per) {
        const n = Math.min(per, count - i);
        x.readPages(startPfn + i, n);
        if (this.io64.length === 0) this.views();
        words.set(this.io64.subarray(0, 8 * n), 8 * i);
        mapped.set(this.u8.subarray(this.io + 64 * n, this.io + 65 * n), i);
      }
    } catch (e) {
      throw this.trap(e);
    }
  }

  // ---- vmem_altmap ----
  altmapCreate(f: AltmapFields): number {
    return this.run((x) => x.altmapCreate(f.basePfn, f.reserve, f.free, f.align, f.alloc));
  }

  altmapRelease(id: number): void {
    this.run((x) => x.altmapRelease(id));
  }

  altmapRead(id: number): AltmapFields {
    this.run((x) => x.altmapRead(id));
    const dv = this.dv;
    const r = this.res;
    return {
      basePfn: dv.getBigUint64(r, true),
      reserve: dv.getBigUint64(r + 8, true),
      free: dv.getBigUint64(r + 16, true),
      align: dv.getBigUint64(r + 24, true),
      alloc: dv.getBigUint64(r + 32, true),
    };
  }

  altmapWrite(id: number, field: AltmapField, value: bigint): void {
    const i = ALTMAP_FIELDS.indexOf(field);
    if (i < 0) throw new RangeError(`no altmap field ${String(field)}`);
    this.run((x) => x.altmapWrite(id, i, value));
  }

  altmapAlloc(id: number, nrPfns: number): number {
    return this.run((x) => x.altmapAllocPfns(id, nrPfns));
  }

  altmapAllocMany(id: number, nrPfns: number, count: number): number {
    return this.run((x) => x.altmapAllocMany(id, nrPfns, count));
  }

  altmapFree(id: number, nrPfns: number): void {
    this.run((x) => x.altmapFree(id, nrPfns));
  }

  setAltmapLookup(entries: LookupEntryInput[]): number {
    const x = this.ex();
    if (!lookupFits(entries)) return ENOMEM;
    const per = Math.floor(this.ioSize / LOOKUP_REC);
    let full = false;
    try {
      x.lookupReset();
      for (let i = 0; i < entries.length; i += per) {
        const n = Math.min(per, entries.length - i);
        this.views();
        const f = this.f64;
        const io = this.io >>> 3;
        for (let k = 0; k < n; k++) {
          const e = entries[i + k];
          f[io + 4 * k] = e.startPfn;
          f[io + 4 * k + 1] = e.endPfn;
          f[io + 4 * k + 2] = e.altmapId;
          f[io + 4 * k + 3] = e.pgmapId ?? -1;
        }
        if (x.lookupAppend(n) < 0) {
          full = true;
          break;
        }
      }
      x.lookupCommit();
    } catch (e) {
      throw this.trap(e);
    }
    // not reached: lookupFits counted the ranges as lookupAppend merges them
    if (full) throw new RangeError('setAltmapLookup: more than 2^20 distinct ranges');
    return 0;
  }

  // ---- memory hot-plug ----
  addMemoryBlocks(startPfn: number, count: number, memmapPages: number): number {
    if (![startPfn, count, memmapPages].every((v) => Number.isInteger(v) && v >= 0)) return EINVAL;
    return this.run((x) => x.addMemoryBlocks(startPfn, count, memmapPages));
  }

  // ---- vmemmap ----
  vmemmapPopulate(startPfn: number, nrPages: number, altmapId: number, flags: number): number {
    const x = this.ex();
    let r: number;
    try {
      r = x.vmemmapPopulate(startPfn, nrPages, altmapId, flags);
    } catch (e) {
      throw this.trap(e);
    }
    this.drain();
    return r;
  }

  /** One call for the whole span (the core walks it; it raises no events). */
  vmemmapPopulateCompound(startPfn: number, nrPages: number, compoundPages: number, rangeStartPfn: number): number {
    const x = this.ex();
    let r: number;
    try {
      r = x.vmemmapPopulateCompound(startPfn, nrPages, compoundPages, rangeStartPfn);
    } catch (e) {
      throw this.trap(e);
    }
    this.drain();
    return r;
  }

  vmemmapFree(startPfn: number, nrPages: number, altmapId: number): number {
    const x = this.ex();
    let r: number;
    try {
      r = x.vmemmapFree(startPfn, nrPages, altmapId);
    } catch (e) {
      throw this.trap(e);
    }
    this.drain();
    return r;
  }

  /** HVO: one call per HugeTLB page (a Bug from the page allocator is the only event it can raise). */
  vmemmapOptimizeHuge(startPfn: number, nrPages: number): number {
    return this.run((x) => x.vmemmapOptimizeHuge(startPfn, nrPages));
  }

  vmemmapRestoreHuge(startPfn: number, nrPages: number): number {
    return this.run((x) => x.vmemmapRestoreHuge(startPfn, nrPages));
  }

  // ---- memmap (raises no events) ----
  memmapZero(startPfn: number, nrPages: number): number {
    const x = this.ex();
    try {
      return x.memmapZero(startPfn, nrPages);
    } catch (e) {
      throw this.trap(e);
    }
  }

  memmapInit(startPfn: number, nrPages: number, zone: number, nid: number): number {
    const x = this.ex();
    try {
      return x.memmapInit(startPfn, nrPages, zone, nid);
    } catch (e) {
      throw this.trap(e);
    }
  }

  memmapSetPgmap(startPfn: number, nrPages: number, pgmap: bigint): number {
    const x = this.ex();
    try {
      return x.memmapSetPgmap(startPfn, nrPages, pgmap);
    } catch (e) {
      throw this.trap(e);
    }
  }

  memmapWrite(startPfn: number, nrPages: number, op: MemmapOp): number {
    const x = this.ex();
    this.views();
    const words = new BigUint64Array(this.buf!, this.io, 8);
    for (let w = 0; w < 8; w++) words[w] = BigInt.asUintN(64, op.words[w] ?? 0n);
    try {
      return x.memmapWrite(startPfn, nrPages, op.mask, op.self);
    } catch (e) {
      throw this.trap(e);
    }
  }

  memmapWriteEvery(startPfn: number, endPfn: number, step: number, count: number, op: MemmapOp): number {
    if (!writeEveryArgsOk(startPfn, endPfn, step, count)) return EINVAL;
    const x = this.ex();
    this.views();
    const words = new BigUint64Array(this.buf!, this.io, 8);
    for (let w = 0; w < 8; w++) words[w] = BigInt.asUintN(64, op.words[w] ?? 0n);
    try {
      return x.memmapWriteEvery(startPfn, endPfn, step, count, op.mask, op.self);
    } catch (e) {
      throw this.trap(e);
    }
  }

  readPage(pfn: number): BigUint64Array | null {
    const x = this.live();
    let r: number;
    try {
      r = x.readPage(pfn);
    } catch (e) {
      throw this.trap(e);
    }
    if (r === 0) return null;
    if (this.res64.length === 0) this.views();
    return this.res64.slice();
  }

  // ---- events and faults ----
  takeEvents(): CoreEvent[] {
    this.ex();
    const out = this.pending;
    this.pending = [];
    return out;
  }

  setFault(kind: FaultKind, nth: number): void {
    this.run((x) => x.setFault(kind, nth));
  }
}

/**
 * A fresh, uninitialised Wasm core; call init(). `module`: a compiled build/core.wasm (the browser
 * passes one); by default the file is read from the package and compiled once per process.
 */
export async function createWasmCore(module?: WebAssembly.Module): Promise<WasmCoreDiagnostics> {
  const mod = module ?? (await loadModule());
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const instance = await WebAssembly.instantiate(mod, imports(memory));
  const core = new WasmCore(mod);
  core.attach(instance, memory);
  return core;
}
