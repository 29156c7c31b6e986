/**
 * Model my machine: a machine rebuilt from what a user can paste into a ticket. `--e820 FILE` (a dmesg:
 * its BIOS-e820 lines), `--machine FILE` (a MachineConfig JSON, or a scenario's), `--from FILE` (a real
 * `ndctl list -RNDiv` JSON, optionally followed by `daxctl list -RDMi`'s): regions, then namespaces
 * recreated in order with their mode, map, align, size and name, then dax devices put in system-ram mode.
 *
 * ndctl lists no physical addresses: a region listed goes where the NVDIMM would (the first 1 GiB boundary
 * at or above 4 GiB and the top of RAM, clear of the e820 map; regions back to back in id order), unless
 * the base machine already has Persistent Memory of those sizes. A namespace's listed size is its usable
 * size: the raw size is searched for on copies of the machine (namespaceSizeFor) and must give exactly it.
 */
import { KernelError, checkMachineConfig, defaultAlign, createMachine, namespaceSizeFor, parseE820Table, runPreparedSteps, validateScenario, type E820Entry, type Machine, type MachineConfig, type ScenarioStep } from '../index.ts';
import { parseJsonBounded, readInput } from './files.ts';
import { bare, usage } from './output.ts';

const GiB = 1n << 30n;
const PAGE = 4096n;
/** The highest namespace id --from recreates (each id below it is created once). */
const MAX_NAMESPACE_ID = 4096;

/** A --from document that does not say what the model needs, or says it wrongly: the JSON path and why. */
export class FromError extends KernelError {
  constructor(
    /** The JSON path of the value ("$[0].regions[1].size"). */
    readonly path: string,
    why: string,
  ) {
    super('EINVAL', `${path}: ${why}`);
    this.name = 'FromError';
  }
}

/** The machine and the steps that make it, with what was assumed where the inputs were silent. */
export interface Rebuilt {
  machine: MachineConfig;
  steps: ScenarioStep[];
  /** What came from where, and what was assumed (printed with --explain-machine). */
  notes: string[];
}

// ---------------------------------------------------------------------------------- the documents

