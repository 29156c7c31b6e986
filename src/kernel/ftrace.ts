/**
 * ftrace's function_graph tracer over the modelled kernel (kernel/trace/ftrace.c,
 * kernel/trace/trace_functions_graph.c) and its tracefs files (/sys/kernel/tracing).
 *
 * The modelled functions call `enter`/`exit`/`leaf` under their kernel names, each behind one check of
 * `on`, so that the hot paths cost a boolean test while tracing is off. What a profile can trace is its
 * kernel's available_filter_functions among the modelled ones (TRACEABLE): a function that is inlined or
 * notrace there (6.1's and 4.x's __meminit functions, 6.12's inlined vmem_altmap_offset) is not listed,
 * its hook does nothing, and its traced callees nest under its traced caller, as on the real kernel.
 *
 * The model has no clock: the DURATION column is left blank on every line (a real trace fills it on
 * leaves and closing braces). One CPU (0), as the recorded guests (-smp 1). Work that the kernel runs
 * asynchronously (the probes of new seed devices, in a kworker) is recorded after the operation, under
 * a task switch banner, as function_graph prints a change of pid on a CPU.
 */
import type { KernelName } from './profile.ts';
import { KernelError, invalid, show } from './errno.ts';
import { dir, file, type VfsDir } from './vfs.ts';

/** A traced function's module ('' for vmlinux), as available_filter_functions prints it. */
type Listing = ReadonlyArray<readonly [name: string, module: string]>;

const mods = (m: string, names: string[]): Array<[string, string]> => names.map((n) => [n, m]);

/** The drivers' functions 6.1 and 6.12 both let ftrace trace (the recorded kernels' available_filter_functions). */
const DRIVERS_6: Array<[string, string]> = [
  ...mods('libnvdimm', ['nd_region_remove', 'nd_region_probe', 'nd_namespace_pmem_set_resource', 'devm_nsio_enable', 'devm_nsio_disable', 'nd_btt_probe', 'nd_pfn_validate', 'nvdimm_setup_pfn', 'nd_pfn_probe', 'nd_dax_probe']),
  ...mods('nd_btt', ['nvdimm_namespace_detach_btt', 'nvdimm_namespace_attach_btt']),
  ...mods('nd_pmem', ['nd_pmem_remove', 'pmem_release_disk', 'pmem_attach_disk', 'nd_pmem_probe']),
  ...mods('dax_pmem', ['__dax_pmem_probe', 'dax_pmem_probe']),
  ...mods('device_dax', ['dev_dax_probe']),
  ...mods('kmem', ['dev_dax_kmem_probe', 'dev_dax_kmem_remove']),
  ...mods('dax_hmem', ['dax_hmem_probe']),
];

/**
 * 6.12.117 (Debian): the modelled functions in available_filter_functions, in its order (fixtures
 * test/fixtures/real/6.12.117/trace-* /traceable.txt). vmem_altmap_offset and altmap_alloc_block_buf are
 * inlined; vmem_altmap_free is not reached as a function of its own.
 */
const V6_12: Listing = [
  ...mods('', [
    'remove_pagetable', 'kernel_physical_mapping_init', 'add_pages', 'arch_add_memory', 'vmemmap_set_pmd', 'vmemmap_populate', 'region_intersects',
    'memmap_init_range', 'online_memory_block', 'try_remove_memory', 'remove_memory', 'offline_and_remove_memory', 'mhp_supports_memmap_on_memory',
    '__add_pages', 'remove_pfn_range_from_zone', '__remove_pages', 'move_pfn_range_to_zone', 'mhp_init_memmap_on_memory', 'mhp_deinit_memmap_on_memory',
    'online_pages', 'add_memory_resource', '__add_memory', 'add_memory_driver_managed', 'offline_pages', 'section_deactivate', 'vmemmap_alloc_block_buf',
    'vmemmap_populate_basepages', 'vmemmap_populate_hugepages', '__populate_section_memmap', 'sparse_add_section', 'sparse_remove_section',
    'get_dev_pagemap', 'memunmap_pages', 'devm_memremap_pages_release', 'memremap_pages', 'devm_memremap_pages', 'memory_subsys_offline',
    'memory_subsys_online', 'create_memory_block_devices', 'remove_memory_block_devices', 'kill_dev_dax', 'alloc_dev_dax_range', 'alloc_dax_region',
    'unregister_dev_dax', 'devm_create_dev_dax', 'init_memory_mapping', 'vmemmap_free', 'arch_remove_memory', 'memmap_init_zone_device',
  ]),
  ...DRIVERS_6.slice(0, -1),
  ['dax_hmem_probe', 'dax_hmem'],
  ['dax_hmem_platform_probe', 'dax_hmem'],
  ['hmem_register_device', 'dax_hmem'],
];

