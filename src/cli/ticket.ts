/**
 * altmap ticket: one block to paste into a bug report or a sizing ticket: the machine, the kernel, each
 * namespace's raw and usable size with the share given up and the DRAM its memmap costs, then the
 * ndctl and daxctl JSON of the current state (as `ndctl list -R -N` and `daxctl list -R -D` print it).
 */
import { Command } from 'commander';
import { defaultE820, listDisplay, parseSize, quotePercent, quoteSize, type Machine, type MachineConfig } from '../index.ts';
import { out, hex, table } from './output.ts';
import { type MachineOpts, openSession } from './session.ts';
import { collectList, listPlan } from './list.ts';
import { daxctlListText } from './daxctl.ts';

const sizeCell = (b: bigint) => `${b} (${quoteSize(Number(b))})`;

/** The ticket's lines for a machine and the e820 it was booted with. */
export function ticketLines(m: Machine, e820: NonNullable<MachineConfig['e820']>): string[] {
  const ranges = e820.map((e) => ({ start: parseSize(e.start, 'start'), size: parseSize(e.size, 'size'), type: e.type }));
  const nodeDram = ranges.filter((r) => r.type === 'System RAM').reduce((a, r) => a + r.size, 0n);
  const lay = m.layout;
  const lines: string[] = [
    '```text',
    `altmap ticket: a simulated machine (altmap-sim), kernel profile ${m.kernel} (Linux ${m.release}), ${lay.paging}-level paging`,
    'machine (e820):',
    ...table(ranges.map((r) => [r.type, `[${hex(r.start)}-${hex(r.start + r.size - 1n)}]`, quoteSize(Number(r.size))]), [2], '  '),
    `memory block size: ${quoteSize(Number(parseSize(`0x${m.readFile('/sys/devices/system/memory/block_size_bytes').trim()}`, 'block size')))}; node 0 DRAM ${quoteSize(Number(nodeDram))}`,
    '',
  ];
  const stats = m.stats();
  const rows: string[][] = [['namespace', 'mode', 'map', 'align', 'raw', 'usable', 'given up', '% of raw', 'DRAM memmap', '% of DRAM', 'device']];
  const kmem: string[][] = [];
  for (const ns of m.listNamespaces()) {
    const info = m.namespaceInfo(String(ns.dev));
    const dev = info.device;
    const d = dev === null ? undefined : stats.devices[dev];
    const memmap = BigInt(d?.dramMemmapPages ?? 0) * 4096n;
    const givenUp = info.raw - info.size;
    rows.push([
      info.dev, info.mode, info.map ?? '-', ns.align === undefined ? '-' : quoteSize(Number(ns.align)).replace(/ \(.*/, ''),
      sizeCell(info.raw), sizeCell(info.size), sizeCell(givenUp), quotePercent(info.raw > 0n ? (Number(givenUp) / Number(info.raw)) * 100 : 0),
      sizeCell(memmap), quotePercent(nodeDram > 0n ? (Number(memmap) / Number(nodeDram)) * 100 : 0), dev ?? '-',
    ]);
    const sr = dev === null ? undefined : stats.systemRam[dev];
    if (sr) {
      const mm = BigInt(sr.dramMemmapPages) * 4096n;
      kmem.push([dev!, `${sr.onlineBlocks}/${sr.blocks} blocks online`, sizeCell(BigInt(sr.onlinePages) * 4096n), `memmap on memory ${sizeCell(BigInt(sr.memmapOnMemoryPages) * 4096n)}`, `DRAM memmap ${sizeCell(mm)} (${quotePercent(nodeDram > 0n ? (Number(mm) / Number(nodeDram)) * 100 : 0)})`]);
    }
  }
  if (rows.length > 1) lines.push('namespaces:', ...table(rows, [4, 5, 6, 7, 8, 9], '  '));
  else lines.push('namespaces: none');
  if (kmem.length) lines.push('', 'system-ram (dax kmem):', ...table(kmem, [2], '  '));
  const ndctl = listDisplay(collectList(m, listPlan({ regions: true, namespaces: true } as Parameters<typeof listPlan>[0])), false);
  lines.push('', '$ ndctl list -R -N', ndctl ?? '');
  if (m.listDir('/sys/bus').includes('dax')) lines.push('$ daxctl list -R -D', daxctlListText(m, { regions: true, devices: true }) ?? '');
  lines.push('```');
  return lines.filter((l, i, a) => !(l === '' && a[i - 1] === ''));
}

export async function cmdTicket(cmd: Command): Promise<number> {
  const s = await openSession(cmd);
  try {
    const o = cmd.optsWithGlobals<MachineOpts>();
    out(ticketLines(s.m, s.scenario.machine.e820 ?? defaultE820({ dramSize: o.dramSize, pmemSize: o.pmemSize })).join('\n'));
    return 0;
  } finally {
    await s.close();
  }
}
