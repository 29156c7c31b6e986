/**
 * daxctl 76.1's reconfigure-device (daxctl/device.c): device_dax <-> kmem (System RAM). Without -f it
 * refuses when the kernel's policy would online the memory itself; with it, it reconfigures and then
 * onlines what is still offline, to ZONE_MOVABLE unless --no-movable (fixtures kmem-policy-refusal,
 * kmem-system-ram-mem-1G on 6.12; the same cases on 6.1, whose policy leaves blocks offline).
 */
import { Command } from 'commander';
import { KernelError, STRERROR, ndctlJsonString } from '../index.ts';
import { usage, out, err, bare } from './output.ts';
import { type MachineOpts, openSession, saveFailedStep, saveStep, stateKey } from './session.ts';

/** The keys daxctl's util_daxctl_dev_to_json prints (the library adds the model's own figures). */
const DAXCTL_KEYS = ['chardev', 'size', 'target_node', 'align', 'mode', 'online_memblocks', 'total_memblocks', 'movable'];

/** daxctl's warning when it finds blocks already online that it meant to online itself. */
const RACE = [
  '  WARNING: detected a race while onlining memory',
  '  Some memory may not be in the expected zone. It is',
  '  recommended to disable any other onlining mechanisms,',
  '  and retry. If onlining is to be left to other agents,',
  '  use the --no-online option to suppress this warning',
];

export async function cmdReconfigure(dev: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { mode: string; force?: boolean; online: boolean; movable: boolean }>();
  if (o.mode !== 'system-ram' && o.mode !== 'devdax') usage(`--mode ${o.mode} is not system-ram or devdax`);
  const s = await openSession(cmd, true);
  try {
    // reconfig_mode_system_ram: the kernel onlining the blocks itself would race daxctl's own onlining
    const policy = o.mode === 'system-ram' ? readPolicy(s.m) : 'offline';
    if (policy !== 'offline' && !o.force) {
      err(`${dev}: error: kernel policy will auto-online memory, aborting`);
      err(`error reconfiguring devices: ${STRERROR.EBUSY}`);
      err('reconfigured 0 devices');
      return 256 - 16;
    }
    const step = { op: 'reconfigureDevice', dev, mode: o.mode, ...(o.movable ? {} : { movable: false }), ...(o.online ? {} : { online: false }) };
    const state = stateKey(s);
    let r: Record<string, unknown>;
    try {
      r = s.m.reconfigureDevice(dev, { mode: o.mode as 'system-ram' | 'devdax', movable: o.movable, online: o.online });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      saveFailedStep(s, step, state, e.code);
      err(`libdaxctl: ${dev}: ${bare(e)}`);
      err(`error reconfiguring devices: ${STRERROR[e.code] ?? e.code}`);
      err('reconfigured 0 devices');
      return 256 + e.errno;
    }
    saveStep(s, step);
    if (o.mode === 'system-ram' && o.online && policy !== 'offline') {
      // daxctl went to online them and found the kernel had
      err(`${dev}:`);
      for (const l of RACE) err(l);
      err(`${dev}: all memory sections (${String(r.total_memblocks)}) already online`);
    }
    out(ndctlJsonString([Object.fromEntries(DAXCTL_KEYS.filter((k) => k in r).map((k) => [k, r[k]]))]));
    err('reconfigured 1 device');
    return 0;
  } finally {
    await s.close();
  }
}

/** /sys/devices/system/memory/auto_online_blocks, as daxctl reads it. */
function readPolicy(m: { readFile(p: string): string }): string {
  try {
    return m.readFile('/sys/devices/system/memory/auto_online_blocks').trim();
  } catch {
    return 'offline';
  }
}
