/**
 * daxctl 76.1's reconfigure-device, online-memory, offline-memory and list as it prints them on the
 * oracle's standard machine (2 GiB of RAM, a 32 GiB NVDIMM at 4 GiB), against the 6.12 fixtures
 * kmem-policy-refusal, kmem-system-ram-mem-1G, kmem-offline-online, kmem-no-online, kmem-no-movable
 * and kmem-auto-online-off.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { realStep, runAltmap } from '../fixtures.ts';

const TMP = mkdtempSync(join(tmpdir(), 'altmap-daxctl-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const MACHINE = ['--kernel', 'v6', '--dram-size', '0x7fedf000', '--pmem-start', '0x100000000', '--pmem-size', '0x7ffe00000', '--backend', 'ts'];
const altmap = (state: string, ...args: string[]) => runAltmap(TMP, [...args, '--state', state, ...MACHINE]);
const fixture = (c: string, f: 'stdout' | 'stderr') => realStep('6.12.117', c, 5)[f];
const real = (c: string, i: number) => realStep('6.12.117', c, i);
/** The memory blocks' lines of a real state dump (boot RAM's blocks below memory32 left out). */
const kmemBlocks = (memory: string) => memory.split('\n').filter((l) => /memory(3[2-9]|4\d)\/(state|valid_zones|online):/.test(l)).sort();
async function modelBlocks(state: string): Promise<string[]> {
  const paths: string[] = [];
  for (let id = 33; id <= 47; id++) for (const f of ['online', 'state', 'valid_zones']) paths.push(`/sys/devices/system/memory/memory${id}/${f}`);
  // each of these files is one line
  const lines = (await altmap(state, 'cat', ...paths)).stdout.split('\n');
  return paths.map((p, i) => `${p}:${lines[i]}`).sort();
}

/** Run each step's command on the state file and compare exit, stdout and stderr with the recorded step. */
async function expectSteps(c: string, state: string, steps: ReadonlyArray<readonly [number, readonly string[]]>): Promise<void> {
  for (const [i, argv] of steps) {
    const r = await altmap(state, ...argv);
    expect([r.code, r.stdout, r.stderr], `${c} step ${i}`).toEqual([real(c, i).exit, real(c, i).stdout, real(c, i).stderr]);
  }
}

