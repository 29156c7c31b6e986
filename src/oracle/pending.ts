/**
 * Known divergences between the model and the recorded real kernels: the pending table's shape, the
 * issue that closes each kind, and a printer that writes the table (JSON) from what a run of the
 * comparison observed (`altmap oracle --fixtures --pending`). The table itself lives with the tests
 * (test/oracle/pending.json), keyed by kernel, case id and aspect.
 *
 * Issues: #12 sizes, refusals, exit codes, stderr, device names, seeds, dmesg, struct page;
 * #13 /proc, /sys, lsmem, ndctl/daxctl output and list forms; #14 kmem, Soft Reserved, nodes;
 * #16 function_graph traces.
 */
import type { Aspect, Comparison } from './compare.ts';

/** Why a kind of divergence exists, and the issue that closes it. */
export interface PendingReason {
  /** The issue that closes it, or 'kept': a difference the model keeps on purpose (the README says why). */
  issue: 12 | 13 | 14 | 16 | 'kept';
  reason: string;
}

/** Cases whose divergence the model keeps on purpose, with the reason (README, "The real kernel beside the model"). */
const KEPT: Record<string, { key: string; reason: string; aspects?: Aspect[] }> = {
  'sp-kmem': { key: 'kept-allocated-pages', aspects: ['struct-page'], reason: "struct pages of hot-plugged memory the real kernel's allocator has already handed out (page cache, slab, page tables): the model does not reproduce which pages a running system used" },
  'sp-kmem-mom': { key: 'kept-allocated-pages', aspects: ['struct-page'], reason: "struct pages of hot-plugged memory the real kernel's allocator has already handed out (page cache, slab, page tables): the model does not reproduce which pages a running system used" },
  ...Object.fromEntries(
    ['trace-fsdax-dev-a1G', 'trace-fsdax-mem-a2M', 'trace-ll-fsdax-dev', 'trace-kmem', 'trace-softres-kmem'].map((c) => [
      c,
      { key: 'kept-trampoline-split', aspects: ['meminfo'] as Aspect[], reason: "6.1.192 splits a 2 MiB page of the direct map when function_graph starts in some runs only (where its trampoline lands); the v6.1 profile never splits, v6 always does, as every 6.12.117 run did" },
    ]),
  ),
  'refuse-map-mem-enomem': { key: 'kept-dram-exhaustion', reason: "the real kernel's order-9 vmemmap allocation fails at its zone watermarks and the OOM killer kills ndctl; the model runs out of its own free DRAM later and ndctl cleans up" },
};

/**
 * The pending table (test/oracle/pending.json): reasons by key, and per recorded kernel, per case, per
 * aspect, the key of its reason. Every known divergence is listed by its case id and aspect.
 */
export interface PendingTable {
  reasons: Record<string, PendingReason>;
  kernels: Record<string, Record<string, Partial<Record<Aspect, string>>>>;
}

/** One aspect of one recorded run that does not agree. */
export interface Observed {
  kernel: string;
  caseId: string;
  aspect: Aspect;
  status: 'differ' | 'not-modelled';
  why: string;
  tags?: string[];
  /** The commands of the steps that differ. */
  runs?: string[];
  /** The first difference: real and model text. */
  sample?: { real: string; model: string };
  /** Every differing step is one the model's CLI refused as a usage error (no such command or flag). */
  usage?: boolean;
}

const USAGE = /error: (unknown (option|command)|too many arguments|option '.*' argument .* is invalid|missing required argument)/;

export function observedOf(c: Comparison, tags: string[] = []): Observed[] {
  const out: Observed[] = [];
  const usageSteps = new Set((c.aspects.find((a) => a.aspect === 'stderr')?.diffs ?? []).filter((d) => USAGE.test(d.model)).map((d) => d.index));
  for (const a of c.aspects) {
    if (a.status !== 'differ' && a.status !== 'not-modelled') continue;
    out.push({
      kernel: c.kernel,
      caseId: c.caseId,
      aspect: a.aspect,
      status: a.status,
      why: a.why ?? '',
      tags,
      runs: a.diffs.map((d) => d.run),
      ...(a.diffs[0] ? { sample: { real: a.diffs[0].real, model: a.diffs[0].model } } : {}),
      ...(a.diffs.length && a.diffs.every((d) => usageSteps.has(d.index)) ? { usage: true } : {}),
    });
  }
  return out;
}

