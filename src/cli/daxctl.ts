/** daxctl's reconfigure-device: device_dax <-> kmem (System RAM). */
import { Command } from 'commander';
import { KernelError, ndctlJsonString } from '../index.ts';
import { usage, out, err, bare } from './output.ts';
import { type MachineOpts, openSession, saveStep } from './session.ts';

export async function cmdReconfigure(dev: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { mode: string; memmapOnMemory?: boolean; forceMemmapOnMemory?: boolean; movable: boolean }>();
  if (o.mode !== 'system-ram' && o.mode !== 'devdax') usage(`--mode ${o.mode} is not system-ram or devdax`);
  const s = await openSession(cmd);
  try {
    const mom = o.forceMemmapOnMemory ? 'force' : !!o.memmapOnMemory;
    let r: Record<string, unknown>;
    try {
      r = s.m.reconfigureDevice(dev, { mode: o.mode as 'system-ram' | 'devdax', memmapOnMemory: mom, movable: o.movable });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      err(`libdaxctl: ${dev}: ${bare(e)}`);
      err('reconfigured 0 devices');
      return 1;
    }
    saveStep(s, { op: 'reconfigureDevice', dev, mode: o.mode, ...(mom === 'force' ? { forceMemmapOnMemory: true } : mom ? { memmapOnMemory: true } : {}), ...(o.movable ? {} : { movable: false }) });
    out(ndctlJsonString([r]));
    err('reconfigured 1 device');
    return 0;
  } finally {
    s.m.dispose();
  }
}