/**
 * 6.1.192 (Debian): every __meminit function is notrace (sparse_add_section, __populate_section_memmap,
 * vmemmap_populate*, kernel_physical_mapping_init, memmap_init_range, remove_pagetable), while
 * vmem_altmap_offset and vmem_altmap_free are functions of their own (fixtures .../6.1.192/trace-* /traceable.txt).
 */
const V6_1: Listing = [
  ...mods('', [
    'add_pages', 'arch_add_memory', 'region_intersects', 'online_memory_block', 'remove_memory', 'offline_and_remove_memory', '__remove_pages',
    'mhp_init_memmap_on_memory', 'mhp_deinit_memmap_on_memory', 'mhp_supports_memmap_on_memory', 'add_memory_driver_managed', 'section_deactivate',
    'sparse_remove_section', 'get_dev_pagemap', 'memunmap_pages', 'devm_memremap_pages_release', 'memremap_pages', 'devm_memremap_pages',
    'vmem_altmap_offset', 'vmem_altmap_free', 'memory_subsys_offline', 'memory_subsys_online', 'create_memory_block_devices',
    'remove_memory_block_devices', 'kill_dev_dax', 'alloc_dev_dax_range', 'alloc_dax_region', 'unregister_dev_dax', 'devm_create_dev_dax',
    'hmem_register_device', 'init_memory_mapping', 'vmemmap_free', 'arch_remove_memory', 'memmap_init_zone_device', 'try_remove_memory',
    '__add_pages', 'remove_pfn_range_from_zone', 'move_pfn_range_to_zone', 'online_pages', 'add_memory_resource', '__add_memory', 'offline_pages',
  ]),
  ...DRIVERS_6,
];

/**
 * v4.18: kernel/memremap.c's devm_memremap_pages does the work itself (memremap_pages and pagemap_range
 * are 5.x/6.x), with get_dev_pagemap's conflict checks; arch_add_memory -> init_memory_mapping and
 * __add_pages (x86's add_pages is 4.14+) -> __add_section -> sparse_add_one_section (__meminit: notrace,
 * as are vmemmap_populate and kernel_physical_mapping_init); move_pfn_range_to_zone (4.13+) initialises
 * the memmap; the release is devm_memremap_pages_release -> arch_remove_memory -> __remove_pages ->
 * __remove_section -> sparse_remove_one_section -> vmemmap_free. pmem: nd_pmem_probe -> pmem_attach_disk ->
 * nvdimm_setup_pfn (4.7+), dax_pmem_probe (4.7+).
 */
const V4_18: Listing = [
  ...mods('', [
    'region_intersects', 'arch_add_memory', 'add_pages', '__add_pages', 'init_memory_mapping', 'move_pfn_range_to_zone', 'arch_remove_memory',
    '__remove_pages', 'sparse_remove_one_section', 'vmemmap_free', 'get_dev_pagemap', 'devm_memremap_pages', 'devm_memremap_pages_release',
    'vmem_altmap_offset', 'vmem_altmap_free',
  ]),
  ...mods('libnvdimm', ['nd_namespace_pmem_set_resource', 'devm_nsio_enable', 'devm_nsio_disable', 'nd_btt_probe', 'nd_pfn_validate', 'nvdimm_setup_pfn', 'nd_pfn_probe', 'nd_dax_probe']),
  ...mods('nd_btt', ['nvdimm_namespace_detach_btt', 'nvdimm_namespace_attach_btt']),
  ...mods('nd_pmem', ['nd_pmem_remove', 'pmem_attach_disk', 'nd_pmem_probe']),
  ...mods('dax_pmem', ['dax_pmem_probe']),
];

