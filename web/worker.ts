/**
 * The demo's machine, off the page's main thread: a 48 TiB memremap takes a while, and the page must
 * stay responsive meanwhile. Everything here is a call into the library (the `browser` entry of
 * altmap-sim, which compiles build/core.wasm with WebAssembly.compileStreaming); the worker only keeps
 * the bookkeeping a person's session needs (which raw devices they made, the altmaps the mappings got,
 * the actions to replay on the other backend) and packs the Snapshot the page renders.
 */
import { createMachine, defaultE820, KernelError, planCapacity, planSvg, quotePercent, quoteSize, type Altmap, type E820Entry, type Machine } from 'altmap-sim';
import { parseSize } from './format.ts';
import { scanVmemmap, type Place } from './vmemmap.ts';
import type {
  Action,
  AltmapView,
  BackendName,
  BenchResult,
  BenchRow,
  BootAction,
  DeviceView,
  ErrorInfo,
  MachineAction,
  NamespaceView,
  PlanAction,
  PlanResult,
  Request,
  Response,
  Snapshot,
  WalkView,
} from './protocol.ts';


/** The library's default machine, at the sizes the page asked for. */
function e820For(c: BootAction): E820Entry[] {
  return defaultE820({ dramSize: parseSize(c.dram, 'DRAM size'), pmemSize: parseSize(c.pmem, 'Persistent Memory size') });
}

function integer(text: string, what: string): bigint {
  const s = text.trim();
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(s)) throw new KernelError('EINVAL', `${what} ${JSON.stringify(text)} is not an integer`);
  return BigInt(s);
}

/** One booted machine and what the person did to it. */
class Session {
  readonly log: MachineAction[] = [];
  /** Raw devices bound (memremap'd by hand), in creation order, with the range they asked for. */
  readonly raw = new Map<string, { start: bigint; end: bigint }>();
  /** The altmap each mapping got, kept as a handle: its counters stay readable whatever the lookup says later. */
  readonly altmaps = new Map<string, Altmap>();
  readonly bootDram: Snapshot['bootDram'];

  constructor(
    readonly m: Machine,
    readonly config: BootAction,
    readonly backend: BackendName,
  ) {
    this.bootDram = m.stats().dram;
  }

  static async boot(config: BootAction, backend: BackendName): Promise<Session> {
    const m = await createMachine({ backend, kernel: config.kernel, debug: config.debug, e820: e820For(config) });
    return new Session(m, config, backend);
  }

  apply(a: MachineAction): unknown {
    this.log.push(a);
    const m = this.m;
    switch (a.op) {
      case 'createNamespace': {
        const ns = m.createNamespace({ size: a.size.trim() === '' ? undefined : a.size.trim(), mode: a.mode, map: a.map, align: a.align });
        const info = m.namespaceInfo(ns.dev as string);
        if (info.device) {
          const pm = m.findDevPagemap(info.start);
          if (pm?.altmap && pm.dev === info.device) this.altmaps.set(info.device, pm.altmap);
        }
        return ns;
      }
      case 'destroyNamespace': {
        const info = m.namespaceInfo(a.dev);
        m.destroyNamespace(a.dev);
        if (info.device) this.altmaps.delete(info.device);
        return null;
      }
      case 'memremap': {
        const start = parseSize(a.start, 'start');
        const size = parseSize(a.size, 'size');
        if (size === 0n) throw new KernelError('EINVAL', 'size must be positive');
        const alt = a.altmap && {
          basePfn: integer(a.altmap.basePfn, 'altmap.base_pfn'),
          reserve: integer(a.altmap.reserve || '0', 'altmap.reserve'),
          free: integer(a.altmap.free, 'altmap.free'),
          align: integer(a.altmap.align || '0', 'altmap.align'),
          alloc: integer(a.altmap.alloc || '0', 'altmap.alloc'),
        };
        m.createDevice(a.device);
        try {
          const va = m.devmMemremapPages(a.device, { start, end: start + size - 1n }, alt);
          this.raw.set(a.device, { start, end: start + size - 1n });
          const pm = m.findDevPagemap(start);
          if (pm?.altmap && pm.dev === a.device) this.altmaps.set(a.device, pm.altmap);
          return { va };
        } catch (e) {
          // a failed probe: the driver core unbinds the device again
          if (!m.poisoned) m.unbind(a.device);
          throw e;
        }
      }
      case 'unbind': {
        m.unbind(a.device);
        this.raw.delete(a.device);
        this.altmaps.delete(a.device);
        return null;
      }
    }
  }

