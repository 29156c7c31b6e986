/**
 * --state files that lose nothing, and bounded inputs (issue 18): concurrent processes under one
 * lock, atomic writes through symlinks, unknown keys and read-only files kept, failed steps recorded
 * so a reload is the same machine (T25's leftovers), and caps on what the CLI reads.
 */
import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import { runAltmap } from '../fixtures.ts';

const TMP = mkdtempSync(join(tmpdir(), 'altmap-state-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const TS = ['--backend', 'ts'];
const altmap = (...args: string[]) => runAltmap(TMP, args);
const steps = (file: string) => (JSON.parse(readFileSync(join(TMP, file), 'utf8')) as { steps: Array<Record<string, unknown>> }).steps;

describe('--state under concurrency', () => {
  it('6 create-namespace processes at once on one file: 6 namespaces, no duplicate name, each output in the file', async () => {
    const runs = await Promise.all(Array.from({ length: 6 }, () => altmap('create-namespace', '-s', '8G', '--json', '--state', 'many.json', ...TS)));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const names = runs.map((r) => JSON.parse(r.stdout).dev as string);
    expect(new Set(names).size).toBe(6);
    expect([...names].sort()).toEqual(['namespace0.0', 'namespace0.1', 'namespace0.2', 'namespace0.3', 'namespace0.4', 'namespace0.5']);
    expect(steps('many.json').map((s) => s.op)).toEqual(Array(6).fill('createNamespace'));
    const list = await altmap('list', '--state', 'many.json', ...TS);
    expect((JSON.parse(list.stdout) as Array<{ dev: string }>).map((n) => n.dev).sort()).toEqual([...names].sort());
  });
});

describe('--state under concurrency, fuzzed (issue 18 item 6)', () => {
  /** What a process runs, and what it must end in: created (exit 0), an ndctl refusal (234, not recorded), a kernel failure (T25: 237, recorded). */
  const KINDS = {
    create1G: { args: ['-s', '1G'], code: 0 },
    create2G: { args: ['-s', '2G'], code: 0 },
    refused: { args: ['-s', '1025M', '-a', '1G'], code: 234 },
    t25: { args: ['-s', '16G', '-a', '4K'], code: 237 },
  } as const;
  type Kind = keyof typeof KINDS;
  let run = 0;

  it('4 concurrent create-namespace processes of a fuzzed mix (-s 1G, -s 2G, an ndctl refusal, T25\'s kernel failure) on one file: no lost namespace, no duplicate name, every output in the file', async () => {
    // at most one T25: a second one after it fits beside its leftovers (exit 0), which is the order's business
    const mix = fc.tuple(fc.array(fc.constantFrom<Kind>('create1G', 'create1G', 'create2G', 'refused'), { minLength: 3, maxLength: 4 }), fc.nat(3));
    await fc.assert(
      fc.asyncProperty(mix.map(([k, at]) => (k.length === 4 ? k : [...k.slice(0, at), 't25' as Kind, ...k.slice(at)])), async (kinds) => {
        const file = `fuzz${run++}.json`;
        const runs = await Promise.all(kinds.map((k) => altmap('create-namespace', ...KINDS[k].args, '--json', '--state', file, ...TS)));
        runs.forEach((r, i) => expect(r.code, `${kinds[i]}: ${r.stderr}`).toBe(KINDS[kinds[i]].code));
        const made = runs.filter((r) => r.code === 0).map((r) => JSON.parse(r.stdout) as { dev: string; size: number });
        // every success is its own namespace
        expect(new Set(made.map((n) => n.dev)).size).toBe(made.length);
        // the file holds exactly the successes and the kernel failures, nothing of the refusals
        const recorded = steps(file);
        expect(recorded.length).toBe(kinds.filter((k) => k !== 'refused').length);
        expect(recorded.filter((s) => s.expectError).length).toBe(kinds.filter((k) => k === 't25').length);
        const list = made.length ? (JSON.parse((await altmap('list', '--state', file, ...TS)).stdout) as Array<{ dev: string; size: number }>) : [];
        expect(list.map((n) => [n.dev, n.size]).sort()).toEqual(made.map((n) => [n.dev, n.size]).sort());
      }),
      { seed: 20261218, numRuns: 4 },
    );
  }, 240_000);
});

describe('--state files keep what they had', () => {
  it('a symlinked state file stays a symlink and its target is updated', async () => {
    writeFileSync(join(TMP, 'target.json'), JSON.stringify({ steps: [] }));
    symlinkSync(join(TMP, 'target.json'), join(TMP, 'link.json'));
    const r = await altmap('create-namespace', '-s', '8G', '--json', '--state', 'link.json', ...TS);
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(join(TMP, 'link.json')).isSymbolicLink()).toBe(true);
    expect(steps('target.json')).toEqual([{ op: 'createNamespace', size: '8G' }]);
  });

  it('keys the user added survive a write', async () => {
    writeFileSync(join(TMP, 'desc.json'), JSON.stringify({ description: 'my ticket 1234', steps: [] }));
    expect((await altmap('create-namespace', '-s', '8G', '--state', 'desc.json', '--json', ...TS)).code).toBe(0);
    expect(JSON.parse(readFileSync(join(TMP, 'desc.json'), 'utf8')).description).toBe('my ticket 1234');
  });

  it('a read-only state file is an error (exit 2, unchanged), and still readable', async () => {
    const f = join(TMP, 'ro.json');
    writeFileSync(f, JSON.stringify({ steps: [{ op: 'createNamespace', size: '8G' }] }));
    chmodSync(f, 0o444);
    const before = readFileSync(f, 'utf8');
    const r = await altmap('create-namespace', '-s', '8G', '--state', 'ro.json', ...TS);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --state ro.json: is read-only\n');
    expect(readFileSync(f, 'utf8')).toBe(before);
    const list = await altmap('list', '--state', 'ro.json', ...TS);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
  });

  it('a state file in a directory the process may not write (EACCES even for root: sysfs) is refused before any work (exit 2)', async () => {
    const r = await altmap('create-namespace', '-s', '8G', '--state', '/sys/altmap-state.json', ...TS);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', 'error: --state /sys/altmap-state.json: the directory /sys is read-only\n']);
  });

  it('a state file in a missing directory is refused before any work (exit 2)', async () => {
    const r = await altmap('create-namespace', '-s', '8G', '--state', 'nodir/s.json', ...TS);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --state nodir\/s\.json: the directory nodir does not exist/);
  });

  it('T25: a create that fails in the kernel is recorded, so a reload keeps its 127 hot-added sections (the next altmap alloc is 512, not 65536)', async () => {
    const fail = await altmap('create-namespace', '-s', '16G', '-a', '4K', '--state', 't25.json', ...TS);
    expect(fail.code).toBe(237);
    expect(steps('t25.json')).toEqual([{ op: 'createNamespace', size: '16G', align: '4K', expectError: { code: 'ENOMEM' } }]);
    const next = await altmap('create-namespace', '-s', '16G', '--json', '--altmap', '--state', 't25.json', ...TS);
    expect(next.code, next.stderr).toBe(0);
    // the same two steps on one live machine
    const m = await createMachine({ backend: 'ts' });
    expect(() => m.createNamespace({ size: '16G', align: '4K' })).toThrow(/ENOMEM/);
    const live = m.createNamespace({ size: '16G' }).altmap as { alloc: number };
    expect(live.alloc).toBe(512);
    expect(JSON.parse(next.stdout).altmap.alloc).toBe(live.alloc);
  });

  it('an ndctl refusal changes nothing and is not recorded', async () => {
    expect((await altmap('create-namespace', '-s', '1025M', '-a', '1G', '--state', 'refused.json', ...TS)).code).toBe(234);
    expect((await altmap('create-namespace', '-s', '8G', '--state', 'refused.json', ...TS)).code).toBe(0);
    expect(steps('refused.json')).toEqual([{ op: 'createNamespace', size: '8G' }]);
  });
});

