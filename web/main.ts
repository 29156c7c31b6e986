/**
 * The demo page: forms post actions to the worker (web/worker.ts), which runs them on the library's
 * Machine and answers with a Snapshot; everything below renders that snapshot. No simulator logic here.
 */
import { STRERROR, escapeHtml, fmtSize, hex, hex16, num, parseSize } from './format.ts';
import { COLORS, DEVICE_COLORS, hitTest, legendHtml, lenses, pale, renderPhysmap, selectionKey, type Selection } from './physmap.ts';
import type { Action, BenchResult, ErrorInfo, PlanResult, Request, Response, Snapshot, WalkView } from './protocol.ts';

const $ = <T extends Element = HTMLElement>(sel: string): T => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`missing ${sel}`);
  return el;
};

// ------------------------------------------------------------------ worker

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let nextId = 1;
const waiting = new Map<number, { action: Action; resolve: (r: Response) => void }>();
let pending = 0;
let done = 0;

worker.onmessage = (e: MessageEvent<Response>) => {
  const w = waiting.get(e.data.id);
  waiting.delete(e.data.id);
  pending--;
  done++;
  w?.resolve(e.data);
};
worker.onerror = (e) => {
  showFatal(`the worker failed: ${e.message}`);
};

function send(action: Action): Promise<Response> {
  const id = nextId++;
  pending++;
  stallMax = 0;
  setBusy(action);
  return new Promise((resolve) => {
    waiting.set(id, { action, resolve });
    worker.postMessage({ id, action } satisfies Request);
  });
}

// ------------------------------------------------------------------ state

let snap: Snapshot | null = null;
let selection: Selection | null = null;
let lastError: { op: string; error: ErrorInfo } | null = null;
let dmesgLines: string[] = [];
let dmesgNewFrom = 0;
let lastOp = '';
let lastAction: Action['op'] = 'boot';
let lastMs = 0;
let bench: BenchResult | null = null;
let planned: PlanResult | null = null;
const colorIdx = new Map<string, number>();

function colorOf(dev: string): string {
  let i = colorIdx.get(dev);
  if (i === undefined) {
    i = colorIdx.size;
    colorIdx.set(dev, i);
  }
  return DEVICE_COLORS[i % DEVICE_COLORS.length];
}

// the main thread's longest stall while the worker is busy (it should stay near a frame)
let stallMax = 0;
let lastTick = performance.now();
setInterval(() => {
  const now = performance.now();
  const late = now - lastTick - 50;
  lastTick = now;
  if (pending > 0 && late > stallMax) stallMax = late;
}, 50);

const OP_TEXT: Record<Action['op'], string> = {
  boot: 'boot',
  createNamespace: 'ndctl create-namespace',
  destroyNamespace: 'ndctl destroy-namespace',
  memremap: 'devm_memremap_pages',
  unbind: 'unbind',
  setBackend: 'switch backend',
  pick: 'walk',
  pickVa: 'walk',
  bench: 'benchmark',
  plan: 'capacity plan',
};

function describe(a: Action): string {
  switch (a.op) {
    case 'createNamespace':
      return `ndctl create-namespace -m ${a.mode} -M ${a.map}${a.size ? ` -s ${a.size}` : ''} -a ${a.align}`;
    case 'destroyNamespace':
      return `ndctl destroy-namespace ${a.dev}`;
    case 'memremap':
      return `devm_memremap_pages(${a.device}, ${a.start} +${a.size}${a.altmap ? ', altmap' : ''})`;
    case 'unbind':
      return `unbind ${a.device}`;
    case 'boot':
      return `boot ${a.dram} DRAM + ${a.pmem} PMem, ${a.kernel}`;
    case 'plan':
      return `altmap plan ${a.usable.trim() ? `--usable ${a.usable.trim()}` : `--size ${a.size.trim()}`} --kernel ${a.kernel}${a.dram.trim() ? ` --dram-size ${a.dram.trim()}` : ''}`;
    default:
      return OP_TEXT[a.op];
  }
}

function setBusy(a: Action): void {
  const st = $('[data-testid="status"]');
  st.dataset.state = snap ? 'busy' : 'booting';
  st.textContent = `${describe(a)} …`;
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[type="submit"], #bench-run, .items button')) b.disabled = true;
}

function clearBusy(): void {
  if (pending > 0) return;
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[type="submit"], #bench-run, .items button')) b.disabled = false;
}

