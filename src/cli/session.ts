/** The machine a command runs on: the machine flags, booting, and the --state file (a scenario, replayed on load). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkMachineConfig, createMachine, defaultE820, type Machine, type MachineConfig, KernelError, type KernelName, parseSize, runPreparedSteps, toJsonValue, validateScenario, type ErrnoCode, type Scenario, type ScenarioStep } from '../index.ts';
import { Exit, usage, GiB, hex, bare } from './output.ts';
import { parseJsonBounded, readInput, StateFile } from './files.ts';
import { type MachineInputs, FromError, nvdimmBase, readE820File, readFromFiles, readMachineFile, rebuildFrom } from './from.ts';

export interface GlobalOpts {
  kernel: KernelName;
  backend: 'wasm' | 'ts';
  debug?: boolean;
}

export interface MachineOpts extends GlobalOpts, MachineInputs {
  dramSize: bigint;
  pmemSize: bigint;
  pmemStart?: bigint;
  state?: string;
  /** --cmdline: the kernel command line (memmap=, memory_hotplug.memmap_on_memory=, memhp_default_state=). */
  cmdline?: string;
  /** --interleave-ways: DIMMs per Persistent Memory region, in address order (createMachine's interleaveWays). */
  interleaveWays?: number[];
  /** --trace: true, or the filter's function names, comma-separated. */
  trace?: boolean | string;
  /** --explain-machine: on stderr, where each part of a --machine/--e820/--from machine came from. */
  explainMachine?: boolean;
}

export function sizeArg(what: string) {
  return (v: string): bigint => {
    try {
      return parseSize(v, what);
    } catch (e) {
      throw new InvalidArgumentError(e instanceof KernelError ? bare(e) : String(e));
    }
  };
}

export function sizeOption(flags: string, description: string, value?: bigint, shown?: string): Option {
  const o = new Option(flags, description).argParser(sizeArg(flags.split(' ')[0]!));
  return value === undefined ? o : o.default(value, shown);
}

/** "6,2": one positive count of DIMMs per region (createMachine checks the rest). */
function waysArg(v: string): number[] {
  if (!/^\d+(,\d+)*$/.test(v)) throw new InvalidArgumentError(`${JSON.stringify(v)} is not a comma-separated list of DIMM counts (e.g. 6,6)`);
  return v.split(',').map(Number);
}

export function addMachineOptions(cmd: Command, withState = true): Command {
  cmd
    .addOption(sizeOption('--dram-size <size>', `System RAM from 1 MiB up, at least ${MIN_DRAM >> 20n}M (ndctl size syntax)`, 64n * GiB, '64G'))
    .addOption(sizeOption('--pmem-size <size>', 'Persistent Memory size', 1n << 40n, '1T'))
    .addOption(sizeOption('--pmem-start <addr>', 'Persistent Memory start (default: the first 1 GiB boundary above RAM)'))
    .option('--cmdline <line>', "the kernel command line, parsed as the profile's kernel parses it: memmap=nn%ss+0xefffffff (Soft Reserved), memmap=nn!ss (legacy pmem), memory_hotplug.memmap_on_memory=, memhp_default_state=")
    .addOption(new Option('--interleave-ways <list>', 'DIMMs interleaved in each Persistent Memory region, in address order (e.g. 6,6): nmemN per DIMM, the region align from default_align()').argParser(waysArg));
  // the commands that run on a session's machine (not the report's own, nor trace's list) take a real machine's too
  if (withState) addMachineInputOptions(cmd).option('--state <file>', 'keep the machine across commands in FILE (a scenario: machine + steps, replayed on load)');
  cmd.option('--trace [functions]', "print the function_graph trace of the command's kernel work after its output (comma-separated set_ftrace_filter; default every function `altmap trace` lists)");
  return cmd;
}

