/**
 * The physical address map and the vmemmap under it, drawn to scale as SVG "lenses": the whole
 * physical address space first, then the selected namespace / device / range, then ever smaller
 * windows at its start (the pool, the alignment padding, the info block) until the smallest part
 * is wide enough to see. Under every bar, at the same x scale, the vmemmap strip: each 2 MiB
 * mapping of struct pages (one per 128 MiB section) coloured by where it points.
 */
import { escapeHtml, fmtSize, hex } from './format.ts';
import type { DeviceView, NamespaceView, Snapshot, VmemmapRun } from './protocol.ts';

export const COLORS = {
  ram: '#cddff4',
  dram: '#2f6db5',
  pmem: 'url(#hatch-pmem)',
  pmemSolid: '#e3e6ec',
  e820Reserved: '#9aa3ad',
  reserved: '#f7c99b',
  info: '#e8731c',
  pad: 'url(#hatch-pad)',
  padSolid: '#e8b931',
  dataoff: '#d5d9e0',
  data: '#a6dbd1',
  rawMem: '#c5d0dc',
  trunc: '#e6e6e6',
  other: '#8a939e',
};

/** Strong colours for devices (their memmap on the device, their vmemmap blocks); never blue, teal, orange or gold. */
export const DEVICE_COLORS = ['#7b3fbf', '#c2185b', '#8d5a2b', '#5b6b14', '#a1328f', '#b71c1c', '#4e3a99', '#6d4c41'];

export function pale(color: string, f = 0.7): string {
  const n = parseInt(color.slice(1), 16);
  const mix = (c: number) => Math.round(c + (255 - c) * f);
  return `rgb(${mix(n >> 16)}, ${mix((n >> 8) & 255)}, ${mix(n & 255)})`;
}

const MiB2 = 2 * 1024 * 1024;
const SECTION = 128 * 1024 * 1024;

export interface Seg {
  lo: number;
  hi: number;
  fill: string;
  label: string;
  title: string;
  /** Text in white. */
  dark?: boolean;
}

export type Selection = { kind: 'ram' } | { kind: 'region'; index: number } | { kind: 'ns'; dev: string } | { kind: 'dev'; name: string };

export function selectionKey(s: Selection | null): string {
  if (!s) return '';
  return s.kind === 'ram' ? 'ram' : s.kind === 'region' ? `region${s.index}` : s.kind === 'ns' ? s.dev : s.name;
}

interface Extent {
  lo: number;
  hi: number;
  name: string;
  title: string;
  /** Offsets from lo worth zooming to (ends of small parts). */
  bounds: number[];
}

export interface Lens {
  lo: number;
  hi: number;
  title: string;
}

/** What holds pfn: for tooltips. */
export function ownerOfPfn(s: Snapshot, pfn: number): string {
  const p = pfn * 4096;
  for (const ns of s.namespaces) if (p >= ns.start && p < ns.start + ns.raw) return `${ns.dev}${ns.map ? `, map=${ns.map}` : ''}`;
  for (const d of s.devices) if (d.kind === 'raw' && p >= d.start && p <= d.end) return d.name;
  for (const e of s.e820) if (p >= e.start && p < e.start + e.size) return e.type;
  return 'no memory';
}

function poolOf(d: DeviceView): { start: number; next: number; end: number; reserveStart: number } | null {
  const a = d.altmap;
  if (!a) return null;
  return { reserveStart: a.basePfn * 4096, start: (a.basePfn + a.reserve) * 4096, next: a.nextPfn * 4096, end: (a.basePfn + a.reserve + a.free) * 4096 };
}

function memmapBlocks(s: Snapshot, device: string): VmemmapRun[] {
  return s.vmemmap.filter((r) => r.target === 'device' && r.device === device);
}

function runBytes(r: VmemmapRun): number {
  return r.pageSize === MiB2 ? r.blocks * MiB2 : 4096;
}

function range(lo: number, hi: number): string {
  return `${hex(lo)}–${hex(hi - 1)} (${fmtSize(hi - lo)})`;
}