async function act(action: Action): Promise<Response> {
  const res = await send(action);
  lastOp = describe(action);
  lastAction = action.op;
  lastMs = res.ms;
  if (!res.ok && res.error) lastError = { op: describe(action), error: res.error };
  else if (action.op !== 'pick' && action.op !== 'pickVa') lastError = null;
  if (res.snapshot) accept(res.snapshot, action, res);
  if (action.op === 'bench' && res.ok) bench = res.result as BenchResult;
  if (action.op === 'plan' && res.ok) planned = res.result as PlanResult;
  render();
  clearBusy();
  return res;
}

function accept(s: Snapshot, action: Action, res: Response): void {
  const rebooted = action.op === 'boot' && res.ok;
  if (rebooted) {
    colorIdx.clear();
    selection = null;
  }
  if (s.dmesgFrom === 0) {
    // a boot starts a new log; a backend switch replays the same one
    dmesgNewFrom = rebooted ? 0 : Math.min(dmesgLines.length, s.dmesg.length);
    dmesgLines = s.dmesg;
  } else {
    dmesgNewFrom = dmesgLines.length;
    dmesgLines = dmesgLines.concat(s.dmesg);
  }
  snap = s;
  // devices get their colours in the order they appear
  for (const d of s.devices) colorOf(d.name);
  if (res.ok && action.op === 'createNamespace') selection = { kind: 'ns', dev: (res.result as { dev: string }).dev };
  if (res.ok && action.op === 'memremap') selection = { kind: 'dev', name: action.device };
  if (!selectionValid(s, selection)) selection = defaultSelection(s);
}

function selectionValid(s: Snapshot, sel: Selection | null): boolean {
  if (!sel) return false;
  if (sel.kind === 'ram') return true;
  if (sel.kind === 'region') return s.e820.filter((e) => e.type === 'Persistent Memory').length > sel.index;
  if (sel.kind === 'ns') return s.namespaces.some((n) => n.dev === sel.dev);
  return s.devices.some((d) => d.name === sel.name);
}

function defaultSelection(s: Snapshot): Selection {
  const last = s.namespaces[s.namespaces.length - 1];
  if (last) return { kind: 'ns', dev: last.dev };
  const raw = s.devices.filter((d) => d.kind === 'raw');
  if (raw.length) return { kind: 'dev', name: raw[raw.length - 1].name };
  return s.e820.some((e) => e.type === 'Persistent Memory') ? { kind: 'region', index: 0 } : { kind: 'ram' };
}

function showFatal(msg: string): void {
  const el = $('#error');
  el.hidden = false;
  el.innerHTML = `<div><span class="code">internal error</span></div><pre>${escapeHtml(msg)}</pre>`;
  const st = $('[data-testid="status"]');
  st.dataset.state = 'error';
  st.textContent = msg;
}

// ------------------------------------------------------------------ rendering

/** A number the end-to-end test reads: the raw value in data-value, the formatted one as text. */
function val(testid: string, value: number | bigint | string, text?: string): string {
  return `<span class="num" data-testid="${testid}" data-value="${escapeHtml(String(value))}">${escapeHtml(text ?? (typeof value === 'string' ? value : num(value)))}</span>`;
}

function render(): void {
  renderStatus();
  renderError();
  if (!snap) return;
  renderSummary(snap);
  renderLists(snap);
  renderChips(snap);
  renderMap(snap);
  renderAltmaps(snap);
  renderDram(snap);
  renderWalk(snap.walk);
  renderDmesg();
  renderBench();
  renderPlan();
}

function renderStatus(): void {
  const st = $('[data-testid="status"]');
  st.dataset.done = String(done);
  if (pending > 0) return;
  if (!snap) {
    st.dataset.state = 'error';
    return;
  }
  st.dataset.state = 'ready';
  const backend = snap.backend === 'wasm' ? 'Wasm core' : 'TypeScript twin';
  const replay = snap.replayed !== null ? ` · replayed ${snap.replayed} action${snap.replayed === 1 ? '' : 's'}` : '';
  st.innerHTML = `${backend} · ${escapeHtml(OP_TEXT[lastAction] ?? 'ready')} ${lastMs.toFixed(1)} ms${replay} · UI stall <span data-testid="stall" data-value="${Math.round(stallMax)}">${Math.round(stallMax)} ms</span>`;
  st.title = lastOp;
  for (const b of document.querySelectorAll<HTMLButtonElement>('.backend button')) b.setAttribute('aria-checked', String(b.dataset.backend === snap.backend));
}

