/**
 * Model my machine (issue 14 item 6): `--e820` and `--from` read the dmesg and the ndctl/daxctl output
 * recorded in the real-kernel fixtures back into the same machine. For every recorded case of 6.12.117
 * and 6.1.192, the case's final `ndctl list` JSON (with the boot log's BIOS-e820 lines) is handed to
 * `altmap <the same list command> --e820 BOOTLOG --from LISTING`; what the rebuilt machine lists must be
 * the real kernel's listing byte for byte (uuids aside: the real ones are random). A listing without
 * regions (`ndctl list -N`) gets the case's regions from `--machine` (ndctl lists no region there).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/index.ts';
import { FromError, readListing, rebuildFrom, splitJsonValues } from '../../src/cli/from.ts';
import { Exit } from '../../src/cli/output.ts';
import { FIXTURES_DIR, fixtureCases, readFixture, type Fixture } from '../../src/oracle/fixtures.ts';
import { captured, layoutFrom, machineFor, translate } from '../../src/oracle/model.ts';
import { KernelError, parseE820 } from '../../src/index.ts';
import { runAltmap } from '../fixtures.ts';

const KERNELS = [['6.12.117', 'v6'], ['6.1.192', 'v6.1']] as const;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const dir = mkdtempSync(join(tmpdir(), 'altmap-from-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Listings the model cannot be rebuilt into, and why: the state they show was left by a failure, which a
 * listing does not say how to reproduce.
 */
const NOT_REBUILT: Record<string, string> = {
  'a1G-ll-devdax-dev': 'namespace1.0 is raw and "disabled": a failed -e reconfigure left it so (6.12)',
  'a1G-ll-devdax-mem': 'namespace1.0 is raw and "disabled": a failed -e reconfigure left it so (6.12)',
  'a1G-ll-fsdax-dev': 'namespace1.0 is raw and "disabled": a failed -e reconfigure left it so (6.12)',
  'a1G-ll-fsdax-mem': 'namespace1.0 is raw and "disabled": a failed -e reconfigure left it so (6.12)',
};

interface Listed {
  kernel: string;
  profile: 'v6' | 'v6.1';
  id: string;
  f: Fixture;
  /** The last ndctl list step that printed JSON. */
  step: Fixture['steps'][number];
  /** The last daxctl list -RDMi step after the ndctl one's machine state (same state), if any. */
  dax?: Fixture['steps'][number];
  regions: boolean;
}

