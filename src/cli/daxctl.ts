/**
 * daxctl 76.1 (daxctl/device.c, daxctl/list.c, daxctl/json.c, daxctl/lib/libdaxctl.c) over the
 * model's sysfs: reconfigure-device, online-memory, offline-memory and list. Like libdaxctl, the
 * memory operations go block by block through /sys/devices/system/node/nodeN/memoryM/state (N the device's target_node), in the
 * order readdir(3) returns the node directory, and stop at the first block the kernel refuses
 * (fixtures kmem-offline-online, kmem-policy-refusal, kmem-system-ram-mem-1G, kmem-no-online on 6.12).
 */
import { Command } from 'commander';
import { ERRNO, KernelError, STRERROR, ndctlJsonString, type Machine, type ScenarioStep } from '../index.ts';
import { usage, out, err } from './output.ts';
import { type MachineOpts, type Session, openSession, saveFailedStep, saveStep, stateKey } from './session.ts';

const NODES = '/sys/devices/system/node';
/** The node directory holding a block's link (libdaxctl's memory->node_path, the device's target_node). */
function blockNode(m: Machine, block: string): string {
  const n = readdir(m, NODES).find((x) => /^node\d+$/.test(x) && readdir(m, `${NODES}/${x}`).includes(block));
  return `${NODES}/${n ?? 'node0'}`;
}
const DAX = '/sys/bus/dax/devices';

/** daxctl returns -errno; its exit status is that as an unsigned byte (EBUSY 240, ENXIO 250). */
const exitOf = (rc: number) => (rc < 0 ? 256 + rc : rc);
const strerror = (rc: number) => STRERROR[Object.entries(ERRNO).find(([, v]) => v === rc)?.[0] ?? ''] ?? `Unknown error ${-rc}`;

/**
 * kernfs_name_hash (fs/kernfs/dir.c): kernfs keeps a directory's entries in hash order, and readdir
 * returns them so. That order decides which blocks daxctl offlines before the first refusal.
 */
export function kernfsNameHash(name: string): number {
  const M = (1n << 64n) - 1n;
  let h = 0n;
  // partial_name_hash: (prev + (c << 4) + (c >> 4)) * 11, in an unsigned long
  for (const c of Buffer.from(name)) h = ((h + (BigInt(c) << 4n) + (BigInt(c) >> 4n)) * 11n) & M;
  // end_name_hash: hash_long(hash, 32), the top 32 bits of hash * GOLDEN_RATIO_64
  let r = Number(((h * 0x61c8864680b583ebn) & M) >> 32n) & 0x7fffffff;
  if (r < 2) r += 2;
  if (r >= 0x7fffffff) r = 0x7ffffffe;
  return r;
}

/** readdir order of a kernfs directory. */
function readdir(m: Machine, path: string): string[] {
  return m.listDir(path).sort((a, b) => kernfsNameHash(a) - kernfsNameHash(b) || (a < b ? -1 : 1));
}

const read = (m: Machine, path: string) => m.readFile(path).trim();

/** libdaxctl's view of one dax device. */
interface DaxDev {
  name: string;
  regionId: number;
  size: bigint;
  align: bigint;
  resource: bigint;
  /** daxctl_dev_get_memory (dev_is_system_ram_capable): the driver bound is kmem. */
  systemRam: boolean;
  /** daxctl_dev_is_enabled: a driver is bound. */
  enabled: boolean;
}

/** The device's driver link, as libdaxctl reads it. */
function boundDriver(m: Machine, base: string): { enabled: boolean; systemRam: boolean } {
  if (!m.listDir(base).includes('driver')) return { enabled: false, systemRam: false };
  return { enabled: true, systemRam: m.readLink(`${base}/driver`).endsWith('/kmem') };
}

function daxDev(m: Machine, name: string): DaxDev {
  const base = `${DAX}/${name}`;
  return {
    name,
    regionId: Number(read(m, `${base}/../dax_region/id`)),
    size: BigInt(read(m, `${base}/size`)),
    align: BigInt(read(m, `${base}/align`)),
    resource: BigInt(read(m, `${base}/resource`)),
    ...boundDriver(m, base),
  };
}

/**
 * dax_regions_init + daxctl_dev_foreach: every dax device, in the order libdaxctl lists them (each new
 * region goes to the head of its list: the reverse of readdir's order).
 */
function daxDevices(m: Machine): DaxDev[] {
  let names: string[];
  try {
    names = readdir(m, DAX);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^dax\d+\.\d+$/.test(n))
    .reverse()
    .map((n) => daxDev(m, n));
}

