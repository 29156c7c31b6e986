/**
 * The capacity planner: every sensible way to expose a pmem/CXL device of a given size, each run on a
 * fresh simulated machine, side by side: usable capacity, device bytes given up, DRAM the memmap and
 * page tables cost, struct pages initialised (the init-time proxy).
 */
import { createMachine, type Machine } from './machine.ts';
import { KernelError, invalid, show } from './kernel/errno.ts';
import { KERNELS, profileFor, type KernelName } from './kernel/profile.ts';
import { parseSize } from './nvdimm/units.ts';
import type { Backend } from './core/load.ts';

/** One way to expose the device: the `ndctl create-namespace` options (and, for kmem, `daxctl reconfigure-device`) a configuration uses. */
export interface PlanConfig {
  /** How the table names it ("devdax 2M, map=dev"). */
  label: string;
  /** ndctl's --mode. */
  mode: 'fsdax' | 'devdax';
  /** ndctl's --map: the memmap on the device (an altmap) or in DRAM. */
  map: 'dev' | 'mem';
  /** ndctl's --align: the mapping page size. */
  align: '2M' | '1G';
  /** dax kmem: the device handed to the page allocator as System RAM. */
  systemRam?: {
    /** daxctl's --memmap-on-memory (mhp_altmap: each memory block holds its own memmap). */
    memmapOnMemory: boolean;
  };
}

/** One configuration run on a fresh machine: what it gives and what it costs, in bytes unless named pages. */
export interface PlanRow extends PlanConfig {
  /** The namespace (and kmem) setup succeeded; when false, the figures are 0 and `error` says why. */
  ok: boolean;
  /** The KernelError that stopped it, as "CODE: message". */
  error?: string;
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
  /** Marked best: the most usable bytes, the least DRAM, both or neither (ties mark every row that has the figure). */
  best: Array<'capacity' | 'dram'>;
}

/** planCapacity's answer: every configuration of one device size on one kernel. */
export interface Plan {
  /** The device size planned for, in bytes. */
  size: number;
  /** The kernel modelled. */
  kernel: KernelName;
  /** One row per configuration, in planConfigs() order. */
  rows: PlanRow[];
}

/** The configurations a kernel offers. */
export function planConfigs(kernel: KernelName): PlanConfig[] {
  if (!(KERNELS as readonly string[]).includes(kernel)) invalid(`kernel ${show(kernel)} is not one of ${KERNELS.join(', ')}`);
  const p = profileFor(kernel);
  const rows: PlanConfig[] = [
    { label: 'fsdax, map=dev', mode: 'fsdax', map: 'dev', align: '2M' },
    { label: 'fsdax, map=mem', mode: 'fsdax', map: 'mem', align: '2M' },
  ];
  if (!p.devdax) return rows;
  const c = (s: string) => (p.compoundDevmaps ? `${s} (compound)` : s);
  rows.push(
    { label: 'devdax 2M, map=dev', mode: 'devdax', map: 'dev', align: '2M' },
    { label: c('devdax 2M, map=mem'), mode: 'devdax', map: 'mem', align: '2M' },
    { label: 'devdax 1G, map=dev', mode: 'devdax', map: 'dev', align: '1G' },
    { label: c('devdax 1G, map=mem'), mode: 'devdax', map: 'mem', align: '1G' },
  );
  if (p.memmapOnMemory) {
    rows.push(
      { label: 'system-ram (kmem)', mode: 'devdax', map: 'mem', align: '2M', systemRam: { memmapOnMemory: false } },
      { label: 'system-ram, memmap_on_memory', mode: 'devdax', map: 'mem', align: '2M', systemRam: { memmapOnMemory: true } },
    );
  }
  return rows;
}

const GiB = 1n << 30n;