export function buildSegments(s: Snapshot, colorOf: (dev: string) => string): Seg[] {
  const segs: Seg[] = [];
  for (const e of s.e820) {
    const lo = e.start;
    const hi = e.start + e.size;
    if (e.type === 'System RAM') segs.push({ lo, hi, fill: COLORS.ram, label: 'System RAM', title: `System RAM ${range(lo, hi)}` });
    else if (e.type === 'Persistent Memory') segs.push({ lo, hi, fill: COLORS.pmem, label: 'Persistent Memory', title: `Persistent Memory (e820 type 12) ${range(lo, hi)}: unclaimed` });
    else segs.push({ lo, hi, fill: COLORS.e820Reserved, label: 'Reserved', title: `Reserved ${range(lo, hi)}`, dark: true });
  }
  // struct pages that live in DRAM: the boot memmap and every map=mem / altmap-less mapping
  for (const r of s.vmemmap) {
    if (r.target !== 'dram') continue;
    const owner = ownerOfPfn(s, r.firstPfn);
    segs.push({ lo: r.phys, hi: r.phys + runBytes(r), fill: COLORS.dram, label: 'memmap', title: `memmap in DRAM ${range(r.phys, r.phys + runBytes(r))}: the struct pages of pfns ${hex(r.firstPfn)}–${hex(r.endPfn - 1)} (${owner})`, dark: true });
  }
  const pool = (d: DeviceView, color: string) => {
    const p = poolOf(d);
    if (!p) return;
    const a = d.altmap!;
    segs.push({ lo: p.start, hi: p.end, fill: pale(color, 0.72), label: 'altmap pool', title: `${d.name}'s altmap pool ${range(p.start, p.end)}: free ${a.free} pages, nr_free ${a.nrFree}` });
    if (p.next > p.start) segs.push({ lo: p.start, hi: p.next, fill: COLORS.pad, label: 'align pad', title: `alignment padding in ${d.name}'s pool: ${a.align} pages skipped so that every 2 MiB memmap block is naturally aligned` });
    for (const r of memmapBlocks(s, d.name)) {
      const hi = r.phys + runBytes(r);
      segs.push({ lo: r.phys, hi, fill: color, label: 'memmap', title: `memmap on the device ${range(r.phys, hi)}: ${r.blocks} × 2 MiB of struct pages for pfns ${hex(r.firstPfn)}–${hex(r.endPfn - 1)} (${ownerOfPfn(s, r.firstPfn)})`, dark: true });
    }
  };
  for (const ns of s.namespaces) {
    const d = s.devices.find((x) => x.name === ns.device);
    const color = ns.device ? colorOf(ns.device) : COLORS.other;
    const end = ns.start + ns.raw;
    const dataStart = ns.dataPfn * 4096;
    const dataEnd = end - ns.endTrunc;
    const who = `${ns.dev} (${ns.mode}${ns.map ? `, map=${ns.map}` : ''})`;
    if (ns.mode === 'raw') {
      segs.push({ lo: ns.start, hi: end, fill: COLORS.data, label: `${ns.dev} data`, title: `${who}: ${range(ns.start, end)}` });
      continue;
    }
    const s0 = ns.start + ns.startPad;
    if (ns.startPad) segs.push({ lo: ns.start, hi: s0, fill: COLORS.trunc, label: 'start pad', title: `${who}: start pad ${range(ns.start, s0)} (skipped to a section boundary)` });
    if (dataStart > s0 + 8192) segs.push({ lo: s0 + 8192, hi: dataStart, fill: COLORS.dataoff, label: 'dataoff', title: `${who}: the rest of dataoff ${range(s0 + 8192, dataStart)}, kept so that the data starts aligned` });
    if (d) pool(d, color);
    segs.push({ lo: s0, hi: s0 + 4096, fill: COLORS.reserved, label: 'reserved', title: `${who}: the first 4 KiB, left alone (labels, partition tables)` });
    segs.push({ lo: s0 + 4096, hi: s0 + 8192, fill: COLORS.info, label: 'info block', title: `${who}: the pfn info block (nd_pfn_sb) at ${hex(s0 + 4096)}: dataoff ${ns.offset}, npfns ${ns.npfns}, mode ${ns.map === 'dev' ? 'PFN_MODE_PMEM' : 'PFN_MODE_RAM'}`, dark: true });
    segs.push({ lo: dataStart, hi: dataEnd, fill: COLORS.data, label: `${ns.dev} data`, title: `${who}: data ${range(dataStart, dataEnd)}, from pfn ${hex(ns.dataPfn)}; ndctl size ${ns.size}` });
    if (ns.endTrunc) segs.push({ lo: dataEnd, hi: end, fill: COLORS.trunc, label: 'end trunc', title: `${who}: end truncation ${range(dataEnd, end)}` });
  }
  for (const d of s.devices) {
    if (d.kind !== 'raw') continue;
    const color = colorOf(d.name);
    segs.push({ lo: d.start, hi: d.end + 1, fill: COLORS.rawMem, label: d.name, title: `${d.name}: devm_memremap_pages ${range(d.start, d.end + 1)}${d.altmap ? '' : ', no altmap (memmap in DRAM)'}` });
    const p = poolOf(d);
    if (p && p.start > p.reserveStart) segs.push({ lo: p.reserveStart, hi: p.start, fill: COLORS.reserved, label: 'reserve', title: `${d.name}'s altmap reserve: ${d.altmap!.reserve} pages from base_pfn ${hex(d.altmap!.basePfn)}` });
    pool(d, color);
  }
  return segs;
}