/** util_daxctl_dev_filter: "all", the device name, or "region.id". */
function devFilter(d: DaxDev, ident: string): boolean {
  if (ident === 'all' || ident === d.name) return true;
  const x = /^(\d+)\.(\d+)/.exec(ident);
  return !!x && Number(x[1]) === d.regionId && `dax${x[1]}.${x[2]}` === d.name;
}

/** The memory blocks of a device, in readdir order (daxctl_memory_op with memblock_in_dev). */
function memblocks(m: Machine, d: DaxDev): string[] {
  const blockSize = BigInt(`0x${read(m, '/sys/devices/system/memory/block_size_bytes')}`);
  const end = d.resource + d.size - 1n;
  return readdir(m, `${NODES}/node${read(m, `${DAX}/${d.name}/target_node`).trim()}`).filter((n) => {
    if (!/^memory\d+$/.test(n)) return false;
    const res = BigInt(`0x${read(m, `/sys/devices/system/memory/${n}/phys_index`)}`) * blockSize;
    return res >= d.resource && res <= end;
  });
}

const isOnline = (m: Machine, block: string) => read(m, `${blockNode(m, block)}/${block}/state`).startsWith('online');

/** The libdaxctl state of a device's memory: the blocks, how many are online, and the common zone. */
function memoryState(m: Machine, d: DaxDev): { blocks: string[]; online: number; movable: boolean | null } {
  const blocks = memblocks(m, d);
  const online = blocks.filter((b) => isOnline(m, b)).length;
  // daxctl_memory_is_movable: an offline block makes the scan fail (no key); mixed zones are not movable
  const movable = online < blocks.length ? null : blocks.every((b) => read(m, `${blockNode(m, b)}/${b}/valid_zones`) === 'Movable');
  return { blocks, online, movable };
}

/** echo TEXT > a block's state, as sysfs_write_attr_quiet does; the write is kept in --state. Returns 0 or -errno. */
function writeState(s: Session, block: string, text: string): number {
  const path = `${blockNode(s.m, block)}/${block}/state`;
  const logged = s.m.dmesg().length;
  try {
    s.m.writeFile(path, text);
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    // a refusal the kernel logged (an offline's dump_page) is kept, expected to fail the same way
    if (s.m.dmesg().length !== logged) saveStep(s, { op: 'writeFile', path, text, expectError: { code: e.code } });
    return e.errno;
  }
  saveStep(s, { op: 'writeFile', path, text });
  return 0;
}

/** daxctl_memory_op(MEM_SET_ONLINE / MEM_SET_ONLINE_NO_MOVABLE): online_one_memblock for each block; the count onlined, or -errno. */
function memoryOnline(s: Session, d: DaxDev, movable: boolean): number {
  let count = 0;
  for (const b of memblocks(s.m, d)) {
    if (isOnline(s.m, b)) continue;
    const rc = writeState(s, b, movable ? 'online_movable' : 'online');
    // a block some other agent onlined meanwhile is not an error
    if (rc && !isOnline(s.m, b)) return rc;
    if (!rc) count++;
  }
  return count;
}

/** daxctl_memory_op(MEM_SET_OFFLINE): offline_one_memblock for each block; the count offlined, or -errno at the first refusal. */
function memoryOffline(s: Session, d: DaxDev): number {
  let count = 0;
  for (const b of memblocks(s.m, d)) {
    if (!isOnline(s.m, b)) continue;
    const rc = writeState(s, b, 'offline');
    if (rc) {
      if (!isOnline(s.m, b)) continue;
      err(`libdaxctl: offline_one_memblock: ${d.name}: Failed to offline ${blockNode(s.m, b)}/${b}/state: ${strerror(rc)}`);
      return rc;
    }
    count++;
  }
  return count;
}

/** daxctl's warning when it finds blocks already online that it meant to online itself. */
const RACE = [
  '  WARNING: detected a race while onlining memory',
  '  Some memory may not be in the expected zone. It is',
  '  recommended to disable any other onlining mechanisms,',
  '  and retry. If onlining is to be left to other agents,',
  '  use the --no-online option to suppress this warning',
];

const plural = (n: number) => (n === 1 ? '' : 's');