function renderError(): void {
  const el = $('#error');
  if (!lastError) {
    el.hidden = true;
    el.innerHTML = '';
    return;
  }
  const e = lastError.error;
  const errno = e.errno !== null ? `${e.errno < 0 ? '-' : ''}${e.code}` : e.code;
  el.hidden = false;
  el.innerHTML = `<div><span class="code" data-testid="error-code" data-value="${escapeHtml(e.code)}" data-errno="${e.errno ?? ''}">${escapeHtml(errno)}${e.errno !== null ? ` (${e.errno})` : ''}</span> ${escapeHtml(STRERROR[e.code] ?? '')} — <span class="op">${escapeHtml(lastError.op)}</span></div>
    <pre data-testid="error-message">${escapeHtml(e.stderr ? e.stderr.trimEnd() : e.message)}</pre>
    ${e.stderr ? `<pre>${escapeHtml(e.message)}</pre>` : ''}
    <div class="kept">${e.name === 'MachinePoisonedError' ? 'The machine is stopped: boot a new one.' : 'What the kernel printed is in dmesg below.'}</div>`;
}

function renderSummary(s: Snapshot): void {
  const ram = s.e820.filter((e) => e.type === 'System RAM').reduce((a, e) => a + e.size, 0);
  const pm = s.e820.filter((e) => e.type === 'Persistent Memory');
  $('[data-testid="machine-summary"]').innerHTML =
    `Linux ${escapeHtml(s.release)} · ${fmtSize(ram)} DRAM · ${pm.map((e) => `${fmtSize(e.size)} PMem at ${hex(e.start)}`).join(', ') || 'no PMem'} · ${s.layout.paging}-level paging · vmemmap at <code>${hex(s.layout.vmemmapStart)}</code>`;
  const p = $('#poisoned');
  p.hidden = !s.poisoned;
  p.textContent = s.poisoned ? `Kernel BUG: ${s.poisoned}. The machine is stopped (inspection still works); boot a new one.` : '';
}

function renderLists(s: Snapshot): void {
  const nsList = $('#ns-list');
  const key = selectionKey(selection);
  nsList.innerHTML =
    s.namespaces
      .map((ns) => {
        const onDevice = ns.map === 'dev';
        const color = ns.device ? colorOf(ns.device) : COLORS.other;
        const badge = ns.mode === 'raw' ? '' : onDevice ? `<span class="badge" style="background:${color}">memmap on device</span>` : `<span class="badge" style="background:${COLORS.dram}">memmap in DRAM</span>`;
        return `<li data-testid="ns-${ns.dev}" data-select="ns:${ns.dev}" class="${key === ns.dev ? 'selected' : ''}">
          <span class="dot" style="background:${color}"></span>
          <div><div class="name">${ns.dev} ${badge}</div>
          <div class="meta">${ns.mode}${ns.map ? ` · map=${ns.map}` : ''} · align ${fmtSize(ns.align)} · ${val(`ns-${ns.dev}-size`, ns.size, fmtSize(ns.size))} · ${ns.device ?? ''}${ns.blockdev ? ` · /dev/${ns.blockdev}` : ''}</div></div>
          <button type="button" class="small" data-destroy="${ns.dev}" data-testid="destroy-${ns.dev}">destroy</button></li>`;
      })
      .join('') || '<li class="empty">No namespaces: the region is one unclaimed range.</li>';
  const devList = $('#dev-list');
  const raw = s.devices.filter((d) => d.kind === 'raw');
  devList.innerHTML =
    raw
      .map(
        (d) => `<li data-testid="dev-${d.name}" data-select="dev:${d.name}" class="${key === d.name ? 'selected' : ''}">
          <span class="dot" style="background:${colorOf(d.name)}"></span>
          <div><div class="name">${d.name} ${d.altmap ? `<span class="badge" style="background:${colorOf(d.name)}">altmap</span>` : `<span class="badge" style="background:${COLORS.dram}">memmap in DRAM</span>`}</div>
          <div class="meta">${hex(d.start)}–${hex(d.end)} · ${fmtSize(d.end + 1 - d.start)}${d.memmapPages === null ? ' · no mapping (System RAM)' : ''}</div></div>
          <button type="button" class="small" data-unbind="${d.name}" data-testid="unbind-${d.name}">unbind</button></li>`,
      )
      .join('') || '<li class="empty">No raw mappings.</li>';
  suggestRemap(s);
}

function renderChips(s: Snapshot): void {
  const key = selectionKey(selection);
  const chips: Array<[string, string]> = [];
  if (s.e820.some((e) => e.type === 'System RAM')) chips.push(['ram', 'System RAM']);
  s.e820.filter((e) => e.type === 'Persistent Memory').forEach((_, i) => chips.push([`region:${i}`, `region${i}`]));
  for (const ns of s.namespaces) chips.push([`ns:${ns.dev}`, ns.dev]);
  for (const d of s.devices) if (d.kind === 'raw') chips.push([`dev:${d.name}`, d.name]);
  $('#zoom-chips').innerHTML =
    '<span class="label">zoom into</span>' +
    chips
      .map(([sel, label]) => {
        const k = sel === 'ram' ? 'ram' : sel.startsWith('region:') ? `region${sel.slice(7)}` : sel.slice(sel.indexOf(':') + 1);
        return `<button type="button" data-select="${sel}" data-testid="zoom-${label}" aria-pressed="${k === key}">${escapeHtml(label)}</button>`;
      })
      .join('');
}