function listings(): Listed[] {
  const out: Listed[] = [];
  for (const [kernel, profile] of KERNELS)
    for (const id of fixtureCases(kernel)) {
      const f = readFixture(`${FIXTURES_DIR}${kernel}/${id}`);
      // -u listings round their sizes ("3.94 GiB (4.23 GB)"): --from refuses them, the last exact one is taken
      const lists = f.steps.filter((s) => /^ndctl list\b/.test(s.run) && !/\s-\w*u/.test(s.run) && s.exit === 0 && /^\s*[[{]/.test(s.stdout));
      const step = lists.at(-1);
      if (!step) continue;
      // a daxctl listing of the same state: no step changing anything between them
      const between = f.steps.filter((s) => s.index > step.index && !/^(ndctl|daxctl) list\b|^cat /.test(s.run));
      const dax = f.steps.filter((s) => s.index > step.index && /^daxctl list -RDMi$/.test(s.run) && s.exit === 0 && !between.some((b) => b.index < s.index)).at(-1);
      out.push({ kernel, profile, id, f, step, ...(dax ? { dax } : {}), regions: /R/.test(step.run.split(/\s+/).slice(2).join(' ')) });
    }
  return out;
}

const LISTED = listings();
const mask = (s: string) => s.replace(UUID, '<uuid>');

/** The case's machine (the oracle's), for a listing that has no regions. */
function caseMachine(l: Listed): string {
  const setup = [...l.f.steps].reverse().find((s) => s.setup) ?? l.f.steps[0]!;
  const m = machineFor(layoutFrom(l.f.earlyBoot, setup.state.nd, l.f.steps[0]!.state.memory), l.profile);
  const p = join(dir, `${l.kernel}-${l.id}.machine.json`);
  writeFileSync(p, JSON.stringify(m));
  return p;
}

describe('--e820 and --from: the recorded listings rebuilt', () => {
  it('the set is large: every case with an ndctl listing, both kernels, region listings among them', () => {
    // 269 cases end with an exact ndctl listing: 12 of them list regions, 44 are followed by a daxctl -RDMi listing of the same state
    expect(LISTED.length).toBeGreaterThanOrEqual(269);
    expect(LISTED.filter((l) => l.regions).length).toBeGreaterThanOrEqual(12);
    expect(LISTED.filter((l) => l.dax).length).toBeGreaterThanOrEqual(44);
  });

  it.each(LISTED.filter((l) => !NOT_REBUILT[l.id]).map((l) => [`${l.kernel}/${l.id} step ${l.step.index} (${l.step.run})`, l] as const))('%s: the rebuilt machine lists what the real kernel listed', async (_name, l) => {
    const boot = join(dir, `${l.kernel}-${l.id}.dmesg`);
    writeFileSync(boot, l.f.earlyBoot);
    const from = join(dir, `${l.kernel}-${l.id}.json`);
    writeFileSync(from, l.step.stdout + (l.dax ? l.dax.stdout : ''));
    const base = ['--kernel', l.profile, '--backend', 'wasm'];
    const inputs = ['--e820', boot, '--from', from, ...(l.regions ? [] : ['--machine', caseMachine(l)])];
    const r = await captured(main, [...base, ...translate(l.step.run)!, ...inputs]);
    expect(r.stderr).toBe('');
    expect(mask(r.stdout)).toBe(mask(l.step.stdout));
    expect(r.code).toBe(0);
    if (l.dax) {
      const d = await captured(main, [...base, ...translate(l.dax.run)!, ...inputs]);
      expect(mask(d.stdout)).toBe(mask(l.dax.stdout));
    }
  });
});

/** Cases whose last listing is daxctl's (-RDMi): the namespaces from their create-namespace JSON, the dax devices from daxctl's. */
interface DaxListed {
  kernel: string;
  profile: 'v6' | 'v6.1';
  id: string;
  f: Fixture;
  creates: string[];
  dax: Fixture['steps'][number];
}

function daxListings(): DaxListed[] {
  const out: DaxListed[] = [];
  for (const [kernel, profile] of KERNELS)
    for (const id of fixtureCases(kernel)) {
      const f = readFixture(`${FIXTURES_DIR}${kernel}/${id}`);
      const dax = f.steps.filter((s) => /^daxctl list -RDMi$/.test(s.run) && s.exit === 0 && /^\s*\[/.test(s.stdout)).at(-1);
      if (!dax || f.steps.some((s) => /^ndctl list\b/.test(s.run))) continue;
      // the namespaces alive at the listing, as create-namespace printed them (a later create of one name replaces it)
      const live = new Map<string, string>();
      for (const s of f.steps.filter((x) => x.index < dax.index)) {
        if (/^ndctl create-namespace\b/.test(s.run) && s.exit === 0) live.set((JSON.parse(s.stdout) as { dev: string }).dev, s.stdout);
        const d = /^ndctl destroy-namespace (?:-f )?(\S+)/.exec(s.run);
        if (d && s.exit === 0) {
          if (d[1] === 'all') live.clear();
          else live.delete(d[1]!);
        }
      }
      if (live.size) out.push({ kernel, profile, id, f, creates: [...live.values()], dax });
    }
  return out;
}

const DAX_LISTED = daxListings();

describe('--from with daxctl list -RDMi: the kmem cases rebuilt, system-ram devices and their blocks included', () => {
  it('the set: the recorded cases without an ndctl listing, with a daxctl one (system-ram ones among them)', () => {
    expect(DAX_LISTED.length).toBeGreaterThanOrEqual(20);
    expect(DAX_LISTED.filter((l) => /"system-ram"/.test(l.dax.stdout)).length).toBeGreaterThanOrEqual(10);
  });

  it.each(DAX_LISTED.map((l) => [`${l.kernel}/${l.id} step ${l.dax.index} (${l.dax.run})`, l] as const))('%s: the rebuilt machine lists what the real daxctl listed', async (_name, l) => {
    const boot = join(dir, `${l.kernel}-${l.id}.dax.dmesg`);
    writeFileSync(boot, l.f.earlyBoot);
    const from = join(dir, `${l.kernel}-${l.id}.dax.json`);
    writeFileSync(from, l.creates.join('') + l.dax.stdout);
    const r = await captured(main, ['--kernel', l.profile, '--backend', 'wasm', ...translate(l.dax.run)!, '--e820', boot, '--from', from, '--machine', caseMachine({ ...l, step: l.dax, regions: false })]);
    expect(r.stderr).toBe('');
    expect(mask(r.stdout)).toBe(mask(l.dax.stdout));
  });
});

describe('--from refuses what it cannot read, naming the JSON path', () => {
  it('a human-readable size (ndctl list -u), a mode ndctl has not, a region listed twice: FromError at the path', () => {
    const fromErr = (docs: unknown[]) => {
      try {
        readListing(docs);
      } catch (e) {
        expect(e).toBeInstanceOf(FromError);
        return (e as FromError).message;
      }
      throw new Error('no error');
    };
    expect(fromErr([[{ dev: 'namespace0.0', mode: 'fsdax', size: '3.94 GiB (4.23 GB)' }]])).toBe('EINVAL: $[0].size: "3.94 GiB (4.23 GB)" is a human-readable size (ndctl list -u): list without -u for exact bytes');
    expect(fromErr([{ regions: [{ dev: 'region0', size: 1 << 30, namespaces: [{ dev: 'namespace0.0', mode: 'blk', size: 0 }] }] }])).toBe('EINVAL: $.regions[0].namespaces[0].mode: "blk" is not an ndctl namespace mode (raw, fsdax, devdax, sector)');
    expect(fromErr([{ regions: [{ dev: 'region0', size: 1 << 30 }, { dev: 'region0', size: 1 << 30 }] }])).toBe('EINVAL: $.regions[1].dev: region0 is listed twice');
    expect(fromErr([[{ dev: 'namespace0.0', size: 1 }], [{ foo: 1 }]])).toBe('EINVAL: $1[0]: neither an ndctl nor a daxctl listing (keys foo)');
  });

  it('unknown keys are fine (ndctl adds keys over versions)', () => {
    const l = readListing([[{ dev: 'namespace0.0', mode: 'fsdax', map: 'dev', size: 4225761280, uuid: 'x', new_key_of_v99: { deep: [1] } }]]);
    expect(l.namespaces.map((n) => [n.dev, n.mode, n.map, n.size])).toEqual([['namespace0.0', 'fsdax', 'dev', 4225761280n]]);
  });

  it('an ndctl listing and a daxctl one in one file, with the shell prompt lines pasted between them', () => {
    const docs = splitJsonValues('$ ndctl list -N\n[{"dev":"namespace0.0","size":1}]\n# daxctl list -RDMi\n[{"chardev":"dax0.0","mode":"system-ram"}]\n', 'x');
    expect(docs).toEqual([[{ dev: 'namespace0.0', size: 1 }], [{ chardev: 'dax0.0', mode: 'system-ram' }]]);
    expect(() => splitJsonValues('ndctl: error\n{}', 'x')).toThrow(Exit);
  });

  it('fuzz: any JSON is read or refused with FromError, never anything else', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.jsonValue(), fc.record({ dev: fc.constantFrom('namespace0.0', 'region0', 'regionX', 'namespace1.2'), mode: fc.oneof(fc.constantFrom('fsdax', 'devdax', 'raw', 'sector', 'memory'), fc.jsonValue()), size: fc.oneof(fc.nat(), fc.jsonValue()), map: fc.jsonValue(), namespaces: fc.array(fc.jsonValue()), daxregion: fc.jsonValue() }, { requiredKeys: ['dev'] })), { minLength: 1, maxLength: 3 }), (docs) => {
        try {
          readListing(docs);
        } catch (e) {
          if (!(e instanceof FromError)) throw e;
          expect(e.message).toMatch(/^EINVAL: \$\d*[[.]?/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('the machine inputs on the command line (--machine, --e820, --from, with --state and plan)', () => {
  const f = readFixture(`${FIXTURES_DIR}6.12.117/seeds-two-regions`);
  const bootLog = join(dir, 'cli-boot.dmesg');
  const listing = join(dir, 'cli-list.json');
  writeFileSync(bootLog, f.earlyBoot);
  writeFileSync(listing, f.steps.find((s) => s.index === 7)!.stdout);
  const v6 = ['--kernel', 'v6', '--backend', 'wasm'];

  it('files are read with the bounded reader: a FIFO or a directory is refused (exit 2), nothing waits on it', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await captured(main, [...v6, 'list', '--e820', fifo]);
    expect([r.code, r.stderr]).toEqual([2, `error: --e820 ${fifo}: not a regular file (a FIFO)\n`]);
    const d = await captured(main, [...v6, 'list', '--from', dir]);
    expect([d.code, d.stderr]).toEqual([2, `error: --from ${dir}: not a regular file (a directory)\n`]);
  });

  it('seeds-two-regions (6.12.117): a dmesg with a cut line is a usage error naming the line; --dram-size conflicts with --e820', async () => {
    const lines = f.earlyBoot.split('\n');
    const i = lines.findIndex((l) => l.includes('BIOS-e820:'));
    lines[i + 2] = lines[i + 2]!.slice(0, 50);
    const bad = join(dir, 'cut.dmesg');
    writeFileSync(bad, lines.join('\n'));
    const r = await captured(main, [...v6, 'list', '--e820', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --e820 ${bad}: e820 line ${i + 3}: not an e820 table line ("BIOS-e820: [mem 0x...-0x...] type"), truncated?: ${JSON.stringify(lines[i + 2])}\n`);
    const c = await captured(main, [...v6, 'list', '--e820', bootLog, '--dram-size', '4G']);
    expect([c.code, c.stderr]).toEqual([2, 'error: --dram-size conflicts with --e820 (the dmesg says how much System RAM there is)\n']);
  });

  it('seeds-two-regions (6.12.117): a new --state file starts as the rebuilt machine; later commands replay it; --from on an existing state is refused', async () => {
    const state = join(dir, 'two.json');
    const a = await captured(main, [...v6, 'list', '-RNi', '--e820', bootLog, '--from', listing, '--state', state]);
    expect(a.code).toBe(0);
    expect(existsSync(state)).toBe(true);
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { machine: { e820: Array<{ start: string; type: string }> }; steps: Array<{ op: string; region?: number; size?: string }> };
    // region0 at 4 GiB, region1 right after it, where QEMU put the second NVDIMM (the real sysfs: 0x2ffe00000)
    expect(saved.machine.e820.filter((e) => e.type === 'Persistent Memory').map((e) => e.start)).toEqual(['0x100000000', '0x2ffe00000']);
    expect(saved.steps.map((s) => [s.op, s.region, s.size])).toEqual([['createNamespace', 0, String(1n << 30n)]]);
    const b = await captured(main, [...v6, 'list', '-RNi', '--state', state]);
    expect(mask(b.stdout)).toBe(mask(f.steps.find((s) => s.index === 7)!.stdout));
    const c = await captured(main, [...v6, 'list', '--from', listing, '--state', state]);
    expect([c.code, c.stderr]).toEqual([2, `error: --machine/--e820/--from conflict with --state ${state} (it has its machine already)\n`]);
  });

  it('--e820 of a dmesg without pmem (NFIT pmem is not in e820): --pmem-size goes where firmware puts an NVDIMM, past the 0xfd00000000 hole', async () => {
    const r = await captured(main, [...v6, 'cat', '/proc/iomem', '--e820', bootLog, '--pmem-size', '2T', '--explain-machine']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => /Persistent Memory/.test(l))).toEqual(['10000000000-2ffffffffff : Persistent Memory']);
    expect(r.stderr).toContain('pmem: the dmesg has no Persistent Memory in e820 (ACPI NFIT describes it): 0x20000000000 bytes at 0x10000000000 from --pmem-size/--pmem-start\n');
  });

  it('--machine: a MachineConfig file, or a state/scenario file; a bad one is a usage error', async () => {
    const mf = join(dir, 'm.json');
    writeFileSync(mf, JSON.stringify({ kernel: 'v6', e820: [{ start: '0x100000', size: '4G', type: 'System RAM' }, { start: '0x200000000', size: '16G', type: 'Persistent Memory' }] }));
    const r = await captured(main, [...v6, 'list', '-R', '--machine', mf]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject([{ dev: 'region0', size: 16 * 2 ** 30 }]);
    writeFileSync(mf, JSON.stringify({ kernel: 'v6', e820: [{ start: '0x100000', size: '4G', type: 'RAM' }] }));
    const b = await captured(main, [...v6, 'list', '--machine', mf]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(new RegExp(`^error: --machine ${mf}: `));
  });

  it('plan --e820 --from (seeds-two-regions, 6.12.117): one plan per region, named as the machine names them, against the dmesg\'s System RAM', async () => {
    const r = await captured(main, ['--backend', 'wasm', 'plan', '--e820', bootLog, '--from', listing, '-m', 'fsdax', '--json']);
    expect(r.code).toBe(0);
    const plans = JSON.parse(r.stdout) as Array<{ size: number; nodeDram: number; regions: Array<{ region: string }>; rows: Array<{ region: string; label: string; ok: boolean }> }>;
    const ram = parseE820(f.earlyBoot).filter((e) => e.type === 'System RAM').reduce((a, e) => a + Number(BigInt(e.size)), 0);
    expect(plans.map((p) => [p.regions.map((x) => x.region), p.nodeDram, p.size])).toEqual([
      [['region0'], ram, 8573157376],
      [['region1'], ram, 8573157376],
    ]);
    expect(plans.flatMap((p) => p.rows.map((x) => [x.region, x.label, x.ok]))).toEqual([
      ['region0', 'fsdax, map=dev', true],
      ['region0', 'fsdax, map=mem', true],
      ['region1', 'fsdax, map=dev', true],
      ['region1', 'fsdax, map=mem', true],
    ]);
  });
});

describe('--from: a region placed where its dax device is listed (daxctl -M)', () => {
  it('kmem-8G-block-trim (6.12.117) with its mapping listed 64 GiB higher: the region moves there, the device and its 63 blocks with it', async () => {
    const f = readFixture(`${FIXTURES_DIR}6.12.117/kmem-8G-block-trim`);
    const created = JSON.parse(f.steps.find((s) => s.index === 4)!.stdout) as object;
    const daxText = f.steps.find((s) => s.index === 6)!.stdout;
    const up = 64n << 30n;
    const shifted = daxText.replace(/"(start|end)":(\d+)/g, (_m, k: string, v: string) => `"${k}":${BigInt(v) + up}`);
    expect(shifted).toContain('"start":73016541184');
    const from = join(dir, 'shifted.json');
    // the region as ndctl list -R shows it (the real sysfs: region0, 34357641216 bytes, align 16 MiB, labelled)
    writeFileSync(from, JSON.stringify({ regions: [{ dev: 'region0', size: 34357641216, align: 16777216, iset_id: 1, namespaces: [created] }] }) + shifted);
    const boot = join(dir, 'shifted.dmesg');
    writeFileSync(boot, f.earlyBoot);
    const v6 = ['--kernel', 'v6', '--backend', 'wasm'];
    const args = ['--e820', boot, '--from', from];
    const d = await captured(main, [...v6, 'daxctl-list', '-RDMi', ...args]);
    expect([d.code, d.stderr]).toEqual([0, '']);
    expect(d.stdout).toBe(shifted);
    const io = await captured(main, [...v6, 'cat', '/proc/iomem', ...args, '--explain-machine']);
    expect(io.stdout.split('\n').filter((l) => /Persistent Memory/.test(l))).toEqual(['1100000000-18ffdfffff : Persistent Memory']);
    expect(io.stderr).toContain('regions: the region of dax0.0 moved to 0x1100000000, where daxctl lists its mapping (0x1100200000)\n');
  });
});

describe('--from fuzz: a real listing changed anywhere rebuilds or fails with a typed error', () => {
  it('seeds-two-regions and ns-fsdax-dev-4G-listfull (6.12.117): one value replaced at a random path; only KernelError (FromError among them) comes out', async () => {
    const docs = [readFixture(`${FIXTURES_DIR}6.12.117/seeds-two-regions`).steps[7]!.stdout, readFixture(`${FIXTURES_DIR}6.12.117/ns-fsdax-dev-4G-listfull`).steps[7]!.stdout].map((t) => JSON.parse(t) as unknown);
    const e820 = parseE820(readFixture(`${FIXTURES_DIR}6.12.117/seeds-two-regions`).earlyBoot);
    /** Every path into a JSON value, as key lists. */
    const paths = (v: unknown, at: Array<string | number> = []): Array<Array<string | number>> => [at, ...(v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => paths(x, [...at, Array.isArray(v) ? Number(k) : k])) : [])];
    const set = (v: unknown, p: Array<string | number>, x: unknown): unknown => {
      if (!p.length) return x;
      const c = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, unknown>;
      c[p[0]!] = set(c[p[0]!], p.slice(1), x);
      return c;
    };
    await fc.assert(
      fc.asyncProperty(fc.nat(docs.length - 1), fc.nat(), fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(0, -1, 4096, 2 ** 40, 'namespace9.9', 'region7', 'devdax', 'sector', 'system-ram', null)), async (d, i, x) => {
        const ps = paths(docs[d]);
        const doc = set(docs[d], ps[i % ps.length]!, x);
        try {
          await rebuildFrom([doc], { kernel: 'v6', e820 }, 'ts');
        } catch (e) {
          if (!(e instanceof KernelError)) throw e;
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});

describe('--from an interleaved region (ndctl list -RD mappings -> interleaveWays)', () => {
  it('a 6-DIMM region listed with its namespace comes back 6-way: the same -RDN listing, the region align default_align()\'s 96 MiB', async () => {
    const made = ['--kernel', 'v6', '--pmem-size', '24G', '--interleave-ways', '6', '--backend', 'ts'];
    expect((await runAltmap(dir, ['create-namespace', '-s', '1056M', '--state', 'iw6.json', ...made])).code).toBe(0);
    const listing = (await runAltmap(dir, ['list', '-RDN', '--state', 'iw6.json'])).stdout;
    writeFileSync(join(dir, 'iw6.ndctl.json'), listing);
    const again = await runAltmap(dir, ['list', '-RDN', '--kernel', 'v6', '--backend', 'ts', '--from', 'iw6.ndctl.json']);
    expect(again.code, again.stderr).toBe(0);
    expect(mask(again.stdout)).toBe(mask(listing));
    expect(JSON.parse(listing).regions[0].align).toBe(96 * 2 ** 20);
  });
});