function extentOf(s: Snapshot, sel: Selection): Extent | null {
  if (sel.kind === 'ram') {
    const ram = s.e820.filter((e) => e.type === 'System RAM');
    if (!ram.length) return null;
    const lo = Math.min(...ram.map((e) => e.start));
    const hi = Math.max(...ram.map((e) => e.start + e.size));
    const bounds = s.vmemmap.filter((r) => r.target === 'dram').map((r) => r.phys + runBytes(r) - lo);
    return { lo, hi, name: 'System RAM', title: 'System RAM', bounds };
  }
  if (sel.kind === 'region') {
    const e = s.e820.filter((x) => x.type === 'Persistent Memory')[sel.index];
    return e ? { lo: e.start, hi: e.start + e.size, name: `region${sel.index}`, title: `region${sel.index} — Persistent Memory`, bounds: [] } : null;
  }
  if (sel.kind === 'ns') {
    const ns = s.namespaces.find((n) => n.dev === sel.dev);
    if (!ns) return null;
    const lo = ns.start;
    const bounds: number[] = [];
    if (ns.mode !== 'raw') {
      bounds.push(ns.startPad, ns.startPad + 4096, ns.startPad + 8192, ns.dataPfn * 4096 - lo);
      const d = s.devices.find((x) => x.name === ns.device);
      if (d) deviceBounds(s, d, lo, bounds);
    }
    return { lo, hi: lo + ns.raw, name: ns.dev, title: `${ns.dev} — ${ns.mode}${ns.map ? `, map=${ns.map}` : ''}${ns.device ? ` (${ns.device})` : ''}`, bounds };
  }
  const d = s.devices.find((x) => x.name === sel.name);
  if (!d) return null;
  const bounds: number[] = [];
  deviceBounds(s, d, d.start, bounds);
  return { lo: d.start, hi: d.end + 1, name: d.name, title: `${d.name} — devm_memremap_pages${d.altmap ? ' with an altmap' : ''}`, bounds };
}

function deviceBounds(s: Snapshot, d: DeviceView, lo: number, out: number[]): void {
  const p = poolOf(d);
  if (!p) return;
  out.push(p.start - lo, p.next - lo, p.end - lo);
  const blocks = memmapBlocks(s, d.name);
  if (blocks.length) out.push(blocks[0].phys - lo);
}

/** The painted result of segs in order: disjoint pieces, each showing the top-most segment there. */
export function flatten(segs: Seg[]): Array<Seg & { piece: true }> {
  const cuts = [...new Set(segs.flatMap((g) => [g.lo, g.hi]))].sort((a, b) => a - b);
  const out: Array<Seg & { piece: true }> = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const lo = cuts[i];
    const hi = cuts[i + 1];
    let top: Seg | null = null;
    for (let j = segs.length - 1; j >= 0; j--) {
      if (segs[j].lo <= lo && segs[j].hi >= hi) {
        top = segs[j];
        break;
      }
    }
    if (!top) continue;
    const prev = out[out.length - 1];
    if (prev && prev.hi === lo && prev.title === top.title && prev.fill === top.fill) prev.hi = hi;
    else out.push({ ...top, lo, hi, piece: true });
  }
  return out;
}

