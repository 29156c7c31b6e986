/**
 * The plan as people quote it: sizes as ndctl prints them ("1008.00 GiB (1082.33 GB)"), shares as
 * percentages, every figure at the same precision in every row; as a table, CSV and an SVG chart.
 */
import { formatSizeHuman } from '../nvdimm/units.ts';
import type { Plan, PlanRow } from './types.ts';

const KiB = 1024;
const MiB = 2 ** 20;

/** "%ld.%02ld" of a centi-unit count. */
const centi = (c: number) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;

/**
 * A size as ndctl's display_size() prints it (IEC and JEDEC side by side, two decimals); below 5000 KiB,
 * where ndctl prints plain bytes, in its MiB form, so that every row has the same precision.
 */
export function quoteSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) return String(bytes);
  if (bytes >= 5000 * KiB) return formatSizeHuman(BigInt(bytes));
  return `${centi(Math.floor((Math.floor((bytes * 200) / MiB) + 1) / 2))} MiB (${centi(Math.floor((Math.floor(bytes / 5000) + 1) / 2))} MB)`;
}

/** A share as a percentage with two decimals ("1.56%"). */
export function quotePercent(p: number): string {
  return `${p.toFixed(2)}%`;
}

/** The IEC half of quoteSize ("1008.00 GiB"), for the chart's labels. */
const iec = (b: number) => quoteSize(b).replace(/ \(.*\)$/, '');

function heading(plan: Plan): string {
  const kind = plan.rows.some((r) => r.label.startsWith('Soft Reserved')) ? 'Soft Reserved memory' : 'Persistent Memory';
  const what = plan.usable !== undefined ? `the raw size that gives ${quoteSize(plan.usable)} usable` : `${quoteSize(plan.size!)} of ${kind}`;
  const node = plan.regions.length === 1 ? `${plan.regions[0]!.region} on node ${plan.regions[0]!.node}, ` : '';
  return `capacity plan for ${what} on ${plan.kernel}, ${node}node DRAM ${quoteSize(plan.nodeDram)}`;
}

const bestText = (r: PlanRow, reverse: boolean) => r.best.map((b) => (b === 'capacity' ? (reverse ? '<- least raw' : '<- capacity') : '<- DRAM')).join(' ');

/** The plan as a table a person decides from: bytes, ndctl's human form and percentages in every row. */
export function planTable(plan: Plan): string {
  const reverse = plan.usable !== undefined;
  const head = ['region', 'configuration', ...(reverse ? ['raw (bytes)', 'raw'] : []), 'usable (bytes)', 'usable', 'given up (bytes)', 'given up', '% of raw', 'DRAM used (bytes)', 'DRAM used', '% of node', 'best'];
  const body = plan.rows.map((r) =>
    r.ok
      ? [r.region, r.label, ...(reverse ? [String(r.raw), quoteSize(r.raw)] : []), String(r.usable), quoteSize(r.usable), String(r.deviceGivenUp), quoteSize(r.deviceGivenUp), quotePercent(r.deviceGivenUpPercent), String(r.dram), quoteSize(r.dram), quotePercent(r.dramPercent), bestText(r, reverse)]
      : [r.region, r.label, 'fails', r.error ?? '', ...head.slice(4).map(() => '')],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.filter((b) => b[2] !== 'fails').map((b) => b[i].length)));
  const left = new Set([0, 1, head.length - 1]);
  const line = (cells: string[]) => {
    if (cells[2] === 'fails') return [cells[0].padEnd(widths[0]), cells[1].padEnd(widths[1]), `fails: ${cells[3]}`].join('  ');
    return cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  };
  return [heading(plan), '', line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

const CSV_HEAD = ['region', 'node', 'configuration', 'mode', 'map', 'align', 'system_ram', 'memmap_on_memory', 'ok', 'error', 'raw_bytes', 'usable_bytes', 'usable', 'given_up_bytes', 'given_up', 'given_up_percent', 'dram_bytes', 'dram', 'dram_percent_of_node', 'memmap_dram_bytes', 'page_table_pages', 'struct_pages_initialised', 'compound', 'best'];

const csvCell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The plan as CSV (RFC 4180): one line per row, bytes as integers, percentages with four decimals. */
export function planCsv(plan: Plan): string {
  const lines = plan.rows.map((r) =>
    [
      r.region, String(r.node), r.label, r.mode, r.map, r.align, String(!!r.systemRam), String(!!r.systemRam?.memmapOnMemory), String(r.ok), r.error ?? '',
      String(r.raw), String(r.usable), quoteSize(r.usable), String(r.deviceGivenUp), quoteSize(r.deviceGivenUp), r.deviceGivenUpPercent.toFixed(4),
      String(r.dram), quoteSize(r.dram), r.dramPercent.toFixed(4), String(r.memmapDram), String(r.pageTablePages), String(r.structPagesInitialised), String(r.compound), r.best.join(' '),
    ].map(csvCell).join(','),
  );
  return [CSV_HEAD.join(','), ...lines].join('\n') + '\n';
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
  const scale = (v: number) => (v <= 0 ? 0 : Math.max(2, (Math.log2(v / 4096) / Math.log2(max / 4096)) * (w - left - 230)));
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowH;
      const mark = r.best.length ? ` ★ best ${r.best.join(', ')}` : '';
      const gu = `${iec(r.deviceGivenUp)} (${quotePercent(r.deviceGivenUpPercent)})`;
      const dr = `${iec(r.dram)} (${quotePercent(r.dramPercent)} of DRAM)`;
      return [
        `<text x="${left - 10}" y="${y + 16}" text-anchor="end" class="l">${esc(r.label)}${r.best.length ? ' ★' : ''}</text>`,
        `<rect x="${left}" y="${y + 2}" width="${scale(r.deviceGivenUp).toFixed(1)}" height="12" fill="#7b3fbf"><title>device given up: ${gu}</title></rect>`,
        `<text x="${left + scale(r.deviceGivenUp) + 6}" y="${y + 12}" class="v">${gu}</text>`,
        `<rect x="${left}" y="${y + 16}" width="${scale(r.dram).toFixed(1)}" height="12" fill="#2f6fd6"><title>DRAM used: ${dr}${mark}</title></rect>`,
        `<text x="${left + scale(r.dram) + 6}" y="${y + 26}" class="v">${dr}</text>`,
      ].join('');
    })
    .join('\n');
  const title = plan.usable !== undefined ? `What ${iec(plan.usable)} usable costs (${plan.kernel})` : `What the memmap of ${iec(plan.size!)} costs (${plan.kernel})`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="DejaVu Sans, Arial, sans-serif">
<style>.t{font-size:18px;font-weight:bold}.s{font-size:12px;fill:#555}.l{font-size:13px}.v{font-size:11px;fill:#333}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="28" class="t">${esc(title)}</text>
<text x="20" y="48" class="s">purple: device capacity given up (info block, memmap on the device, alignment) · blue: DRAM used (memmap, page tables) · log scale · ★ best</text>
${bars}
<text x="20" y="${h - 16}" class="s">altmap-sim planCapacity(): each row is a fresh simulated machine running the kernel's own code paths</text>
</svg>
`;
}