/**
 * v4.5: kernel/memremap.c's devm_memremap_pages (region_intersects, arch_add_memory) and its release;
 * x86's arch_add_memory -> init_memory_mapping, __add_pages (mm/memory_hotplug.c; __add_section and
 * sparse_add_one_section are __meminit); __remove_pages -> __remove_section -> sparse_remove_one_section
 * -> vmemmap_free (__ref, traceable). pmem (drivers/nvdimm/pmem.c): nd_pmem_probe, nvdimm_namespace_attach_pfn
 * (pmem.c's own, 4.5 has no nvdimm_setup_pfn or device-dax), nd_pfn_probe, nd_pfn_validate, nd_btt_probe (the
 * namespace claim helpers devm_nsio_enable/disable came with 4.6's claim.c rework: not listed).
 */
const V4_5: Listing = [
  ...mods('', [
    'region_intersects', 'arch_add_memory', '__add_pages', 'init_memory_mapping', 'arch_remove_memory', '__remove_pages', 'sparse_remove_one_section',
    'vmemmap_free', 'devm_memremap_pages', 'devm_memremap_pages_release', 'vmem_altmap_offset', 'vmem_altmap_free',
  ]),
  ...mods('libnvdimm', ['nd_btt_probe', 'nd_pfn_validate', 'nd_pfn_probe']),
  ...mods('nd_btt', ['nvdimm_namespace_detach_btt', 'nvdimm_namespace_attach_btt']),
  ...mods('nd_pmem', ['nd_pmem_remove', 'nvdimm_namespace_attach_pfn', 'nd_pmem_probe']),
];

/** available_filter_functions among the modelled functions, per profile. */
export const TRACEABLE: Readonly<Record<KernelName, Listing>> = { v6: V6_12, 'v6.1': V6_1, 'v4.18': V4_18, 'v4.5': V4_5, 'v4.5-rc1': V4_5 };

const enum Kind {
  Enter = 0,
  Exit = 1,
  Switch = 2,
}

/** At most this many entries are kept (the ring buffer's size in the model): later ones are dropped and counted. */
const MAX_ENTRIES = 1 << 22;

/** What a trace observer is told: a traced call entered or returned, or the task switched (fn is then the new task). */
export type TraceObserver = (kind: 'enter' | 'exit' | 'switch', fn: string, depth: number) => void;

/** The tracers the model has. */
export type Tracer = 'nop' | 'function_graph';

/** The tracing settings machine.trace() saves and restores. */
export interface FtraceSettings {
  tracer: Tracer;
  tracingOn: boolean;
  filter: string[];
  tail: boolean;
  maxDepth: number;
}

export class Ftrace {
  /** The hooks' one check: function_graph is the current tracer and tracing_on is 1. */
  on = false;
  private tracer: Tracer = 'nop';
  private tracingOn = true;
  /** set_ftrace_filter: empty traces every available function. */
  private readonly filter = new Set<string>();
  /** options/funcgraph-tail (off by default, as in the kernel). */
  private tail = false;
  /** max_graph_depth (0: no limit). */
  private maxDepth = 0;
  private readonly modules: ReadonlyMap<string, string>;
  private readonly order: readonly string[];

