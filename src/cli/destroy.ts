/** ndctl's destroy-namespace (ndctl/namespace.c cmd_destroy_namespace). */
import { Command } from 'commander';
import { KernelError } from '../index.ts';
import { err, bare } from './output.ts';
import { openSession, saveStep } from './session.ts';

export async function cmdDestroyNamespace(dev: string, cmd: Command): Promise<number> {
  const s = await openSession(cmd, true);
  try {
    const names = dev === 'all' ? s.m.listNamespaces().map((n) => String(n.dev)) : [dev];
    let destroyed = 0;
    for (const name of names) {
      try {
        s.m.destroyNamespace(name);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        err(`  Error: ${name}: ${bare(e)}`);
        err(`destroyed ${destroyed} namespace${destroyed === 1 ? '' : 's'}`);
        return 1;
      }
      saveStep(s, { op: 'destroyNamespace', dev: name });
      destroyed++;
    }
    err(`destroyed ${destroyed} namespace${destroyed === 1 ? '' : 's'}`);
    return 0;
  } finally {
    await s.close();
  }
}
