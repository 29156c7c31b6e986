/** ndctl's destroy-namespace (ndctl/namespace.c cmd_destroy_namespace, do_xaction_namespace, namespace_destroy; v76.1). */
import { Command } from 'commander';
import { type ErrnoCode, KernelError, NdctlError, destroyNotForced, destroyReport, destroyZeroingFailed, libndctlOrder, regionFilter } from '../index.ts';
import { err, killed } from './output.ts';
import { type MachineOpts, type Session, openSession, saveStep } from './session.ts';

export interface DestroyOpts extends MachineOpts {
  /** -f: destroy even when active. */
  force?: boolean;
  /** -r: only in this region. */
  region?: string;
}

/** What one namespace_destroy() left: its rc (null for 0), what it wrote to stderr, and how many err()s. */
interface DestroyResult {
  rc: ErrnoCode | null;
  stderr: string;
  errs: number;
  /** The kernel oopsed in ndctl's write (6.1's memunmap_pages of a zero-sized pfn device): the task is killed. */
  killed?: boolean;
  /** namespace_prep_reconfig() returned 1: a legacy namespace with no info block, not counted as destroyed. */
  skipped?: boolean;
}


/**
 * namespace_destroy (ndctl/namespace.c): an active one is refused without --force. zero_info_block() enables it in
 * raw mode: a label-backed one that is not active fails that and goes anyway. A label-less (nd_namespace_io) one
 * enables, and namespace_prep_reconfig() counts it only when there was an info block to zero: raw mode has none.
 */
function destroyOne(s: Session, name: string, active: boolean, force: boolean, labelLess: boolean, raw: boolean): DestroyResult {
  const zeroing = active || labelLess ? '' : destroyZeroingFailed(name);
  const errs = zeroing ? 1 : 0;
  const wasPoisoned = s.m.poisoned !== null;
  try {
    if (active && !force) throw destroyNotForced(name);
    s.m.destroyNamespace(name);
  } catch (e) {
    if (e instanceof NdctlError) return { rc: e.code, stderr: e.stderr, errs: 0 };
    // ndctl_namespace_disable_safe() and the kernel's refusals come back as a bare rc (EBUSY: a dax device online as System RAM)
    if (e instanceof KernelError) return { rc: e.code, stderr: zeroing, errs };
    throw e;
  }
  saveStep(s, { op: 'destroyNamespace', dev: name });
  if (!wasPoisoned && s.m.poisoned !== null) return { rc: null, stderr: '', errs: 0, killed: true };
  return { rc: null, stderr: zeroing, errs, ...(labelLess && raw ? { skipped: true } : {}) };
}

/**
 * namespace_destroy of an idle seed named on the command line: zero_info_block's enable fails (the probe
 * refuses a size-0 namespace), ndctl_namespace_delete's size write of 0 fails with -ENXIO, which it ignores.
 */
function destroyIdleSeed(s: Session, name: string): DestroyResult {
  s.m.destroyNamespace(name);
  return { rc: null, stderr: destroyZeroingFailed(name), errs: 1 };
}

/** do_xaction_namespace (ndctl/namespace.c): "all" passes over idle seeds (size 0 and a null uuid). */
function matches(ns: Record<string, unknown> | undefined, name: string, dev: string): boolean {
  if (dev !== 'all') return dev === name;
  return !(ns && (ns.size === 0 || ns.size === '0') && (ns.uuid === undefined || /^[0-]+$/.test(String(ns.uuid))));
}

/** cmd_destroy_namespace: every namespace that matches, in libndctl's order; the rc is the last one's. */
export async function cmdDestroyNamespace(dev: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<DestroyOpts>();
  const s = await openSession(cmd, true);
  try {
    // do_xaction_namespace: rc starts at -ENXIO (a name matched nothing), 0 for "all"
    let rc: ErrnoCode | null = dev === 'all' ? null : 'ENXIO';
    let destroyed = 0;
    let stderr = '';
    let errs = 0;
    const listed = new Map(s.m.listNamespaces().map((n) => [String(n.dev), n]));
    for (const r of libndctlOrder(s.m.listRegions(), (x) => x.dev)) {
      if (!regionFilter(r.dev, r.id, o.region)) continue;
      const idle = new Set(r.idleSeeds);
      for (const name of libndctlOrder([...r.namespaces, ...r.idleSeeds], (x) => x)) {
        const ns = listed.get(name);
        if (idle.has(name) ? dev !== name : !matches(ns, name, dev)) continue;
        const res = idle.has(name) ? destroyIdleSeed(s, name) : destroyOne(s, name, ns?.state !== 'disabled', !!o.force, r.isetId === undefined, ns?.mode === 'raw');
        if (res.killed) return killed();
        rc = res.rc;
        stderr += res.stderr;
        errs += res.errs;
        if (res.rc === null && !res.skipped) destroyed++;
      }
    }
    const report = destroyReport(rc, errs, destroyed);
    err(stderr + report.stderr);
    return report.exitCode;
  } finally {
    await s.close();
  }
}