  altmapView(device: string): { view: AltmapView; live: boolean } | null {
    const a = this.altmaps.get(device);
    if (!a) return null;
    try {
      const j = a.toJSON();
      return { view: { basePfn: j.basePfn, reserve: j.reserve, free: j.free, align: j.align, alloc: j.alloc, nextPfn: j.nextPfn, nrFree: j.nrFree }, live: this.m.isLive(a) };
    } catch {
      return null;
    }
  }
}

let session: Session | null = null;
let backend: BackendName = 'wasm';
let pick: { kind: 'phys'; phys: number; as: 'struct-page' | 'direct-map' } | { kind: 'va'; va: bigint } | null = null;
/** dmesg lines the page already has. */
let dmesgSent = 0;
let seq = 0;
let replayed: number | null = null;

function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof KernelError) {
    const stderr = (e as KernelError & { stderr?: unknown }).stderr;
    return { code: e.code, errno: e.errno, message: e.message.replace(/^[A-Z]+: /, ''), name: e.name, ...(typeof stderr === 'string' ? { stderr } : {}) };
  }
  if (e instanceof Error) return { code: 'EINVAL', errno: -22, message: e.message, name: e.name };
  return { code: 'EINVAL', errno: -22, message: String(e), name: 'Error' };
}

/** Where a physical address is, as the library's identifyAddress says. */
function placeFinder(s: Session): (phys: number) => Place & { part?: string } {
  return (phys) => {
    const id = s.m.identifyAddress(phys);
    if (id.kind === 'System RAM') return { target: 'dram', device: null };
    if ((id.kind === 'namespace' || id.kind === 'device' || id.kind === 'System RAM (kmem)') && id.device) return { target: 'device', device: id.device, ...(id.part === 'altmap pool' ? { part: 'altmap pool' } : {}) };
    return { target: 'other', device: null };
  };
}

function describeWalk(s: Session, va: bigint, placeOf: ReturnType<typeof placeFinder>): WalkView {
  const m = s.m;
  // what the address is, as the library identifies it (a user-half address is no kernel address to walk)
  const id = va >> 63n ? m.identifyAddress(va) : null;
  const what = id?.kind === 'vmemmap' ? `struct page of pfn 0x${id.pfn!.toString(16)}` : id?.kind === 'direct-map' ? id.description : 'a kernel virtual address';
  const pfn = id?.kind === 'vmemmap' ? id.pfn! : null;
  const view: WalkView = { va, what, pfn, phys: null, mapped: false, pageSize: 0, levels: [], target: '', page: null, error: null };
  try {
    const w = m.walkVerbose(va);
    view.levels = w.levels.map((l) => ({ level: l.level, index: l.index, entry: l.entry, table: Number(l.table) }));
    view.mapped = w.mapped;
    if (w.mapped) {
      view.phys = Number(w.phys);
      view.pageSize = w.pageSize;
      const place = placeOf(view.phys);
      const ns = place.device ? s.m.listNamespaces().find((n) => s.m.namespaceInfo(n.dev as string).device === place.device) : undefined;
      view.target =
        place.target === 'dram'
          ? 'DRAM (System RAM)'
          : place.target === 'device'
            ? `${place.device}${ns ? ` (${ns.dev as string})` : ''}${place.part ? `: its altmap pool — memmap on the device` : ': device memory'}`
            : 'memory outside System RAM and every device';
    } else view.target = 'not mapped';
    if (pfn !== null && w.mapped) {
      const p = m.page(pfn);
      if (p) view.page = { zone: p.zone, reserved: p.reserved, refcount: p.refcount, mapcount: p.mapcount, pgmap: p.pgmap, initialised: p.initialised, flags: p.flags };
    }
  } catch (e) {
    view.error = errorInfo(e).message;
  }
  return view;
}