const isList = (run: string) => /^(ndctl|daxctl) list\b/.test(run);
const isDax = (run: string) => /^daxctl |\/sys\/|^echo |^cat /.test(run);

/** The reason of an observed divergence: its key in the table, the issue, the text. */
export function classify(o: Observed): PendingReason & { key: string } {
  const platform = (o.tags ?? []).some((t) => t === 'kmem' || t === 'softreserved' || t === 'legacy');
  const r = (key: string, issue: PendingReason['issue'], reason: string) => ({ key, issue, reason });
  const kept = KEPT[o.caseId];
  if (kept && (!kept.aspects || kept.aspects.includes(o.aspect))) return r(kept.key, 'kept', kept.reason);
  if (o.aspect === 'trace' && o.status === 'not-modelled') return r('no-tracer', 16, o.why || 'the model has no function_graph tracer');
  if (o.aspect === 'trace' && platform) return r('trace-platform', 14, "function_graph: the call tree differs where the step itself is not modelled: the Soft Reserved hmem device (dax0.0 of dax_hmem) the model does not have");
  if (o.aspect === 'trace') return r('trace', 12, "function_graph: the call tree differs where the step itself is not modelled: destroy-namespace of an idle namespace, which ndctl enables for zeroing (nd_pmem_probe fails) and the model refuses (ENXIO)");
  if (o.status === 'not-modelled') {
    if (o.aspect === 'node' || (platform && ['memory', 'dax', 'meminfo', 'iomem'].includes(o.aspect))) return r('no-files-platform', 14, `${o.why}; this case's kmem / Soft Reserved / node state belongs to the platforms issue`);
    return r('no-files', 13, o.why);
  }
  if (o.usage) {
    if (platform) return r('cli-usage-platform', 14, "the model's CLI has no such command or flag (daxctl list / online-memory / offline-memory, reconfigure-device -f / --no-online, cat, write; ndctl -r, -e, -f): the platforms issue's daxctl and sysfs");
    return r('cli-usage', 13, "the model's CLI has no such command or flag: ndctl create-namespace -r/--region, -e/--reconfig with -f, -l, -m sector; list -R/-D/-X/-B/-i/-v; daxctl list; ndctl init-labels; cat / write of /proc and /sys");
  }
  if (o.aspect === 'struct-page') return r('struct-page', 12, "struct page words of pages the real kernel's allocator handed out (onlined kmem memory in use) or of steps the model does not reach");
  const runs = o.runs ?? [];
  const onlyLists = runs.length > 0 && runs.every(isList);
  const onlyDax = runs.length > 0 && runs.every((x) => isDax(x) || isList(x));
  if (onlyDax && platform) return r('daxctl-sysfs', 14, "daxctl and sysfs steps of the kmem cases: the guest's own user pages an offline fails to migrate on 6.1 (\"migrating pfn ... failed\", a dump_page per retry), and 6.1's tracer trampoline splitting a direct-map 2M page in some runs only (trace-softres-kmem)");
  if (onlyLists) return r('list-forms', 13, "ndctl/daxctl list forms: the idle seeds under -i, iset_id and DIMMs (-D), and the bus keys of -B, as ndctl 76.1 prints them");
  if (platform && runs.some((x) => /^daxctl /.test(x))) return r('kmem-daxctl', 14, "dax kmem and hmem through daxctl: the dax chardev minors, which a pmem block device's dax_device also takes (softres-with-pmem: the raw namespace pmem0 held 252:0 at boot)");
  if ((o.tags ?? []).includes('legacy') && ['stdout', 'stdout-values', 'dmesg', 'dmesg-debug', 'exit', 'stderr'].includes(o.aspect)) {
    return r('legacy-platform', 14, "legacy pmem (memmap=!, e820 type 12): the nd_e820 region and its namespace as the real kernel probes them (no flush hint: 'unable to guarantee persistence of writes'; ndctl's page-size align fallback for a region off the 2 MiB grid)");
  }
  if (o.aspect === 'stdout') return r('ndctl-form', 13, "ndctl's output as 76.1 prints it, where a step's create or list form still differs");
  if (o.aspect === 'dmesg-debug') return r('debug-lines', 12, "pr_debug lines: altmap_alloc_block_buf / PMD / memmap_init_zone_device lines of cases whose DRAM runs out at another point than the real kernel's (refuse-map-mem-enomem)");
  if (o.aspect === 'dmesg') return r('messages', 12, "kernel messages: the model does not log the real kernel's probe failures, refusals, WARNs and oopses as that kernel words them");
  if (o.aspect === 'exit') return r('exit-codes', 12, 'exit codes: refusals the model makes in its planning step, or does not make, exit differently from ndctl 76.1 on the real kernel');
  if (o.aspect === 'stderr') return r('stderr', 12, "stderr: ndctl 76.1's and libndctl's messages for refusals and kernel-side failures are not the model's");
  if (o.aspect === 'stdout-values') return r('values', 12, 'values ndctl prints (sizes, device names, seeds, modes): the model computes others');
  const where: Record<string, string> = { nd: '/sys/bus/nd/devices/*', dax: '/sys/bus/dax/devices/* (with mappingN and the dax_region)', memory: '/sys/devices/system/memory/* and /sys/module/memory_hotplug/parameters/*', node: '/sys/devices/system/node/*', iomem: '/proc/iomem', meminfo: '/proc/meminfo' };
  const files = where[o.aspect] ?? o.aspect;
  if (o.sample && o.sample.model.trim() === '' && o.sample.real.trim() !== '') return r(platform ? `${o.aspect}-missing-platform` : `${o.aspect}-missing`, platform || o.aspect === 'node' ? 14 : 13, `the model does not have ${files} yet`);
  if (o.aspect === 'meminfo') return r(platform ? 'meminfo-platform' : 'meminfo', platform ? 14 : 13, '/proc/meminfo: MemTotal or DirectMap4k/2M/1G change differently in a step (a map=mem memmap, the direct map of a device range, kmem)');
  if (o.aspect === 'iomem') return r(platform ? 'iomem-platform' : 'iomem', platform ? 14 : 13, '/proc/iomem differs (names, nesting or ranges of the pmem, namespace, dax and kmem entries)');
  return r(platform ? `${o.aspect}-platform` : o.aspect, platform || o.aspect === 'node' ? 14 : 13, `${files} differ from the real attributes`);
}

