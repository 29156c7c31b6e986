/**
 * One configuration on one simulated machine: the namespace created through the model's ndctl and kernel
 * paths (and, for kmem, handed to the page allocator), its figures read back from the machine's counters.
 */
import { createMachine, type Machine, type MachineStats } from '../machine.ts';
import { HostMemoryError, KernelError } from '../kernel/errno.ts';
import { formatSizeHuman } from '../nvdimm/units.ts';
import type { KernelName } from '../kernel/profile.ts';
import type { Backend } from '../core/load.ts';
import type { PlanConfig } from './configs.ts';

const GiB = 1n << 30n;
/** The System RAM of the machines the planner builds starts here, as on the default machine. */
export const RAM_START = 0x100000n;

/** What one configuration gives and costs on its machine, in bytes unless named pages. */
export interface Figures {
  /** The namespace (and kmem) setup succeeded; when false, the figures are 0 and `error` says why. */
  ok: boolean;
  /** The KernelError that stopped it, as "CODE: message". */
  error?: string;
  /** The raw size asked of ndctl (create-namespace --size). */
  raw: number;
  /** Bytes an application can use: the namespace's size, or what kmem onlined. */
  usable: number;
  /** Raw device bytes not usable: info block, memmap on the device, alignment. */
  deviceGivenUp: number;
  /** DRAM bytes the configuration costs: memmap, page tables, slab. */
  dram: number;
  /** Of which page-table pages (vmemmap and direct map). */
  pageTablePages: number;
  /** DRAM bytes of struct pages (memmap) alone. */
  memmapDram: number;
  /** Struct pages memmap init set up (the kernel's init time grows with it). */
  structPagesInitialised: number;
  /** Compound devmap (vmemmap dedup) in effect. */
  compound: boolean;
  /**
   * dax kmem rows: the free DRAM the hot-add took before any block was online (its memmap, 0 with
   * memmap_on_memory); with less free DRAM the kernel fails it ("mapping%d: ... memory add failed", ENOMEM).
   */
  hotAddFreeDram?: number;
}

/** The default DRAM of a planning machine: room for the worst case (map=mem keeps 1/64 of the device in DRAM), never below 64 GiB. */
export function defaultPlanDram(device: bigint): bigint {
  return device / 32n > 64n * GiB ? ((device / 32n + GiB - 1n) / GiB) * GiB : 64n * GiB;
}

/** A fresh machine with `dram` of System RAM and one Persistent Memory region of `pmem` bytes at the next 1 GiB boundary above it (memory blocks of `memoryBlockSize`, else the era's probe). */
export async function planMachine(kernel: KernelName, backend: Backend, dram: bigint, pmem: bigint, memoryBlockSize?: bigint): Promise<Machine> {
  const pmemStart = ((RAM_START + dram + GiB - 1n) / GiB) * GiB;
  return createMachine({
    backend,
    kernel,
    paging: pmemStart + pmem > 1n << 46n ? 5 : 4,
    e820: [
      { start: RAM_START, size: dram, type: 'System RAM' },
      { start: pmemStart, size: pmem, type: 'Persistent Memory' },
    ],
    ...(memoryBlockSize !== undefined ? { memoryBlockSize } : {}),
  });
}

/** What the machine spent between two stats(): page-table pages (vmemmap and direct map), memmap bytes, all DRAM bytes (with slab), struct pages initialised. */
export function dramCost(before: MachineStats, after: MachineStats): Pick<Figures, 'pageTablePages' | 'memmapDram' | 'dram' | 'structPagesInitialised'> {
  const d = (k: 'pageTablePages' | 'directMapPages' | 'memmapPages' | 'slabPages') => after.dram[k] - before.dram[k];
  const pageTablePages = d('pageTablePages') + d('directMapPages');
  return { pageTablePages, memmapDram: d('memmapPages') * 4096, dram: (pageTablePages + d('memmapPages') + d('slabPages')) * 4096, structPagesInitialised: after.memmapInitPages - before.memmapInitPages };
}

/** A KernelError as a row shows it: "CODE: message". */
export function rowError(e: KernelError): string {
  return `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}`;
}

/** A row the simulator could not hold: not a kernel failure, so it says so and names the budget. */
export function budgetError(limitBytes: number): string {
  const size = limitBytes >= 5000 * 1024 ? formatSizeHuman(BigInt(limitBytes)) : `${limitBytes} bytes`;
  return `beyond this model's memory budget (hostMemoryLimit ${size})`;
}

/**
 * Create the configuration's namespace of `raw` bytes on `m` (in `region`, or where ndctl puts it) and read
 * what it cost from the machine's counters. The machine keeps the namespace; a KernelError becomes a failed row.
 */
export function measureConfig(m: Machine, cfg: Pick<PlanConfig, 'mode' | 'map' | 'systemRam'> & { align: string | bigint }, raw: bigint, region?: number): Figures {
  const row: Figures = { ok: false, raw: Number(raw), usable: 0, deviceGivenUp: 0, dram: 0, pageTablePages: 0, memmapDram: 0, structPagesInitialised: 0, compound: false };
  try {
    const before = m.stats();
    const ns = m.createNamespace({ size: raw, mode: cfg.mode, map: cfg.map, align: cfg.align, ...(region === undefined ? {} : { region }) });
    let usable = BigInt(ns.size as number);
    if (cfg.systemRam) {
      const dax = m.namespaceInfo(ns.dev as string).device!;
      const r = m.reconfigureDevice(dax, { mode: 'system-ram', memmapOnMemory: cfg.systemRam.memmapOnMemory });
      usable = BigInt(r.online_pages as number) * 4096n;
      row.hotAddFreeDram = (r.memmap_dram_pages as number) * 4096;
    }
    const after = m.stats();
    Object.assign(row, dramCost(before, after));
    row.ok = true;
    row.usable = Number(usable);
    row.deviceGivenUp = Number(raw - usable);
    row.compound = Object.values(after.devices).some((x) => x.vmemmapPagesSaved > 0);
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    row.error = e instanceof HostMemoryError ? budgetError(m.stats().host.limitBytes) : rowError(e);
  }
  return row;
}

/** One configuration on a fresh planning machine whose region is exactly `raw` bytes. */
export async function runConfig(cfg: PlanConfig, raw: bigint, kernel: KernelName, backend: Backend, dram: bigint, memoryBlockSize?: bigint): Promise<Figures> {
  const m = await planMachine(kernel, backend, dram, raw, memoryBlockSize);
  try {
    return measureConfig(m, cfg, raw);
  } finally {
    m.dispose();
  }
}
