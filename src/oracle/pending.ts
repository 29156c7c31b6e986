/**
 * Known divergences between the model and the recorded real kernels: the pending table's shape, the
 * issue that closes each kind, and a printer that writes the table (TypeScript) from what a run of the
 * comparison observed (`altmap oracle --fixtures --pending`). The table itself lives with the tests
 * (test/oracle/pending.ts); every entry names its cases explicitly.
 *
 * Issues: #12 sizes, refusals, exit codes, stderr, device names, seeds, dmesg, struct page;
 * #13 /proc, /sys, lsmem, ndctl/daxctl output and list forms; #14 kmem, Soft Reserved, nodes;
 * #16 function_graph traces.
 */
import type { Aspect, Comparison } from './compare.ts';

export interface PendingEntry {
  /** The issue that will close it. */
  issue: 12 | 13 | 14 | 16;
  aspect: Aspect;
  /** Why the model differs (or cannot say), with an example. */
  reason: string;
  /** Recorded kernels (fixture directory names) it applies to; all when absent. */
  kernels?: string[];
  cases: string[];
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
}

export function observedOf(c: Comparison, tags: string[] = []): Observed[] {
  const out: Observed[] = [];
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
    });
  }
  return out;
}

const isList = (run: string) => /^(ndctl|daxctl) list\b/.test(run);
const isDax = (run: string) => /^daxctl |\/sys\/|^echo |^cat /.test(run);

/** The issue and the reason of an observed divergence (the table's grouping key). */
export function classify(o: Observed): { issue: PendingEntry['issue']; reason: string } {
  const platform = (o.tags ?? []).some((t) => t === 'kmem' || t === 'softreserved' || t === 'legacy');
  if (o.aspect === 'trace') return { issue: 16, reason: o.why || 'the model has no function_graph tracer' };
  if (o.status === 'not-modelled') {
    if (o.aspect === 'node' || (platform && ['memory', 'dax', 'meminfo', 'iomem'].includes(o.aspect))) return { issue: 14, reason: `${o.why}; this case's kmem / Soft Reserved / node state belongs to the platforms issue` };
    return { issue: 13, reason: o.why };
  }
  const runs = o.runs ?? [];
  const onlyLists = runs.length > 0 && runs.every(isList);
  const onlyDax = runs.length > 0 && runs.every((r) => isDax(r) || isList(r));
  if (onlyDax && platform) return { issue: 14, reason: `daxctl, memory blocks and sysfs writes (${o.aspect}): the model has no daxctl list/online/offline, no sysfs writes, no memmap_on_memory module parameter or per-device file` };
  if (onlyLists) return { issue: 13, reason: `ndctl/daxctl list forms (${o.aspect}): the model's list is ndctl list -N only, and daxctl list does not exist` };
  if (platform && runs.some((r) => /^daxctl /.test(r))) return { issue: 14, reason: `dax kmem through daxctl (${o.aspect}): the model's reconfigure-device is not daxctl's (no -f, --no-online; an invented --memmap-on-memory; no auto-online policy)` };
  if (o.aspect === 'stdout') return { issue: 13, reason: 'ndctl output form: the model adds an "altmap" object, prints devdax creates in the list form (no daxregion), and list forms beyond -N are missing' };
  if (o.aspect === 'dmesg-debug') return { issue: 12, reason: 'pr_debug lines: the model prints the boot memmap\'s PMD line at the first namespace creation (6.12 prints it at boot) and its memmap_init_zone_device / altmap_alloc_block_buf lines do not match the real sequence' };
  if (o.aspect === 'dmesg') return { issue: 12, reason: 'kernel messages: the model does not log the real kernel\'s probe failures, refusals, WARNs and oopses as that kernel words them' };
  if (o.aspect === 'exit') return { issue: 12, reason: 'exit codes: refusals the model makes in its planning step, or does not make, exit differently from ndctl 76.1 on the real kernel' };
  if (o.aspect === 'stderr') return { issue: 12, reason: 'stderr: ndctl 76.1\'s and libndctl\'s messages for refusals and kernel-side failures are not the model\'s' };
  if (o.aspect === 'stdout-values') return { issue: 12, reason: 'values ndctl prints (sizes, device names, seeds, modes): the model computes others' };
  if (o.aspect === 'meminfo') return { issue: platform ? 14 : 13, reason: 'MemTotal / DirectMap changes per step' };
  return { issue: platform ? 14 : 13, reason: `${o.aspect} state differs` };
}

/** The pending table as TypeScript source, grouped by issue, aspect and reason, cases listed. */
export function pendingSource(observed: Observed[]): string {
  const groups = new Map<string, PendingEntry>();
  for (const o of observed) {
    const { issue, reason } = classify(o);
    const key = `${issue}\u0000${o.aspect}\u0000${reason}\u0000${o.kernel}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { issue, aspect: o.aspect, reason, kernels: [o.kernel], cases: [] }));
    if (!g.cases.includes(o.caseId)) g.cases.push(o.caseId);
  }
  const entries = [...groups.values()].sort((a, b) => a.issue - b.issue || a.aspect.localeCompare(b.aspect) || a.reason.localeCompare(b.reason));
  const lines: string[] = [];
  lines.push("import type { PendingEntry } from '../../src/oracle/pending.ts';");
  lines.push('');
  lines.push('/** Known divergences of the model from the recorded real kernels (generated by `altmap oracle --fixtures --pending`, then reviewed). */');
  lines.push('export const PENDING: PendingEntry[] = [');
  for (const e of entries) {
    lines.push('  {');
    lines.push(`    issue: ${e.issue},`);
    lines.push(`    aspect: '${e.aspect}',`);
    lines.push(`    reason: ${JSON.stringify(e.reason)},`);
    if (e.kernels) lines.push(`    kernels: [${e.kernels.map((k) => `'${k}'`).join(', ')}],`);
    lines.push('    cases: [');
    for (const c of e.cases.sort()) lines.push(`      '${c}',`);
    lines.push('    ],');
    lines.push('  },');
  }
  lines.push('];');
  return lines.join('\n') + '\n';
}

/** The entry that lists (kernel, case, aspect), if any. */
export function findPending(table: readonly PendingEntry[], kernel: string, caseId: string, aspect: Aspect): PendingEntry | undefined {
  return table.find((e) => e.aspect === aspect && e.cases.includes(caseId) && (!e.kernels || e.kernels.includes(kernel)));
}