const GUTTER = 62;

function renderMap(s: Snapshot): void {
  const host = $('#physmap');
  const width = Math.max(480, Math.floor(host.clientWidth || 900));
  const ls = lenses(s, selection);
  const w = s.walk;
  const marks = {
    page: w && w.pfn !== null ? w.pfn * 4096 : w && w.phys !== null && w.mapped ? w.phys : null,
    lands: w && w.pfn !== null && w.mapped ? w.phys : null,
  };
  host.innerHTML = renderPhysmap(s, ls, colorOf, { width, gutter: GUTTER }, marks);
  host.dataset.lenses = String(ls.length);
  $('#legend').innerHTML = legendHtml(s, colorOf);
}

function renderAltmaps(s: Snapshot): void {
  const withAltmap = s.devices.filter((d) => d.altmap);
  const host = $('#altmaps');
  if (!withAltmap.length) {
    host.innerHTML = `<p class="note" data-testid="altmaps-empty">No mapping has an altmap: every memmap is in DRAM. Create a <b>map=dev</b> namespace, or memremap a range with a hand-made altmap.</p>`;
    return;
  }
  host.innerHTML = withAltmap
    .map((d) => {
      const a = d.altmap!;
      const total = a.reserve + a.free || 1;
      const c = colorOf(d.name);
      const pct = (n: number) => `${((100 * n) / total).toFixed(3)}%`;
      const f = (field: keyof typeof a, text: string) => `<td>${val(`altmap-${d.name}-${field}`, a[field], text)}</td>`;
      return `<div class="altmap-block" data-testid="altmap-${d.name}">
        <h3><span style="color:${c}">■</span> ${d.name}<span class="meta">${d.namespace ?? 'raw memremap'} · ${d.altmapLive ? 'live' : 'freed (last values)'}</span></h3>
        <div class="poolbar" title="reserve | alignment padding | alloc (memmap) | nr_free">
          <span style="width:${pct(a.reserve)};background:${COLORS.info}"></span>
          <span style="width:${pct(Math.min(a.align, a.free))};background:${COLORS.padSolid}"></span>
          <span style="width:${pct(Math.min(a.alloc, a.free))};background:${c}"></span>
          <span style="width:${pct(a.nrFree)};background:${pale(c, 0.72)}"></span>
        </div>
        <table><tr><th>base_pfn</th><th>reserve</th><th>free</th><th>align</th><th>alloc</th><th>nr_free</th><th>next_pfn</th></tr>
        <tr>${f('basePfn', hex(a.basePfn))}${f('reserve', num(a.reserve))}${f('free', num(a.free))}${f('align', num(a.align))}${f('alloc', num(a.alloc))}${f('nrFree', num(a.nrFree))}${f('nextPfn', hex(a.nextPfn))}</tr></table>
        <p class="note">alloc ${num(a.alloc)} pages = ${fmtSize(a.alloc * 4096)} of struct pages on the device${a.align ? `; ${num(a.align)} pages (${fmtSize(a.align * 4096)}) skipped for alignment` : ''}</p>
      </div>`;
    })
    .join('');
}

const DRAM_ROWS: Array<[keyof Snapshot['stats']['dram'], string, string]> = [
  ['memmapPages', 'memmap (struct pages)', COLORS.dram],
  ['pageTablePages', 'page tables', '#6b8fc8'],
  ['directMapPages', 'direct-map tables', '#9db6dc'],
  ['slabPages', 'slab (page_map, …)', '#8a939e'],
  ['hugetlbPages', 'HugeTLB pages', '#b08d57'],
  ['freePages', 'free', '#e7ebf1'],
];

