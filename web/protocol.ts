/**
 * What the page and its worker say to each other. The page posts one Request per action; the worker
 * runs it on its Machine (the library, nothing else) and answers with the outcome and a Snapshot of
 * everything the page shows. BigInts cross postMessage as they are (structured clone).
 */
import type { AltmapCounters, KernelName, MachineStats, Plan } from 'altmap-sim';

export type BackendName = 'wasm' | 'ts';

export interface BootAction {
  op: 'boot';
  /** DRAM (System RAM from 1 MiB) and Persistent Memory (at the next 1 GiB boundary) sizes, ndctl-style ("64G"). */
  dram: string;
  pmem: string;
  kernel: KernelName;
  /** Log pr_debug lines (altmap_alloc_block_buf, the vmemmap PMD runs). */
  debug: boolean;
}

export interface NamespaceAction {
  op: 'createNamespace';
  size: string;
  mode: 'fsdax' | 'devdax';
  map: 'dev' | 'mem';
  align: string;
}

export interface MemremapAction {
  op: 'memremap';
  /** A new device; the worker creates it, and unbinds it again when the mapping fails (a failed probe). */
  device: string;
  start: string;
  size: string;
  altmap: { basePfn: string; reserve: string; free: string; align: string; alloc: string } | null;
}

/** Actions that change the machine (replayed, in order, when the backend is switched). */
export type MachineAction =
  | NamespaceAction
  | { op: 'destroyNamespace'; dev: string }
  | MemremapAction
  | { op: 'unbind'; device: string };

export type Action =
  | BootAction
  | MachineAction
  | { op: 'setBackend'; backend: BackendName }
  /** Walk the struct page of a physical address (vmemmap) or its direct-map address, or any virtual address. */
  | { op: 'pick'; phys: number; as: 'struct-page' | 'direct-map' }
  | { op: 'pickVa'; va: string }
  | { op: 'bench' }
  | PlanAction;

/** planCapacity in the worker: what a device of `size` gives, or (with `usable`) the raw size each configuration needs. */
export interface PlanAction {
  op: 'plan';
  /** Forward: the device size ("1T"); empty when usable is given. */
  size: string;
  /** Reverse: the usable capacity to reach ("1500G"); empty for a forward plan. */
  usable: string;
  kernel: KernelName;
  /** The node's DRAM; empty: the planner's default. */
  dram: string;
}

/** The worker's answer to a PlanAction: the library's Plan and its SVG chart (planSvg). */
export interface PlanResult {
  plan: Plan;
  svg: string;
  /** Each row's figures as people quote them (quoteSize, quotePercent), in plan.rows order. */
  quoted: Array<{ raw: string; usable: string; givenUp: string; givenUpPercent: string; dram: string; dramPercent: string }>;
}

export interface Request {
  id: number;
  action: Action;
}

export interface ErrorInfo {
  /** "EBUSY" */
  code: string;
  /** -16 */
  errno: number | null;
  message: string;
  /** What ndctl writes to stderr, for its own refusals. */
  stderr?: string;
  name: string;
}

export interface Response {
  id: number;
  ok: boolean;
  error?: ErrorInfo;
  /** Milliseconds the action took in the worker (the machine's work, before the snapshot). */
  ms: number;
  result?: unknown;
  snapshot: Snapshot | null;
}

export type AltmapView = AltmapCounters;

export interface NamespaceView {
  dev: string;
  region: number;
  device: string | null;
  blockdev: string | null;
  mode: 'fsdax' | 'devdax' | 'raw' | 'sector';
  map: 'dev' | 'mem' | null;
  align: number;
  uuid: string;
  /** What ndctl reports. */
  size: number;
  start: number;
  raw: number;
  offset: number;
  startPad: number;
  endTrunc: number;
  npfns: number;
  dataPfn: number;
}

export interface DeviceView {
  name: string;
  kind: 'namespace' | 'raw';
  namespace: string | null;
  start: number;
  /** Inclusive, as in struct resource. */
  end: number;
  /** The altmap the mapping got (its live values, or its last ones once freed); null without one. */
  altmap: AltmapView | null;
  altmapLive: boolean;
  /** stats().devices: absent when the device has no live mapping. */
  memmapPages: number | null;
  dramMemmapPages: number | null;
  altmapPages: number | null;
  sections: number | null;
}

/** A run of consecutive 2 MiB vmemmap blocks (one per 128 MiB section) mapped alike. */
export interface VmemmapRun {
  /** First pfn whose struct page the run holds; end is exclusive. */
  firstPfn: number;
  endPfn: number;
  /** Where the struct pages physically are. */
  target: 'dram' | 'device' | 'other' | 'unmapped';
  /** The device whose altmap pool (or memory) holds them. */
  device: string | null;
  /** Physical address of the run's first block; blocks follow at 2 MiB steps when pageSize is 2 MiB. */
  phys: number;
  pageSize: number;
  blocks: number;
}

export interface WalkLevelView {
  level: string;
  index: number;
  entry: bigint;
  table: number;
}

export interface WalkView {
  va: bigint;
  /** "struct page of pfn 0x1040000", "__va(0x1040000000)" */
  what: string;
  pfn: number | null;
  phys: number | null;
  mapped: boolean;
  pageSize: number;
  levels: WalkLevelView[];
  /** Where the walk lands: "DRAM (System RAM)", "pfn0.0's altmap pool", ... */
  target: string;
  page: { zone: string | null; reserved: boolean; refcount: number; mapcount: number; pgmap: bigint | null; initialised: boolean; flags: bigint } | null;
  error: string | null;
}

export interface Snapshot {
  /** Bumped on every snapshot the worker sends. */
  seq: number;
  backend: BackendName;
  config: { dram: string; pmem: string; kernel: KernelName; debug: boolean };
  release: string;
  e820: Array<{ start: number; size: number; type: string }>;
  layout: { pageOffset: bigint; vmemmapStart: bigint; physBits: number; paging: number };
  poisoned: string | null;
  stats: MachineStats;
  /** DRAM right after boot: what "back at zero" is measured against. */
  bootDram: MachineStats['dram'];
  namespaces: NamespaceView[];
  devices: DeviceView[];
  vmemmap: VmemmapRun[];
  /** Walks the vmemmap scan took (a handful, even for 48 TiB). */
  vmemmapWalks: number;
  walk: WalkView | null;
  /** The whole log when dmesgFrom is 0, else the lines after the first dmesgFrom. */
  dmesg: string[];
  dmesgFrom: number;
  dmesgTotal: number;
  /** Actions applied since boot (replayed on a backend switch). */
  actions: number;
  /** Set after a backend switch: how many actions were replayed. */
  replayed: number | null;
}

export interface BenchRow {
  backend: BackendName;
  /** Milliseconds, the median of the runs. */
  boot: number;
  create: number;
  walks: number;
  /** The same number of walks as one machine.walkMany batch. */
  walkMany: number;
  destroy: number;
  walkCount: number;
  runs: number;
}

export interface BenchResult {
  pmem: string;
  rows: BenchRow[];
}