/** A device size as people write it: ndctl's syntax, or a decimal with a binary suffix ("1.5T"). */
function planSize(input: bigint | number | string): bigint {
  const m = typeof input === 'string' ? /^\s*(\d+)\.(\d+)\s*([KMGTP])i?B?\s*$/i.exec(input) : null;
  if (!m) return parseSize(input, 'size');
  const unit = 1n << (10n * BigInt('KMGTP'.indexOf(m[3].toUpperCase()) + 1));
  const scale = 10n ** BigInt(m[2].length);
  const scaled = (BigInt(m[1]) * scale + BigInt(m[2])) * unit;
  if (scaled % scale !== 0n) invalid(`size ${show(input)} is not a whole number of bytes`);
  return scaled / scale;
}

/** Run one configuration on a fresh machine big enough for it. */
async function runConfig(cfg: PlanConfig, size: bigint, kernel: KernelName, backend: Backend): Promise<PlanRow> {
  // DRAM for the worst case (map=mem keeps 1/64 of the device in DRAM), never below 64 GiB
  const dram = size / 32n > 64n * GiB ? ((size / 32n + GiB - 1n) / GiB) * GiB : 64n * GiB;
  const pmemStart = ((0x100000n + dram + GiB - 1n) / GiB) * GiB;
  const paging = pmemStart + size > 1n << 46n ? 5 : 4;
  const m: Machine = await createMachine({
    backend,
    kernel,
    paging,
    e820: [
      { start: 0x100000n, size: dram, type: 'System RAM' },
      { start: pmemStart, size, type: 'Persistent Memory' },
    ],
  });
  const row: PlanRow = { ...cfg, ok: false, usable: 0, deviceGivenUp: 0, dram: 0, pageTablePages: 0, memmapDram: 0, structPagesInitialised: 0, compound: false, best: [] };
  try {
    const before = m.stats();
    const ns = m.createNamespace({ size, mode: cfg.mode, map: cfg.map, align: cfg.align });
    let usable = BigInt(ns.size as number);
    if (cfg.systemRam) {
      const dax = m.namespaceInfo(ns.dev as string).device!;
      const r = m.reconfigureDevice(dax, { mode: 'system-ram', memmapOnMemory: cfg.systemRam.memmapOnMemory });
      usable = BigInt(r.online_pages as number) * 4096n;
    }
    const after = m.stats();
    const d = (k: 'pageTablePages' | 'directMapPages' | 'memmapPages' | 'slabPages') => after.dram[k] - before.dram[k];
    row.ok = true;
    row.usable = Number(usable);
    row.deviceGivenUp = Number(size - usable);
    row.pageTablePages = d('pageTablePages') + d('directMapPages');
    row.memmapDram = d('memmapPages') * 4096;
    row.dram = (row.pageTablePages + d('memmapPages') + d('slabPages')) * 4096;
    row.structPagesInitialised = after.memmapInitPages - before.memmapInitPages;
    row.compound = Object.values(after.devices).some((x) => x.vmemmapPagesSaved > 0);
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    row.error = `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}`;
  } finally {
    m.dispose();
  }
  return row;
}

/** planCapacity: every configuration, best capacity and best DRAM marked. */
export async function planCapacity(opts: { size: bigint | number | string; kernel?: KernelName; backend?: Backend; onRow?: (row: PlanRow, i: number, n: number) => void }): Promise<Plan> {
  if (typeof opts !== 'object' || opts === null) invalid('planCapacity needs { size }');
  for (const key of Object.keys(opts)) if (!['size', 'kernel', 'backend', 'onRow'].includes(key)) invalid(`unknown planCapacity option ${show(key)}`);
  if (opts.kernel !== undefined && !(KERNELS as readonly string[]).includes(opts.kernel)) invalid(`kernel ${show(opts.kernel)} is not one of ${KERNELS.join(', ')}`);
  if (opts.backend !== undefined && opts.backend !== 'wasm' && opts.backend !== 'ts') invalid(`backend ${show(opts.backend)} is not "wasm" or "ts"`);
  if (opts.onRow !== undefined && typeof opts.onRow !== 'function') invalid(`onRow ${show(opts.onRow)} is not a function`);
  const size = planSize(opts.size);
  if (size < 1n << 30n) invalid(`size ${size} is below 1 GiB`);
  if (size % (1n << 30n) !== 0n) invalid(`size ${size} is not a whole number of GiB (1 GiB alignment needs it)`);
  const kernel = opts.kernel ?? 'v6';
  const configs = planConfigs(kernel);
  const rows: PlanRow[] = [];
  for (const [i, cfg] of configs.entries()) {
    const row = await runConfig(cfg, size, kernel, opts.backend ?? 'wasm');
    rows.push(row);
    opts.onRow?.(row, i, configs.length);
  }
  const ok = rows.filter((r) => r.ok);
  const maxUsable = Math.max(...ok.map((r) => r.usable));
  const minDram = Math.min(...ok.map((r) => r.dram));
  for (const r of ok) {
    if (r.usable === maxUsable) r.best.push('capacity');
    if (r.dram === minDram) r.best.push('dram');
  }
  return { size: Number(size), kernel, rows };
}

