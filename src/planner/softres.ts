/**
 * Soft Reserved (EFI_MEMORY_SP: CXL memory expanders, HBM) as System RAM: the range dax_hmem makes a
 * device of, handed to the page allocator by dax kmem one memory block at a time, with and without
 * memmap_on_memory (6.12: the module parameter and the device's memmap_on_memory file; 6.1 has neither
 * for dax kmem). Each row runs on a simulated machine: the hmem device reconfigured as daxctl does.
 */
import { createMachine, type Machine } from '../machine.ts';
import { HostMemoryError, KernelError, invalid, show } from '../kernel/errno.ts';
import { profileFor, type KernelName } from '../kernel/profile.ts';
import { parseSize } from '../nvdimm/units.ts';
import type { Backend } from '../core/load.ts';
import { checkKernel, type PlanConfig } from './configs.ts';
import { RAM_START, budgetError, dramCost, rowError, type Figures } from './run.ts';
import { markBest, planRow } from './rows.ts';
import type { Plan, PlanRow } from './types.ts';

const GiB = 1n << 30n;

/** planSoftReserved's options. */
export interface SoftReservedOptions {
  /** The Soft Reserved range's size in bytes (ndctl's size syntax). */
  size: bigint | number | string;
  /** Its physical start; default the first 1 GiB boundary above the DRAM (a block boundary: nothing trimmed at its head). */
  start?: bigint | number | string;
  /** The kernel modelled (default v6): v6 and v6.1 have dax_hmem and kmem. */
  kernel?: KernelName;
  /** The System RAM of the node the memmap is charged to (default 64 GiB). */
  dram?: bigint | number | string;
  /** memory_block_size_bytes(); default the era's probe_memory_block_size(). */
  memoryBlockSize?: bigint | number | string;
  backend?: Backend;
}

/** The rows a kernel offers for a Soft Reserved range. */
function softReservedConfigs(kernel: KernelName): PlanConfig[] {
  const rows: PlanConfig[] = [{ label: 'Soft Reserved: system-ram (kmem)', mode: 'devdax', map: 'mem', align: '2M', systemRam: { memmapOnMemory: false } }];
  if (profileFor(kernel).daxMemmapOnMemory) rows.push({ label: 'Soft Reserved: system-ram, memmap_on_memory', mode: 'devdax', map: 'mem', align: '2M', systemRam: { memmapOnMemory: true } });
  return rows;
}

/** The range's hmem device (daxX.Y). */
function hmemDevice(m: Machine): string {
  const dev = m.listDir('/sys/bus/dax/devices').find((d) => /^dax\d+\.\d+$/.test(d));
  if (!dev) throw new KernelError('ENODEV', 'dax_hmem made no device of the Soft Reserved range');
  return dev;
}

