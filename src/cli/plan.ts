/** The capacity planner: altmap plan (--size: what a device gives; --usable: the raw size a target needs). */
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { KernelError, createMachine, validateScenario, type KernelName, type Plan, type PlanOptions, planCapacity, planSoftReserved, planConfigs, planCsv, planSvg, planTable } from '../index.ts';
import { Exit, usage, out, err, bare, Progress, GiB, hex } from './output.ts';
import { type GlobalOpts, type MachineOpts, explicit, hasMachineInput, machineFromInputs } from './session.ts';
import type { MachineInputs } from './from.ts';
import { checkWritable } from './files.ts';

interface PlanOpts extends GlobalOpts, MachineInputs {
  explainMachine?: boolean;
  size?: string;
  usable?: string;
  mode?: string;
  map?: string;
  align?: string;
  dramSize?: string;
  json?: boolean;
  csv?: boolean;
  svg?: string;
}

/** One region of a --machine/--e820/--from machine to plan: its name, size, the node its memmap is charged to (numa_node) and that node's DRAM. */
interface MachineRegion {
  region: string;
  size: bigint;
  node: number;
  dram: bigint;
  /** The machine's memory_block_size_bytes(): the system-ram rows are planned at it. */
  blockSize: bigint;
}

/** A plan of the planning machine's region0 (on node 0) as the plan of this machine's region, on its node. */
function onRegion(plan: Plan, r: MachineRegion): Plan {
  return { ...plan, regions: plan.regions.map((x) => ({ ...x, region: r.region, node: r.node })), rows: plan.rows.map((x) => ({ ...x, region: r.region, node: r.node })) };
}

/** The machine of --machine/--e820/--from: its kernel, and its regions with the DRAM they are planned against. */
async function planMachineInput(cmd: Command, o: PlanOpts): Promise<{ kernel: KernelName; regions: MachineRegion[]; softReserved: Array<MachineRegion & { start: bigint }> }> {
  const mo = { ...o, kernel: (explicit(cmd, 'kernel') ? o.kernel : 'v6') as KernelName, dramSize: 64n * GiB, pmemSize: 1n << 40n } as MachineOpts;
  if (o.dramSize !== undefined) usage('--dram-size conflicts with --machine/--e820/--from: the machine says how much System RAM there is');
  const built = await machineFromInputs(cmd, mo);
  // the regions as they are empty: a plan is of the whole region, whatever --from put in it
  const prepared = validateScenario({ machine: built.machine, steps: [] });
  let m;
  try {
    m = await createMachine({ ...prepared.machine, backend: o.backend as 'wasm' | 'ts' });
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EINVAL') usage(`machine: ${bare(e)}`);
    throw e;
  }
  try {
    // each node's System RAM: a region's map=mem memmap is charged to its numa_node (the nearest node with memory)
    const nodeDram = (nid: number) => (prepared.machine.e820 ?? []).filter((e) => e.type === 'System RAM' && (e.node ?? 0) === nid).reduce((a, e) => a + BigInt(e.size), 0n);
    // the largest namespace the region takes (its size less the align's remainder); a label-less one is planned at its size
    const blockSize = BigInt(`0x${m.readFile('/sys/devices/system/memory/block_size_bytes').trim()}`);
    const regions = m.listRegions().map((r) => ({ region: r.dev, size: r.maxAvailableExtent > 0n ? r.maxAvailableExtent : r.size, node: r.numaNode, dram: nodeDram(r.numaNode), blockSize }));
    // each Soft Reserved range: its dax_hmem device (by its resource), on the node that device's numa_node names
    const dax = m.listDir('/sys/bus/dax/devices').map((d) => ({ dev: d, start: BigInt(m.readFile(`/sys/bus/dax/devices/${d}/resource`).trim()), node: Number(m.readFile(`/sys/bus/dax/devices/${d}/numa_node`).trim()) }));
    const softReserved = (prepared.machine.e820 ?? [])
      .filter((e) => e.type === 'Soft Reserved')
      .map((e) => {
        const start = BigInt(e.start);
        const d = dax.find((x) => x.start === start);
        const node = d?.node ?? e.node ?? 0;
        return { region: d ? `${d.dev} (Soft Reserved)` : `Soft Reserved ${hex(start)}`, start, size: BigInt(e.size), node, dram: nodeDram(node), blockSize };
      });
    if (!regions.length && !softReserved.length) usage('plan: the machine has no Persistent Memory region or Soft Reserved range to plan');
    return { kernel: (prepared.machine.kernel ?? mo.kernel) as KernelName, regions, softReserved };
  } finally {
    m.dispose();
  }
}