function renderDram(s: Snapshot): void {
  const d = s.stats.dram;
  const b = s.bootDram;
  const total = d.totalPages || 1;
  const delta = (k: keyof typeof d) => {
    const x = d[k] - b[k];
    return `<span class="delta ${x > 0 ? 'up' : x < 0 ? 'down' : ''}" data-testid="dram-${k}-delta" data-value="${x}">${x === 0 ? '±0' : `${x > 0 ? '+' : '−'}${num(Math.abs(x))}`} since boot</span>`;
  };
  const bar = DRAM_ROWS.map(([k, , c]) => `<span title="${k}" style="width:${((100 * d[k]) / total).toFixed(3)}%;background:${c}"></span>`).join('');
  const rows = DRAM_ROWS.map(([k, label, c]) => `<tr><td><span style="color:${c === '#e7ebf1' ? '#c6ccd6' : c}">■</span> ${label}</td><td>${val(`dram-${k}`, d[k])}</td><td class="num">${fmtSize(d[k] * 4096)}</td><td>${delta(k)}</td></tr>`).join('');
  const devs = s.devices.filter((x) => x.memmapPages !== null);
  const sum = (k: 'memmapPages' | 'dramMemmapPages' | 'altmapPages' | 'sections') => devs.reduce((a, x) => a + (x[k] ?? 0), 0);
  const devRows = devs
    .map(
      (x) => `<tr><td><span style="color:${colorOf(x.name)}">■</span> ${x.name}</td><td>${val(`dev-${x.name}-memmapPages`, x.memmapPages!)}</td><td>${val(`dev-${x.name}-dramMemmapPages`, x.dramMemmapPages!)}</td><td>${val(`dev-${x.name}-altmapPages`, x.altmapPages!)}</td><td>${val(`dev-${x.name}-sections`, x.sections!)}</td></tr>`,
    )
    .join('');
  $('#dram').innerHTML = `<div class="drambar">${bar}</div>
    <table><tr><th>DRAM, ${val('dram-totalPages', d.totalPages)} pages</th><th>pages</th><th>size</th><th></th></tr>${rows}</table>
    <h3 style="margin-top:12px">Memmap per device</h3>
    <table><tr><th>device</th><th>memmap pages</th><th>in DRAM</th><th>on device</th><th>sections</th></tr>${devRows}
    <tr><td><b>total</b></td><td>${val('dev-total-memmapPages', sum('memmapPages'))}</td><td>${val('dev-total-dramMemmapPages', sum('dramMemmapPages'))}</td><td>${val('dev-total-altmapPages', sum('altmapPages'))}</td><td>${val('dev-total-sections', sum('sections'))}</td></tr></table>
    <p class="note">The simulator's own memory for all this: ${val('host-backedBytes', s.stats.host.backedBytes, fmtSize(s.stats.host.backedBytes))} backed (frames are backed on first write; a memmap costs O(extents)). vmemmap map above: ${val('vmemmap-walks', s.vmemmapWalks)} page-table walks.</p>`;
}

const FLAG_BITS: Array<[bigint, string]> = [
  [1n, 'P'],
  [2n, 'RW'],
  [4n, 'US'],
  [8n, 'PWT'],
  [16n, 'PCD'],
  [32n, 'A'],
  [64n, 'D'],
  [128n, 'PS'],
  [256n, 'G'],
  [1n << 63n, 'NX'],
];

function renderWalk(w: WalkView | null): void {
  const host = $('#walk');
  const input = $<HTMLInputElement>('[data-testid="walk-va"]');
  if (w && w.levels.length && document.activeElement !== input) input.value = hex(w.va);
  if (!w) {
    host.innerHTML = '<p class="note">Click the map, or type an address.</p>';
    return;
  }
  if (w.error && !w.levels.length) {
    host.innerHTML = `<p class="note" data-testid="walk-error">${escapeHtml(w.error)}</p>`;
    return;
  }
  const rows = w.levels
    .map((l, i) => {
      const e = BigInt.asUintN(64, l.entry);
      const present = (e & 1n) === 1n;
      const leaf = present && (l.level === 'pte' || (e & 128n) !== 0n);
      const addr = e & 0x000ffffffffff000n;
      const flags = FLAG_BITS.filter(([bit]) => (e & bit) !== 0n).map(([, n]) => n).join(' ');
      const next = !present ? '<i>not present</i>' : leaf ? `<b>${l.level === 'pte' ? '4 KiB' : l.level === 'pmd' ? '2 MiB' : '1 GiB'} page</b> at <span class="num">${hex(addr)}</span>` : `table at <span class="num">${hex(addr)}</span>`;
      return `<tr data-testid="walk-level-${i}" data-level="${l.level}" data-entry="${hex16(e)}"><td>${l.level.toUpperCase()}</td><td class="num">${hex(l.table)}</td><td class="num">${l.index}</td><td class="num">${hex16(e)}</td><td class="flags">${flags || '—'}</td><td style="text-align:left">${next}</td></tr>`;
    })
    .join('');
  let land = '';
  if (w.mapped && w.phys !== null) {
    const color = /DRAM/.test(w.target) ? COLORS.dram : snap?.devices.find((d) => w.target.startsWith(d.name)) ? colorOf(w.target.split(/[ :]/)[0]) : COLORS.other;
    land = `<div class="walk-land" data-testid="walk-result" data-phys="${w.phys}" data-page-size="${w.pageSize}"><span class="sw" style="background:${color}"></span>→ physical <b class="num">${hex(w.phys)}</b> in a ${fmtSize(w.pageSize)} page: <b>${escapeHtml(w.target)}</b></div>`;
  } else land = `<div class="walk-land" data-testid="walk-result" data-phys="">→ not mapped${w.pfn !== null ? ': this pfn has no memmap (its section is not present)' : ''}</div>`;
  const p = w.page;
  const page = p
    ? `<p class="note">struct page: zone ${p.zone ?? '—'} · ${p.reserved ? 'PG_reserved' : 'not reserved'} · _count ${p.refcount} · pgmap ${p.pgmap !== null ? `<span class="num">${hex(p.pgmap)}</span>` : '—'}${p.initialised ? '' : ' · not initialised'}</p>`
    : '';
  host.innerHTML = `<div class="walk-head"><span class="va" data-testid="walk-va-shown">${hex16(w.va)}</span> — ${escapeHtml(w.what)}</div>
    <table class="walk-table"><tr><th>level</th><th>table</th><th>index</th><th>entry</th><th>flags</th><th style="text-align:left">points to</th></tr>${rows}</table>${land}${page}`;
}

