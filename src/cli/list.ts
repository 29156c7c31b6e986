/** ndctl's list (ndctl/list.c cmd_list). */
import { Command } from 'commander';
import { ndctlJsonString } from '../index.ts';
import { out } from './output.ts';
import { type MachineOpts, openSession } from './session.ts';

export async function cmdList(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { human?: boolean; altmap?: boolean }>();
  const s = await openSession(cmd);
  try {
    const list = s.m.listNamespaces({ human: !!o.human }).map((n) => {
      const c = { ...n };
      if (!o.altmap) delete c.altmap;
      return c;
    });
    // ndctl/list.c: nothing at all when nothing matched; util_display_json_array() otherwise
    if (list.length > 0) out(ndctlJsonString(list));
    return 0;
  } finally {
    await s.close();
  }
}