export async function cmdPlan(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<PlanOpts>();
  if (hasMachineInput(o)) return cmdPlanMachine(cmd, o);
  const kernel = explicit(cmd, 'kernel') ? (o.kernel as KernelName) : 'v6';
  if ((o.size === undefined) === (o.usable === undefined)) usage('plan needs one of --size (what a device of this size gives) and --usable (the raw size that gives this much)');
  if (o.json && o.csv) usage('--json and --csv are exclusive');
  // the output path is checked before the work starts, not after the table has printed
  if (o.svg !== undefined) checkWritable(o.svg, '--svg');
  const opts: PlanOptions = {
    kernel,
    backend: o.backend as 'wasm' | 'ts',
    ...(o.size !== undefined ? { size: o.size } : { usable: o.usable! }),
    ...(o.mode !== undefined ? { mode: o.mode as PlanOptions['mode'] } : {}),
    ...(o.map !== undefined ? { map: o.map as PlanOptions['map'] } : {}),
    ...(o.align !== undefined ? { align: o.align as PlanOptions['align'] } : {}),
    ...(o.dramSize !== undefined ? { dram: o.dramSize } : {}),
  };
  let plan;
  try {
    // a bar only for a plan that takes over a second; each row (and each run of a reverse search) ticks it
    const progress = new Progress(planConfigs(kernel, opts).length, 1000);
    let rowsDone = 0;
    try {
      plan = await planCapacity({
        ...opts,
        onProbe: (cfg, f) => progress.tick(rowsDone, `${cfg.label}: tried ${f.raw} bytes`),
        onRow: (row) => progress.tick(++rowsDone, row.label),
      });
    } finally {
      progress.stop();
    }
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EINVAL') usage(bare(e));
    throw e;
  }
  if (o.json) out(JSON.stringify(plan, null, 2));
  else if (o.csv) process.stdout.write(planCsv(plan));
  else out(planTable(plan));
  if (o.svg !== undefined) {
    try {
      writeFileSync(o.svg, planSvg(plan));
    } catch (e) {
      throw new Exit(1, `error: --svg ${o.svg}: ${(e as Error).message}`);
    }
    err(`wrote ${o.svg}`);
  }
  return 0;
}

/**
 * altmap plan on a machine (--machine, --e820, --from): each region planned at its size (or at --size/--usable),
 * against the machine's System RAM; one table per region, a JSON array of plans when there are several.
 */
async function cmdPlanMachine(cmd: Command, o: PlanOpts): Promise<number> {
  if (o.size !== undefined && o.usable !== undefined) usage('--size and --usable are exclusive');
  if (o.json && o.csv) usage('--json and --csv are exclusive');
  if (o.svg !== undefined) usage('--svg draws one plan: plan the machine without --machine/--e820/--from, or with --json');
  const input = await planMachineInput(cmd, o);
  const { kernel, regions } = input;
  const plans: Plan[] = [];
  for (const r of regions) {
    const opts: PlanOptions = {
      kernel,
      backend: o.backend as 'wasm' | 'ts',
      ...(o.usable !== undefined ? { usable: o.usable } : { size: o.size ?? r.size }),
      dram: r.dram,
      memoryBlockSize: r.blockSize,
      ...(o.mode !== undefined ? { mode: o.mode as PlanOptions['mode'] } : {}),
      ...(o.map !== undefined ? { map: o.map as PlanOptions['map'] } : {}),
      ...(o.align !== undefined ? { align: o.align as PlanOptions['align'] } : {}),
    };
    let plan: Plan;
    const progress = new Progress(planConfigs(kernel, opts).length, 1000);
    let rowsDone = 0;
    try {
      plan = await planCapacity({ ...opts, onRow: (row) => progress.tick(++rowsDone, `${r.region}: ${row.label}`) });
    } catch (e) {
      if (e instanceof KernelError && e.code === 'EINVAL') usage(`${r.region}: ${bare(e)}`);
      throw e;
    } finally {
      progress.stop();
    }
    // the planning machine's region0 is this machine's region
    plans.push(onRegion(plan, r));
  }
  // Soft Reserved ranges (CXL expanders): as System RAM through kmem, at the machine's memory block size
  const { softReserved } = input;
  if (softReserved.length && (o.mode === undefined || o.mode === 'system-ram') && o.usable === undefined) {
    for (const r of softReserved) {
      const plan = await planSoftReserved({ kernel, backend: o.backend as 'wasm' | 'ts', size: o.size ?? r.size, start: r.start, dram: r.dram, memoryBlockSize: r.blockSize });
      plans.push(onRegion(plan, r));
    }
  }
  if (o.json) out(JSON.stringify(plans.length === 1 ? plans[0] : plans, null, 2));
  else if (o.csv) process.stdout.write(plans.map((p, i) => (i === 0 ? planCsv(p) : planCsv(p).split('\n').slice(1).join('\n'))).join(''));
  else out(plans.map((p) => planTable(p)).join('\n\n'));
  return 0;
}