const DMESG_MAX = 3000;

function renderDmesg(): void {
  const pre = $('#dmesg');
  const from = Math.max(0, dmesgLines.length - DMESG_MAX);
  const cls = (l: string) => (/WARNING|cut here|end trace|failed to free/.test(l) ? 'warn' : /collides|failed|error|BUG|Oops|attempted|refus/i.test(l) ? 'err' : '');
  const out: string[] = [];
  if (from > 0) out.push(`<span class="more">… ${num(from)} earlier lines not shown</span>`);
  for (let i = from; i < dmesgLines.length; i++) {
    const c = [cls(dmesgLines[i]), i >= dmesgNewFrom ? 'new' : ''].filter(Boolean).join(' ');
    out.push(c ? `<span class="${c}">${escapeHtml(dmesgLines[i])}</span>` : escapeHtml(dmesgLines[i]));
  }
  pre.innerHTML = out.join('\n');
  pre.dataset.lines = String(dmesgLines.length);
  pre.scrollTop = pre.scrollHeight;
}

function renderBench(): void {
  const host = $('#bench');
  if (!bench) return;
  const rows = bench.rows
    .map((r) => `<tr data-testid="bench-${r.backend}" data-walks="${r.walks}"><td>${r.backend === 'wasm' ? 'Wasm' : 'TS twin'}</td><td class="num">${r.boot.toFixed(1)}</td><td class="num">${r.create.toFixed(1)}</td><td class="num">${r.walks.toFixed(1)}</td><td class="num">${r.walkMany.toFixed(1)}</td><td class="num">${r.destroy.toFixed(1)}</td></tr>`)
    .join('');
  const [w, t] = bench.rows;
  const ratio = (a: number, b: number) => (a > 0 ? `${(b / a).toFixed(1)}×` : '—');
  host.innerHTML = `<table class="bench-table"><tr><th>ms</th><th>boot</th><th>create</th><th>${num(w.walkCount)} walks</th><th>as one walkMany</th><th>destroy</th></tr>${rows}</table>
    <p class="note">TS twin time ÷ Wasm time: create ${ratio(w.create, t.create)}, walks ${ratio(w.walks, t.walks)}, walkMany ${ratio(w.walkMany, t.walkMany)}, destroy ${ratio(w.destroy, t.destroy)}.</p>`;
}

