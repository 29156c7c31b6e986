/**
 * The "What the kernel did" panel: the last action's call tree (KernelTrace, recorded in the worker),
 * expandable, each call with what it changed, and the step-through state the other views show.
 * Built with the DOM (textContent), never innerHTML: function names and kernel messages are text.
 */
import type { DeviceView, KernelTrace, Snapshot, TraceNode, TraceState } from './protocol.ts';
import { num } from './format.ts';

/** What one call changed: from the state at its entry to the state at its return. */
export interface Change {
  kind: 'pagetables' | 'vmemmap' | 'memmap' | 'altmap' | 'iomem' | 'dmesg';
  label: string;
  value: number;
  /** The view it is shown in (a selector). */
  view: string;
  detail?: string[];
}

const blocks = (s: TraceState) => s.vmemmap.reduce((n, r) => n + (r.target === 'unmapped' ? 0 : r.blocks), 0);
const signed = (x: number) => `${x > 0 ? '+' : '−'}${num(Math.abs(x))}`;

export function changes(t: KernelTrace, n: TraceNode): Change[] {
  if (n.before < 0 || n.after < 0 || n.before === n.after) return [];
  const a = t.states[n.before];
  const b = t.states[n.after];
  const out: Change[] = [];
  const pt = b.dram.pageTablePages + b.dram.directMapPages - (a.dram.pageTablePages + a.dram.directMapPages);
  if (pt) out.push({ kind: 'pagetables', label: `page-table pages ${signed(pt)}`, value: pt, view: '#physmap' });
  const vb = blocks(b) - blocks(a);
  if (vb) out.push({ kind: 'vmemmap', label: `vmemmap 2 MiB blocks ${signed(vb)}`, value: vb, view: '#physmap' });
  const mm = b.dram.memmapPages - a.dram.memmapPages;
  if (mm) out.push({ kind: 'memmap', label: `DRAM memmap pages ${signed(mm)}`, value: mm, view: '#dram' });
  const names = new Set([...a.devices, ...b.devices].filter((d) => d.altmap).map((d) => d.name));
  for (const name of names) {
    const x = a.devices.find((d) => d.name === name)?.altmap?.alloc ?? 0;
    const y = b.devices.find((d) => d.name === name)?.altmap?.alloc ?? 0;
    if (x !== y) out.push({ kind: 'altmap', label: `${name} altmap alloc ${signed(y - x)}`, value: y - x, view: '#altmaps' });
  }
  const added = b.iomem.filter((l) => !a.iomem.includes(l));
  const removed = a.iomem.filter((l) => !b.iomem.includes(l));
  if (added.length || removed.length)
    out.push({ kind: 'iomem', label: `iomem +${added.length}/−${removed.length}`, value: added.length - removed.length, view: '#ktrace-tree', detail: [...added.map((l) => `+ ${l}`), ...removed.map((l) => `- ${l}`)] });
  const msgs = t.messages.slice(a.messages, b.messages);
  if (msgs.length) out.push({ kind: 'dmesg', label: `dmesg ${msgs.length} line${msgs.length === 1 ? '' : 's'}`, value: msgs.length, view: '#dmesg', detail: msgs });
  return out;
}

/** The state the views show at a step: the entry's for an opening line, the return's otherwise. */
export function stateAt(t: KernelTrace, step: number): number {
  const s = t.steps[step];
  const n = t.nodes[s.node];
  return s.line === 'open' ? n.before : n.after;
}

/** The snapshot the views render at a step: the recorded DRAM, devices and vmemmap in place of the live ones. */
export function snapshotAt(snap: Snapshot, t: KernelTrace, step: number): Snapshot {
  const i = stateAt(t, step);
  const st = t.states[i < 0 ? t.end : i];
  return { ...snap, stats: { ...snap.stats, dram: st.dram }, devices: st.devices as DeviceView[], vmemmap: st.vmemmap };
}

type Attrs = Record<string, string>;
function el(tag: string, attrs: Attrs = {}, ...kids: Array<Node | string>): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const k of kids) e.append(k);
  return e;
}

export interface TreeUi {
  expanded: Set<number>;
  details: Set<number>;
  step: number | null;
}

/** The tree, into host (replacing what was there). Only expanded nodes' children are built. */
export function renderTree(host: HTMLElement, t: KernelTrace, ui: TreeUi): void {
  const children: number[][] = t.nodes.map(() => []);
  const top: number[] = [];
  t.nodes.forEach((n, i) => (n.parent < 0 ? top : children[n.parent]).push(i));
  const current = ui.step !== null ? t.steps[ui.step]?.node : -1;
  const build = (list: number[]): HTMLElement => {
    const box = el('div');
    let task = '';
    for (const i of list) {
      const n = t.nodes[i];
      if (n.depth === 0 && n.task !== task) {
        if (task) box.append(el('div', { class: 'kt-task' }, `${n.task} (work the kernel queued for a kworker: the async probes)`));
        task = n.task;
      }
      const kids = children[i];
      const open = ui.expanded.has(i);
      const cls = ['kt-row', i === current ? 'current' : '', ui.step !== null && n.openStep > ui.step ? 'future' : ''].filter(Boolean).join(' ');
      const row = el('div', { class: cls, 'data-testid': 'kt-node', 'data-node': String(i), 'data-fn': n.fn, 'data-depth': String(n.depth), 'data-children': String(kids.length) });
      row.append(kids.length ? el('button', { type: 'button', class: 'kt-toggle', 'data-kt-toggle': String(i), 'data-testid': `kt-toggle-${i}`, 'aria-expanded': String(open) }, open ? '▾' : '▸') : el('span', { class: 'kt-toggle' }));
      row.append(el('span', { class: 'kt-fn', 'data-kt-detail': String(i) }, `${n.fn}()`));
      if (n.module) row.append(el('span', { class: 'kt-mod' }, `[${n.module}]`));
      if (kids.length && !open) row.append(el('span', { class: 'kt-mod' }, `{ ${num(kids.length)} call${kids.length === 1 ? '' : 's'} }`));
      const ch = changes(t, n);
      for (const c of ch) row.append(el('button', { type: 'button', class: `kt-chip ${c.kind}`, 'data-kt-jump': String(i), 'data-view': c.view, 'data-testid': `kt-chip-${c.kind}`, 'data-value': String(c.value), title: 'show the state after this call' }, c.label));
      box.append(row);
      if (ui.details.has(i)) {
        const lines = ch.flatMap((c) => c.detail ?? []);
        box.append(el('div', { class: 'kt-detail', 'data-testid': 'kt-detail' }, lines.length ? lines.join('\n') : 'no iomem entries or messages of its own'));
      }
      if (kids.length && open) box.append(el('div', { class: 'kt-children' }, build(kids)));
    }
    return box;
  };
  host.replaceChildren(build(top));
  host.dataset.nodes = String(t.nodes.length);
  host.dataset.steps = String(t.steps.length);
}

/** The ancestors of a node (to open them when the step-through reaches it). */
export function ancestors(t: KernelTrace, i: number): number[] {
  const out: number[] = [];
  for (let p = t.nodes[i]?.parent ?? -1; p >= 0; p = t.nodes[p].parent) out.push(p);
  return out;
}