describe('bounded inputs', () => {
  it('devices and FIFOs are refused by type (exit 2), as state files and as scenarios', async () => {
    for (const args of [['list', '--state', '/dev/zero'], ['run', '/dev/zero']]) {
      const r = await altmap(...args, ...TS);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/\/dev\/zero: not a regular file \(a device\)/);
    }
    execFileSync('mkfifo', [join(TMP, 'fifo')]);
    const r = await altmap('run', 'fifo', ...TS);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/fifo: not a regular file \(a FIFO\)/);
  });

  it('a file over the input cap is refused naming the cap (ALTMAP_MAX_INPUT)', async () => {
    writeFileSync(join(TMP, 'big.json'), JSON.stringify({ steps: [{ op: 'stats', note: 'x'.repeat(200) }] }));
    const r = await runAltmap(TMP, ['run', 'big.json', ...TS], { ALTMAP_MAX_INPUT: '100' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/big\.json: \d+ bytes is over the input cap of 100 bytes \(ALTMAP_MAX_INPUT raises it\)/);
  });

  it('JSON nested 5000 deep is refused before parsing', async () => {
    writeFileSync(join(TMP, 'deep.json'), `{"steps":[{"op":"stats","expect":${'['.repeat(5000)}${']'.repeat(5000)}}]}`);
    const r = await altmap('run', 'deep.json', ...TS);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: deep.json: JSON nested deeper than 64 levels\n');
  });

  it('20 readPhys steps of 16 MiB print their length and digest, not 320 MiB of hex (--json)', async () => {
    const stepsIn = Array.from({ length: 20 }, (_, i) => ({ op: 'readPhys', phys: `0x${(0x100000 + i * 0x1000000).toString(16)}`, length: 16 << 20 }));
    writeFileSync(join(TMP, 'reads.json'), JSON.stringify({ steps: stepsIn }));
    const r = await altmap('run', 'reads.json', '--json', ...TS);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBeLessThan(20_000);
    const out = JSON.parse(r.stdout) as Array<{ ok: boolean; value: { length: number; fnv1a32: string } }>;
    expect(out).toHaveLength(20);
    expect(out.every((x) => x.ok && x.value.length === 16 << 20)).toBe(true);
    // the digest is FNV-1a of the bytes the machine reads there
    const m = await createMachine({ backend: 'ts' });
    const bytes = m.readPhys(0x100000n, 16 << 20);
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    expect(out[0].value.fnv1a32).toBe(h.toString(16).padStart(8, '0'));
  });

  it('plan --svg to a directory or an empty path is refused before the plan runs', async () => {
    for (const svg of [TMP, '']) {
      const r = await altmap('plan', '--size', '64G', '--svg', svg, ...TS);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    }
  });
});