function renderPlan(): void {
  const host = $('#plan');
  if (!planned) return;
  const { plan, svg, quoted } = planned;
  const reverse = plan.usable !== undefined;
  const head = `<tr><th>configuration</th>${reverse ? '<th>raw</th>' : ''}<th>usable</th><th>given up</th><th>% of raw</th><th>DRAM used</th><th>% of node DRAM</th><th>best</th></tr>`;
  const rows = plan.rows
    .map((r, i) => {
      const q = quoted[i];
      const data = `data-testid="plan-row" data-label="${escapeHtml(r.label)}" data-ok="${r.ok}" data-raw="${r.raw}" data-usable="${r.usable}" data-given-up="${r.deviceGivenUp}" data-dram="${r.dram}"`;
      if (!r.ok) return `<tr ${data}><td>${escapeHtml(r.label)}</td><td colspan="${reverse ? 7 : 6}" class="fails">fails: ${escapeHtml(r.error ?? '')}</td></tr>`;
      const best = r.best.map((b) => (b === 'capacity' ? (reverse ? 'least raw' : 'capacity') : 'DRAM')).join(', ');
      return `<tr ${data}><td>${escapeHtml(r.label)}</td>${reverse ? `<td class="num" title="${r.raw} bytes">${escapeHtml(q.raw)}</td>` : ''}<td class="num" title="${r.usable} bytes">${escapeHtml(q.usable)}</td><td class="num" title="${r.deviceGivenUp} bytes">${escapeHtml(q.givenUp)}</td><td class="num">${escapeHtml(q.givenUpPercent)}</td><td class="num" title="${r.dram} bytes">${escapeHtml(q.dram)}</td><td class="num">${escapeHtml(q.dramPercent)}</td><td>${best ? `★ ${best}` : ''}</td></tr>`;
    })
    .join('');
  const what = reverse ? `the raw size for ${escapeHtml(quoted.length ? String(plan.usable) : '')} usable bytes` : `${num(plan.size!)} bytes of Persistent Memory`;
  host.innerHTML = `<p class="note" data-testid="plan-what">${what} on ${escapeHtml(plan.kernel)}, node DRAM ${num(plan.nodeDram)} bytes; each row ran on a fresh simulated machine in the worker (${lastMs.toFixed(0)} ms)</p>
    <div class="plan-scroll"><table class="plan-table" data-testid="plan-table">${head}${rows}</table></div>
    <div class="plan-chart" data-testid="plan-chart">${svg}</div>`;
}

// ------------------------------------------------------------------ raw memremap suggestions

const dirty = new Set<string>();

function suggestRemap(s: Snapshot): void {
  const f = $<HTMLFormElement>('#f-remap');
  const el = (n: string) => f.elements.namedItem(n) as HTMLInputElement;
  if (!dirty.has('start')) {
    // the first section boundary after everything mapped in the first region
    const region = s.e820.find((e) => e.type === 'Persistent Memory');
    if (region) {
      let at = region.start;
      for (const ns of s.namespaces) at = Math.max(at, ns.start + ns.raw);
      for (const d of s.devices) if (d.kind === 'raw') at = Math.max(at, d.end + 1);
      const SEC = 128 * 1024 * 1024;
      at = Math.ceil(at / SEC) * SEC;
      el('start').value = at < region.start + region.size ? hex(at) : hex(region.start);
    }
  }
  if (!dirty.has('device')) {
    let i = 0;
    while (s.devices.some((d) => d.name === `devmem${i}`)) i++;
    el('device').value = `devmem${i}`;
  }
  suggestAltmap();
}

/** A self-hosted altmap for the range: base_pfn at its start, room for the memmap of its sections plus alignment. */
function suggestAltmap(): void {
  const f = $<HTMLFormElement>('#f-remap');
  const el = (n: string) => f.elements.namedItem(n) as HTMLInputElement;
  if (dirty.has('basePfn') || dirty.has('free')) return;
  try {
    const start = parseSize(el('start').value || '0', 'start');
    const size = parseSize(el('size').value, 'size');
    const SEC = 128n << 20n;
    const sections = (start + size + SEC - 1n) / SEC - start / SEC;
    el('basePfn').value = hex(start >> 12n);
    el('free').value = String(sections * 512n + 512n);
  } catch {
    // leave the fields as they are until the inputs parse
  }
}

// ------------------------------------------------------------------ events

function formValue(f: HTMLFormElement, name: string): string {
  const el = f.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
  return el ? el.value : '';
}

$<HTMLFormElement>('#f-boot').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.currentTarget as HTMLFormElement;
  void act({ op: 'boot', dram: formValue(f, 'dram'), pmem: formValue(f, 'pmem'), kernel: formValue(f, 'kernel') as Snapshot['config']['kernel'], debug: (f.elements.namedItem('debug') as HTMLInputElement).checked });
});

$<HTMLFormElement>('#f-ns').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.currentTarget as HTMLFormElement;
  void act({ op: 'createNamespace', size: formValue(f, 'size'), mode: formValue(f, 'mode') as 'fsdax', map: formValue(f, 'map') as 'dev', align: formValue(f, 'align') });
});