/** --machine, --e820, --from: a machine modelled on a real one (src/cli/from.ts). */
export function addMachineInputOptions(cmd: Command): Command {
  return cmd
    .option('--machine <file>', 'the machine from FILE: a MachineConfig JSON (createMachine\'s options), or a scenario whose machine and steps are taken')
    .option('--e820 <file>', "the firmware memory map from a real dmesg (its 'BIOS-e820:' lines, or the 'user:' ones after memmap=); replaces --dram-size and --machine's e820")
    .option('--from <file>', "rebuild regions, namespaces and dax devices from a real 'ndctl list -RNDiv' JSON (and 'daxctl list -RDMi' JSON, in the same file or another --from)", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--explain-machine', 'on stderr: where each part of a --machine/--e820/--from machine came from, and what was assumed');
}

/** The least System RAM the flags accept: the boot memmap of one section (2 MiB) and its page tables fit in it with room to spare. */
export const MIN_DRAM = 16n << 20n;

/** The e820 the machine flags describe (hex strings: the form the state file keeps). */
export function e820FromFlags(o: MachineOpts): NonNullable<MachineConfig['e820']> {
  if (o.dramSize < MIN_DRAM) usage(`--dram-size ${o.dramSize} is below ${MIN_DRAM >> 20n}M: the boot memmap (2 MiB per section) and the page tables need room`);
  if (o.pmemSize === 0n) usage('--pmem-size must be positive');
  if (o.dramSize % 4096n) usage(`--dram-size ${o.dramSize} is not a multiple of 4 KiB`);
  if (o.pmemSize % 4096n) usage(`--pmem-size ${o.pmemSize} is not a multiple of 4 KiB`);
  const [ram, pmem] = defaultE820({ dramSize: o.dramSize, pmemSize: o.pmemSize, pmemStart: o.pmemStart });
  const ramEnd = ram.start + ram.size;
  if (pmem.start % 4096n) usage(`--pmem-start ${hex(pmem.start)} is not page-aligned`);
  if (pmem.start < ramEnd && pmem.start + pmem.size > ram.start) usage(`--pmem-start ${hex(pmem.start)} overlaps System RAM [${hex(ram.start)}-${hex(ramEnd - 1n)}]`);
  // hex strings: the form the state file keeps
  return [ram, pmem].map((e) => ({ start: hex(e.start), size: hex(e.size), type: e.type }));
}

/** Whether any machine input (--machine, --e820, --from) is given. */
export function hasMachineInput(o: MachineInputs): boolean {
  return o.machine !== undefined || o.e820 !== undefined || (o.from?.length ?? 0) > 0;
}

/**
 * The machine of --machine/--e820/--from over the flags: --machine's config (or the flags' machine), --e820's map
 * in place of its e820 (with the flags' Persistent Memory when the dmesg shows none: NFIT pmem is not in e820),
 * then --from's regions, namespaces and dax devices. Steps are what builds it (kept in a --state file).
 */
export async function machineFromInputs(cmd: Command, o: MachineOpts): Promise<{ machine: MachineConfig; steps: ScenarioStep[]; notes: string[] }> {
  const notes: string[] = [];
  let machine: MachineConfig;
  let steps: ScenarioStep[] = [];
  if (o.machine !== undefined) {
    ({ machine, steps } = readMachineFile(o.machine));
    notes.push(`machine: --machine ${o.machine}${steps.length ? ` (${steps.length} steps)` : ''}`);
    if (explicit(cmd, 'kernel') && machine.kernel !== undefined && machine.kernel !== o.kernel) usage(`--kernel ${o.kernel} conflicts with --machine ${o.machine} (kernel ${machine.kernel})`);
    if (['dramSize', 'pmemSize', 'pmemStart'].some((k) => explicit(cmd, k)) && o.e820 === undefined) usage('--dram-size/--pmem-size/--pmem-start conflict with --machine (its e820 says)');
    machine = { kernel: o.kernel, ...machine };
  } else {
    machine = { kernel: o.kernel, e820: o.e820 === undefined ? e820FromFlags(o) : undefined };
    // ndctl and daxctl listings say nothing of DRAM: the flags' (or their defaults) stand in
    if (o.e820 === undefined) notes.push(`dram: ${hex(o.dramSize)} bytes of System RAM from --dram-size${explicit(cmd, 'dramSize') ? '' : ' (its default; --e820 reads the real map from a dmesg)'}`);
  }
  if (o.cmdline !== undefined) {
    if (machine.cmdline !== undefined && machine.cmdline !== o.cmdline) usage(`--cmdline conflicts with the command line of --machine ${o.machine}`);
    machine.cmdline = o.cmdline;
  }
  if (o.interleaveWays !== undefined) {
    if (machine.interleaveWays !== undefined && String(machine.interleaveWays) !== String(o.interleaveWays)) usage(`--interleave-ways conflicts with --machine ${o.machine}`);
    machine.interleaveWays = o.interleaveWays;
  }
  if (o.e820 !== undefined) {
    if (explicit(cmd, 'dramSize')) usage('--dram-size conflicts with --e820 (the dmesg says how much System RAM there is)');
    const e820 = readE820File(o.e820, notes);
    const pmem = e820.some((e) => e.type === 'Persistent Memory' || e.type === 'Persistent Memory (legacy)');
    if (!pmem && !o.from?.length && o.machine === undefined) {
      // ACPI NFIT pmem is not in e820: the flags' (or the default) Persistent Memory, where the firmware would put it
      if (o.pmemSize % 4096n) usage(`--pmem-size ${o.pmemSize} is not a multiple of 4 KiB`);
      const start = o.pmemStart ?? nvdimmBase(e820, o.pmemSize);
      e820.push({ start: hex(start), size: hex(o.pmemSize), type: 'Persistent Memory' });
      notes.push(`pmem: the dmesg has no Persistent Memory in e820 (ACPI NFIT describes it): ${hex(o.pmemSize)} bytes at ${hex(start)} from --pmem-size/--pmem-start${explicit(cmd, 'pmemSize') ? '' : ' (their defaults)'}`);
    }
    if (o.machine !== undefined) {
      // the --machine's Persistent Memory stays when the dmesg has none
      const keep = pmem ? [] : (machine.e820 ?? []).filter((e) => e.type === 'Persistent Memory');
      machine.e820 = [...e820, ...keep].sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
    } else machine.e820 = e820;
  }
  if (o.from?.length) {
    if (steps.length) usage(`--from rebuilds the namespaces itself: --machine ${o.machine} has steps already`);
    try {
      const r = await rebuildFrom(readFromFiles(o.from), machine, o.backend, notes);
      machine = r.machine;
      steps = r.steps;
      notes.push(`from: ${steps.length} steps (${steps.map((s) => s.op).join(', ') || 'none'})`);
    } catch (e) {
      if (e instanceof FromError) usage(`--from ${o.from.join(', ')}: ${bare(e)}`);
      if (e instanceof KernelError && e.code === 'EINVAL') usage(`--from ${o.from.join(', ')}: ${bare(e)}`);
      throw e;
    }
  }
  if (o.explainMachine) for (const n of notes) process.stderr.write(`${n}\n`);
  return { machine, steps, notes };
}

/** e820 entries as comparable text (sizes parsed). */
export function e820Key(e: MachineConfig['e820']): string {
  if (!e) return 'default';
  return e.map((x) => `${x.type}:${parseSize(x.start, 'start')}+${parseSize(x.size, 'size')}`).join(',');
}

/** Boot a machine; EINVAL from the configuration is a usage error, a backend that will not load a plain failure. */
export async function boot(config: MachineConfig): Promise<Machine> {
  try {
    return await createMachine(config);
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EINVAL') usage(`machine: ${bare(e)}`);
    if (e instanceof KernelError) throw new Exit(1, `error: cannot boot the machine: ${e.message}`);
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Exit(1, `error: cannot start the ${config.backend ?? 'wasm'} backend (${why})${config.backend !== 'ts' ? '; --backend ts runs the TypeScript core' : ''}`);
  }
}

export interface Session {
  m: Machine;
  /** The scenario that rebuilds this machine (what --state keeps), with any keys the user added. */
  scenario: Record<string, unknown> & { machine: MachineConfig; steps: ScenarioStep[] };
  file?: StateFile;
  /** Dispose the machine and release the state file. */
  close(): Promise<void>;
}

export function explicit(cmd: Command, key: string): boolean {
  return cmd.getOptionValueSourceWithGlobals(key) === 'cli';
}

/** The machine of a command: replayed from --state when the file exists, else booted from the flags; the state file stays locked until close(). */
export async function openSession(cmd: Command, changes = false): Promise<Session> {
  const o = cmd.optsWithGlobals<MachineOpts>();
  const file = o.state !== undefined ? await StateFile.open(o.state, changes) : undefined;
  try {
    return await sessionOn(cmd, o, file);
  } catch (e) {
    await file?.close();
    throw e;
  }
}

/** --trace: function_graph set up on the machine as the recorded real traces had it (funcgraph-tail on), through tracefs. */
function startTrace(m: Machine, trace: boolean | string): void {
  const names = typeof trace === 'string' ? trace.split(',').map((x) => x.trim()).filter(Boolean) : [];
  const tracing = '/sys/kernel/tracing';
  try {
    m.writeFile(`${tracing}/set_ftrace_filter`, `${names.join('\n')}\n`);
  } catch (e) {
    if (e instanceof KernelError) usage(`--trace: ${bare(e)} (altmap trace lists them)`);
    throw e;
  }
  m.writeFile(`${tracing}/options/funcgraph-tail`, '1\n');
  m.writeFile(`${tracing}/current_tracer`, 'function_graph\n');
}

async function sessionOn(cmd: Command, o: MachineOpts, file: StateFile | undefined): Promise<Session> {
  const runtime: MachineConfig = { backend: o.backend, ...(o.debug ? { debug: true } : {}) };
  const session = (m: Machine, scenario: Session['scenario']): Session => {
    if (o.trace !== undefined && o.trace !== false) {
      try {
        startTrace(m, o.trace);
      } catch (e) {
        m.dispose();
        throw e;
      }
    }
    return {
      m,
      scenario,
      file,
      close: async () => {
        try {
          if (o.trace !== undefined && o.trace !== false && !m.poisoned) process.stdout.write(m.readFile('/sys/kernel/tracing/trace'));
        } finally {
          m.dispose();
          await file?.close();
        }
      },
    };
  };
  if (file && file.exists()) {
    const raw = parseJsonBounded(readInput(file.target, '--state'), `--state ${file.path}`);
    let prepared;
    try {
      prepared = validateScenario(raw);
      // the saved machine is checked whole before any flag is compared with it or applied to it
      checkMachineConfig(prepared.machine);
    } catch (e) {
      if (e instanceof KernelError) usage(`--state ${file.path}: ${bare(e)}`);
      throw e;
    }
    if (hasMachineInput(o)) usage(`--machine/--e820/--from conflict with --state ${file.path} (it has its machine already)`);
    const saved = prepared.machine;
    if (explicit(cmd, 'kernel') && o.kernel !== (saved.kernel ?? 'v4.5')) usage(`--kernel ${o.kernel} conflicts with --state ${file.path} (made with ${saved.kernel ?? 'v4.5'})`);
    if (['dramSize', 'pmemSize', 'pmemStart'].some((k) => explicit(cmd, k)) && e820Key(e820FromFlags(o)) !== e820Key(saved.e820)) {
      usage(`--dram-size/--pmem-size/--pmem-start conflict with the machine --state ${file.path} was made with`);
    }
    if (o.cmdline !== undefined && o.cmdline !== (saved.cmdline ?? '')) usage(`--cmdline conflicts with the command line --state ${file.path} was booted with`);
    if (o.interleaveWays !== undefined && String(o.interleaveWays) !== String(saved.interleaveWays ?? [])) usage(`--interleave-ways conflicts with the machine --state ${file.path} was made with`);
    // a backend the state file names is kept unless --backend is given
    const m = await boot({ ...saved, ...runtime, ...(saved.backend && !explicit(cmd, 'backend') ? { backend: saved.backend } : {}) });
    const results = runPreparedSteps(m, prepared.steps);
    const broken = results.find((r) => r.mismatch !== undefined);
    if (broken) {
      m.dispose();
      throw new Exit(1, `error: --state ${file.path}: step ${broken.index} (${broken.op}) does not replay: ${broken.mismatch}`);
    }
    return session(m, raw as Session['scenario']);
  }
  if (hasMachineInput(o)) {
    const built = await machineFromInputs(cmd, o);
    const m = await boot({ ...built.machine, ...runtime });
    const prepared = validateScenario({ machine: built.machine, steps: built.steps });
    const broken = runPreparedSteps(m, prepared.steps).find((r) => r.mismatch !== undefined || !r.ok);
    if (broken) {
      m.dispose();
      throw new Exit(1, `error: the machine's step ${broken.index} (${broken.op}) does not run: ${broken.mismatch ?? ''}`);
    }
    const scenario = { machine: built.machine, steps: built.steps };
    // a new --state file starts as this machine
    file?.write(JSON.stringify(scenario, null, 2) + '\n');
    return session(m, scenario);
  }
  const machine: MachineConfig = { kernel: o.kernel, e820: e820FromFlags(o), ...(o.cmdline !== undefined ? { cmdline: o.cmdline } : {}), ...(o.interleaveWays !== undefined ? { interleaveWays: o.interleaveWays } : {}) };
  const m = await boot({ ...machine, ...runtime });
  return session(m, { machine, steps: [] });
}

/** Fresh copies of the session's machine (its scenario replayed), for a search that must not touch the machine itself. */
export function replicaOf(s: Session, backend: MachineConfig['backend']): () => Promise<Machine> {
  const prepared = validateScenario({ machine: s.scenario.machine, steps: s.scenario.steps });
  return async () => {
    const m = await createMachine({ ...prepared.machine, backend });
    runPreparedSteps(m, prepared.steps);
    return m;
  };
}

/**
 * Record a step and write the state file back (atomically, under the lock). A step that failed in the
 * kernel is recorded with its expected error, so that a reload reproduces what the kernel left behind.
 */
export function saveStep(s: Session, step: ScenarioStep): void {
  s.scenario.steps.push(step);
  s.file?.write(JSON.stringify(s.scenario, null, 2) + '\n');
}

/** A step that failed: kept (expected to fail the same way) only when the kernel left something behind. */
export function saveFailedStep(s: Session, step: ScenarioStep, before: string, code: ErrnoCode): void {
  if (stateKey(s) !== before) saveStep(s, { ...step, expectError: { code } });
}

/** The machine's kernel-visible state, to compare after a failure: with the nd bus's files (what ndctl wrote stays there). */
export function stateKey(s: Session): string {
  const nd = '/sys/bus/nd/devices';
  const files = s.m.listDir(nd).flatMap((d) => s.m.listDir(`${nd}/${d}`).map((a) => `${d}/${a}:${s.m.readFile(`${nd}/${d}/${a}`)}`));
  return JSON.stringify([toJsonValue(s.m.snapshot()), files]);
}
