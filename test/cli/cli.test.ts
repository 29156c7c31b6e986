/**
 * The `altmap` command, run as a subprocess through bin/altmap.js (the installed entry), from a
 * scratch cwd, on the TypeScript core (--backend ts). Plus runScenario's validation, in-process.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createMachine } from '../../src/machine.ts';
import { KernelError } from '../../src/kernel/errno.ts';
import { runScenario, validateScenario, type StepResult } from '../../src/scenario.ts';
import { NAMESPACES_MD_TABLE, runAltmap, type Run } from '../fixtures.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'altmap-cli-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Run `altmap ...args` with node, from a cwd that is not the package. */
const altmap = (...args: string[]): Promise<Run> => runAltmap(TMP, args);

const TS = ['--backend', 'ts'];
/** The vmemmap address of the struct page of pfn 0x1040000 (the default pmem start): VMEMMAP_START + 64 * pfn. */
const PAGE_OF_PMEM_START = '0xffffea0041000000';

describe('altmap create-namespace (ndctl create-namespace on the default machine)', () => {
  it.concurrent('ns-fsdax-dev-16G: without --altmap, create-namespace prints ndctl 76.1 JSON alone (the fixture\'s keys)', async () => {
    const r = await altmap('create-namespace', '-s', '16G', '--json', ...TS);
    expect(r.code, r.stderr).toBe(0);
    const real = JSON.parse(readFileSync(new URL('../fixtures/real/6.12.117/ns-fsdax-dev-16G/04.stdout', import.meta.url), 'utf8'));
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(Object.keys(real));
  });

  it.concurrent('T21/T37 (P16): -s 16G --json --altmap prints ndctl JSON in bytes with the altmap (free 66046, alloc 65536, align 510)', async () => {
    const r = await altmap('create-namespace', '-s', '16G', '--json', '--altmap', ...TS);
    expect(r.code, r.stderr).toBe(0);
    const ns = JSON.parse(r.stdout);
    expect(Object.keys(ns)).toEqual(['dev', 'mode', 'map', 'size', 'uuid', 'sector_size', 'align', 'blockdev', 'altmap']);
    expect(ns).toMatchObject({ dev: 'namespace0.0', mode: 'fsdax', map: 'dev', size: 16909336576, sector_size: 512, align: 2097152, blockdev: 'pmem0' });
    expect(ns.altmap).toMatchObject({ basePfn: 0x1040000, reserve: 2, free: 66046, alloc: 65536, align: 510, nrFree: 0 });
    // json-c's pretty printer: two-space indent, no space after the colon
    expect(r.stdout).toContain('\n  "dev":"namespace0.0",\n');
    expect(r.stdout.trim().split('\n').length).toBeGreaterThan(10);
    expect(r.stderr).toBe('');
  });

  it.concurrent('-u prints human sizes, --explain accounts for every byte on stderr', async () => {
    const r = await altmap('create-namespace', '-s', '16G', '-u', '--explain', ...TS);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).size).toBe('15.75 GiB (16.91 GB)');
    expect(r.stderr).toMatch(/0x1000 +4096 .*pfn info block/);
    expect(r.stderr).toMatch(/270524416 .*altmap free 66046 pfns/);
    expect(r.stderr).toMatch(/2088960 .*alignment padding the altmap wasted \(align 510 pfns\)/);
    expect(r.stderr).toMatch(/16909336576 .*data/);
    expect(r.stderr).toMatch(/total +17179869184 .*= raw size$/m);
  });

  it.concurrent('-m devdax --explain accounts for the dax device: its info block and its memmap (v6, 1 GiB, 2 MiB align)', async () => {
    const r = await altmap('create-namespace', '-m', 'devdax', '-s', '1G', '--explain', '--kernel', 'v6', '--json', ...TS);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).size).toBe(1054867456);
    expect(r.stderr).not.toMatch(/no pfn device/);
    expect(r.stderr).toMatch(/^namespace0\.0 \(devdax, map=dev, align 2\.00 MiB, dax0\.0\)/);
    expect(r.stderr).toMatch(/0x1000 +4096 .*pfn info block \(dataoff 0x1200000, npfns 257536\)/);
    expect(r.stderr).toMatch(/16777216 .*struct pages \(altmap alloc 4096 pfns\)/);
    expect(r.stderr).toMatch(/0x1200000 +1054867456 .*data: 257536 pfns/);
    expect(r.stderr).toMatch(/total +1073741824 .*= raw size$/m);
  });

  it.concurrent("a size that is not a multiple of --align is ndctl's refusal: exit 234 and ndctl's text (error()'s blank line: fixture refuse-fsdax-dev-16M-a1G)", async () => {
    const r = await altmap('create-namespace', '-s', '1025M', '-a', '1G', ...TS);
    expect(r.code).toBe(234);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("  Error: create namespace: '--size=' must align to interleave-width: 1 and alignment: 1073741824\ndid you intend --size=2048M?\n\n");
  });

  it.concurrent('T25: -a 4K leaves the altmap 510 pfns short, the namespace fails to enable: exit 237', async () => {
    const r = await altmap('create-namespace', '-s', '16G', '-a', '4K', ...TS);
    expect(r.code).toBe(237);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^failed to create namespace: Cannot allocate memory \(ENOMEM: .*\)\n$/);
  });
});