/** dev_online_memory (daxctl/device.c): 0, 1 when everything was online already, or -errno. */
function devOnlineMemory(s: Session, d: DaxDev, movable: boolean, verbose: boolean): number {
  const { blocks, online } = memoryState(s.m, d);
  if (online) {
    err(`${d.name}:`);
    for (const l of RACE) err(l);
  }
  if (online === blocks.length) {
    err(`${d.name}: all memory sections (${online}) already online`);
    return 1;
  }
  if (online > 0) err(`${d.name}: ${online} memory section${plural(online)} already online`);
  const rc = memoryOnline(s, d, movable);
  if (rc < 0) {
    err(`${d.name}: failed to online memory: ${strerror(rc)}`);
    return rc;
  }
  if (verbose) err(`${d.name}: ${rc} memory section${plural(rc)} onlined`);
  const after = memoryState(s.m, d).online;
  if (after < blocks.length) {
    err(`${d.name}: failed to online ${blocks.length - after} memory sections`);
    return ERRNO.ENXIO;
  }
  return 0;
}

/** dev_offline_memory (daxctl/device.c): 0, 1 when everything was offline already, or -errno. */
function devOfflineMemory(s: Session, d: DaxDev, verbose: boolean): number {
  const { blocks, online } = memoryState(s.m, d);
  const off = blocks.length - online;
  if (off === blocks.length) {
    err(`${d.name}: all memory sections (${off}) already offline`);
    return 1;
  }
  if (off) err(`${d.name}: ${off} memory section${plural(off)} already offline`);
  const rc = memoryOffline(s, d);
  if (rc < 0) {
    err(`${d.name}: failed to offline memory: ${strerror(rc)}`);
    return rc;
  }
  if (verbose) err(`${d.name}: ${rc} memory section${plural(rc)} offlined`);
  const still = memoryState(s.m, d).online;
  if (still) {
    err(`${d.name}: failed to offline ${still} memory sections`);
    return ERRNO.ENXIO;
  }
  return 0;
}

/** display_size (util/json.c, -u): under 5000 KiB the number; else IEC (MiB below 2 GiB, GiB below 2 TiB, TiB) with JEDEC beside it. */
function displaySize(bytes: bigint): number | string {
  if (bytes < 5000n * 1024n) return Number(bytes);
  const u = bytes < 2n << 30n ? 0 : bytes < 2n << 40n ? 1 : 2;
  const centi = (x: bigint) => `${x / 100n}.${String(x % 100n).padStart(2, '0')}`;
  const iec = ((bytes * 200n) / (1n << BigInt(20 + 10 * u)) + 1n) / 2n;
  const jedec = (bytes / (10n ** BigInt(6 + 3 * u) / 200n) + 1n) / 2n;
  return `${centi(iec)} ${['MiB', 'GiB', 'TiB'][u]} (${centi(jedec)} ${['MB', 'GB', 'TB'][u]})`;
}

/** util_json_object_size and util_json_object_hex: numbers, or with -u human sizes and "%#llx" strings. */
const jsonSize = (x: bigint, human: boolean) => (human ? displaySize(x) : Number(x));
const jsonHex = (x: bigint, human: boolean) => (human ? (x === 0n ? '0' : `0x${x.toString(16)}`) : Number(x));

/** util_daxctl_dev_to_json (daxctl/json.c); with mappings for list -M. */
function devJson(m: Machine, d: DaxDev, mappings: boolean, human = false): Record<string, unknown> {
  const j: Record<string, unknown> = { chardev: d.name, size: jsonSize(d.size, human), target_node: Number(read(m, `${DAX}/${d.name}/target_node`)) };
  if (d.align > 0n) j.align = jsonSize(d.align, human);
  j.mode = d.systemRam ? 'system-ram' : 'devdax';
  if (d.systemRam && d.resource !== 0n) {
    const st = memoryState(m, d);
    j.online_memblocks = st.online;
    j.total_memblocks = st.blocks.length;
    if (st.movable !== null) j.movable = st.movable;
  }
  if (!d.enabled) j.state = 'disabled';
  if (!mappings) return j;
  const maps: Array<Record<string, unknown>> = [];
  for (let i = 0; ; i++) {
    const base = `${DAX}/${d.name}/mapping${i}`;
    let start: bigint;
    let end: bigint;
    let pgoff: bigint;
    try {
      start = BigInt(read(m, `${base}/start`));
      end = BigInt(read(m, `${base}/end`));
      pgoff = BigInt(read(m, `${base}/page_offset`));
    } catch {
      break;
    }
    maps.push({ page_offset: jsonHex(pgoff, human), start: jsonHex(start, human), end: jsonHex(end, human), size: jsonSize(end - start + 1n, human) });
  }
  if (maps.length) j.mappings = maps;
  return j;
}

