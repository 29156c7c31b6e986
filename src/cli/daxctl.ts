/** daxctl's reconfigure-device: device_dax <-> kmem (System RAM). */
import { Command } from 'commander';
import { KernelError, ndctlJsonString } from '../index.ts';
import { usage, out, err, bare } from './output.ts';
import { type MachineOpts, openSession, saveFailedStep, saveStep, stateKey } from './session.ts';

export async function cmdReconfigure(dev: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { mode: string; memmapOnMemory?: boolean; forceMemmapOnMemory?: boolean; movable: boolean }>();
  if (o.mode !== 'system-ram' && o.mode !== 'devdax') usage(`--mode ${o.mode} is not system-ram or devdax`);
  const s = await openSession(cmd, true);
  try {
    const mom = o.forceMemmapOnMemory ? 'force' : !!o.memmapOnMemory;
    const step = { op: 'reconfigureDevice', dev, mode: o.mode, ...(mom === 'force' ? { forceMemmapOnMemory: true } : mom ? { memmapOnMemory: true } : {}), ...(o.movable ? {} : { movable: false }) };
    const state = stateKey(s);
    let r: Record<string, unknown>;
    try {
      r = s.m.reconfigureDevice(dev, { mode: o.mode as 'system-ram' | 'devdax', memmapOnMemory: mom, movable: o.movable });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      saveFailedStep(s, step, state, e.code);
      err(`libdaxctl: ${dev}: ${bare(e)}`);
      err('reconfigured 0 devices');
      return 1;
    }
    saveStep(s, step);
    out(ndctlJsonString([r]));
    err('reconfigured 1 device');
    return 0;
  } finally {
    await s.close();
  }
}