const remapForm = $<HTMLFormElement>('#f-remap');
remapForm.addEventListener('input', (e) => {
  const t = e.target as HTMLInputElement;
  if (t.name && t.name !== 'useAltmap') dirty.add(t.name);
  if (t.name === 'start' || t.name === 'size') suggestAltmap();
});
remapForm.addEventListener('change', (e) => {
  const t = e.target as HTMLInputElement;
  if (t.name === 'useAltmap') {
    $<HTMLFieldSetElement>('.altmap-fields').disabled = !t.checked;
    suggestAltmap();
  }
});
remapForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const f = remapForm;
  const useAltmap = (f.elements.namedItem('useAltmap') as HTMLInputElement).checked;
  dirty.delete('start');
  dirty.delete('device');
  void act({
    op: 'memremap',
    device: formValue(f, 'device').trim(),
    start: formValue(f, 'start'),
    size: formValue(f, 'size'),
    altmap: useAltmap ? { basePfn: formValue(f, 'basePfn'), reserve: formValue(f, 'reserve'), free: formValue(f, 'free'), align: formValue(f, 'align'), alloc: formValue(f, 'alloc') } : null,
  }).then(() => {
    dirty.delete('basePfn');
    dirty.delete('free');
    if (snap) suggestRemap(snap);
  });
});

$<HTMLFormElement>('#f-walk').addEventListener('submit', (e) => {
  e.preventDefault();
  const va = formValue(e.currentTarget as HTMLFormElement, 'va').trim();
  if (va) void act({ op: 'pickVa', va });
});

function walkAs(): 'struct-page' | 'direct-map' {
  return (document.querySelector<HTMLInputElement>('input[name="as"]:checked')?.value as 'struct-page') ?? 'struct-page';
}

document.addEventListener('click', (e) => {
  const t = e.target as HTMLElement;
  const destroy = t.closest<HTMLElement>('[data-destroy]');
  if (destroy) return void act({ op: 'destroyNamespace', dev: destroy.dataset.destroy! });
  const unbind = t.closest<HTMLElement>('[data-unbind]');
  if (unbind) return void act({ op: 'unbind', device: unbind.dataset.unbind! });
  const backend = t.closest<HTMLElement>('[data-backend]');
  if (backend) return void act({ op: 'setBackend', backend: backend.dataset.backend as 'wasm' | 'ts' });
  const sel = t.closest<HTMLElement>('[data-select]');
  if (sel && snap) {
    const v = sel.dataset.select!;
    selection = v === 'ram' ? { kind: 'ram' } : v.startsWith('region:') ? { kind: 'region', index: Number(v.slice(7)) } : v.startsWith('ns:') ? { kind: 'ns', dev: v.slice(3) } : { kind: 'dev', name: v.slice(4) };
    render();
    // and walk the struct page of its first data page
    const sel2 = selection;
    const ns = sel2.kind === 'ns' ? snap.namespaces.find((n) => n.dev === sel2.dev) : undefined;
    const dev = sel2.kind === 'dev' ? snap.devices.find((d) => d.name === sel2.name) : undefined;
    const at = ns ? ns.dataPfn * 4096 : dev ? dev.start : null;
    if (at !== null) void act({ op: 'pick', phys: at, as: walkAs() });
  }
});

$('#bench-run').addEventListener('click', () => void act({ op: 'bench' }));

$<HTMLFormElement>('#f-plan').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = new FormData(e.currentTarget as HTMLFormElement);
  const amount = String(f.get('amount') ?? '').trim();
  const reverse = f.get('direction') === 'usable';
  void act({ op: 'plan', size: reverse ? '' : amount, usable: reverse ? amount : '', kernel: String(f.get('kernel')) as Snapshot['config']['kernel'], dram: String(f.get('dram') ?? '') });
});

$('#physmap').addEventListener('click', (e) => {
  const svg = (e.currentTarget as HTMLElement).querySelector('svg');
  if (!svg || !snap) return;
  const hit = hitTest(svg, e, GUTTER);
  if (!hit) return;
  if (hit.lens === 0) {
    const p = hit.phys;
    const ns = snap.namespaces.find((n) => p >= n.start && p < n.start + n.raw);
    const dev = snap.devices.find((d) => d.kind === 'raw' && p >= d.start && p <= d.end);
    const pm = snap.e820.filter((x) => x.type === 'Persistent Memory').findIndex((x) => p >= x.start && p < x.start + x.size);
    const ram = snap.e820.some((x) => x.type === 'System RAM' && p >= x.start && p < x.start + x.size);
    selection = ns ? { kind: 'ns', dev: ns.dev } : dev ? { kind: 'dev', name: dev.name } : pm >= 0 ? { kind: 'region', index: pm } : ram ? { kind: 'ram' } : selection;
  }
  void act({ op: 'pick', phys: hit.phys, as: walkAs() });
});

let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => snap && renderMap(snap), 100);
});

// boot the machine the form describes
$<HTMLFormElement>('#f-boot').requestSubmit();