const MiB = 2 ** 20;
const human = (b: number) => (b >= 2 ** 40 ? `${(b / 2 ** 40).toFixed(2)} TiB` : b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / MiB).toFixed(1)} MiB`);

/** The plan as a table a person decides from. */
export function planTable(plan: Plan): string {
  const head = ['configuration', 'usable', 'device given up', 'DRAM used', 'of which memmap', 'page-table pages', 'struct pages init', 'best'];
  const body = plan.rows.map((r) =>
    r.ok
      ? [r.label, human(r.usable), human(r.deviceGivenUp), human(r.dram), human(r.memmapDram), String(r.pageTablePages), String(r.structPagesInitialised), r.best.map((b) => (b === 'capacity' ? '<- capacity' : '<- DRAM')).join(' ')]
      : [r.label, 'fails', r.error ?? '', '', '', '', '', ''],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [`capacity plan for ${human(plan.size)} of Persistent Memory on ${plan.kernel}`, '', line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The plan as an SVG chart: device bytes given up and DRAM used, per configuration (log scale). */
export function planSvg(plan: Plan): string {
  const rows = plan.rows.filter((r) => r.ok);
  const w = 960;
  const rowH = 34;
  const left = 300;
  const top = 70;
  const h = top + rows.length * rowH + 60;
  const max = Math.max(...rows.flatMap((r) => [r.deviceGivenUp, r.dram]), MiB);
  const scale = (v: number) => (v <= 0 ? 0 : Math.max(2, ((Math.log2(v / 4096) ) / Math.log2(max / 4096)) * (w - left - 130)));
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowH;
      const mark = r.best.length ? ` ★ best ${r.best.join(', ')}` : '';
      return [
        `<text x="${left - 10}" y="${y + 16}" text-anchor="end" class="l">${esc(r.label)}${r.best.length ? ' ★' : ''}</text>`,
        `<rect x="${left}" y="${y + 2}" width="${scale(r.deviceGivenUp).toFixed(1)}" height="12" fill="#7b3fbf"><title>device given up: ${human(r.deviceGivenUp)}</title></rect>`,
        `<text x="${left + scale(r.deviceGivenUp) + 6}" y="${y + 12}" class="v">${human(r.deviceGivenUp)}</text>`,
        `<rect x="${left}" y="${y + 16}" width="${scale(r.dram).toFixed(1)}" height="12" fill="#2f6fd6"><title>DRAM used: ${human(r.dram)}${mark}</title></rect>`,
        `<text x="${left + scale(r.dram) + 6}" y="${y + 26}" class="v">${human(r.dram)}</text>`,
      ].join('');
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="DejaVu Sans, Arial, sans-serif">
<style>.t{font-size:18px;font-weight:bold}.s{font-size:12px;fill:#555}.l{font-size:13px}.v{font-size:11px;fill:#333}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="28" class="t">What the memmap of ${esc(human(plan.size))} costs (${plan.kernel})</text>
<text x="20" y="48" class="s">purple: device capacity given up (info block, memmap on the device, alignment) · blue: DRAM used (memmap, page tables) · log scale · ★ best</text>
${bars}
<text x="20" y="${h - 16}" class="s">altmap-sim planCapacity(): each row is a fresh simulated machine running the kernel's own code paths</text>
</svg>
`;
}