describe('--state: the machine lasts across commands', () => {
  it('create two namespaces in two invocations, walk, list both, destroy one (T21: block 0 at pfn 0x1040200)', async () => {
    const state = join(TMP, 'machine.json');
    const a = await altmap('create-namespace', '-s', '16G', '--state', state, ...TS);
    expect(a.code, a.stderr).toBe(0);
    const b = await altmap('create-namespace', '-s', '32G', '-M', 'mem', '--altmap', '--state', state, ...TS);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ dev: 'namespace0.1', map: 'mem', size: 34357641216, altmap: null });

    const [walk, list] = await Promise.all([altmap('walk', PAGE_OF_PMEM_START, '--state', state, ...TS), altmap('list', '--state', state, ...TS)]);
    expect(walk.code, walk.stderr).toBe(0);
    expect(walk.stdout).toMatch(/^ +pgd +468 /m);
    expect(walk.stdout).toMatch(/^ +pmd +8 +0x80000010402001e3 .*\(2 MiB leaf\)$/m);
    expect(walk.stdout).toContain('phys 0x1040200000, page size 2 MiB');
    expect(list.code, list.stderr).toBe(0);
    // ndctl 76.1 walks libndctl's list (kernfs hash order, list_add): namespace0.1 first (fixture seeds-fsdax-3 step 7)
    expect(JSON.parse(list.stdout).map((n: { dev: string }) => n.dev)).toEqual(['namespace0.1', 'namespace0.0']);

    // an active namespace needs -f (fixture refuse-destroy-no-force step 5: exit 240 without it)
    const d = await altmap('destroy-namespace', '-f', 'namespace0.0', '--state', state, ...TS);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toBe('destroyed 1 namespace\n');
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    expect(saved.steps.map((s: { op: string }) => s.op)).toEqual(['createNamespace', 'createNamespace', 'destroyNamespace']);

    const [list2, walk2] = await Promise.all([altmap('list', '-u', '--state', state, ...TS), altmap('walk', PAGE_OF_PMEM_START, '--state', state, ...TS)]);
    // one namespace under -u: util_display_json_array() prints it bare (fixture ns-fsdax-dev-4G-listfull step 9)
    const left = JSON.parse(list2.stdout);
    expect(left).toMatchObject({ dev: 'namespace0.1', size: '32.00 GiB (34.36 GB)' });
    // the memmap went with namespace0.0: the walk stops at the PMD and says so
    expect(walk2.code).toBe(1);
    expect(walk2.stdout).toContain('not mapped: the walk stopped at the pmd (index 8)');
  });
});