  // the buffer: parallel arrays, one entry per line-to-be
  private kinds: Kind[] = [];
  private depths: number[] = [];
  private names: string[] = [];
  private dropped = 0;
  // the call stack: every hooked call, traced or not, so that exit() finds its own frame
  private readonly stackNames: string[] = [];
  private readonly stackTraced: boolean[] = [];
  private depth = 0;
  /** The task running (comm-pid: every machine operation is the model's own process, altmap) and the last one that wrote to the buffer. */
  private task = 'altmap-1';
  private lastTask: string | null = null;
  private readonly pids = new Map<string, number>();
  /** Work queued for a kworker, run when the operation ends. */
  private deferred: Array<() => void> = [];
  /** Told of every entry written to the buffer (machine.trace's onCall: the demo snapshots state there); only the tracing path looks. */
  observer: TraceObserver | null = null;

  /** Someone watches the calls one by one (the demo's step-through): work the model batches is done call by call. */
  get observed(): boolean {
    return this.on && this.observer !== null;
  }

  constructor(readonly profile: KernelName) {
    const list = TRACEABLE[profile];
    this.modules = new Map(list.map(([n, m]) => [n, m]));
    this.order = list.map(([n]) => n);
  }

  /** Whether the profile's kernel can trace this function (it is in available_filter_functions). */
  available(fn: string): boolean {
    return this.modules.has(fn);
  }

  private traces(fn: string): boolean {
    return this.modules.has(fn) && (this.filter.size === 0 || this.filter.has(fn)) && (this.maxDepth === 0 || this.depth < this.maxDepth);
  }

  private push(kind: Kind, depth: number, name: string): void {
    if (this.kinds.length >= MAX_ENTRIES) {
      this.dropped++;
      return;
    }
    if (kind !== Kind.Switch && this.lastTask !== this.task) {
      if (this.lastTask !== null && this.kinds.length < MAX_ENTRIES) {
        this.kinds.push(Kind.Switch);
        this.depths.push(0);
        this.names.push(`${this.lastTask}\n${this.task}`);
        this.observer?.('switch', this.task, 0);
      }
      this.lastTask = this.task;
    }
    this.kinds.push(kind);
    this.depths.push(depth);
    this.names.push(name);
    if (this.observer !== null && kind !== Kind.Switch) this.observer(kind === Kind.Enter ? 'enter' : 'exit', name, depth);
  }

  /** A modelled function is entered (call behind `if (ftrace.on)`). */
  enter(fn: string): void {
    const traced = this.traces(fn);
    this.stackNames.push(fn);
    this.stackTraced.push(traced);
    if (!traced) return;
    this.push(Kind.Enter, this.depth, fn);
    this.depth++;
  }

  /** The function returns; frames an exception left open above it return with it. */
  exit(fn: string): void {
    const i = this.stackNames.lastIndexOf(fn);
    if (i < 0) return;
    while (this.stackNames.length > i) this.pop();
  }

  private pop(): void {
    const name = this.stackNames.pop()!;
    if (!this.stackTraced.pop()) return;
    this.depth--;
    this.push(Kind.Exit, this.depth, name);
  }

  /** A call with no modelled callees. */
  leaf(fn: string): void {
    this.enter(fn);
    this.exit(fn);
  }

  /** The task the next calls run in (comm, with a pid of its own per comm). */
  private runAs(comm: string): void {
    let pid = this.pids.get(comm);
    if (pid === undefined) this.pids.set(comm, (pid = 29 + this.pids.size));
    this.task = `${comm}-${pid}`;
  }

  /** Work the kernel hands to a workqueue (an async probe): run when the operation ends, in a kworker. */
  deferWork(work: () => void): void {
    this.deferred.push(work);
  }

  /** The end of an operation: frames an exception left open return, then the queued work runs in a kworker. */
  settle(): void {
    while (this.stackNames.length) this.pop();
    if (!this.deferred.length) return;
    const user = this.task;
    const work = this.deferred;
    this.deferred = [];
    this.runAs('kworker');
    try {
      for (const w of work) {
        if (this.on) w();
        while (this.stackNames.length) this.pop();
      }
    } finally {
      this.task = user;
    }
  }

  /** Called the first time function_graph starts (ftrace_startup's trampoline): see Kernel.ftraceTrampoline. */
  onFirstStart: (() => void) | null = null;

