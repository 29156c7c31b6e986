/** The default report: two 256 GiB fsdax namespaces (map=dev, map=mem), where their memmap went, and every counter back after destroying them. */
import { Command } from 'commander';
import { type MachineConfig, type MachineStats, KernelError, toJsonValue } from '../index.ts';
import { out, hex, iec, table, Progress } from './output.ts';
import { type MachineOpts, e820FromFlags, boot } from './session.ts';
import { type AltmapView } from './namespace.ts';

export interface NsReport {
  json: Record<string, unknown>;
  raw: bigint;
  start: bigint;
  size: bigint;
  dramMemmapPages: number;
  ptPages: number;
  ptVmemmap: number;
  ptDirect: number;
  firstDataPfn: bigint;
  memmapPhys: bigint | null;
}

export const COUNTERS: Array<[string, keyof MachineStats['dram']]> = [
  ['DRAM free pages', 'freePages'],
  ['page-table pages', 'pageTablePages'],
  ['memmap pages', 'memmapPages'],
  ['direct-map pages', 'directMapPages'],
  ['slab pages', 'slabPages'],
];

export async function cmdReport(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { json?: boolean; nsSize: bigint }>();
  const progress = new Progress(5);
  progress.tick(0, 'boot');
  const config: MachineConfig = { kernel: o.kernel, e820: e820FromFlags(o), backend: o.backend, ...(o.debug ? { debug: true } : {}), ...(o.cmdline !== undefined ? { cmdline: o.cmdline } : {}) };
  const m = await boot(config);
  try {
    const boot0 = m.stats();
    const nsReports: NsReport[] = [];
    const maps: Array<'dev' | 'mem'> = ['dev', 'mem'];
    let fail: KernelError | null = null;
    for (const map of maps) {
      progress.tick(nsReports.length + 1, `create-namespace -M ${map}`);
      const before = m.stats();
      let ns: Record<string, unknown>;
      try {
        ns = m.createNamespace({ size: o.nsSize, mode: 'fsdax', map });
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        fail = e;
        break;
      }
      const after = m.stats();
      const d = after.devices[m.namespaceInfo(String(ns.dev)).device!]!;
      const raw = d.end - d.start + 1n;
      const size = BigInt(ns.size as number);
      const firstDataPfn = (d.end + 1n - size) >> 12n;
      const w = m.walk(m.pfnToPage(Number(firstDataPfn)));
      const pv = after.dram.pageTablePages - before.dram.pageTablePages;
      const pd = after.dram.directMapPages - before.dram.directMapPages;
      nsReports.push({
        json: ns,
        raw,
        start: d.start,
        size,
        dramMemmapPages: after.dram.memmapPages - before.dram.memmapPages,
        ptPages: pv + pd,
        ptVmemmap: pv,
        ptDirect: pd,
        firstDataPfn,
        memmapPhys: w ? w.phys : null,
      });
    }
    const loaded = m.stats();
    // a destroy the modelled kernel crashes in (v4.5-rc1's T33) still gets its tables and its BUG shown
    let destroyFail: { dev: string; error: KernelError } | null = null;
    const destroyed: string[] = [];
    for (const r of nsReports) {
      progress.tick(3 + nsReports.indexOf(r), `destroy-namespace ${r.json.dev}`);
      try {
        m.destroyNamespace(String(r.json.dev));
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        destroyFail = { dev: String(r.json.dev), error: e };
        break;
      }
      if (m.poisoned) {
        destroyFail = { dev: String(r.json.dev), error: new KernelError('EFAULT', `machine is poisoned (${m.poisoned})`) };
        break;
      }
      destroyed.push(String(r.json.dev));
    }
    progress.stop();
    const end = m.stats();
    const dmesg = m.dmesg();
    const counters = COUNTERS.map(([name, key]) => ({ name, boot: boot0.dram[key], loaded: loaded.dram[key], after: end.dram[key], ok: boot0.dram[key] === end.dram[key] }));
    const allOk = counters.every((c) => c.ok);

    if (o.json) {
      out(
        JSON.stringify(
          toJsonValue({
            machine: { kernel: m.kernel, backend: m.backend, e820: m.e820 },
            namespaces: nsReports.map((r) => ({ ...r.json, raw: Number(r.raw), start: r.start, givenUp: Number(r.raw - r.size), dramMemmapPages: r.dramMemmapPages, pageTablePages: r.ptPages, firstDataPfn: r.firstDataPfn, memmapPhys: r.memmapPhys })),
            error: fail ? { code: fail.code, errno: fail.errno, message: fail.message } : null,
            destroyError: destroyFail ? { dev: destroyFail.dev, code: destroyFail.error.code, errno: destroyFail.error.errno, message: destroyFail.error.message } : null,
            dmesg,
            counters,
          }),
          null,
          2,
        ),
      );
      return fail || destroyFail || !allOk ? 1 : 0;
    }

    out(`altmap-sim: kernel profile ${m.kernel}, x86-64, ${m.backend} core`);
    for (const line of table(m.e820.map((e) => [e.type, `[${hex(e.start)}-${hex(e.start + e.size - 1n)}]`, iec(e.size)]), [2], '  ')) out(line);
    out('');
    const isRam = (p: bigint) => m.e820.some((e) => e.type === 'System RAM' && p >= e.start && p < e.start + e.size);
    const rows: string[][] = [['', ...nsReports.map((r) => `${r.json.dev} (fsdax, map=${r.json.map})`)]];
    const row = (label: string, f: (r: NsReport) => string) => rows.push([label, ...nsReports.map(f)]);
    const alt = (r: NsReport) => r.json.altmap as AltmapView | null;
    row('physical range', (r) => `[${hex(r.start)}-${hex(r.start + r.raw - 1n)}]`);
    row('raw size', (r) => `${r.raw} (${iec(r.raw)})`);
    row('reported size', (r) => `${r.size} (${iec(r.size)})`);
    row('capacity given up', (r) => `${r.raw - r.size} (${iec(r.raw - r.size)}, ${((Number(r.raw - r.size) / Number(r.raw)) * 100).toFixed(2)}%)`);
    row('memmap lives in', (r) => {
      const a = alt(r);
      return a ? `device pfns ${hex(a.basePfn + a.reserve)}-${hex(a.basePfn + a.reserve + a.free - 1)} (altmap pool)` : 'DRAM (page allocator)';
    });
    row('memmap in DRAM', (r) => `${r.dramMemmapPages} pages (${iec(BigInt(r.dramMemmapPages) * 4096n)})`);
    row('page-table pages added', (r) => `${r.ptPages} (vmemmap ${r.ptVmemmap}, direct map ${r.ptDirect})`);
    const field = (k: keyof AltmapView, fmt: (n: number) => string = String) => (r: NsReport) => {
      const a = alt(r);
      return a ? fmt(a[k]) : '-';
    };
    row('altmap base_pfn', field('basePfn', hex));
    row('altmap reserve', field('reserve'));
    row('altmap free', field('free'));
    row('altmap align', field('align'));
    row('altmap alloc', field('alloc'));
    row('altmap nr_free', field('nrFree'));
    row('first data pfn', (r) => hex(r.firstDataPfn));
    row('its struct page at phys', (r) => (r.memmapPhys === null ? 'not mapped' : `${hex(r.memmapPhys)} (${isRam(r.memmapPhys) ? 'DRAM' : r.memmapPhys >= r.start && r.memmapPhys < r.start + r.raw ? 'on the device' : 'elsewhere'})`));
    if (nsReports.length) for (const line of table(rows)) out(line);
    if (fail) out(`create-namespace -s ${iec(o.nsSize)} -M ${maps[nsReports.length]} failed: ${fail.message}`);
    out('');
    out(`kernel messages (${dmesg.length} lines since boot):`);
    for (const l of dmesg) out(`  ${l}`);
    out('');
    if (destroyFail) out(`destroy-namespace ${destroyFail.dev} failed: ${destroyFail.error.message}`);
    out(`counters (DRAM pages) after destroying ${destroyed.join(' and ') || 'nothing'}:`);
    const crow = [['counter', 'at boot', 'with namespaces', 'after destroy', '']];
    for (const c of counters) crow.push([c.name, String(c.boot), String(c.loaded), String(c.after), c.ok ? 'OK' : `CHANGED (${c.after - c.boot > 0 ? '+' : ''}${c.after - c.boot})`]);
    for (const line of table(crow, [1, 2, 3], '  ')) out(line);
    out(allOk ? `all ${counters.length} counters back where they started: OK` : `${counters.filter((c) => !c.ok).length} counter(s) CHANGED`);
    return fail || destroyFail || !allOk ? 1 : 0;
  } finally {
    progress.stop();
    m.dispose();
  }
}