/** The region's devpath less "/sys/devices": the dax device's link target, up one (its parent device holds the dax_region). */
function regionPath(m: Machine, d: DaxDev): string {
  const link = m.readLink(`${DAX}/${d.name}`);
  return link.replace(/^(\.\.\/)*devices/, '').replace(/\/[^/]+$/, '');
}

/** util_daxctl_region_to_json: the region's path (less /sys/devices), id, size, align and, with -D, its devices. */
function regionJson(m: Machine, d: DaxDev, devices: Array<Record<string, unknown>> | null, human: boolean): Record<string, unknown> {
  const r: Record<string, unknown> = {
    path: regionPath(m, d),
    id: d.regionId,
    size: jsonSize(BigInt(read(m, `${DAX}/${d.name}/../dax_region/size`)), human),
  };
  // util_json_new_u64: the region's align is a number even with -u
  r.align = Number(read(m, `${DAX}/${d.name}/../dax_region/align`));
  if (devices) r.devices = devices;
  return r;
}

/** json-c escapes '/' in strings. */
const jsonC = (v: unknown) => ndctlJsonString(v).replace(/"path":"([^"]*)"/g, (_, p: string) => `"path":"${p.replace(/\//g, '\\/')}"`);

type DaxctlOpts = MachineOpts & { region?: string; verbose?: boolean; movable?: boolean };

/** do_xaction_device: the action on every matching device; ENXIO when none matched. */
async function xactionDevice(dev: string, cmd: Command, what: { error: string; done: string }, act: (s: Session, d: DaxDev, o: DaxctlOpts) => number): Promise<number> {
  const o = cmd.optsWithGlobals<DaxctlOpts>();
  const s = await openSession(cmd, true);
  try {
    let rc: number = ERRNO.ENXIO;
    let processed = 0;
    for (const d of daxDevices(s.m)) {
      if (o.region !== undefined && o.region !== 'all' && Number(o.region) !== d.regionId) continue;
      if (!devFilter(d, dev)) continue;
      rc = act(s, d, o);
      if (rc === 0) processed++;
    }
    if (rc < 0) err(`error ${what.error}: ${strerror(rc)}`);
    err(`${what.done} ${processed} device${plural(processed)}`);
    return exitOf(rc);
  } finally {
    await s.close();
  }
}

/** do_xline: memory operations need the device in system-ram mode. */
function xline(d: DaxDev, fn: () => number): number {
  if (!d.systemRam) {
    err(`${d.name}: memory operations are not applicable in devdax mode`);
    return ERRNO.ENXIO;
  }
  return fn();
}

/** cmd_online_memory (daxctl/device.c). */
export function cmdOnlineMemory(dev: string, cmd: Command): Promise<number> {
  return xactionDevice(dev, cmd, { error: 'onlining memory', done: 'onlined memory for' }, (s, d, o) => xline(d, () => devOnlineMemory(s, d, o.movable !== false, !!o.verbose)));
}

/** cmd_offline_memory (daxctl/device.c). */
export function cmdOfflineMemory(dev: string, cmd: Command): Promise<number> {
  return xactionDevice(dev, cmd, { error: 'offlining memory', done: 'offlined memory for' }, (s, d, o) => xline(d, () => devOfflineMemory(s, d, !!o.verbose)));
}

/** cmd_reconfig_device (daxctl/device.c): do_reconfig, printing each reconfigured device's JSON. */
export async function cmdReconfigure(dev: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<DaxctlOpts & { mode: string; force?: boolean; online: boolean }>();
  if (o.mode !== 'system-ram' && o.mode !== 'devdax') usage(`--mode ${o.mode} is not system-ram or devdax`);
  if (o.mode === 'devdax' && o.online === false) {
    err('--no-online is incompatible with --mode=devdax');
    usage('usage: daxctl reconfigure-device <device> [<options>]');
  }
  const jdevs: Array<Record<string, unknown>> = [];
  const code = await xactionDevice(dev, cmd, { error: 'reconfiguring devices', done: 'reconfigured' }, (s, d) => {
    const rc = o.mode === 'system-ram' ? reconfigModeSystemRam(s, d, o) : reconfigModeDevdax(s, d, o);
    if (rc < 0) return rc;
    jdevs.push(devJson(s.m, daxDev(s.m, d.name), false));
    return 0;
  });
  if (jdevs.length) out(ndctlJsonString(jdevs));
  return code;
}

/** The driver change itself (daxctl_dev_enable_ram / daxctl_dev_enable_devdax), kept in --state; 0 or -errno. */
function rebind(s: Session, d: DaxDev, mode: 'system-ram' | 'devdax', movable: boolean): number {
  const step: ScenarioStep = { op: 'reconfigureDevice', dev: d.name, mode, online: false, ...(movable ? {} : { movable: false }) };
  const before = stateKey(s);
  try {
    // daxctl onlines the memory itself (below), through the state files
    s.m.reconfigureDevice(d.name, { mode, movable, online: false });
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    // daxctl_dev_enable (daxctl/lib/libdaxctl.c v76.1): the bind write failed, the device is not enabled;
    // the device stays driverless, so the state keeps the step
    err(`libdaxctl: daxctl_dev_enable: ${d.name}: failed to enable`);
    saveFailedStep(s, step, before, e.code);
    return e.errno;
  }
  saveStep(s, step);
  return 0;
}

/** reconfig_mode_system_ram (daxctl/device.c). */
function reconfigModeSystemRam(s: Session, d: DaxDev, o: DaxctlOpts & { force?: boolean; online: boolean }): number {
  const movable = o.movable !== false;
  // the kernel onlining the blocks itself would race daxctl's own onlining (not checked for --no-movable)
  if ((!o.online || movable) && !o.force && readPolicy(s.m).startsWith('online')) {
    err(`${d.name}: error: kernel policy will auto-online memory, aborting`);
    return ERRNO.EBUSY;
  }
  if (d.systemRam) err(`${d.name} was already in system-ram mode`);
  else {
    const rc = rebind(s, d, 'system-ram', movable);
    if (rc) return rc;
  }
  if (!o.online) return 0;
  const rc = devOnlineMemory(s, daxDev(s.m, d.name), movable, !!o.verbose);
  return rc < 0 ? rc : 0;
}

/** reconfig_mode_devdax with disable_system_ram_device (daxctl/device.c): -f offlines the memory first. */
function reconfigModeDevdax(s: Session, d: DaxDev, o: DaxctlOpts & { force?: boolean }): number {
  // a driverless device (a failed kmem probe left it so) is simply enabled in devdax mode
  if (!d.enabled) return rebind(s, d, 'devdax', true);
  if (!d.systemRam) {
    err(`${d.name} was already in devdax mode`);
    return 0;
  }
  if (o.force) {
    const rc = devOfflineMemory(s, d, !!o.verbose);
    if (rc < 0) return rc;
  }
  const online = memoryState(s.m, d).online;
  if (online > 0) {
    if (o.verbose) {
      err(`${d.name}: found ${online} memory sections online`);
      err(`${d.name}: refusing to change modes`);
    }
    return ERRNO.EBUSY;
  }
  return rebind(s, d, 'devdax', true);
}

export interface DaxctlListOpts {
  regions?: boolean;
  devices?: boolean;
  mappings?: boolean;
  idle?: boolean;
  region?: string;
  dev?: string;
  human?: boolean;
}

/** cmd_list (daxctl/list.c): the JSON daxctl list prints (null: nothing, daxctl prints nothing). */
export function daxctlListText(m: Machine, o: DaxctlListOpts): string | null {
  const human = !!o.human;
  let regions = !!o.regions;
  let devs = !!o.devices;
  if (!regions && !devs) {
    regions = o.region !== undefined;
    devs = o.dev !== undefined;
  }
  if (!regions && !devs) devs = true;
  const ident = o.dev ?? 'all';
  const list: Array<Record<string, unknown>> = [];
  for (const d of daxDevices(m)) {
    if (o.region !== undefined && o.region !== 'all' && Number(o.region) !== d.regionId) continue;
    // util_daxctl_devs_to_list: the region's devices that match (idle ones, of size 0, only with -i)
    const devices = devFilter(d, ident) && (o.idle || d.size > 0n) ? [devJson(m, d, !!o.mappings, human)] : [];
    if (regions) list.push(regionJson(m, d, devs && devices.length ? devices : null, human));
    else list.push(...devices);
  }
  // util_display_json_array: with -u, one entry prints as the object itself
  return list.length ? jsonC(human && list.length === 1 ? list[0] : list) : null;
}

/** cmd_list (daxctl/list.c): -R regions, -D devices, -M mappings; devices by default. */
export async function cmdDaxctlList(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & DaxctlListOpts>();
  const s = await openSession(cmd);
  try {
    const text = daxctlListText(s.m, o);
    if (text !== null) out(text);
    return 0;
  } finally {
    await s.close();
  }
}

/** /sys/devices/system/memory/auto_online_blocks, as daxctl_dev_will_auto_online_memory reads it. */
function readPolicy(m: Machine): string {
  try {
    return read(m, '/sys/devices/system/memory/auto_online_blocks');
  } catch {
    return 'offline';
  }
}