  private update(): void {
    this.on = this.tracer === 'function_graph' && this.tracingOn;
    if (!this.on) this.deferred = [];
    if (this.on && this.onFirstStart) {
      const f = this.onFirstStart;
      this.onFirstStart = null;
      f();
    }
  }

  /** Empty the buffer (writing to `trace`; a change of tracer). */
  clear(): void {
    this.kinds = [];
    this.depths = [];
    this.names = [];
    this.dropped = 0;
    this.lastTask = null;
  }

  /** A function as ftrace names it: "name [module]" for a module's. */
  private label(fn: string): string {
    const m = this.modules.get(fn);
    return m ? `${fn} [${m}]` : fn;
  }

  /** The `trace` file: function_graph's header and one line per entry (an entry and its exit with nothing between are one leaf line). */
  render(): string {
    if (this.tracer === 'nop') return this.nopHeader();
    const out: string[] = ['# tracer: function_graph', '#', '# CPU  DURATION                  FUNCTION CALLS', '# |     |   |                     |   |   |   |'];
    // print_graph_duration with no duration: the column's width in spaces
    const lead = ' 0)               |  ';
    const n = this.kinds.length;
    for (let i = 0; i < n; i++) {
      const kind = this.kinds[i]!;
      const name = this.names[i]!;
      const indent = '  '.repeat(this.depths[i]!);
      if (kind === Kind.Switch) {
        const [from, to] = name.split('\n') as [string, string];
        out.push(' ------------------------------------------', ` 0) ${procInfo(from)} => ${procInfo(to)}`, ' ------------------------------------------', '');
      } else if (kind === Kind.Enter) {
        if (i + 1 < n && this.kinds[i + 1] === Kind.Exit && this.names[i + 1] === name && this.depths[i + 1] === this.depths[i]) {
          out.push(`${lead}${indent}${this.label(name)}();`);
          i++;
        } else out.push(`${lead}${indent}${this.label(name)}() {`);
      } else out.push(`${lead}${indent}}${this.tail ? ` /* ${this.label(name)} */` : ''}`);
    }
    return out.map((l) => `${l}\n`).join('');
  }

  /** The nop tracer's header (the 6.x latency-format columns; 4.x had no migrate-disable column), with the entries count. */
  private nopHeader(): string {
    const six = this.profile === 'v6' || this.profile === 'v6.1';
    const lines = six
      ? [
          '# tracer: nop',
          '#',
          '# entries-in-buffer/entries-written: 0/0   #P:1',
          '#',
          '#                                _-----=> irqs-off/BH-disabled',
          '#                               / _----=> need-resched',
          '#                              | / _---=> hardirq/softirq',
          '#                              || / _--=> preempt-depth',
          '#                              ||| / _-=> migrate-disable',
          '#                              |||| /     delay',
          '#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION',
          '#              | |         |   |||||     |         |',
        ]
      : [
          '# tracer: nop',
          '#',
          '# entries-in-buffer/entries-written: 0/0   #P:1',
          '#',
          '#                              _-----=> irqs-off',
          '#                             / _----=> need-resched',
          '#                            | / _---=> hardirq/softirq',
          '#                            || / _--=> preempt-depth',
          '#                            ||| /     delay',
          '#           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION',
          '#              | |       |   ||||       |         |',
        ];
    return lines.map((l) => `${l}\n`).join('');
  }

  /** Entries dropped because the buffer was full. */
  get overrun(): number {
    return this.dropped;
  }

  // ---------------------------------------------------------------- settings

  setTracer(t: string): void {
    if (t !== 'nop' && t !== 'function_graph') throw new KernelError('EINVAL', `current_tracer: ${show(t)} is not a tracer the model has (nop, function_graph)`);
    if (t !== this.tracer) this.clear(); // tracing_set_tracer resets the buffer
    this.tracer = t;
    this.update();
  }

  setTracingOn(on: boolean): void {
    this.tracingOn = on;
    this.update();
  }