describe('the default report', () => {
  it.concurrent('two 256 GiB fsdax namespaces: memmap on the device vs in DRAM, then every counter back (OK)', async () => {
    const r = await altmap(...TS);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^memmap lives in +device pfns 0x1040002-0x11401ff \(altmap pool\) +DRAM \(page allocator\)$/m);
    expect(out).toMatch(/^memmap in DRAM +0 pages \(0 B\) +1048576 pages \(4\.00 GiB\)$/m);
    expect(out).toMatch(/^capacity given up +4297064448 \(4\.00 GiB, 1\.56%\) +2097152 \(2\.00 MiB/m);
    expect(out).toMatch(/^altmap free +1049086 +-$/m);
    expect(out).toMatch(/^altmap align +510 +-$/m);
    expect(out).toMatch(/^first data pfn +0x1140200 /m);
    expect(out).toContain('kernel messages (');
    const counters = out.split('\n').filter((l) => /^ {2}(DRAM free pages|page-table pages|memmap pages|direct-map pages|slab pages) /.test(l));
    expect(counters).toHaveLength(5);
    for (const c of counters) expect(c).toMatch(/ OK$/);
    expect(out.trimEnd().split('\n').at(-1)).toBe('all 5 counters back where they started: OK');
  });
});

describe('usage errors exit 2 with one line on stderr', () => {
  it.concurrent('unknown flag, unknown command, bad flag value, non-canonical address', async () => {
    const [flag, command, value, walk] = await Promise.all([
      altmap('create-namespace', '--sise', '16G', ...TS),
      altmap('frobnicate', ...TS),
      altmap('list', '--kernel', 'v9.9', ...TS),
      altmap('walk', '0x0000900000000000', ...TS),
    ]);
    for (const r of [flag, command, value, walk]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(flag.stderr).toContain("unknown option '--sise'");
    expect(command.stderr).toContain("unknown command 'frobnicate'");
    expect(value.stderr).toContain("'v9.9' is invalid");
    expect(walk.stderr).toContain('is not canonical');
  });
});

describe('altmap run', () => {
  it.concurrent('T14: run examples/t14-collision.json --json reports the EBUSY step as expected', async () => {
    const r = await altmap('run', join(EXAMPLES, 't14-collision.json'), '--json', ...TS);
    expect(r.code, r.stderr).toBe(0);
    const steps = JSON.parse(r.stdout) as StepResult[];
    expect(steps.map((s) => s.ok)).toEqual([true, true, true, true, false, true, true]);
    expect(steps[2]).toMatchObject({ op: 'memremap', ok: true, value: '0xffff880400000000' });
    expect(steps[4]).toMatchObject({ index: 4, op: 'memremap', ok: false, expectError: 'EBUSY', error: { code: 'EBUSY', errno: -16 } });
    expect((steps[4] as { error: { message: string } }).error.message).toContain('collides with mapping for pfn0.0');
    expect(steps[5]).toMatchObject({ op: 'findDevPagemap', ok: true, value: null });
    expect(steps.every((s) => s.mismatch === undefined)).toBe(true);
  });

  it.concurrent('T1: run examples/allocator-t1.json: 0x240200, 0x240400, NULL, NULL; alloc 1024, align 510, nr_free 0', async () => {
    const r = await altmap('run', join(EXAMPLES, 'allocator-t1.json'), ...TS);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('0xffff880240200000 (pfn 0x240200)');
    expect(r.stdout).toContain('0xffff880240400000 (pfn 0x240400)');
    expect(r.stdout).toMatch(/4 +altmapAllocBlockBuf +ok +null +\[alloc 1024 align 510 nr_free 0 next_pfn 0x240600\]/);
    expect(r.stdout).toMatch(/0 mismatches$/m);
  });

  it.concurrent('a malformed scenario exits 2 naming the step; an unexpected failure exits 1', async () => {
    const bad = join(TMP, 'bad.json');
    writeFileSync(bad, JSON.stringify({ steps: [{ op: 'createDevice', name: 'x' }, { op: 'memremap', device: 'x', start: true, size: '64M' }] }));
    const surprise = join(TMP, 'surprise.json');
    writeFileSync(surprise, JSON.stringify({ steps: [{ op: 'destroyNamespace', dev: 'namespace0.7' }, { op: 'createDevice', name: 'y', expectError: { code: 'EBUSY' } }] }));
    const [m, s] = await Promise.all([altmap('run', bad, ...TS), altmap('run', surprise, ...TS)]);
    expect(m.code).toBe(2);
    expect(m.stdout).toBe('');
    expect(m.stderr).toContain('scenario step 1 (memremap): argument "start"');
    expect(s.code).toBe(1);
    expect(s.stdout).toMatch(/0 +destroyNamespace +ENODEV UNEXPECTED/);
    expect(s.stdout).toMatch(/1 +createDevice +ok, expected EBUSY: MISMATCH/);
    expect(s.stdout).toMatch(/2 mismatches$/m);
  });
});

describe('runScenario validation (in-process): the whole scenario is checked before anything runs', () => {
  /** Expect EINVAL naming the step; prove nothing ran: the leading createNamespace step left no namespace. */
  async function rejects(badStep: Record<string, unknown>, index: number, op: string, text: string) {
    const m = await createMachine({ backend: 'ts', e820: [{ start: 0x100000, size: '1G', type: 'System RAM' }, { start: '0x80000000', size: '1G', type: 'Persistent Memory' }] });
    try {
      let ran = 0;
      const steps = [{ op: 'createNamespace', size: '256M' }, { op: 'stats' }, badStep];
      const e = await runScenario({ steps }, { machine: m, onStep: () => ran++ }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(KernelError);
      expect((e as KernelError).code).toBe('EINVAL');
      expect((e as KernelError).message).toContain(`scenario step ${index} (${op})`);
      expect((e as KernelError).message).toContain(text);
      expect(ran).toBe(0);
      expect(m.listNamespaces()).toEqual([]);
    } finally {
      m.dispose();
    }
  }

  it('unknown op', () => rejects({ op: 'memunmap', device: 'x' }, 2, 'memunmap', 'unknown op "memunmap"'));
  it('missing argument', () => rejects({ op: 'findDevPagemap' }, 2, 'findDevPagemap', 'missing argument "phys"'));
  it('wrong type', () => rejects({ op: 'pfnToPage', pfn: [1] }, 2, 'pfnToPage', 'argument "pfn"'));
  it('unknown key', () => rejects({ op: 'dmesg', since: 3 }, 2, 'dmesg', 'unknown argument "since"'));
  it('bad expectError code', () => rejects({ op: 'stats', expectError: { code: 'EWHAT' } }, 2, 'stats', 'expectError.code'));
  it('an altmap used before its createAltmap', () => rejects({ op: 'vmemAltmapOffset', altmap: 'later' }, 2, 'vmemAltmapOffset', 'no earlier createAltmap'));

  it('the scenario shape itself', () => {
    expect(() => validateScenario({ steps: {} })).toThrow(/EINVAL: scenario: steps must be an array/);
    expect(() => validateScenario({ step: [] })).toThrow(/unknown key "step"/);
    expect(() => validateScenario({ steps: [{ op: 'memremap', device: 'd', start: 0 }] })).toThrow(/step 0 \(memremap\): needs exactly one of "end"/);
    expect(() => validateScenario({ steps: [{ op: 'memremap', device: 'd', start: 0, size: '16G', end: 5 }] })).toThrow(/needs exactly one/);
  });

  it('sizes and addresses: numbers, "0x..." and "16G" strings', () => {
    const p = validateScenario({ steps: [{ op: 'memremap', device: 'd', start: '0x400000000', size: '64M' }, { op: 'page', pfn: '0x400000' }, { op: 'readPhys', phys: 4096, length: '4K' }] });
    expect(p.steps[0]!.args).toMatchObject({ start: 0x400000000n, size: 64n << 20n });
    expect(p.steps[1]!.args.pfn).toBe(0x400000);
    expect(p.steps[2]!.args).toMatchObject({ phys: 4096n, length: 4096 });
  });
});

describe('runScenario (in-process)', () => {
  const T14_E820 = [
    { start: '0x100000', size: '0x3fff00000', type: 'System RAM' as const },
    { start: '0x400000000', size: '0x400000000', type: 'Persistent Memory' as const },
  ];

  it('T14 from the example file: EBUSY expected, the lookup of section 128 is NULL afterwards', async () => {
    const sc = JSON.parse(readFileSync(join(EXAMPLES, 't14-collision.json'), 'utf8'));
    const r = await runScenario(sc, { machineOverrides: { backend: 'ts' } });
    expect(r.filter((s) => s.mismatch)).toEqual([]);
    expect(r[4]).toMatchObject({ ok: false, error: { code: 'EBUSY', errno: -16 } });
    expect(r[5]).toMatchObject({ ok: true, value: null });
  });

  it('T1 from the example file: the altmap counters after each allocation', async () => {
    const sc = JSON.parse(readFileSync(join(EXAMPLES, 'allocator-t1.json'), 'utf8'));
    const r = await runScenario(sc, { machineOverrides: { backend: 'ts' } });
    expect(r.filter((s) => s.mismatch)).toEqual([]);
    expect(r.slice(1, 5).map((s) => (s.ok ? s.value : 'error'))).toEqual([0xffff880240200000n, 0xffff880240400000n, null, null]);
    expect(r[4]!.altmap).toMatchObject({ alloc: 1024, align: 510, nrFree: 0, nextPfn: 0x240600 });
  });

  it('failures: reported and run on by default; stopOnError stops at an unexpected one; a wrong expectation is a mismatch', async () => {
    const steps = [
      { op: 'createDevice', name: 'd' },
      { op: 'unbind', device: 'nosuch', expectError: { code: 'ENODEV' } },
      { op: 'createDevice', name: 'bad name!' },
      { op: 'regionIntersects', start: '0x200000000', size: '1G', name: 'System RAM', expect: 'REGION_DISJOINT' },
    ];
    const all = await runScenario({ machine: { backend: 'ts', e820: T14_E820 }, steps });
    expect(all.map((s) => [s.ok, s.mismatch !== undefined])).toEqual([
      [true, false],
      [false, false],
      [false, true],
      [true, true],
    ]);
    expect(all[2]).toMatchObject({ error: { code: 'EINVAL', errno: -22 } });
    expect(all[3]!.mismatch).toContain('"REGION_INTERSECTS"');
    const stopped = await runScenario({ machine: { backend: 'ts', e820: T14_E820 }, steps }, { stopOnError: true });
    expect(stopped).toHaveLength(3);
  });
});

describe('namespaces.md worked table through the CLI', () => {
  const TABLE = NAMESPACES_MD_TABLE;
  it('altmap create-namespace --kernel K --json prints the table\'s size, or fails to enable (237) as the table says', async () => {
    const cells = TABLE.flatMap(([raw, map, align, want]) => (['v4.5', 'v4.18', 'v6'] as const).map((k) => ({ raw, map, align, k, want: want[k] })));
    const runs = await Promise.all(cells.map((c) => altmap('create-namespace', '--kernel', c.k, '-s', c.raw, '-M', c.map, '-a', c.align, '--json')));
    cells.forEach((c, i) => {
      const r = runs[i];
      if (c.want === 'ENOMEM') {
        expect(r.code, `${c.k} ${c.raw}`).toBe(237);
        expect(r.stderr).toMatch(/ENOMEM|Cannot allocate memory|-12/);
      } else {
        expect(r.code, `${c.k} ${c.raw}: ${r.stderr}`).toBe(0);
        expect(JSON.parse(r.stdout).size, `${c.k} ${c.raw} ${c.map} ${c.align}`).toBe(c.want);
      }
    });
  }, 120_000);
});
