/**
 * `altmap list` and `altmap destroy-namespace` as ndctl 76.1 prints them on the oracle's standard machine
 * (2 GiB of RAM, a 32 GiB NVDIMM at 4 GiB, kernel v6), against the 6.12.117 recordings.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { realStep, runAltmap } from '../fixtures.ts';

/** The oracle's STD machine for the model (machineFor): RAM up to 0x7fedf000, the NVDIMM's region at 4 GiB. */
const STD = { '--kernel': 'v6', '--dram-size': '0x7fedf000', '--pmem-start': '0x100000000', '--pmem-size': '0x7ffe00000', '--backend': 'ts' };
const dir = mkdtempSync(join(tmpdir(), 'altmap-list-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const altmap = (state: string, ...args: string[]) => runAltmap(dir, [...args, '--state', state, ...Object.entries(STD).flat()]);
const real = (c: string, i: number) => realStep('6.12.117', c, i);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** uuids are the machine's own: compared as <uuid>, as the oracle does. */
const norm = (s: string) => s.replace(UUID, '<uuid>');

describe('ndctl list (6.12)', () => {
  it('ns-fsdax-dev-4G-listfull steps 5-9: list -N, -RNDXi (the idle seed), -BRDNiv (bus, DIMM, iset_id, mappings), -Ru, -N -u', async () => {
    expect((await altmap('f.json', 'create-namespace', '-s', '4G', '-m', 'fsdax', '-M', 'dev')).code).toBe(0);
    const n = await altmap('f.json', 'list', '-N');
    expect(n.code).toBe(real('ns-fsdax-dev-4G-listfull', 5).exit);
    expect(norm(n.stdout)).toBe(norm(real('ns-fsdax-dev-4G-listfull', 5).stdout));

    const x = await altmap('f.json', 'list', '-RNDXi');
    expect(x.code).toBe(real('ns-fsdax-dev-4G-listfull', 6).exit);
    expect(norm(x.stdout)).toBe(norm(real('ns-fsdax-dev-4G-listfull', 6).stdout));

    const b = await altmap('f.json', 'list', '-BRDNiv');
    expect(b.code).toBe(real('ns-fsdax-dev-4G-listfull', 7).exit);
    expect(norm(b.stdout)).toBe(norm(real('ns-fsdax-dev-4G-listfull', 7).stdout));

    // -u: iset_id in hex (util_json_object_hex), a lone region bare
    const r = await altmap('f.json', 'list', '-Ru');
    expect(r.code).toBe(real('ns-fsdax-dev-4G-listfull', 8).exit);
    expect(r.stdout).toBe(real('ns-fsdax-dev-4G-listfull', 8).stdout);

    const u = await altmap('f.json', 'list', '-N', '-u');
    expect(norm(u.stdout)).toBe(norm(real('ns-fsdax-dev-4G-listfull', 9).stdout));
    expect(u.stderr).toBe('');
  });

  it('seeds-list-idle steps 4, 6, 8: -RNDi lists the DIMM, the mappings and the idle seed namespaces (raw, size 0, zero uuid, disabled)', async () => {
    const before = await altmap('i.json', 'list', '-RNDi');
    expect(before.code).toBe(real('seeds-list-idle', 4).exit);
    expect(before.stdout).toBe(real('seeds-list-idle', 4).stdout);
    expect((await altmap('i.json', 'create-namespace', '-s', '1G')).code).toBe(0);
    const after = await altmap('i.json', 'list', '-RNDi');
    expect(norm(after.stdout)).toBe(norm(real('seeds-list-idle', 6).stdout));
    expect((await altmap('i.json', 'destroy-namespace', '-f', 'all')).code).toBe(0);
    const gone = await altmap('i.json', 'list', '-RNDi');
    expect(gone.stdout).toBe(real('seeds-list-idle', 8).stdout);
    // without -i the idle seeds are not listed, and a region without namespaces makes -RN print the regions alone
    const rn = await altmap('i.json', 'list', '-RN');
    expect(JSON.parse(rn.stdout)).toEqual([JSON.parse(real('seeds-list-idle', 8).stdout).regions[0]].map(({ mappings: _m, namespaces: _n, ...r }) => r));
  });

  it('ns-sector-16M steps 4-5: a btt too small to probe leaves namespace0.0 configured but not active; list -N prints nothing', async () => {
    const c = await altmap('b.json', 'create-namespace', '-s', '16M', '-m', 'sector');
    expect(c.code).toBe(real('ns-sector-16M', 4).exit);
    expect(c.stderr).toBe(real('ns-sector-16M', 4).stderr);
    const n = await altmap('b.json', 'list', '-N');
    expect(n.code).toBe(real('ns-sector-16M', 5).exit);
    expect(n.stdout).toBe(real('ns-sector-16M', 5).stdout);
  });

  it('seeds-fsdax-3 step 7: three namespaces in libndctl order (namespace0.2, 0.1, 0.0)', async () => {
    for (let i = 0; i < 3; i++) expect((await altmap('s.json', 'create-namespace', '-s', '1G')).code).toBe(0);
    const n = await altmap('s.json', 'list', '-N');
    expect(norm(n.stdout)).toBe(norm(real('seeds-fsdax-3', 7).stdout));
    // -n picks one, -r one region; a filter that matches nothing prints nothing
    const one = await altmap('s.json', 'list', '-n', 'namespace0.1', '-u');
    expect(JSON.parse(one.stdout).dev).toBe('namespace0.1');
    const none = await altmap('s.json', 'list', '-r', 'region7');
    expect(none.stdout).toBe('');
    expect(none.code).toBe(0);
  });

  it('ns-devdax-mem-4G-listfull steps 5 and 8: a devdax namespace shows its chardev; -X alone lists devdax namespaces with their daxregion', async () => {
    expect((await altmap('x.json', 'create-namespace', '-s', '4G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const n = await altmap('x.json', 'list', '-N');
    expect(norm(n.stdout)).toBe(norm(real('ns-devdax-mem-4G-listfull', 5).stdout));
    const x = await altmap('x.json', 'list', '-X');
    expect(x.code).toBe(real('ns-devdax-mem-4G-listfull', 8).exit);
    expect(norm(x.stdout)).toBe(norm(real('ns-devdax-mem-4G-listfull', 8).stdout));
    // -X alone filters by mode dax (cmd_list): an fsdax namespace beside it is not listed
    expect((await altmap('x.json', 'create-namespace', '-s', '1G', '-m', 'fsdax')).code).toBe(0);
    expect(norm((await altmap('x.json', 'list', '-X')).stdout)).toBe(norm(real('ns-devdax-mem-4G-listfull', 8).stdout));
  });

  it('ns-fsdax-dev-all step 4: create-namespace without -s takes the max_available_extent', async () => {
    const c = await altmap('a.json', 'create-namespace', '-m', 'fsdax', '-M', 'dev');
    expect(c.code).toBe(real('ns-fsdax-dev-all', 4).exit);
    expect(norm(c.stdout)).toBe(norm(real('ns-fsdax-dev-all', 4).stdout));
  });
});

describe('ndctl destroy-namespace (6.12)', () => {
  it('refuse-destroy-no-force steps 5-7: without -f refused (exit 240), the namespace stays, -f destroys it', async () => {
    expect((await altmap('d.json', 'create-namespace', '-s', '1G')).code).toBe(0);
    const refused = await altmap('d.json', 'destroy-namespace', 'namespace0.0');
    expect(refused.code).toBe(real('refuse-destroy-no-force', 5).exit);
    expect(refused.stderr).toBe(real('refuse-destroy-no-force', 5).stderr);
    const list = await altmap('d.json', 'list', '-N');
    expect(norm(list.stdout)).toBe(norm(real('refuse-destroy-no-force', 6).stdout));
    const forced = await altmap('d.json', 'destroy-namespace', '-f', 'namespace0.0');
    expect(forced.code).toBe(real('refuse-destroy-no-force', 7).exit);
    expect(forced.stderr).toBe(real('refuse-destroy-no-force', 7).stderr);
  });

  it('refuse-destroy-twice steps 5-7: the second destroy finds the idle seed namespace0.0, fails its zeroing and counts it (exit 0)', async () => {
    expect((await altmap('t.json', 'create-namespace', '-s', '1G')).code).toBe(0);
    for (const i of [5, 6]) {
      const r = await altmap('t.json', 'destroy-namespace', '-f', 'namespace0.0');
      expect(r.code).toBe(real('refuse-destroy-twice', i).exit);
      expect(r.stderr).toBe(real('refuse-destroy-twice', i).stderr);
    }
    expect((await altmap('t.json', 'list', '-N')).stdout).toBe(real('refuse-destroy-twice', 7).stdout);
  });

  it('refuse-destroy-missing step 4: a namespace that does not exist (exit 250)', async () => {
    const r = await altmap('m.json', 'destroy-namespace', '-f', 'namespace0.9');
    expect(r.code).toBe(real('refuse-destroy-missing', 4).exit);
    expect(r.stderr).toBe(real('refuse-destroy-missing', 4).stderr);
  });
});

describe('create-namespace -e without -f, and -n (ndctl 76.1 namespace_prep_reconfig, setup_namespace)', () => {
  it('-e of an active namespace without -f: "is active, specify --force" (error(), so cmd_create_namespace adds its own line), exit 240; -f reconfigures it', async () => {
    expect((await altmap('e.json', 'create-namespace', '-s', '1G')).code).toBe(0);
    const r = await altmap('e.json', 'create-namespace', '-e', 'namespace0.0', '-m', 'raw');
    expect(r.code).toBe(240);
    expect(r.stderr).toBe('  Error: namespace0.0 is active, specify --force for re-configuration\n\nfailed to reconfigure namespace: Device or resource busy\n');
    // the refusal is the same text destroy-namespace prints without -f (fixture refuse-destroy-no-force step 5)
    expect(r.stderr.split('\n')[0]).toBe(real('refuse-destroy-no-force', 5).stderr.split('\n')[0]);
    expect(JSON.parse((await altmap('e.json', 'list', '-N')).stdout)[0].mode).toBe('fsdax');
    expect((await altmap('e.json', 'create-namespace', '-e', 'namespace0.0', '-m', 'raw', '-f')).code).toBe(0);
  });

  it('-n NAME: the label\'s alt_name, listed as "name" after blockdev, kept by -e; 64 bytes overflow NSLABEL_NAME_LEN (exit 234)', async () => {
    const c = await altmap('n.json', 'create-namespace', '-s', '1G', '-n', 'mydata');
    expect(Object.keys(JSON.parse(c.stdout)).slice(-2)).toEqual(['blockdev', 'name']);
    expect((await altmap('n.json', 'cat', '/sys/bus/nd/devices/namespace0.0/alt_name')).stdout).toBe('mydata\n');
    const e = await altmap('n.json', 'create-namespace', '-e', 'namespace0.0', '-m', 'raw', '-f');
    expect(JSON.parse(e.stdout).name).toBe('mydata');
    const long = await altmap('n.json', 'create-namespace', '-s', '1G', '-n', 'x'.repeat(64));
    expect(long.code).toBe(234);
    expect(long.stderr).toMatch(/^  Error: create namespace: validate_namespace_options: alt name overflow\n/);
  });
});

describe('create-namespace --continue (ndctl 76.1 do_xaction_namespace, greedy)', () => {
  /** Two 8 GiB pmem regions on v6, as a state file (machine + no steps). */
  const twoRegions = (file: string) =>
    writeFileSync(
      join(dir, file),
      JSON.stringify({
        machine: {
          kernel: 'v6',
          e820: [
            { start: '0x100000', size: '0x7ff00000', type: 'System RAM' },
            { start: '0x100000000', size: '0x200000000', type: 'Persistent Memory' },
            { start: '0x300000000', size: '0x200000000', type: 'Persistent Memory' },
          ],
        },
        steps: [],
      }),
    );
  const run = (file: string, ...args: string[]) => runAltmap(dir, [...args, '--state', file]);

  it('one namespace per region in libndctl order (region1, then region0), "created 2 namespaces"; then every region is full: ENOSPC, exit 237', async () => {
    twoRegions('c.json');
    const r = await run('c.json', 'create-namespace', '-c', '-s', '2G', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('created 2 namespaces\n');
    expect([...r.stdout.matchAll(/"dev":"(namespace\d\.\d)"/g)].map((x) => x[1])).toEqual(['namespace1.0', 'namespace0.0']);
    expect((await run('c.json', 'create-namespace', '-c')).code).toBe(0);
    const full = await run('c.json', 'create-namespace', '-c');
    expect(full.code).toBe(237);
    expect(full.stderr).toBe('created 0 namespaces\nfailed to create namespace: No space left on device\n');
  });
});

describe('--interleave-ways (createMachine interleaveWays; default_align(), ndctl v76.1 validate_namespace_options)', () => {
  const IW = ['--kernel', 'v6', '--pmem-size', '24G', '--interleave-ways', '6', '--backend', 'ts'];
  const run = (state: string, ...args: string[]) => runAltmap(dir, [...args, '--state', state, ...IW]);
  it('a 6-DIMM region: align 96 MiB, -s 1G refused as ndctl refuses it (exit 234), 1056M created; list -D shows the six DIMMs; a state made so refuses another width', async () => {
    const refused = await run('iw.json', 'create-namespace', '-s', '1G');
    expect([refused.code, refused.stderr]).toEqual([234, '  Error: create namespace: region0: align setting is 0x6000000 size 0x40000000 is misaligned\n\n']);
    expect((await run('iw.json', 'create-namespace', '-s', '1056M')).code).toBe(0);
    const regions = JSON.parse((await run('iw.json', 'list', '-R')).stdout);
    expect(regions).toMatchObject([{ dev: 'region0', align: 96 * 2 ** 20 }]);
    expect(JSON.parse((await run('iw.json', 'list', '-D')).stdout).map((d: { dev: string }) => d.dev).sort()).toEqual(['nmem0', 'nmem1', 'nmem2', 'nmem3', 'nmem4', 'nmem5']);
    const other = await runAltmap(dir, ['list', '-R', '--state', 'iw.json', '--interleave-ways', '2']);
    expect([other.code, other.stderr]).toEqual([2, 'error: --interleave-ways conflicts with the machine --state iw.json was made with\n']);
    const bad = await runAltmap(dir, ['list', '-R', '--interleave-ways', '6,x']);
    expect(bad.code).toBe(2);
  });
});