describe('daxctl reconfigure-device (6.12)', () => {
  it('kmem-policy-refusal step 05: without -f, the kernel policy that onlines memory itself is a refusal (exit 240)', async () => {
    expect((await altmap('p.json', 'create-namespace', '-s', '2G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const r = await altmap('p.json', 'reconfigure-device', 'dax0.0', '-m', 'system-ram');
    expect(r.code).toBe(240);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(fixture('kmem-policy-refusal', 'stderr'));
  });

  it('kmem-system-ram-mem-1G step 05: -f reconfigures; the kernel has onlined the 7 blocks to ZONE_NORMAL, daxctl finds them online', async () => {
    expect((await altmap('k.json', 'create-namespace', '-s', '1G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const r = await altmap('k.json', 'reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(fixture('kmem-system-ram-mem-1G', 'stdout'));
    expect(r.stderr).toBe(fixture('kmem-system-ram-mem-1G', 'stderr'));
    const iomem = (await altmap('k.json', 'cat', '/proc/iomem')).stdout;
    expect(iomem).toMatch(/^ {2}108000000-13fffffff : dax0\.0\n {4}108000000-13fffffff : System RAM \(kmem\)$/m);
  });
});

describe('a failed kmem bind (daxctl v76.1 reconfig_mode_system_ram, drivers/dax/kmem.c)', () => {
  it('a 96 MiB device has no whole block: "failed to enable", exit 234; the device stays driverless in --state (daxctl list "state":"disabled", no dax0.0 in /proc/iomem); -m devdax enables it again', async () => {
    expect((await altmap('f.json', 'create-namespace', '-s', '96M', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const r = await altmap('f.json', 'reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f');
    expect([r.code, r.stdout, r.stderr]).toEqual([234, '', 'libdaxctl: daxctl_dev_enable: dax0.0: failed to enable\nerror reconfiguring devices: Invalid argument\nreconfigured 0 devices\n']);
    const list = JSON.parse((await altmap('f.json', 'daxctl-list')).stdout);
    expect(list).toEqual([{ chardev: 'dax0.0', size: 98566144, target_node: 0, align: 2097152, mode: 'devdax', state: 'disabled' }]);
    expect((await altmap('f.json', 'cat', '/proc/iomem')).stdout).not.toContain(': dax0.0');
    const back = await altmap('f.json', 'reconfigure-device', 'dax0.0', '-m', 'devdax');
    expect([back.code, back.stderr]).toEqual([0, 'reconfigured 1 device\n']);
    expect(JSON.parse(back.stdout)).toEqual([{ chardev: 'dax0.0', size: 98566144, target_node: 0, align: 2097152, mode: 'devdax' }]);
    expect((await altmap('f.json', 'cat', '/proc/iomem')).stdout).toContain('  100200000-105ffffff : dax0.0\n');
  });
});

describe('daxctl online-memory, offline-memory and list (6.12)', () => {
  const C = 'kmem-offline-online';
  it(`${C} steps 05-10: offline-memory stops at memory33 (EBUSY, exit 240) after the blocks readdir gives first; list shows 8 of 15 online; online-memory puts them back in ZONE_MOVABLE; -f devdax refuses again`, async () => {
    const st = 'oo.json';
    expect((await altmap(st, 'create-namespace', '-s', '2G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    let r = await altmap(st, 'reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f');
    expect([r.code, r.stdout, r.stderr]).toEqual([real(C, 5).exit, real(C, 5).stdout, real(C, 5).stderr]);
    r = await altmap(st, 'offline-memory', 'dax0.0');
    expect([r.code, r.stdout, r.stderr]).toEqual([real(C, 6).exit, real(C, 6).stdout, real(C, 6).stderr]);
    // memory35, 37, 39, 40, 43, 45 and 47 went offline before memory33 refused: kernfs's hash order
    expect(await modelBlocks(st)).toEqual(kmemBlocks(real(C, 6).state.memory));
    r = await altmap(st, 'daxctl-list', '-RDMi');
    expect([r.code, r.stdout, r.stderr]).toEqual([real(C, 7).exit, real(C, 7).stdout, real(C, 7).stderr]);
    r = await altmap(st, 'online-memory', 'dax0.0');
    expect([r.code, r.stdout, r.stderr]).toEqual([real(C, 8).exit, real(C, 8).stdout, real(C, 8).stderr]);
    expect(await modelBlocks(st)).toEqual(kmemBlocks(real(C, 8).state.memory));
    r = await altmap(st, 'daxctl-list', '-RDMi');
    expect([r.code, r.stdout]).toEqual([real(C, 9).exit, real(C, 9).stdout]);
    r = await altmap(st, 'reconfigure-device', 'dax0.0', '-m', 'devdax', '-f');
    expect([r.code, r.stdout, r.stderr]).toEqual([real(C, 10).exit, real(C, 10).stdout, real(C, 10).stderr]);
    expect(await modelBlocks(st)).toEqual(kmemBlocks(real(C, 10).state.memory));
  });

  it('kmem-no-online steps 05-07: --no-online leaves the kernel\'s onlining alone; online-memory then finds all 15 online and exits 1', async () => {
    const C2 = 'kmem-no-online';
    const st = 'no.json';
    expect((await altmap(st, 'create-namespace', '-s', '2G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    let r = await altmap(st, 'reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f', '--no-online');
    expect([r.code, r.stdout, r.stderr]).toEqual([real(C2, 5).exit, real(C2, 5).stdout, real(C2, 5).stderr]);
    r = await altmap(st, 'daxctl-list', '-RDMi');
    expect(r.stdout).toBe(real(C2, 6).stdout);
    r = await altmap(st, 'online-memory', 'dax0.0');
    expect([r.code, r.stdout, r.stderr]).toEqual([real(C2, 7).exit, real(C2, 7).stdout, real(C2, 7).stderr]);
    expect(r.code).toBe(1);
  });

  it('kmem-no-movable steps 05-07: --no-movable skips the policy check; -f devdax then fails at memory33 (exit 240)', async () => {
    const C3 = 'kmem-no-movable';
    const st = 'nm.json';
    expect((await altmap(st, 'create-namespace', '-s', '2G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    await expectSteps(C3, st, [
      [5, ['reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f', '--no-movable']],
      [6, ['daxctl-list', '-RDMi']],
      [7, ['reconfigure-device', 'dax0.0', '-m', 'devdax', '-f']],
    ] as const);
  });

  it('kmem-auto-online-off steps 05-08: with auto_online_blocks offline, reconfigure needs no -f and daxctl onlines to ZONE_MOVABLE (movable true); -f devdax then succeeds', async () => {
    const C4 = 'kmem-auto-online-off';
    const st = 'off.json';
    expect((await altmap(st, 'create-namespace', '-s', '2G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    expect((await altmap(st, 'write', '/sys/devices/system/memory/auto_online_blocks', 'offline')).code).toBe(real(C4, 5).exit);
    await expectSteps(C4, st, [
      [6, ['reconfigure-device', 'dax0.0', '-m', 'system-ram']],
      [7, ['daxctl-list', '-RDMi']],
      [8, ['reconfigure-device', 'dax0.0', '-m', 'devdax', '-f']],
    ] as const);
  });

  it('online-memory of a devdax device: not applicable, ENXIO (exit 250, daxctl/device.c do_xline)', async () => {
    const st = 'dd.json';
    expect((await altmap(st, 'create-namespace', '-s', '1G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const r = await altmap(st, 'online-memory', 'dax0.0');
    expect(r.code).toBe(250);
    expect(r.stderr).toBe('dax0.0: memory operations are not applicable in devdax mode\nerror onlining memory: No such device or address\nonlined memory for 0 devices\n');
  });
});

describe('daxctl list forms (6.12)', () => {
  it('ns-devdax-mem-4G-listfull steps 06, 09-11: list -RDMi, list, list -R and list -D -u (human sizes, one device printed bare)', async () => {
    const C = 'ns-devdax-mem-4G-listfull';
    const st = 'lf.json';
    expect((await altmap(st, 'create-namespace', '-s', '4G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    await expectSteps(C, st, [
      [6, ['daxctl-list', '-RDMi']],
      [9, ['daxctl-list']],
      [10, ['daxctl-list', '-R']],
      [11, ['daxctl-list', '-D', '-u']],
    ] as const);
  });
});

describe('daxctl with the kernel command line of the case (6.12)', () => {
  it('sp-kmem steps 06 and 08 (memhp_default_state=online_movable): the kernel onlines the 7 blocks to ZONE_MOVABLE (movable true), and -f devdax offlines them all (exit 0)', async () => {
    const C = 'sp-kmem';
    expect(real(C, 0).state.memory).toMatch(/auto_online_blocks:online_movable/);
    const st = 'mv.json';
    const e820 = [
      { start: '0x100000', size: '0x7fedf000', type: 'System RAM' },
      { start: '0x100000000', size: '0x7ffe00000', type: 'Persistent Memory' },
    ];
    writeFileSync(join(TMP, st), JSON.stringify({ machine: { kernel: 'v6', e820, cmdline: 'memhp_default_state=online_movable', backend: 'ts' }, steps: [] }));
    expect((await runAltmap(TMP, ['create-namespace', '-s', '1G', '-m', 'devdax', '-M', 'mem', '--state', st])).code).toBe(0);
    await expectSteps(C, st, [
      [6, ['reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f']],
      [8, ['reconfigure-device', 'dax0.0', '-m', 'devdax', '-f']],
    ] as const);
  });
});

/** util-linux's own lsmem, to run on a recorded sysfs (--sysroot). */
const LSMEM = '/usr/bin/lsmem';

/** A sysroot holding a recorded /sys/devices/system/memory, each block with the node0 link lsmem looks for. */
function sysroot(dir: string, memory: string): string {
  const root = join(TMP, dir);
  for (const l of memory.split('\n')) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const p = join(root, l.slice(0, i));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, `${l.slice(i + 1)}\n`);
    const b = /\/memory\/(memory\d+)\//.exec(l);
    if (b) mkdirSync(join(root, '/sys/devices/system/memory', b[1]!, 'node0'), { recursive: true });
  }
  return root;
}

describe('altmap lsmem (util-linux 2.38)', () => {
  it.skipIf(!existsSync(LSMEM))('kmem-offline-online step 06: lsmem and lsmem -o +ZONES,NODE print what util-linux\'s lsmem prints for the recorded sysfs', async () => {
    const C = 'kmem-offline-online';
    const root = sysroot('lsmem-root', real(C, 6).state.memory);
    const st = 'ls.json';
    expect((await altmap(st, 'create-namespace', '-s', '2G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    expect((await altmap(st, 'reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f')).code).toBe(0);
    expect((await altmap(st, 'offline-memory', 'dax0.0')).code).toBe(real(C, 6).exit);
    for (const extra of [[], ['-o', '+ZONES,NODE'], ['-b'], ['-a', '-n'], ['--summary=only']]) {
      const want = execFileSync(LSMEM, ['--sysroot', root, ...extra], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
      const r = await altmap(st, 'lsmem', ...extra);
      expect([r.code, r.stdout], extra.join(' ')).toEqual([0, want]);
    }
  });
});