/** The top-level JSON values of a text, in order ('$ ndctl list ...' and '#' lines between them skipped). */
export function splitJsonValues(text: string, what: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '$' || c === '#') {
      // a shell prompt or a comment line pasted with the output
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
      continue;
    }
    if (c !== '{' && c !== '[') {
      const line = text.slice(0, i).split('\n').length;
      return usage(`${what}: line ${line}: expected ndctl or daxctl JSON, found ${JSON.stringify(text.slice(i, i + 40).split('\n')[0])}`);
    }
    let depth = 0;
    let inString = false;
    let j = i;
    for (; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (inString) {
        if (d === 0x5c) j++;
        else if (d === 0x22) inString = false;
      } else if (d === 0x22) inString = true;
      else if (d === 0x5b || d === 0x7b) depth++;
      else if (d === 0x5d || d === 0x7d) {
        if (--depth === 0) break;
      }
    }
    out.push(parseJsonBounded(text.slice(i, j + 1), `${what} (the JSON at line ${text.slice(0, i).split('\n').length})`));
    i = j + 1;
  }
  if (!out.length) usage(`${what}: no JSON in it`);
  return out;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A listed byte count: ndctl prints plain numbers (a -u listing's "8.00 GiB (8.59 GB)" rounds: refused). */
function bytes(v: unknown, path: string): bigint {
  if (typeof v === 'string' && /GiB|MiB|KiB|TiB|GB/.test(v)) throw new FromError(path, `${JSON.stringify(v)} is a human-readable size (ndctl list -u): list without -u for exact bytes`);
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return BigInt(v);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FromError(path, `${JSON.stringify(v)} is not a byte count`);
  return BigInt(v);
}

function str(v: unknown, path: string, re?: RegExp): string {
  if (typeof v !== 'string' || (re && !re.test(v))) throw new FromError(path, `${JSON.stringify(v)} is not ${re ? `of the form ${re.source}` : 'a string'}`);
  return v;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new FromError(path, `${JSON.stringify(v)?.slice(0, 60)} is not an array`);
  return v;
}

interface ListedNs {
  path: string;
  region: number;
  idx: number;
  dev: string;
  mode: 'raw' | 'fsdax' | 'devdax' | 'sector';
  map?: 'dev' | 'mem';
  size: bigint;
  align?: bigint;
  sectorSize?: bigint;
  name?: string;
  labelLess: boolean;
  disabled: boolean;
  /** The dax devices listed under it (-X), by chardev: their mode. */
  dax: Map<string, DaxDev>;
}

interface ListedRegion {
  path: string;
  id: number;
  size: bigint;
  align?: bigint;
  /** A label-less region (nd_namespace_io): its raw namespace has no uuid. */
  labelLess: boolean;
  /** available_size, when listed. */
  available?: bigint;
  /** The DIMMs mapped (mappings): the machine's interleaveWays. */
  mappings?: number;
  /** target_node (ndctl -v): the SRAT node of the region's range. */
  node?: number;
}

interface DaxDev {
  path: string;
  chardev: string;
  mode: 'devdax' | 'system-ram';
  movable?: boolean;
  online?: boolean;
  /** online_memblocks and total_memblocks, when listed. */
  blocks?: { online: bigint; total: bigint };
  /** Its mappings (daxctl -M): physical ranges, end inclusive. */
  mappings?: Array<{ start: bigint; end: bigint }>;
}

/** What the documents list: regions by id, namespaces, dax devices by chardev. */
interface Listing {
  regions: Map<number, ListedRegion>;
  namespaces: ListedNs[];
  dax: Map<string, DaxDev>;
}

/** ndctl's mode names, the older ones (ndctl before v60: memory, dax) included. */
const MODES: Record<string, ListedNs['mode']> = { raw: 'raw', fsdax: 'fsdax', memory: 'fsdax', devdax: 'devdax', dax: 'devdax', sector: 'sector', safe: 'sector' };

function daxDevice(o: unknown, path: string, into: Map<string, DaxDev>): void {
  if (!isObj(o)) throw new FromError(path, 'not a dax device object');
  const chardev = str(o.chardev, `${path}.chardev`, /^dax\d+\.\d+$/);
  const mode = o.mode === undefined ? 'devdax' : str(o.mode, `${path}.mode`, /^(devdax|system-ram)$/);
  const d: DaxDev = { path, chardev, mode: mode as DaxDev['mode'] };
  if (o.movable !== undefined) {
    if (typeof o.movable !== 'boolean') throw new FromError(`${path}.movable`, `${JSON.stringify(o.movable)} is not true or false`);
    d.movable = o.movable;
  }
  if (o.online_memblocks !== undefined) d.online = bytes(o.online_memblocks, `${path}.online_memblocks`) > 0n;
  if (o.online_memblocks !== undefined && o.total_memblocks !== undefined) {
    d.blocks = { online: bytes(o.online_memblocks, `${path}.online_memblocks`), total: bytes(o.total_memblocks, `${path}.total_memblocks`) };
    if (d.blocks.online > d.blocks.total) throw new FromError(`${path}.online_memblocks`, `${d.blocks.online} online of ${d.blocks.total} blocks`);
  }
  if (o.mappings !== undefined)
    d.mappings = arr(o.mappings, `${path}.mappings`).map((m, i) => {
      if (!isObj(m)) throw new FromError(`${path}.mappings[${i}]`, 'not a mapping object');
      const start = bytes(m.start, `${path}.mappings[${i}].start`);
      const end = bytes(m.end, `${path}.mappings[${i}].end`);
      if (end < start) throw new FromError(`${path}.mappings[${i}].end`, `${end} is below the start ${start}`);
      return { start, end };
    });
  const had = into.get(chardev);
  // the same device listed twice (ndctl -X and daxctl): what either says
  const merged: DaxDev = { ...had, ...d };
  for (const k of ['movable', 'online', 'blocks', 'mappings'] as const) if (d[k] === undefined && had?.[k] !== undefined) (merged as unknown as Record<string, unknown>)[k] = had[k];
  into.set(chardev, merged);
}

function namespace(o: Json, path: string, l: Listing, region?: number): void {
  const dev = str(o.dev, `${path}.dev`, /^namespace\d+\.\d+$/);
  const [, r, n] = /^namespace(\d+)\.(\d+)$/.exec(dev)!;
  // a region's label area holds a few hundred labels (509 in 128 KiB): ids past that are not a real listing
  if (Number(n) > MAX_NAMESPACE_ID) throw new FromError(`${path}.dev`, `${dev}: namespace ids go up to ${MAX_NAMESPACE_ID} here`);
  if (region !== undefined && Number(r) !== region) throw new FromError(`${path}.dev`, `${dev} is listed under region${region}`);
  const modeName = o.mode === undefined ? 'raw' : str(o.mode, `${path}.mode`);
  const mode = Object.hasOwn(MODES, modeName) ? MODES[modeName]! : undefined;
  if (!mode) throw new FromError(`${path}.mode`, `${JSON.stringify(modeName)} is not an ndctl namespace mode (raw, fsdax, devdax, sector)`);
  // a label-less namespace (nd_namespace_io) has no uuid: raw, or on the e820 bus fsdax (mode "memory")
  const ns: ListedNs = { path, region: Number(r), idx: Number(n), dev, mode, size: bytes(o.size, `${path}.size`), labelLess: o.uuid === undefined, disabled: o.state === 'disabled', dax: new Map() };
  if (o.map !== undefined) ns.map = str(o.map, `${path}.map`, /^(dev|mem)$/) as 'dev' | 'mem';
  if (o.align !== undefined) ns.align = bytes(o.align, `${path}.align`);
  if (o.sector_size !== undefined && mode === 'sector') ns.sectorSize = bytes(o.sector_size, `${path}.sector_size`);
  if (o.name !== undefined) ns.name = str(o.name, `${path}.name`);
  if (o.daxregion !== undefined) {
    if (!isObj(o.daxregion)) throw new FromError(`${path}.daxregion`, 'not an object');
    if (o.daxregion.devices !== undefined) arr(o.daxregion.devices, `${path}.daxregion.devices`).forEach((d, i) => daxDevice(d, `${path}.daxregion.devices[${i}]`, ns.dax));
  }
  if (l.namespaces.some((x) => x.dev === dev)) throw new FromError(`${path}.dev`, `${dev} is listed twice`);
  l.namespaces.push(ns);
}

function region(o: Json, path: string, l: Listing): void {
  const dev = str(o.dev, `${path}.dev`, /^region\d+$/);
  const id = Number(dev.slice(6));
  const r: ListedRegion = { path, id, size: bytes(o.size, `${path}.size`), labelLess: false };
  if (r.size === 0n) throw new FromError(`${path}.size`, 'a region of 0 bytes');
  if (o.align !== undefined) r.align = bytes(o.align, `${path}.align`);
  if (o.available_size !== undefined) r.available = bytes(o.available_size, `${path}.available_size`);
  if (o.mappings !== undefined) r.mappings = arr(o.mappings, `${path}.mappings`).length;
  if (o.target_node !== undefined) {
    const node = Number(bytes(o.target_node, `${path}.target_node`));
    if (node >= 1024) throw new FromError(`${path}.target_node`, `${node} is not below MAX_NUMNODES (1024)`);
    r.node = node;
  }
  if (o.type !== undefined && o.type !== 'pmem') throw new FromError(`${path}.type`, `${JSON.stringify(o.type)}: the model has pmem regions only`);
  if (l.regions.has(id)) throw new FromError(`${path}.dev`, `${dev} is listed twice`);
  l.regions.set(id, r);
  if (o.namespaces !== undefined)
    arr(o.namespaces, `${path}.namespaces`).forEach((n, i) => {
      if (!isObj(n)) throw new FromError(`${path}.namespaces[${i}]`, 'not a namespace object');
      namespace(n, `${path}.namespaces[${i}]`, l, id);
    });
  // a label-less region (nd_namespace_io) has no interleave set cookie to list; its raw namespace no uuid
  r.labelLess = o.iset_id === undefined || l.namespaces.some((n) => n.region === id && n.labelLess);
}

/** One ndctl or daxctl document (any of the shapes `ndctl list` and `daxctl list` print), walked into the listing. */
function document(doc: unknown, path: string, l: Listing): void {
  const items = Array.isArray(doc) ? doc.map((x, i) => [x, `${path}[${i}]`] as const) : [[doc, path] as const];
  for (const [o, p] of items) {
    if (!isObj(o)) throw new FromError(p, 'not an ndctl or daxctl object');
    if (typeof o.dev === 'string' && o.dev.startsWith('namespace')) namespace(o, p, l);
    else if (typeof o.dev === 'string' && o.dev.startsWith('region')) region(o, p, l);
    else if (typeof o.chardev === 'string') daxDevice(o, p, l.dax);
    else if (o.dimms !== undefined || o.regions !== undefined || o.namespaces !== undefined || o.provider !== undefined) {
      // -D/-R/-B: { dimms, regions } or a bus { provider, dev, dimms, regions } (or namespaces with -N)
      if (o.regions !== undefined) arr(o.regions, `${p}.regions`).forEach((r, i) => document(r, `${p}.regions[${i}]`, l));
      if (o.namespaces !== undefined) arr(o.namespaces, `${p}.namespaces`).forEach((n, i) => document(n, `${p}.namespaces[${i}]`, l));
    } else if (o.devices !== undefined) {
      // a daxctl region (-R): { path, id, size, align, devices }
      arr(o.devices, `${p}.devices`).forEach((d, i) => daxDevice(d, `${p}.devices[${i}]`, l.dax));
    } else throw new FromError(p, `neither an ndctl nor a daxctl listing (keys ${Object.keys(o).slice(0, 6).join(', ') || 'none'})`);
  }
}

/** The listing of the --from documents. @throws FromError naming the JSON path. */
export function readListing(docs: unknown[]): Listing {
  const l: Listing = { regions: new Map(), namespaces: [], dax: new Map() };
  docs.forEach((d, i) => document(d, docs.length > 1 ? `$${i}` : '$', l));
  return l;
}

// ---------------------------------------------------------------------------------- the machine

const hx = (x: bigint) => `0x${x.toString(16)}`;
const num = (x: E820Entry['start']) => BigInt(x);

/** Where firmware would put NVDIMMs: the first 1 GiB boundary at or above 4 GiB and the top of RAM, then past any entry in the way. */
export function nvdimmBase(e820: E820Entry[], total: bigint): bigint {
  const ram = e820.filter((e) => e.type === 'System RAM').map((e) => num(e.start) + num(e.size));
  let at = ram.reduce((a, b) => (a > b ? a : b), 4n * GiB);
  at = ((at + GiB - 1n) / GiB) * GiB;
  for (let moved = true; moved; ) {
    moved = false;
    for (const e of e820) {
      const s = num(e.start);
      const end = s + num(e.size);
      if (s < at + total && end > at) {
        at = ((end + GiB - 1n) / GiB) * GiB;
        moved = true;
      }
    }
  }
  return at;
}

/** The base machine's e820 with the listed regions as its Persistent Memory (kept where the base already has them at those sizes). */
function withRegions(base: E820Entry[], regions: ListedRegion[], notes: string[]): E820Entry[] {
  const nfit = base.filter((e) => e.type === 'Persistent Memory').sort((a, b) => (num(a.start) < num(b.start) ? -1 : 1));
  const legacy = base.filter((e) => e.type === 'Persistent Memory (legacy)').sort((a, b) => (num(a.start) < num(b.start) ? -1 : 1));
  // legacy ranges (memmap=nn!ss) are regions too, on the e820 bus: listed ones of their sizes are them
  const listed = [...regions];
  for (const l of legacy) {
    const i = listed.findIndex((r) => r.size === num(l.size));
    if (i >= 0) listed.splice(i, 1);
  }
  if (listed.length === nfit.length && listed.every((r, i) => r.size === num(nfit[i]!.size))) {
    notes.push('regions: at the addresses of the base machine\'s Persistent Memory of the same sizes');
    if (!listed.some((r) => r.node !== undefined)) return base;
    return base.map((e) => {
      const i = nfit.indexOf(e);
      return i >= 0 && listed[i]!.node !== undefined ? { ...e, node: listed[i]!.node } : e;
    });
  }
  const rest = base.filter((e) => e.type !== 'Persistent Memory');
  const total = listed.reduce((a, r) => a + r.size, 0n);
  let at = nvdimmBase(rest, total);
  notes.push(`regions: ndctl lists no addresses; placed back to back from ${hx(at)} (the first 1 GiB boundary at or above 4 GiB and RAM, clear of the e820 map)`);
  const out = [...rest];
  for (const r of listed) {
    if (r.size % PAGE) throw new FromError(`${r.path}.size`, `${r.size} is not a whole number of 4 KiB pages`);
    out.push({ start: hx(at), size: hx(r.size), type: 'Persistent Memory', ...(r.node !== undefined ? { node: r.node } : {}) });
    at += r.size;
  }
  return out.sort((a, b) => (num(a.start) < num(b.start) ? -1 : 1));
}

async function bootSteps(machine: MachineConfig, steps: ScenarioStep[], backend: MachineConfig['backend']): Promise<Machine> {
  const prepared = validateScenario({ machine, steps });
  const m = await createMachine({ ...prepared.machine, backend });
  const bad = runPreparedSteps(m, prepared.steps).find((r) => !r.ok || r.mismatch !== undefined);
  if (bad) {
    m.dispose();
    throw new KernelError('EINVAL', `step ${bad.index} (${bad.op}) does not run: ${bad.mismatch ?? ''}`);
  }
  return m;
}

/**
 * The machine of a --from listing on a base machine (its kernel, e820 and options): the regions listed
 * become its Persistent Memory, its namespaces and dax devices are recreated in order.
 * @throws FromError naming the JSON path of what cannot be rebuilt.
 */
export async function rebuildFrom(docs: unknown[], base: MachineConfig, backend: MachineConfig['backend'], notes: string[] = []): Promise<Rebuilt> {
  const l = readListing(docs);
  const machine: MachineConfig = { ...base };
  const regions = [...l.regions.values()].sort((a, b) => a.id - b.id);
  // regions placed where ndctl says nothing of: a dax device's listed mapping (daxctl -M) moves its region
  let placed = false;
  // a region over an e820 legacy pmem range of its size is the e820 bus's, not the NFIT's
  const isLegacy = (r: ListedRegion) => (machine.e820 ?? []).some((e) => e.type === 'Persistent Memory (legacy)' && num(e.size) === r.size);
  const ways = (r: ListedRegion) => Math.max(1, r.mappings ?? 1);
  if (regions.length) {
    machine.e820 = withRegions(base.e820 ?? [], regions, notes);
    placed = machine.e820 !== base.e820;
    // interleave sets: each NFIT region's DIMMs (the mappings of -RD), in address order as the regions are placed
    const nfit = regions.filter((r) => !isLegacy(r));
    if (nfit.some((r) => ways(r) > 1)) machine.interleaveWays = nfit.map(ways);
    // an align default_align() gives each region needs no option; otherwise the model's one region align
    const odd = regions.filter((r) => r.align !== undefined && r.align !== defaultAlign(r.size, ways(r)));
    const aligns = [...new Set(regions.filter((r) => r.align !== undefined).map((r) => r.align!))];
    if (odd.length && aligns.length > 1) throw new FromError(`${odd[0]!.path}.align`, `regions of different aligns (${aligns.join(', ')}), not each default_align(): the model has one region align`);
    if (odd.length && base.regionAlign === undefined) machine.regionAlign = hx(aligns[0]!);
  } else notes.push("regions: none listed (an -N listing): the base machine's Persistent Memory, by region id");
  // label-less regions by their index among the NFIT regions in address order (the model's labelLessRegions)
  const nfitRegions = regions.filter((r) => !isLegacy(r));
  const llIdx = nfitRegions.flatMap((r, i) => (r.labelLess ? [i] : []));
  if (regions.length === 0) {
    // an -N listing: a raw namespace without a uuid is a label-less region's; its id is taken as its index
    for (const n of l.namespaces) if (n.labelLess && !llIdx.includes(n.region)) llIdx.push(n.region);
  }
  if (llIdx.length && base.labelLessRegions === undefined) machine.labelLessRegions = llIdx.sort((a, b) => a - b);
  checkMachineConfig(machine);

  const steps: ScenarioStep[] = [];
  const probe = await bootSteps(machine, [], backend);
  // a region without an interleave set cookie has no labels: its one namespace is reconfigured, never created
  const probeRegions = probe.listRegions();
  const io = new Map(probeRegions.map((r) => [r.id, r.isetId === undefined]));
  const AUTO_ONLINE = '/sys/devices/system/memory/auto_online_blocks';
  const autoOnline = probe.readFile(AUTO_ONLINE).trim();
  const blockSize = BigInt(`0x${probe.readFile('/sys/devices/system/memory/block_size_bytes').trim()}`);
  probe.dispose();
  const order = [...l.namespaces].sort((a, b) => a.region - b.region || a.idx - b.idx);
  const regionOf = new Map(probeRegions.map((r) => [r.id, r]));
  for (const ns of order) {
    if (!io.has(ns.region)) throw new FromError(`${ns.path}.dev`, `${ns.dev} is in region${ns.region}, which the machine has not (regions: ${[...io.keys()].map((i) => `region${i}`).join(', ') || 'none'}; give the -R listing, or --pmem-size)`);
  }
  for (const [id, isIo] of io) {
    const inRegion = order.filter((n) => n.region === id);
    if (isIo) {
      // a label-less region's one namespace_io: reconfigured in place when listed in another mode
      for (const ns of inRegion) if (!ns.labelLess) steps.push({ ...nsStep(ns), reconfig: ns.dev });
      continue;
    }
    // ids are handed out in creation order and never reused (a destroyed namespace stays, idle): the ids
    // missing below the last one are namespaces created and destroyed since, burnt here the same way
    const live = inRegion.filter((n) => !(n.disabled && n.size === 0n));
    const idle = inRegion.filter((n) => n.disabled && n.size === 0n);
    const maxLive = Math.max(-1, ...live.map((n) => n.idx));
    const seed = Math.max(-1, ...idle.map((n) => n.idx));
    const last = Math.max(maxLive, seed);
    const granule = regionOf.get(id)!.align ?? PAGE;
    const listed = l.regions.get(id);
    let used = 0n;
    const burnt: ScenarioStep[] = [];
    for (let i = 0; i <= last; i++) {
      const ns = live.find((n) => n.idx === i);
      if (!ns) {
        if (i === seed && seed > maxLive) continue; // the region's seed: the kernel makes it
        steps.push({ op: 'createNamespace', note: `namespace${id}.${i}: an id used and given back before the listing`, mode: 'raw', size: String(granule), region: id });
        // destroyed once the region's namespaces are made: a namespace destroyed earlier would be the next one's (the model's seed rules)
        burnt.push({ op: 'destroyNamespace', note: `namespace${id}.${i}: destroyed again`, dev: `namespace${id}.${i}` });
        continue;
      }
      if (ns.disabled) notes.push(`${ns.dev}: listed disabled; recreated enabled`);
      const step: ScenarioStep = { ...nsStep(ns), region: id };
      // what the region's available_size says this namespace took, when it is the region's last
      const lastOfRegion = ns === live.filter((n) => n.idx <= last).at(-1);
      const hint = listed?.available !== undefined && lastOfRegion ? ((listed.size - listed.available - used) / granule) * granule : undefined;
      const raw = await rawFor(ns, machine, steps, backend, granule, regionOf.get(id)!.size, hint);
      step.size = String(raw);
      used += raw;
      steps.push(step);
    }
    steps.push(...burnt);
  }
  // dax devices listed in system-ram mode (daxctl list, or ndctl list -X): reconfigured so
  const dax = new Map(l.dax);
  for (const ns of order) for (const [k, d] of ns.dax) dax.set(k, { ...d, ...dax.get(k) });
  for (const d of [...dax.values()].sort((a, b) => (a.chardev < b.chardev ? -1 : 1))) {
    if (d.mode !== 'system-ram') continue;
    // blocks listed movable that the kernel would have onlined itself (auto_online_blocks online: ZONE_NORMAL)
    // were onlined by daxctl: auto-online off around the hot-add, as the user must have had it
    const around = d.movable === true && d.online !== false && (autoOnline === 'online' || autoOnline === 'online_kernel');
    if (around) {
      notes.push(`${d.chardev}: listed movable; hot-added with auto_online_blocks offline so that daxctl onlines it movable, then ${autoOnline} again`);
      steps.push({ op: 'writeFile', note: `for ${d.path}.movable`, path: AUTO_ONLINE, text: 'offline\n' });
    }
    steps.push({ op: 'reconfigureDevice', note: `from ${d.path}`, dev: d.chardev, mode: 'system-ram', ...(d.movable !== undefined ? { movable: d.movable } : {}), ...(d.online === false ? { online: false } : {}) });
    if (around) steps.push({ op: 'writeFile', note: `for ${d.path}.movable`, path: AUTO_ONLINE, text: `${autoOnline}\n` });
    // some blocks listed offline (a daxctl offline-memory, or a failed reconfigure that offlined part): the
    // listing gives how many, not which; the last ones the model lets go are offlined
    if (d.blocks && d.blocks.online > 0n && d.blocks.online < d.blocks.total) {
      if (!d.mappings?.length) throw new FromError(`${d.path}.online_memblocks`, `${d.blocks.online} of ${d.blocks.total} blocks online: which ones takes the mappings (daxctl list -M)`);
      const ids: bigint[] = [];
      for (const m of d.mappings) for (let b = (m.start + blockSize - 1n) / blockSize; (b + 1n) * blockSize <= m.end + 1n && BigInt(ids.length) <= d.blocks.total; b++) ids.push(b);
      const off = Number(d.blocks.total - d.blocks.online);
      if (BigInt(ids.length) !== d.blocks.total) throw new FromError(`${d.path}.total_memblocks`, `${d.blocks.total} blocks, but the mappings hold ${ids.length} of ${blockSize} bytes`);
      // the ones the model lets go (a block holding kernel allocations will not offline), from the last
      const m = await bootSteps(machine, steps, backend);
      const done: bigint[] = [];
      try {
        for (const b of [...ids].reverse()) {
          if (done.length === off) break;
          try {
            m.writeFile(`/sys/devices/system/memory/memory${b}/state`, 'offline\n');
            done.push(b);
          } catch (e) {
            if (!(e instanceof KernelError)) throw e;
          }
        }
      } finally {
        m.dispose();
      }
      if (done.length < off) throw new FromError(`${d.path}.online_memblocks`, `${off} blocks listed offline, the model lets only ${done.length} go`);
      notes.push(`${d.chardev}: ${off} of ${d.blocks.total} blocks listed offline (the listing does not say which): memory${done.join(', memory')} offlined`);
      for (const b of done) steps.push({ op: 'writeFile', note: `for ${d.path}.online_memblocks`, path: `/sys/devices/system/memory/memory${b}/state`, text: 'offline\n' });
    }
  }
  if (placed) await placeByMappings(machine, steps, dax, backend, notes);
  // the whole machine boots and every step runs, or the listing names what did not
  try {
    (await bootSteps(machine, steps, backend)).dispose();
  } catch (e) {
    if (!(e instanceof KernelError) || e instanceof FromError) throw e;
    const i = /^EINVAL: step (\d+)/.exec(e.message);
    const s = i ? steps[Number(i[1])] : undefined;
    const at = /^(?:from|for) (\$\S*)/.exec(String(s?.note ?? ''));
    throw new FromError(at ? at[1]! : '$', `cannot be recreated on the model: ${bare(e)}`);
  }
  return { machine, steps, notes };
}

/**
 * A region placed by default whose dax device lists its physical mapping (daxctl -M) moves so that the
 * model's device starts there too: the region's start shifts by the difference (page-aligned, clear of the
 * rest of the map), each region once.
 */
async function placeByMappings(machine: MachineConfig, steps: ScenarioStep[], dax: Map<string, DaxDev>, backend: MachineConfig['backend'], notes: string[]): Promise<void> {
  const moved = new Set<bigint>();
  for (const d of [...dax.values()].sort((a, b) => (a.chardev < b.chardev ? -1 : 1))) {
    const want = d.mappings?.[0]?.start;
    if (want === undefined) continue;
    let m: Machine;
    try {
      m = await bootSteps(machine, steps, backend);
    } catch {
      return; // the final check names what does not run
    }
    let got: bigint;
    let region: { start: bigint; size: bigint } | undefined;
    try {
      const path = `/sys/bus/dax/devices/${d.chardev}/mapping0/start`;
      if (!m.listDir(`/sys/bus/dax/devices`).includes(d.chardev)) continue;
      got = BigInt(m.readFile(path).trim());
      const e = (machine.e820 ?? []).find((x) => x.type === 'Persistent Memory' && num(x.start) <= got && got < num(x.start) + num(x.size));
      region = e && !moved.has(num(e.start)) ? { start: num(e.start), size: num(e.size) } : undefined;
    } finally {
      m.dispose();
    }
    if (!region || got === want) continue;
    const to = region.start + want - got;
    if (want < got && got - want > region.start) throw new FromError(`${d.path}.mappings[0].start`, `${hx(want)} puts its region below address 0`);
    if (to % PAGE) throw new FromError(`${d.path}.mappings[0].start`, `${hx(want)} puts its region at ${hx(to)}, not page-aligned`);
    const others = (machine.e820 ?? []).filter((e) => num(e.start) !== region!.start);
    const clash = others.find((e) => num(e.start) < to + region!.size && num(e.start) + num(e.size) > to);
    if (clash) throw new FromError(`${d.path}.mappings[0].start`, `${hx(want)} puts its region at ${hx(to)}, over the ${clash.type} at ${clash.start}`);
    machine.e820 = [...others, { start: hx(to), size: hx(region.size), type: 'Persistent Memory' as const }].sort((a, b) => (num(a.start) < num(b.start) ? -1 : 1));
    moved.add(to);
    notes.push(`regions: the region of ${d.chardev} moved to ${hx(to)}, where daxctl lists its mapping (${hx(want)})`);
  }
}

/** A createNamespace step of a listed namespace's mode, map, align, sector size and name (the size to come). */
function nsStep(ns: ListedNs): ScenarioStep {
  const step: ScenarioStep = { op: 'createNamespace', note: `from ${ns.path}`, mode: ns.mode };
  if (ns.map) step.map = ns.map;
  if (ns.align !== undefined) step.align = String(ns.align);
  if (ns.sectorSize !== undefined) step.sectorSize = String(ns.sectorSize);
  if (ns.name !== undefined) step.name = ns.name;
  return step;
}

/**
 * The raw size whose namespace, created after the steps so far, lists exactly the size the listing shows:
 * the smallest that reaches it (namespaceSizeFor for fsdax and devdax, a bisection for sector), or the
 * region's available_size's figure (`hint`) where that gives the same size too (a larger -s than needed, or
 * a namespace that lists 0 bytes).
 */
async function rawFor(ns: ListedNs, machine: MachineConfig, steps: ScenarioStep[], backend: MachineConfig['backend'], granule: bigint, max: bigint, hint: bigint | undefined): Promise<bigint> {
  if (ns.mode === 'raw') return ns.size;
  const prefix = [...steps];
  const usableOf = async (raw: bigint): Promise<bigint | null> => {
    const m = await bootSteps(machine, prefix, backend);
    try {
      const { op: _op, note: _note, ...opts } = nsStep(ns);
      m.createNamespace({ ...opts, region: ns.region, size: raw } as Parameters<Machine['createNamespace']>[0]);
      const got = m.listNamespaces().find((x) => x.dev === ns.dev);
      return got ? BigInt(got.size as number) : null;
    } catch (e) {
      if (e instanceof KernelError) return null;
      throw e;
    } finally {
      m.dispose();
    }
  };
  if (hint !== undefined && hint > 0n && (await usableOf(hint)) === ns.size) return hint;
  let found: bigint | undefined;
  if (ns.mode === 'sector') found = await bisect(ns.size, granule, max, usableOf);
  else if (ns.size > 0n) {
    try {
      const r = await namespaceSizeFor({
        usable: ns.size,
        mode: ns.mode as 'fsdax' | 'devdax',
        ...(ns.map ? { map: ns.map } : {}),
        ...(ns.align !== undefined ? { align: ns.align } : {}),
        region: ns.region,
        machine: () => bootSteps(machine, prefix, backend),
      });
      if (r.usable === ns.size) found = r.raw;
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      throw new FromError(`${ns.path}.size`, `no raw size gives ${ns.size} usable bytes here: ${bare(e)}`);
    }
  }
  if (found === undefined) throw new FromError(`${ns.path}.size`, `no raw size gives exactly ${ns.size} bytes on the model${ns.size === 0n ? ' (a namespace listed with 0 bytes is sized from its region\'s available_size: list with -R)' : ''}`);
  return found;
}

/** The smallest multiple of `granule` whose usable size reaches `target` (usable grows with the raw size), if it is exactly `target`. */
async function bisect(target: bigint, granule: bigint, max: bigint, usableOf: (raw: bigint) => Promise<bigint | null>): Promise<bigint | undefined> {
  let lo = 0n; // falls short (a size the kernel refuses counts as short)
  let hi = 1n;
  for (;;) {
    if (hi * granule > max) return undefined;
    const u = await usableOf(hi * granule);
    if (u !== null && u >= target) break;
    lo = hi;
    hi *= 2n;
  }
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    const u = await usableOf(mid * granule);
    if (u !== null && u >= target) hi = mid;
    else lo = mid;
  }
  return (await usableOf(hi * granule)) === target ? hi * granule : undefined;
}

