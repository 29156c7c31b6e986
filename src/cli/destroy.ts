/** ndctl's destroy-namespace (ndctl/namespace.c cmd_destroy_namespace, do_xaction_namespace, namespace_destroy; v76.1). */
import { Command } from 'commander';
import { type ErrnoCode, KernelError, NdctlError, destroyNotForced, destroyReport, libndctlOrder, regionFilter } from '../index.ts';
import { err } from './output.ts';
import { type MachineOpts, type Session, openSession, saveStep } from './session.ts';

export interface DestroyOpts extends MachineOpts {
  /** -f: destroy even when active. */
  force?: boolean;
  /** -r: only in this region. */
  region?: string;
}

/** What one namespace_destroy() left: its rc (null for 0) and what it wrote to stderr. */
interface DestroyResult {
  rc: ErrnoCode | null;
  stderr: string;
}

/** namespace_destroy (ndctl/namespace.c): refused without --force (every model namespace is active), else the kernel's teardown. */
function destroyOne(s: Session, name: string, force: boolean): DestroyResult {
  try {
    if (!force) throw destroyNotForced(name);
    s.m.destroyNamespace(name);
  } catch (e) {
    if (e instanceof NdctlError) return { rc: e.code, stderr: e.stderr };
    // ndctl_namespace_disable_safe() and the kernel's refusals come back as a bare rc (EBUSY: a dax device online as System RAM)
    if (e instanceof KernelError) return { rc: e.code, stderr: '' };
    throw e;
  }
  saveStep(s, { op: 'destroyNamespace', dev: name });
  return { rc: null, stderr: '' };
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
    for (const r of libndctlOrder(s.m.listRegions(), (x) => x.dev)) {
      if (!regionFilter(r.dev, r.id, o.region)) continue;
      for (const name of libndctlOrder(r.namespaces, (x) => x)) {
        if (dev !== 'all' && dev !== name) continue;
        const res = destroyOne(s, name, !!o.force);
        rc = res.rc;
        stderr += res.stderr;
        if (res.rc === null) destroyed++;
      }
    }
    const report = destroyReport(rc, 0, destroyed);
    err(stderr + report.stderr);
    return report.exitCode;
  } finally {
    await s.close();
  }
}