/** One row: the range's device to system-ram on a fresh machine, its figures from the machine's counters. */
async function runSoftReserved(cfg: PlanConfig, o: { kernel: KernelName; backend: Backend; dram: bigint; start: bigint; size: bigint; memoryBlockSize?: bigint }): Promise<Figures & { trimmedBytes: number }> {
  const row: Figures & { trimmedBytes: number } = { ok: false, raw: Number(o.size), usable: 0, deviceGivenUp: 0, dram: 0, pageTablePages: 0, memmapDram: 0, structPagesInitialised: 0, compound: false, trimmedBytes: 0 };
  const mom = !!cfg.systemRam?.memmapOnMemory;
  const machine = (softReserved: boolean) =>
    createMachine({
      kernel: o.kernel,
      backend: o.backend,
      paging: o.start + o.size > 1n << 46n ? 5 : 4,
      // the same DRAM and the same (hypervisor) block size, with and without the range
      e820: [{ start: RAM_START, size: o.dram, type: 'System RAM' }, ...(softReserved ? [{ start: o.start, size: o.size, type: 'Soft Reserved' as const }] : [])],
      ...(mom ? { cmdline: 'memory_hotplug.memmap_on_memory=1' } : {}),
      ...(o.memoryBlockSize !== undefined ? { memoryBlockSize: o.memoryBlockSize } : {}),
    });
  // what the range costs is measured against the same machine without it (a devdax hmem device has a memmap of its own)
  const base = await machine(false);
  const before = base.stats();
  base.dispose();
  const m = await machine(true);
  try {
    const dev = hmemDevice(m);
    if (mom || !(dev in m.stats().systemRam)) {
      // 6.12 onlined it through kmem at boot (without memmap_on_memory); daxctl reconfigure-device -m devdax first
      if (dev in m.stats().systemRam) m.reconfigureDevice(dev, { mode: 'devdax' });
      // the device's memmap_on_memory file (6.8+), as daxctl reconfigure-device --memmap-on-memory writes it
      if (mom) m.writeFile(`/sys/bus/dax/devices/${dev}/memmap_on_memory`, '1\n');
      m.reconfigureDevice(dev, { mode: 'system-ram', memmapOnMemory: mom });
    }
    const after = m.stats();
    const sr = after.systemRam[dev]!;
    row.ok = true;
    row.usable = sr.onlinePages * 4096;
    row.deviceGivenUp = Number(o.size) - row.usable;
    row.trimmedBytes = Number(sr.trimmedBytes.head + sr.trimmedBytes.tail);
    Object.assign(row, dramCost(before, after));
    row.hotAddFreeDram = sr.dramMemmapPages * 4096;
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    row.error = e instanceof HostMemoryError ? budgetError(m.stats().host.limitBytes) : rowError(e);
  } finally {
    m.dispose();
  }
  return row;
}

/** A Soft Reserved row: a plan row with the bytes lost to memory block alignment (dax_kmem_range's trim at both ends). */
export type SoftReservedRow = PlanRow & { trimmedBytes: number };
/** planSoftReserved's answer: a plan whose rows say what block alignment took. */
export type SoftReservedPlan = Omit<Plan, 'rows'> & { rows: SoftReservedRow[] };

/**
 * planSoftReserved: a Soft Reserved range as System RAM through dax_hmem and dax kmem, with and without
 * memmap_on_memory where the kernel has it: usable (what kmem onlined), given up (the blocks' own memmap,
 * and `trimmedBytes`, lost to memory block alignment at both ends), and the DRAM the memmap costs.
 */
export async function planSoftReserved(opts: SoftReservedOptions): Promise<SoftReservedPlan> {
  if (typeof opts !== 'object' || opts === null) invalid('planSoftReserved needs { size }');
  for (const key of Object.keys(opts)) if (!['size', 'start', 'kernel', 'dram', 'memoryBlockSize', 'backend'].includes(key)) invalid(`unknown planSoftReserved option ${show(key)}`);
  const kernel = opts.kernel ?? 'v6';
  checkKernel(kernel);
  if (!profileFor(kernel).memmapOnMemory) invalid(`kernel ${kernel} has no dax kmem (v5.1+): plan Soft Reserved memory on v6 or v6.1`);
  const backend = opts.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'ts') invalid(`backend ${show(backend)} is not "wasm" or "ts"`);
  const size = parseSize(opts.size, 'size');
  const dram = opts.dram === undefined ? 64n * GiB : parseSize(opts.dram, 'dram');
  const start = opts.start === undefined ? ((RAM_START + dram + GiB - 1n) / GiB) * GiB : parseSize(opts.start, 'start');
  if (size === 0n || size % 4096n || start % 4096n) invalid(`Soft Reserved range [${start}, +${size}) is not whole 4 KiB pages`);
  const memoryBlockSize = opts.memoryBlockSize === undefined ? undefined : parseSize(opts.memoryBlockSize, 'memoryBlockSize');
  const rows: SoftReservedRow[] = [];
  for (const cfg of softReservedConfigs(kernel)) {
    const f = await runSoftReserved(cfg, { kernel, backend, dram, start, size, ...(memoryBlockSize !== undefined ? { memoryBlockSize } : {}) });
    rows.push(planRow(cfg, f, dram, 'Soft Reserved'));
  }
  markBest(rows);
  return { size: Number(size), kernel, nodeDram: Number(dram), regions: [{ region: 'Soft Reserved', node: 0, nodeDram: Number(dram) }], rows };
}
