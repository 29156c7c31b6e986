/** altmap plan (--size, --usable, --csv, --json), create-namespace --usable and altmap ticket, as subprocesses (issue 15). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { quoteSize, quotePercent } from '../../src/index.ts';
import { runAltmap, type Run } from '../fixtures.ts';

const TMP = mkdtempSync(join(tmpdir(), 'altmap-plan-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const altmap = (...args: string[]): Promise<Run> => runAltmap(TMP, args);

describe('sizes and shares as people quote them', () => {
  it('quoteSize is ndctl\'s display_size (namespaces.md: "19.69 GiB (21.14 GB)", "62.00 MiB (65.01 MB)"), and its MiB form below 5000 KiB', () => {
    expect(quoteSize(16909336576)).toBe('15.75 GiB (16.91 GB)');
    expect(quoteSize(65011712)).toBe('62.00 MiB (65.01 MB)');
    expect(quoteSize(1082329661440)).toBe('1008.00 GiB (1082.33 GB)');
    expect(quoteSize(8 * 2 ** 40)).toBe('8.00 TiB (8.80 TB)');
    expect(quoteSize(655360)).toBe('0.63 MiB (0.66 MB)');
    expect(quoteSize(0)).toBe('0.00 MiB (0.00 MB)');
    expect(quotePercent(1.5625)).toBe('1.56%');
  });
});

describe('altmap plan', () => {
  it.concurrent('--size 1T --csv (v6): one line per configuration, fsdax map=dev gives 1082329661440 bytes, 16 GiB + 2 MiB = 1.5627% given up', async () => {
    const r = await altmap('plan', '--size', '1T', '--csv');
    expect(r.code, r.stderr).toBe(0);
    const [head, ...lines] = r.stdout.trimEnd().split('\n');
    expect(head.split(',').slice(0, 3)).toEqual(['region', 'node', 'configuration']);
    expect(lines).toHaveLength(8);
    const cols = head.split(',');
    const dev = lines[0].match(/("[^"]*"|[^,]+|(?<=,)(?=,))/g)!;
    const cell = (k: string) => dev[cols.indexOf(k)];
    expect(cell('configuration')).toBe('"fsdax, map=dev"');
    expect(cell('usable_bytes')).toBe('1082329661440');
    expect(cell('given_up_bytes')).toBe('17181966336'); // 16 GiB of memmap + the 2 MiB info area
    expect(cell('given_up_percent')).toBe('1.5627');
  }, 60_000);

  it.concurrent('--size 64G: every size in the table at ndctl\'s two decimals, every share at two decimals (no "0.1 MiB" next to "1008.00 GiB")', async () => {
    const r = await altmap('plan', '--size', '64G');
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\n').filter((l) => l.startsWith('region0'));
    expect(rows).toHaveLength(8);
    for (const row of rows) {
      expect(row.match(/\d+\.\d\d [MGT]iB \(\d+\.\d\d [MGT]B\)/g), row).toHaveLength(3);
      expect(row.match(/\d+\.\d\d%/g), row).toHaveLength(2);
      expect(row).not.toMatch(/\d\.\d [MGT]iB/);
    }
  }, 60_000);

  it.concurrent('--usable 16909336576 -m fsdax -M dev --json (namespaces.md 16 GiB dev 2M, v6): raw 16 GiB, one 16 MiB granule less falls short', async () => {
    const r = await altmap('plan', '--usable', '16909336576', '-m', 'fsdax', '-M', 'dev', '--json');
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.usable).toBe(16909336576);
    expect(plan.rows).toHaveLength(1);
    expect(plan.rows[0]).toMatchObject({ label: 'fsdax, map=dev', raw: 17179869184, usable: 16909336576, granule: 16777216, region: 'region0' });
    expect(plan.rows[0].below).toMatchObject({ raw: 17179869184 - 16777216, ok: true });
    expect(plan.rows[0].below.usable).toBeLessThan(16909336576);
  }, 60_000);

  it.concurrent('--usable 1500G (v6) prints the raw size of each row', async () => {
    const r = await altmap('plan', '--usable', '1500G', '-M', 'dev', '-a', '2M');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^capacity plan for the raw size that gives 1500\.00 GiB \(1610\.61 GB\) usable on v6/);
    expect(r.stdout).toMatch(/fsdax, map=dev +1636181213184 +1523\.81 GiB \(1636\.18 GB\) +1610614833152 +1500\.00 GiB/);
  }, 60_000);

  it.concurrent.each([
    [['plan', '--size', '64G', '--usable', '1G'], /one of --size .* and --usable/],
    [['plan'], /one of --size .* and --usable/],
    [['plan', '--size', '64G', '--json', '--csv'], /--json and --csv are exclusive/],
    [['plan', '--usable', '8M'], /below 16 MiB/],
    [['plan', '--size', '64G', '--kernel', 'v4.5', '-m', 'devdax'], /no configuration of v4.5 has mode devdax/],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const r = await altmap(...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('altmap create-namespace --usable', () => {
  it.concurrent('--usable 1500G on a 2 TiB region (v6): creates the 1636181213184-byte namespace, ndctl\'s JSON on stdout, the raw size under --explain', async () => {
    const r = await altmap('create-namespace', '--kernel', 'v6', '--pmem-size', '2T', '--usable', '1500G', '--json', '--explain');
    expect(r.code, r.stderr).toBe(0);
    const ns = JSON.parse(r.stdout);
    expect(ns).toMatchObject({ dev: 'namespace0.0', mode: 'fsdax', map: 'dev', size: 1610614833152 });
    expect(r.stderr).toMatch(/^--usable 1500G: raw size 1636181213184 bytes \(1523\.81 GiB \(1636\.18 GB\)\) gives 1610614833152 bytes .* one granule \(16777216 bytes\) smaller, 1636164435968 bytes gives 1610598055936 bytes/m);
    expect(r.stderr).toMatch(/total +1636181213184 .*= raw size/);
  }, 60_000);

  it.concurrent('--usable beyond the region (1100G of a 1 TiB region): ENOSPC, exit 228, nothing created', async () => {
    const r = await altmap('create-namespace', '--kernel', 'v6', '--usable', '1100G');
    expect(r.code).toBe(228);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no raw size up to 1099511627776 bytes .* gives 1181116006400 usable bytes/);
  }, 60_000);

  it.concurrent('--usable with --size is a usage error', async () => {
    const r = await altmap('create-namespace', '--usable', '1G', '-s', '2G');
    expect(r.code).toBe(2);
  });
});

describe('altmap ticket', () => {
  it('after two namespaces (--state, v6): one fenced block with the machine, each namespace\'s raw/usable/given up/DRAM memmap, and ndctl/daxctl JSON', async () => {
    const state = join(TMP, 'ticket.json');
    expect((await altmap('create-namespace', '--kernel', 'v6', '--state', state, '-s', '16G')).code).toBe(0);
    expect((await altmap('create-namespace', '--state', state, '-s', '64G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const r = await altmap('ticket', '--state', state);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('```text');
    expect(lines.at(-1)).toBe('```');
    expect(r.stdout).toMatch(/kernel profile v6 \(Linux 6\.12/);
    expect(r.stdout).toMatch(/Persistent Memory +\[0x1040000000-0x1103fffffff\] +1024\.00 GiB \(1099\.51 GB\)/);
    expect(r.stdout).toMatch(/namespace0\.0 +fsdax +dev +2\.00 MiB +17179869184 \(16\.00 GiB \(17\.18 GB\)\) +16909336576 \(15\.75 GiB \(16\.91 GB\)\) +270532608 .* 1\.57% +0 \(0\.00 MiB \(0\.00 MB\)\) +0\.00% +pfn0\.0/);
    // map=mem: 64 GiB of device costs 256 MiB of struct pages in DRAM, 0.39% of 64 GiB
    expect(r.stdout).toMatch(/namespace0\.1 +devdax +mem .* 268435456 \(256\.00 MiB \(268\.44 MB\)\) +0\.39% +dax0\.1/);
    const ndctlAt = lines.indexOf('$ ndctl list -R -N');
    const daxAt = lines.indexOf('$ daxctl list -R -D');
    expect(ndctlAt).toBeGreaterThan(0);
    const ndctl = JSON.parse(lines.slice(ndctlAt + 1, daxAt).join('\n'));
    expect(ndctl.regions[0].namespaces.map((n: { dev: string }) => n.dev).sort()).toEqual(['namespace0.0', 'namespace0.1']);
    const dax = JSON.parse(lines.slice(daxAt + 1, -1).join('\n'));
    expect(dax[0].devices[0]).toMatchObject({ chardev: 'dax0.1', size: 68717379584, mode: 'devdax' });
  }, 60_000);
});

describe('altmap plan --machine examples/two-socket.json (issue 15 item 2: per region, per node, Soft Reserved rows)', () => {
  it('each region against its node\'s DRAM at the machine\'s 2 GiB blocks, and the CXL range as System RAM with and without memmap_on_memory', async () => {
    const example = new URL('../../examples/two-socket.json', import.meta.url).pathname;
    const r = await altmap('plan', '--machine', example, '--size', '64G', '--mode', 'system-ram', '--json');
    expect(r.code, r.stderr).toBe(0);
    const plans = JSON.parse(r.stdout) as Array<{ nodeDram: number; regions: Array<{ region: string; node: number }>; rows: Array<{ label: string; usable: number; memmapDram: number; deviceGivenUp: number; node: number }> }>;
    expect(plans.map((p) => [p.regions[0]!.region, p.regions[0]!.node, p.nodeDram])).toEqual([
      ['region0', 0, 384 * 2 ** 30 - 2 ** 20],
      ['region1', 0, 384 * 2 ** 30 - 2 ** 20],
      ['region2', 1, 384 * 2 ** 30],
      ['region3', 1, 384 * 2 ** 30],
      ['dax4.0 (Soft Reserved)', 0, 384 * 2 ** 30 - 2 ** 20],
    ]);
    // a pmem devdax device starts 2 MiB into its namespace: kmem loses the 2 GiB block it starts in (64G: 31 blocks of 2 GiB)
    expect(plans[0]!.rows.map((x) => x.usable)).toEqual([31 * 2 ** 31, 31 * (2 ** 31 - 2 ** 25)]);
    // the Soft Reserved range is block-aligned: all 32 blocks; 32 MiB of memmap each, in DRAM or on the block
    const cxl = plans[4]!.rows;
    expect(cxl.map((x) => [x.label, x.usable, x.memmapDram])).toEqual([
      ['Soft Reserved: system-ram (kmem)', 64 * 2 ** 30, 2 ** 30],
      ['Soft Reserved: system-ram, memmap_on_memory', 64 * 2 ** 30 - 2 ** 30, 0],
    ]);
  });
});