export function lenses(s: Snapshot, sel: Selection | null): Lens[] {
  const top = Math.max(...s.e820.map((e) => e.start + e.size));
  const out: Lens[] = [{ lo: 0, hi: top, title: 'Physical address space' }];
  const ext = sel && extentOf(s, sel);
  if (!ext) return out;
  let L = ext.hi - ext.lo;
  if (L < top * 0.5) out.push({ lo: ext.lo, hi: ext.hi, title: ext.title });
  while (out.length < 5) {
    const cands = ext.bounds.filter((b) => b > 0 && b <= L / 6);
    if (!cands.length) break;
    // a round window a little past the part's end
    const b = Math.max(...cands) * 1.1;
    const step = 2 ** Math.floor(Math.log2(b)) / 8;
    L = Math.ceil(b / step) * step;
    out.push({ lo: ext.lo, hi: ext.lo + L, title: `first ${fmtSize(L)} of ${ext.name}` });
  }
  return out;
}

export interface Geometry {
  width: number;
  gutter: number;
}

const ROW = { caption: 16, bar: 28, gap: 2, strip: 12, axis: 13, between: 16 };
const LENS_H = ROW.caption + ROW.bar + ROW.gap + ROW.strip + ROW.axis;

function magnification(top: number, l: Lens): string {
  const m = top / (l.hi - l.lo);
  if (m < 1.5) return '×1';
  return `×${m >= 1e4 ? m.toExponential(1).replace('e+', 'e') : Math.round(m).toLocaleString('en-US')}`;
}

export interface Markers {
  /** The pfn (as a physical address) whose struct page is walked, or the address a __va walk names. */
  page: number | null;
  /** Where the walked address lands: the struct page's own location. */
  lands: number | null;
}

