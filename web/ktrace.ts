/**
 * "What the kernel did": the last operation run under the library's function_graph tracer
 * (machine.trace with onCall), in the worker. At every traced entry and return the recorder reads the
 * machine (stats(), the pgmap lookup's altmaps, /proc/iomem, dmesg) and, when anything changed, the
 * vmemmap as the page draws it, so the page can show each call's effect and replay the operation call by
 * call. Nothing here runs unless the page traces an action: the kernel's hooks stay one boolean check.
 */
import type { Machine } from 'altmap-sim';
import type { DeviceView, KernelTrace, TraceNode, TraceState } from './protocol.ts';
import { scanVmemmap, type Place } from './vmemmap.ts';

/** Calls past this many are left out of the tree (the text still has them). */
export const MAX_NODES = 20_000;
/** Operations over more than this much memory are not traced in the demo (function_graph of 8192 sections is ~80,000 lines). */
export const MAX_TRACE_BYTES = 1n << 40n;

let traces = 0;

/** "a-b : name" lines of /proc/iomem inside Persistent Memory: where a pgmap may be. */
function candidates(iomem: string[]): bigint[] {
  const out: bigint[] = [];
  for (const l of iomem) {
    const m = /^\s+([0-9a-f]+)-([0-9a-f]+) : (.*)$/.exec(l);
    if (!m || m[3] === 'System RAM' || m[3] === 'Reserved') continue;
    const s = BigInt(`0x${m[1]}`);
    const e = BigInt(`0x${m[2]}`);
    // the middle page: inside the data range of a pfn device whatever its info block and padding
    out.push(((s + e) / 2n) & ~0xfffn);
  }
  return out;
}

export interface RecordContext {
  m: Machine;
  op: string;
  placeOf: (phys: number) => Place;
  /** Raw (memremap'd by hand) devices' names, before and after the operation. */
  isRaw: (name: string) => boolean;
}

/** Run `fn` traced; the trace whatever happens, and fn's result or error. */
export function recordTrace(c: RecordContext, fn: () => unknown): { trace: KernelTrace; result?: unknown; error?: unknown } {
  const { m } = c;
  const modules = new Map<string, string>();
  for (const l of m.readFile('/sys/kernel/tracing/available_filter_functions').split('\n')) {
    const x = /^(\S+)(?: \[(\S+)\])?$/.exec(l);
    if (x) modules.set(x[1], x[2] ?? '');
  }
  const dmesgStart = m.dmesg().length;
  const states: TraceState[] = [];
  let lastKey = '';
  const nsOf = new Map<string, string>();
  const learnNamespaces = () => {
    for (const j of m.listNamespaces()) {
      const info = m.namespaceInfo(j.dev as string);
      if (info.device) nsOf.set(info.device, info.dev);
    }
  };
  learnNamespaces();

  const state = (): number => {
    const stats = m.stats();
    const iomem = m.readFile('/proc/iomem').trimEnd().split('\n');
    const messages = m.dmesg().length - dmesgStart;
    const devices: DeviceView[] = [];
    const seen = new Set<string>();
    for (const at of candidates(iomem)) {
      const pm = m.findDevPagemap(at);
      if (!pm || seen.has(pm.dev)) continue;
      seen.add(pm.dev);
      const a = pm.altmap?.toJSON();
      const st = stats.devices[pm.dev];
      devices.push({
        name: pm.dev,
        kind: c.isRaw(pm.dev) ? 'raw' : 'namespace',
        namespace: null,
        start: Number(pm.res.start),
        end: Number(pm.res.end),
        altmap: a ? { basePfn: a.basePfn, reserve: a.reserve, free: a.free, align: a.align, alloc: a.alloc, nextPfn: a.nextPfn, nrFree: a.nrFree } : null,
        altmapLive: !pm.freed,
        memmapPages: st?.memmapPages ?? null,
        dramMemmapPages: st?.dramMemmapPages ?? null,
        altmapPages: st?.altmapPages ?? null,
        sections: st?.sections ?? null,
      });
    }
    const d = stats.dram;
    const key = [d.freePages, d.pageTablePages, d.memmapPages, d.directMapPages, d.slabPages, d.hugetlbPages, messages, iomem.join('|'), ...devices.map((x) => `${x.name}:${x.altmap?.alloc}:${x.altmapLive}:${x.memmapPages}:${x.sections}`)].join(',');
    if (key === lastKey && states.length) return states.length - 1;
    lastKey = key;
    const { runs } = scanVmemmap(m, c.placeOf);
    states.push({ dram: { ...d }, devices, vmemmap: runs, iomem, messages });
    return states.length - 1;
  };

  const nodes: TraceNode[] = [];
  const steps: KernelTrace['steps'] = [];
  const open: number[] = [];
  let task = 'altmap-1';
  let unrecorded = 0;
  let failed: unknown = null;
  const onCall = (kind: 'enter' | 'exit' | 'switch', fn: string, depth: number): void => {
    try {
      if (kind === 'switch') {
        task = fn;
        return;
      }
      if (kind === 'enter') {
        if (nodes.length >= MAX_NODES) {
          unrecorded++;
          return;
        }
        const i = nodes.length;
        nodes.push({ fn, module: modules.get(fn) ?? '', depth, parent: open.length ? open[open.length - 1] : -1, task, before: state(), after: -1, openStep: steps.length, closeStep: -1 });
        steps.push({ node: i, line: 'open' });
        open.push(i);
        return;
      }
      const i = open[open.length - 1];
      if (i === undefined || nodes[i].fn !== fn || nodes[i].depth !== depth) return; // a call past the limit
      open.pop();
      const n = nodes[i];
      n.after = state();
      // an entry and its return with nothing between print as one leaf line
      const last = steps[steps.length - 1];
      if (last && last.node === i && last.line === 'open') {
        last.line = 'leaf';
        n.closeStep = n.openStep;
      } else {
        n.closeStep = steps.length;
        steps.push({ node: i, line: 'close' });
      }
    } catch (e) {
      failed ??= e;
    }
  };

  const start = state();
  let text = '';
  let result: unknown;
  let error: unknown;
  let ok = true;
  try {
    text = m.trace(() => (result = fn()), undefined, { onCall });
  } catch (e) {
    ok = false;
    error = e;
  }
  if (failed) throw failed;
  const end = state();
  learnNamespaces();
  for (const s of states) for (const d of s.devices) d.namespace = nsOf.get(d.name) ?? null;
  const trace: KernelTrace = { id: ++traces, op: c.op, kernel: m.kernel, text, nodes, steps, states, start, end, messages: m.dmesg().slice(dmesgStart), unrecorded, ok };
  return ok ? { trace, result } : { trace, error };
}