  /**
   * set_ftrace_filter: whitespace-separated names or globs (`*`), `!name` to remove; a plain write
   * replaces the filter (O_TRUNC), append adds. A name that matches no available function is refused
   * with EINVAL, and then nothing of the write applies.
   */
  writeFilter(text: string, append: boolean): void {
    const add: string[] = [];
    const remove: string[] = [];
    for (const tok of text.split(/\s+/).filter(Boolean)) {
      const neg = tok.startsWith('!');
      const pat = neg ? tok.slice(1) : tok;
      const re = new RegExp(`^${pat.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      const hits = this.order.filter((n) => re.test(n));
      if (!hits.length) throw new KernelError('EINVAL', `set_ftrace_filter: ${show(pat)} is not in available_filter_functions of ${this.profile}`);
      (neg ? remove : add).push(...hits);
    }
    if (!append) this.filter.clear();
    for (const n of add) this.filter.add(n);
    for (const n of remove) this.filter.delete(n);
  }

  setTail(on: boolean): void {
    this.tail = on;
  }

  setMaxDepth(d: number): void {
    if (!Number.isSafeInteger(d) || d < 0) invalid(`max_graph_depth ${show(d)} is not a depth (0 for no limit)`);
    this.maxDepth = d;
  }

  settings(): FtraceSettings {
    return { tracer: this.tracer, tracingOn: this.tracingOn, filter: [...this.filter], tail: this.tail, maxDepth: this.maxDepth };
  }

  restore(s: FtraceSettings): void {
    this.tracer = s.tracer;
    this.tracingOn = s.tracingOn;
    this.filter.clear();
    for (const n of s.filter) this.filter.add(n);
    this.tail = s.tail;
    this.maxDepth = s.maxDepth;
    this.update();
  }

  /** set_ftrace_filter as it reads: the filtered functions with their modules, or the kernel's "all functions" line. */
  readFilter(): string {
    if (!this.filter.size) return '#### all functions enabled ####\n';
    return this.order
      .filter((n) => this.filter.has(n))
      .map((n) => `${this.label(n)}\n`)
      .join('');
  }

  /** available_filter_functions: what the model can trace on this profile. */
  availableFunctions(): string {
    return this.order.map((n) => `${this.label(n)}\n`).join('');
  }

  /** The files of /sys/kernel/tracing the model has. */
  tracefs(): VfsDir {
    const bool = (what: string, set: (on: boolean) => void) => (text: string) => {
      const v = text.trim();
      if (v !== '0' && v !== '1') throw new KernelError('EINVAL', `${what}: ${show(v)} is not 0 or 1`);
      set(v === '1');
    };
    return dir(() => ({
      current_tracer: () => file(() => `${this.tracer}\n`, (text) => this.setTracer(text.trim())),
      set_ftrace_filter: () => file(() => this.readFilter(), (text, append) => this.writeFilter(text, append)),
      available_filter_functions: () => file(() => this.availableFunctions()),
      tracing_on: () => file(() => `${this.tracingOn ? 1 : 0}\n`, bool('tracing_on', (on) => this.setTracingOn(on))),
      max_graph_depth: () =>
        file(
          () => `${this.maxDepth}\n`,
          (text) => {
            const v = text.trim();
            if (!/^\d+$/.test(v)) throw new KernelError('EINVAL', `max_graph_depth: ${show(v)} is not a number`);
            this.setMaxDepth(Number(v));
          },
        ),
      options: () => dir(() => ({ 'funcgraph-tail': () => file(() => `${this.tail ? 1 : 0}\n`, bool('funcgraph-tail', (on) => this.setTail(on))) })),
      trace: () => file(() => this.render(), () => this.clear()),
    }));
  }
}

/** print_graph_proc: "comm-pid" centred in TRACE_GRAPH_PROCINFO_LENGTH (14) columns. */
function procInfo(task: string): string {
  const spaces = Math.max(0, 14 - task.length);
  return `${' '.repeat(Math.floor(spaces / 2))}${task}${' '.repeat(spaces - Math.floor(spaces / 2))}`;
}