/** The whole map as one SVG string. */
export function renderPhysmap(s: Snapshot, ls: Lens[], colorOf: (dev: string) => string, g: Geometry, marks: Markers): string {
  const segs = flatten(buildSegments(s, colorOf));
  const W = g.width;
  const G = g.gutter;
  const top = ls[0].hi - ls[0].lo;
  const parts: string[] = [];
  const H = ls.length * LENS_H + (ls.length - 1) * ROW.between + 2;
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="physical address map">`);
  parts.push(`<defs>
    <pattern id="hatch-pmem" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${COLORS.pmemSolid}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#cfd4dc" stroke-width="2.5"/></pattern>
    <pattern id="hatch-pad" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><rect width="5" height="5" fill="#fbeec2"/><line x1="0" y1="0" x2="0" y2="5" stroke="${COLORS.padSolid}" stroke-width="2.6"/></pattern>
  </defs>`);
  const yOf = (i: number) => i * (LENS_H + ROW.between);
  ls.forEach((l, i) => {
    const y0 = yOf(i);
    const yBar = y0 + ROW.caption;
    const yStrip = yBar + ROW.bar + ROW.gap;
    const span = l.hi - l.lo;
    const x = (p: number) => G + ((p - l.lo) / span) * (W - G);
    const clampX = (p: number) => Math.max(G, Math.min(W, x(p)));
    // the connector from the parent's window
    if (i > 0) {
      const p = ls[i - 1];
      const px = (q: number) => G + ((q - p.lo) / (p.hi - p.lo)) * (W - G);
      const a = Math.max(G, px(l.lo));
      const b = Math.max(a + 1.5, Math.min(W, px(l.hi)));
      const yp = yOf(i - 1) + ROW.caption + ROW.bar + ROW.gap + ROW.strip;
      parts.push(`<polygon points="${a},${yp} ${b},${yp} ${W},${yBar} ${G},${yBar}" fill="#dfe5ef" fill-opacity="0.55" stroke="#b7c2d3" stroke-width="0.8"/>`);
      const ypb = yOf(i - 1) + ROW.caption;
      parts.push(`<rect x="${a}" y="${ypb - 1}" width="${b - a}" height="${ROW.bar + ROW.gap + ROW.strip + 2}" fill="none" stroke="#1d2433" stroke-width="1.4"/>`);
    }
    parts.push(`<g data-lens="${i}" data-lo="${l.lo}" data-hi="${l.hi}">`);
    parts.push(`<text x="${G}" y="${y0 + 11.5}" font-size="12" font-weight="600" fill="#1d2433">${escapeHtml(l.title)}</text>`);
    parts.push(`<text x="${W}" y="${y0 + 11.5}" font-size="11" text-anchor="end" fill="#5f6b7a">${hex(l.lo)} – ${hex(l.hi - 1)} · ${fmtSize(span)} · ${magnification(top, l)}</text>`);
    parts.push(`<text x="${G - 6}" y="${yBar + ROW.bar / 2 + 4}" font-size="10.5" text-anchor="end" fill="#5f6b7a">phys</text>`);
    parts.push(`<text x="${G - 6}" y="${yStrip + ROW.strip - 2}" font-size="10.5" text-anchor="end" fill="#5f6b7a">vmemmap</text>`);
    // the bar: background (a hole in the e820 map), then segments in paint order
    parts.push(`<rect x="${G}" y="${yBar}" width="${W - G}" height="${ROW.bar}" fill="#ffffff" stroke="#c6ccd6" stroke-width="0.8"/>`);
    const labels: string[] = [];
    for (const sg of segs) {
      if (sg.hi <= l.lo || sg.lo >= l.hi) continue;
      const x0 = clampX(sg.lo);
      const x1 = clampX(sg.hi);
      const w = Math.max(x1 - x0, 1);
      parts.push(`<rect x="${x0.toFixed(2)}" y="${yBar}" width="${w.toFixed(2)}" height="${ROW.bar}" fill="${sg.fill}"><title>${escapeHtml(sg.title)}</title></rect>`);
      const text = sg.label;
      if (w > text.length * 6.2 + 10) labels.push(`<text x="${(x0 + w / 2).toFixed(1)}" y="${yBar + ROW.bar / 2 + 4}" font-size="11" text-anchor="middle" fill="${sg.dark ? '#ffffff' : '#1d2433'}" pointer-events="none">${escapeHtml(text)}</text>`);
    }
    parts.push(...labels);
    // the vmemmap strip, same x scale: the struct pages of the pfns above
    parts.push(`<rect x="${G}" y="${yStrip}" width="${W - G}" height="${ROW.strip}" fill="#f3f4f7" stroke="#d6dae1" stroke-width="0.6"/>`);
    const blockPx = (SECTION / span) * (W - G);
    for (const r of s.vmemmap) {
      if (r.target === 'unmapped') continue;
      const lo = r.firstPfn * 4096;
      const hi = r.endPfn * 4096;
      if (hi <= l.lo || lo >= l.hi) continue;
      const x0 = clampX(lo);
      const w = Math.max(clampX(hi) - x0, 1);
      const fill = r.target === 'dram' ? COLORS.dram : r.target === 'device' ? colorOf(r.device!) : COLORS.other;
      const where = r.target === 'dram' ? 'DRAM' : r.target === 'device' ? `${r.device} (on the device)` : 'other memory';
      const kind = r.pageSize === MiB2 ? `${r.blocks} × 2 MiB PMD mapping${r.blocks > 1 ? 's' : ''}` : `${r.blocks} block${r.blocks > 1 ? 's' : ''} of 4 KiB PTE mappings`;
      parts.push(`<rect x="${x0.toFixed(2)}" y="${yStrip}" width="${w.toFixed(2)}" height="${ROW.strip}" fill="${fill}"${r.pageSize === MiB2 ? '' : ' fill-opacity="0.55"'}><title>${escapeHtml(`vmemmap for pfns ${hex(r.firstPfn)}–${hex(r.endPfn - 1)}: ${kind} → ${where} at ${hex(r.phys)}`)}</title></rect>`);
      if (blockPx >= 4) {
        const first = Math.max(r.firstPfn, Math.ceil(l.lo / 4096 / 32768) * 32768);
        let n = 0;
        for (let pfn = first; pfn < r.endPfn && pfn * 4096 < l.hi && n < 600; pfn += 32768, n++) {
          const xx = x(pfn * 4096);
          if (xx > G + 0.5) parts.push(`<line x1="${xx.toFixed(2)}" y1="${yStrip}" x2="${xx.toFixed(2)}" y2="${yStrip + ROW.strip}" stroke="#ffffff" stroke-width="${blockPx >= 12 ? 1.2 : 0.7}"/>`);
        }
      }
    }
    // the walk's markers: the page (red, from above) and where its struct page is (black, from below)
    if (marks.lands !== null && marks.lands >= l.lo && marks.lands < l.hi) {
      const xx = x(marks.lands);
      const yb = yBar + ROW.bar;
      parts.push(`<g pointer-events="none"><line x1="${xx}" y1="${yBar}" x2="${xx}" y2="${yb}" stroke="#111" stroke-width="1.6"/><polygon points="${xx - 5},${yb} ${xx + 5},${yb} ${xx},${yb - 8}" fill="#111" stroke="#fff" stroke-width="0.8"/></g>`);
    }
    if (marks.page !== null && marks.page >= l.lo && marks.page < l.hi) {
      const xx = x(marks.page);
      parts.push(`<g pointer-events="none"><line x1="${xx}" y1="${yBar}" x2="${xx}" y2="${yStrip + ROW.strip}" stroke="#d7261e" stroke-width="1.6"/><polygon points="${xx - 5},${yBar} ${xx + 5},${yBar} ${xx},${yBar + 8}" fill="#d7261e" stroke="#fff" stroke-width="0.8"/></g>`);
    }
    // axis
    parts.push(`<text x="${G}" y="${yStrip + ROW.strip + 11}" font-size="10" fill="#7a8594" class="mono">${hex(l.lo)}</text>`);
    parts.push(`<text x="${W}" y="${yStrip + ROW.strip + 11}" font-size="10" fill="#7a8594" text-anchor="end">${hex(l.hi)}</text>`);
    // the hit area: clicks pick an address
    parts.push(`<rect class="hit" x="${G}" y="${yBar}" width="${W - G}" height="${ROW.bar + ROW.gap + ROW.strip}" fill="transparent"/>`);
    parts.push(`</g>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** The physical address under a click: lens index and address, or null. */
export function hitTest(svg: SVGSVGElement, ev: MouseEvent, gutter: number): { lens: number; phys: number } | null {
  const g = (ev.target as Element).closest('g[data-lens]');
  if (!g) return null;
  const rect = svg.getBoundingClientRect();
  const scale = svg.viewBox.baseVal.width / rect.width || 1;
  const xPx = (ev.clientX - rect.left) * scale;
  const W = svg.viewBox.baseVal.width;
  if (xPx < gutter) return null;
  const lo = Number(g.getAttribute('data-lo'));
  const hi = Number(g.getAttribute('data-hi'));
  const phys = lo + ((xPx - gutter) / (W - gutter)) * (hi - lo);
  return { lens: Number(g.getAttribute('data-lens')), phys: Math.floor(phys / 4096) * 4096 };
}

export function legendHtml(s: Snapshot, colorOf: (dev: string) => string): string {
  const sw = (fill: string, label: string, style = '') => `<span><i style="background:${fill};${style}"></i>${escapeHtml(label)}</span>`;
  const items = [
    '<b>phys:</b>',
    sw(COLORS.ram, 'System RAM'),
    sw(COLORS.dram, 'memmap in DRAM'),
    sw(COLORS.pmemSolid, 'Persistent Memory (unclaimed)', 'background-image:repeating-linear-gradient(45deg,#cfd4dc 0 2px,transparent 2px 5px)'),
    sw(COLORS.reserved, 'reserved 4K'),
    sw(COLORS.info, 'info block'),
    sw('#fbeec2', 'altmap alignment padding', `background-image:repeating-linear-gradient(-45deg,${COLORS.padSolid} 0 2px,transparent 2px 5px)`),
    sw(COLORS.dataoff, 'rest of dataoff'),
    sw(COLORS.data, 'data'),
    sw(COLORS.rawMem, 'raw device memory'),
  ];
  const devs = s.devices.filter((d) => d.memmapPages !== null || d.altmap);
  for (const d of devs) {
    if (d.altmap) {
      items.push(sw(colorOf(d.name), `memmap on ${d.name}`));
      items.push(sw(pale(colorOf(d.name), 0.72), `${d.name} pool, unused`));
    }
  }
  items.push('<b>vmemmap → </b>', sw(COLORS.dram, 'DRAM'));
  for (const d of devs) if (d.altmap) items.push(sw(colorOf(d.name), d.name));
  items.push('<span><i style="background:#d7261e;width:4px"></i>picked page</span>', '<span><i style="background:#111;width:4px"></i>where its struct page is</span>');
  const guide = `<p class="guide">Read down: the struct pages of the pfns in a bar are in the vmemmap strip right under it, and the strip's colour says where they physically are — <b style="color:${COLORS.dram}">blue: in DRAM</b> (the boot memmap, <b>map=mem</b>), a device's colour: <b>on that device</b>, in its altmap pool (<b>map=dev</b>). Click a bar to walk the page tables to a struct page; hover for details.</p>`;
  return items.join('') + guide;
}

export type { NamespaceView };