// ---------------------------------------------------------------------------------- the CLI's inputs

/** The machine inputs of a command (--machine, --e820, --from), read with the bounded reader. */
export interface MachineInputs {
  machine?: string;
  e820?: string;
  from?: string[];
}

/** A --machine file: a MachineConfig, or a scenario ({ machine, steps }) whose machine and steps are taken. */
export function readMachineFile(path: string): { machine: MachineConfig; steps: ScenarioStep[] } {
  const raw = parseJsonBounded(readInput(path, '--machine'), `--machine ${path}`);
  const scenario = isObj(raw) && isObj(raw.machine) && Array.isArray(raw.steps);
  try {
    const prepared = validateScenario(scenario ? raw : { machine: raw, steps: [] });
    checkMachineConfig(prepared.machine);
  } catch (e) {
    if (e instanceof KernelError) usage(`--machine ${path}: ${bare(e)}`);
    throw e;
  }
  return scenario ? { machine: (raw as Json).machine as MachineConfig, steps: (raw as Json).steps as ScenarioStep[] } : { machine: raw as MachineConfig, steps: [] };
}

/** A --e820 file's entries (a dmesg with the BIOS-e820 lines); a bad line is a usage error naming it. */
export function readE820File(path: string, notes: string[]): E820Entry[] {
  try {
    const t = parseE820Table(readInput(path, '--e820'));
    notes.push(`e820: the ${t.table === 'user' ? 'user-defined (memmap=) ' : ''}table of --e820 ${path}, ${t.entries.length} entries`);
    for (const k of t.keptAsReserved) notes.push(`e820: ${k} kept as Reserved (the model has no such type; the kernel keeps it out of RAM too)`);
    return t.entries;
  } catch (e) {
    if (e instanceof KernelError) usage(`--e820 ${path}: ${bare(e)}`);
    throw e;
  }
}

/** The --from files' JSON documents, in order. */
export function readFromFiles(paths: string[]): unknown[] {
  return paths.flatMap((p) => splitJsonValues(readInput(p, '--from'), `--from ${p}`));
}