/** The pending table (pending.json) for what a run of the comparison observed. */
export function pendingTable(observed: Observed[]): PendingTable {
  const t: PendingTable = { reasons: {}, kernels: {} };
  for (const o of [...observed].sort((a, b) => a.kernel.localeCompare(b.kernel) || a.caseId.localeCompare(b.caseId))) {
    const c = classify(o);
    t.reasons[c.key] = { issue: c.issue, reason: c.reason };
    ((t.kernels[o.kernel] ??= {})[o.caseId] ??= {})[o.aspect] = c.key;
  }
  const rank = (i: PendingReason['issue']) => (i === 'kept' ? 99 : i);
  t.reasons = Object.fromEntries(Object.entries(t.reasons).sort(([a, x], [b, y]) => rank(x.issue) - rank(y.issue) || a.localeCompare(b)));
  return t;
}

/** The table as pending.json text: one line per case. */
export function pendingSource(observed: Observed[]): string {
  const t = pendingTable(observed);
  const lines: string[] = ['{', '  "reasons": {'];
  const rs = Object.entries(t.reasons);
  rs.forEach(([k, v], i) => lines.push(`    ${JSON.stringify(k)}: ${JSON.stringify(v)}${i < rs.length - 1 ? ',' : ''}`));
  lines.push('  },', '  "kernels": {');
  const ks = Object.entries(t.kernels);
  ks.forEach(([k, cases], i) => {
    lines.push(`    ${JSON.stringify(k)}: {`);
    const cs = Object.entries(cases);
    cs.forEach(([id, aspects], j) => lines.push(`      ${JSON.stringify(id)}: ${JSON.stringify(aspects)}${j < cs.length - 1 ? ',' : ''}`));
    lines.push(`    }${i < ks.length - 1 ? ',' : ''}`);
  });
  lines.push('  }', '}');
  return lines.join('\n') + '\n';
}

/** The reason listed for (kernel, case, aspect), if any. */
export function findPending(table: PendingTable, kernel: string, caseId: string, aspect: Aspect): (PendingReason & { key: string }) | undefined {
  const key = table.kernels[kernel]?.[caseId]?.[aspect];
  if (key === undefined) return undefined;
  const r = table.reasons[key];
  if (!r) throw new Error(`pending table: ${kernel}/${caseId} ${aspect} names the unknown reason ${JSON.stringify(key)}`);
  return { key, ...r };
}