function snapshot(s: Session, fullLog: boolean): Snapshot {
  const m = s.m;
  const stats = m.stats();
  const namespaces: NamespaceView[] = m.listNamespaces().map((j) => {
    const info = m.namespaceInfo(j.dev as string);
    return {
      dev: info.dev,
      region: info.region,
      device: info.device,
      blockdev: info.blockdev,
      mode: info.mode,
      map: info.map,
      align: Number(j.align ?? 0),
      uuid: String(j.uuid ?? ''),
      size: Number(info.size),
      start: Number(info.start),
      raw: Number(info.raw),
      offset: Number(info.offset),
      startPad: Number(info.startPad),
      endTrunc: Number(info.endTrunc),
      npfns: info.npfns,
      dataPfn: info.dataPfn,
    };
  });
  const device = (name: string, kind: DeviceView['kind'], namespace: string | null, start: bigint, end: bigint): DeviceView => {
    const st = stats.devices[name];
    const alt = s.altmapView(name);
    return {
      name,
      kind,
      namespace,
      start: Number(st ? st.start : start),
      end: Number(st ? st.end : end),
      altmap: alt?.view ?? null,
      altmapLive: alt?.live ?? false,
      memmapPages: st?.memmapPages ?? null,
      dramMemmapPages: st?.dramMemmapPages ?? null,
      altmapPages: st?.altmapPages ?? null,
      sections: st?.sections ?? null,
    };
  };
  const devices: DeviceView[] = [];
  for (const ns of namespaces) if (ns.device) devices.push(device(ns.device, 'namespace', ns.dev, BigInt(ns.start), BigInt(ns.start + ns.raw - 1)));
  for (const [name, r] of s.raw) devices.push(device(name, 'raw', null, r.start, r.end));
  const placeOf = placeFinder(s);
  const { runs, walks } = scanVmemmap(m, placeOf);
  let walk: WalkView | null = null;
  if (pick) {
    try {
      const va = pick.kind === 'va' ? pick.va : pick.as === 'struct-page' ? m.pfnToPage(Math.floor(pick.phys / 4096)) : m.va(pick.phys);
      walk = describeWalk(s, va, placeOf);
    } catch (e) {
      walk = { va: 0n, what: '', pfn: null, phys: null, mapped: false, pageSize: 0, levels: [], target: '', page: null, error: errorInfo(e).message };
    }
  }
  const dmesg = m.dmesg();
  const from = fullLog ? 0 : Math.min(dmesgSent, dmesg.length);
  dmesgSent = dmesg.length;
  const { pageOffset, vmemmapStart, physBits, paging } = m.layout;
  return {
    seq: ++seq,
    backend: s.backend,
    config: { dram: s.config.dram, pmem: s.config.pmem, kernel: s.config.kernel, debug: s.config.debug },
    release: m.release,
    e820: m.e820.map((e) => ({ start: Number(e.start), size: Number(e.size), type: e.type })),
    layout: { pageOffset, vmemmapStart, physBits, paging },
    poisoned: m.poisoned,
    stats,
    bootDram: s.bootDram,
    namespaces,
    devices,
    vmemmap: runs,
    vmemmapWalks: walks,
    walk,
    dmesg: dmesg.slice(from),
    dmesgFrom: from,
    dmesgTotal: dmesg.length,
    actions: s.log.length,
    replayed,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The same small scenario on each backend: boot, one map=dev namespace over 4 TiB, random struct-page walks, destroy. */
async function bench(): Promise<BenchResult> {
  const pmem = '4T';
  const walkCount = 20000;
  const rows: BenchRow[] = [];
  for (const b of ['wasm', 'ts'] as const) {
    const t: Record<'boot' | 'create' | 'walks' | 'walkMany' | 'destroy', number[]> = { boot: [], create: [], walks: [], walkMany: [], destroy: [] };
    const runs = 3;
    // one warm-up run first (the engine's optimising tier, the module's compilation), not counted
    for (let r = -1; r < runs; r++) {
      const keep = <K extends keyof typeof t>(k: K, ms: number) => r >= 0 && t[k].push(ms);
      let t0 = performance.now();
      const m = await createMachine({ backend: b, e820: e820For({ op: 'boot', dram: '64G', pmem, kernel: 'v4.5', debug: false }) });
      keep('boot', performance.now() - t0);
      t0 = performance.now();
      const ns = m.createNamespace({ mode: 'fsdax', map: 'dev' });
      keep('create', performance.now() - t0);
      const info = m.namespaceInfo(ns.dev as string);
      const first = Number(info.start >> 12n);
      const n = Number(info.raw >> 12n);
      let seed = 12345 + Math.max(r, 0);
      const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
      t0 = performance.now();
      for (let i = 0; i < walkCount; i++) m.walk(m.pfnToPage(first + Math.floor(rnd() * n)));
      keep('walks', performance.now() - t0);
      // the same number of walks as one batch (one crossing into the core)
      const vas = new BigUint64Array(walkCount);
      for (let i = 0; i < walkCount; i++) vas[i] = m.pfnToPage(first + Math.floor(rnd() * n));
      t0 = performance.now();
      m.walkMany(vas);
      keep('walkMany', performance.now() - t0);
      t0 = performance.now();
      m.destroyNamespace(ns.dev as string);
      keep('destroy', performance.now() - t0);
      m.dispose();
    }
    rows.push({ backend: b, boot: median(t.boot), create: median(t.create), walks: median(t.walks), walkMany: median(t.walkMany), destroy: median(t.destroy), walkCount, runs });
  }
  return { pmem, rows };
}

/** The capacity planner, in the worker: each row a fresh machine on the page's backend (the page stays responsive meanwhile). */
async function plan(a: PlanAction): Promise<PlanResult> {
  const usable = a.usable.trim();
  const size = a.size.trim();
  const dram = a.dram.trim();
  const p = await planCapacity({ ...(usable ? { usable } : { size }), kernel: a.kernel, backend, ...(dram ? { dram } : {}) });
  const quoted = p.rows.map((r) => ({
    raw: quoteSize(r.raw),
    usable: quoteSize(r.usable),
    givenUp: quoteSize(r.deviceGivenUp),
    givenUpPercent: quotePercent(r.deviceGivenUpPercent),
    dram: quoteSize(r.dram),
    dramPercent: quotePercent(r.dramPercent),
  }));
  return { plan: p, svg: planSvg(p), quoted };
}

async function handle(req: Request): Promise<Response> {
  const a: Action = req.action;
  const t0 = performance.now();
  let ok = true;
  let error: ErrorInfo | undefined;
  let result: unknown;
  let fullLog = false;
  replayed = null;
  try {
    switch (a.op) {
      case 'boot': {
        const next = await Session.boot(a, backend);
        session?.m.dispose();
        session = next;
        fullLog = true;
        const region = next.m.e820.find((e) => e.type === 'Persistent Memory');
        pick = region ? { kind: 'phys', phys: Number(region.start), as: 'struct-page' } : null;
        break;
      }
      case 'setBackend': {
        if (session && a.backend !== session.backend) {
          const next = await Session.boot(session.config, a.backend);
          for (const act of session.log) {
            try {
              next.apply(act);
            } catch {
              // it failed the first time too: the log keeps failed actions for their dmesg lines
            }
          }
          session.m.dispose();
          replayed = session.log.length;
          session = next;
          fullLog = true;
        }
        backend = a.backend;
        break;
      }
      case 'pick':
        pick = { kind: 'phys', phys: a.phys, as: a.as };
        break;
      case 'pickVa':
        pick = { kind: 'va', va: integer(a.va, 'address') };
        break;
      case 'bench':
        result = await bench();
        break;
      case 'plan':
        result = await plan(a);
        break;
      default: {
        if (!session) throw new KernelError('EINVAL', 'boot a machine first');
        result = session.apply(a);
        if (a.op === 'createNamespace') {
          const info = session.m.namespaceInfo((result as { dev: string }).dev);
          pick = { kind: 'phys', phys: info.dataPfn * 4096, as: 'struct-page' };
        }
      }
    }
  } catch (e) {
    ok = false;
    error = errorInfo(e);
  }
  const ms = performance.now() - t0;
  let snap: Snapshot | null = null;
  if (session) {
    try {
      snap = snapshot(session, fullLog);
    } catch (e) {
      ok = false;
      error = errorInfo(e);
    }
  }
  return { id: req.id, ok, error, ms, result, snapshot: snap };
}

let queue: Promise<void> = Promise.resolve();
self.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  queue = queue.then(async () => {
    const res = await handle(req);
    postMessage(res);
  });
};
