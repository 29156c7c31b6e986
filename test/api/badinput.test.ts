/**
 * The bad-input table: malformed input across the API, scenario files and the CLI. Each row gets a
 * typed error naming the problem (or a one-line CLI message and exit code 2) and changes nothing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, planCapacity, planConfigs, runScenario, type Machine } from '../../src/index.ts';
import { BACKENDS, runAltmap, T10_E820, t10Machine } from '../fixtures.ts';

type Row = [name: string, fn: (m: Machine) => unknown, code: string, message: RegExp];

const R = { start: 0x400000000n, end: 0x407ffffffn };
const A = { basePfn: 0x400000, reserve: 2, free: 1022 };

const API: Row[] = [
  ['memremap: end before start', (m) => m.devmMemremapPages('d', { start: 0x400000000n, end: 0x3fffffffen }), 'EINVAL', /below res.start/],
  ['memremap: start not page-aligned', (m) => m.devmMemremapPages('d', { start: 0x400000010n, end: 0x407ffffffn }), 'EINVAL', /not page-aligned/],
  ['memremap: end does not end a page', (m) => m.devmMemremapPages('d', { start: 0x400000000n, end: 0x407fff000n }), 'EINVAL', /does not end a page/],
  ['memremap: beyond the physical address width', (m) => m.devmMemremapPages('d', { start: 1n << 46n, end: (1n << 46n) + 0xfffn }), 'EINVAL', /46-bit physical address space/],
  ['memremap: negative start', (m) => m.devmMemremapPages('d', { start: -4096, end: 4095 }), 'EINVAL', /res.start -4096/],
  ['memremap: NaN start', (m) => m.devmMemremapPages('d', { start: NaN, end: 4095 }), 'EINVAL', /res.start NaN/],
  ['memremap: fractional start', (m) => m.devmMemremapPages('d', { start: 1.5, end: 4095 }), 'EINVAL', /res.start 1.5/],
  ['memremap: missing res', (m) => m.devmMemremapPages('d', undefined as never), 'EINVAL', /res.start is missing/],
  ['memremap: huge number beyond 2^64', (m) => m.devmMemremapPages('d', { start: 1n << 70n, end: (1n << 70n) + 4095n }), 'EINVAL', /outside 0..2\^64-1/],
  ['memremap: negative altmap base_pfn', (m) => m.devmMemremapPages('d', R, { ...A, basePfn: -1 }), 'EINVAL', /altmap.basePfn -1/],
  ['memremap: altmap without free', (m) => m.devmMemremapPages('d', R, { basePfn: 0x400000, reserve: 2 } as never), 'EINVAL', /altmap.free is missing/],
  ['memremap: altmap reserve not a number', (m) => m.devmMemremapPages('d', R, { ...A, reserve: 'lots' as never }), 'EINVAL', /altmap.reserve "lots"/],
  ['memremap: altmap field beyond any pfn count', (m) => m.devmMemremapPages('d', R, { ...A, free: 1n << 60n }), 'EINVAL', /altmap.free .* beyond any pfn count/],
  ['memremap: altmap not an object', (m) => m.devmMemremapPages('d', R, 7 as never), 'EINVAL', /altmap must be an object/],
  ['memremap: unknown device', (m) => m.devmMemremapPages('nosuch', R), 'ENODEV', /no device "nosuch"/],
  ['unbind: unknown device', (m) => m.unbind('nosuch'), 'ENODEV', /no device "nosuch"/],
  ['unbind: twice', (m) => (m.unbind('d'), m.unbind('d')), 'EINVAL', /already unbound/],
  ['createDevice: empty name', (m) => m.createDevice(''), 'EINVAL', /not a valid device name/],
  ['createDevice: a bound name', (m) => m.createDevice('d'), 'EBUSY', /already exists/],
  ['createNamespace: negative size', (m) => m.createNamespace({ size: '-1G' }), 'EINVAL', /-1G/],
  ['createNamespace: bad size suffix', (m) => m.createNamespace({ size: '16X' }), 'EINVAL', /16X/],
  ['createNamespace: size beyond the region', (m) => m.createNamespace({ size: '2T' }), 'ENOSPC', /No space left on device/],
  ['createNamespace: size not a multiple of align', (m) => m.createNamespace({ size: '1025M', align: '1G' }), 'EINVAL', /must align to interleave-width/],
  ['createNamespace: align 3M (fixture refuse-align-3M)', (m) => m.createNamespace({ size: '16G', align: '3M' }), 'EINVAL', /align must be a power-of-2 greater than 4096/],
  ['createNamespace: align 8K (fixture refuse-align-8K)', (m) => m.createNamespace({ size: '16G', align: '8K' }), 'ENXIO', /unsupported align: 8K/],
  ['createNamespace: unknown mode (fixture refuse-mode-bogus)', (m) => m.createNamespace({ mode: 'bogus' as never }), 'EINVAL', /invalid mode 'bogus'/],
  ['createNamespace: unknown map (fixture refuse-map-bogus)', (m) => m.createNamespace({ map: 'both' as never }), 'EINVAL', /invalid map location 'both'/],
  ['createNamespace: raw with a map (fixture refuse-raw-map-dev)', (m) => m.createNamespace({ mode: 'raw', map: 'dev' }), 'EINVAL', /--map only valid for an devdax mode pmem namespace/],
  ['createNamespace: devdax on v4.5', (m) => m.createNamespace({ mode: 'devdax' }), 'EINVAL', /v4.7/],
  ['createNamespace: unknown option', (m) => m.createNamespace({ sise: '1G' } as never), 'EINVAL', /unknown namespace option "sise"/],
  ['destroyNamespace: unknown', (m) => m.destroyNamespace('namespace7.7'), 'ENODEV', /no namespace "namespace7.7"/],
  // namespace0.1 is not kept as an idle seed (namespace0.0 and the seed are: destroying those again is ndctl's no-op)
  ['destroyNamespace: use after destroy', (m) => (m.createNamespace({ size: '1G' }), m.destroyNamespace(m.createNamespace({ size: '1G' }).dev as string), m.destroyNamespace('namespace0.1')), 'ENODEV', /no namespace/],
  ['walk: non-canonical address', (m) => m.walk(0x0000900000000000n), 'EINVAL', /not canonical/],
  ['walk: negative address', (m) => m.walk(-1), 'EINVAL', /vaddr -1/],
  ['walk: beyond 2^64', (m) => m.walk(1n << 64n), 'EINVAL', /outside 0..2\^64-1/],
  ['walkPhys: non-canonical address', (m) => m.walkPhys(0x0000900000000000n), 'EINVAL', /not canonical/],
  ['walkMany: not a BigUint64Array', (m) => m.walkMany([0xffffea0000000000n] as never), 'EINVAL', /not a BigUint64Array/],
  ['walkMany: a non-canonical address, named by index', (m) => m.walkMany(BigUint64Array.of(0xffffea0000000000n, 0x0000900000000000n)), 'EINVAL', /vas\[1\]: 0x900000000000 is not canonical/],
  ['pagesMany: negative start', (m) => m.pagesMany(-1, 8), 'EINVAL', /pfn -1/],
  ['pagesMany: fractional count', (m) => m.pagesMany(0x400000, 1.5), 'EINVAL', /count 1.5/],
  ['pagesMany: more than 2^20 pages', (m) => m.pagesMany(0x400000, 2 ** 20 + 1), 'EINVAL', /over 1048576 pages/],
  ['pagesMany: past the physical address width', (m) => m.pagesMany(2 ** 34 - 4, 8), 'EINVAL', /run past the 46-bit/],
  ['toVmemAltmap: inside a struct page', (m) => m.toVmemAltmap(0xffffea0000000008n), 'EINVAL', /64-byte struct page/],
  ['toVmemAltmapMany: not a BigUint64Array', (m) => m.toVmemAltmapMany(new Float64Array(2) as never), 'EINVAL', /not a BigUint64Array/],
  ['toVmemAltmapMany: an address outside the vmemmap, named by index', (m) => m.toVmemAltmapMany(BigUint64Array.of(0xffffea0000000000n, 0xffffea0000000040n, 0xffff880000000000n)), 'EINVAL', /vas\[2\]: 0xffff880000000000 is not a vmemmap address/],
  ['pfnToPage: pfn beyond the physical address width', (m) => m.pfnToPage(2 ** 34), 'EINVAL', /beyond the 46-bit/],
  ['pfnToPage: fractional pfn', (m) => m.pfnToPage(1.5), 'EINVAL', /pfn 1.5/],
  ['pageToPfn: not a vmemmap address', (m) => m.pageToPfn(0xffff880000000000n), 'EINVAL', /not a vmemmap address/],
  ['pageToPfn: inside a struct page', (m) => m.pageToPfn(0xffffea0000000008n), 'EINVAL', /64-byte struct page/],
  ['readPhys: negative length', (m) => m.readPhys(0, -1), 'EINVAL', /length -1/],
  ['readPhys: past the address space', (m) => m.readPhys((1n << 46n) - 2n, 4), 'EINVAL', /runs past/],
  ['regionIntersects: zero size', (m) => m.regionIntersects(0x400000000n, 0, 'System RAM'), 'EINVAL', /size must be positive/],
  ['vmemAltmapFree: negative count', (m) => m.vmemAltmapFree(m.createAltmap(A), -5), 'EINVAL', /nrPfns -5/],
  ['altmapAllocBlockBuf: altmap freed with its device', (m) => {
    const d = m.createDevice('e');
    m.devmMemremapPages(d, R, A);
    const a = m.toVmemAltmap(m.pfnToPage(0x400000))!;
    m.unbind(d);
    return m.altmapAllocBlockBuf(a, 4096);
  }, 'EINVAL', /freed with its device/],
  ['injectFault: unknown kind', (m) => m.injectFault('disk' as never, 1), 'EINVAL', /fault kind "disk"/],
  // issue 18: every door validates
  ['reconfigureDevice: movable not a boolean', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', movable: 'yes' as never }), 'EINVAL', /movable "yes" is not true or false/],
  ['memremap: a getter on res.end that unbinds the device mid-call', (m) => {
    const res = { start: R.start, get end() {
      m.unbind('d');
      return R.end;
    } };
    return m.devmMemremapPages('d', res);
  }, 'EINVAL', /device d is already unbound/],
];

/** An altmap handed to another machine than its own (issue 18 item 7). */
const FOREIGN: Row = ['altmapAllocBlockBuf: an altmap of another machine', (m) => m.altmapAllocBlockBuf(foreign!, 4096), 'EINVAL', /altmap belongs to another machine/];
let foreign: ReturnType<Machine['createAltmap']> | null = null;

const MACHINES: Array<[string, Record<string, unknown>, RegExp]> = [
  ['unknown option', { fast: true }, /unknown machine option "fast"/],
  ['overlapping e820', { e820: [...T10_E820!, { start: 0x400000000n, size: 4096n, type: 'Reserved' }] }, /overlap/],
  ['misaligned e820', { e820: [{ start: 0x100800n, size: 1n << 30n, type: 'System RAM' }] }, /not page-aligned/],
  ['e820 size beyond 2^64', { e820: [{ start: 0, size: '99999999999999999999999', type: 'System RAM' }] }, /e820\[0\].size/],
  ['unknown kernel', { kernel: 'v5' }, /kernel "v5"/],
  ['host budget too small', { hostMemoryLimit: '1K' }, /hostMemoryLimit/],
  ['unknown e820 type', { e820: [{ start: 0, size: 1n << 30n, type: 'RAM' }] }, /type "RAM"/],
  ['5-level on v4.5', { paging: 5 }, /v6 profile only/],
  // eslint-disable-next-line no-sparse-arrays
  ['a sparse e820 array', { e820: [, { start: 0x100000n, size: 1n << 30n, type: 'System RAM' }] }, /e820\[0\] is not an object/],
];

describe.each(BACKENDS)('bad input [%s]', (backend) => {
  it.each([...API, FOREIGN])('API: %s', async (_name, fn, code, message) => {
    foreign ??= (await t10Machine(backend)).createAltmap(A);
    const m = await t10Machine(backend);
    m.createDevice('d');
    const before = m.snapshot();
    let err: unknown;
    try {
      fn(m);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe(code);
    expect((err as KernelError).message).toMatch(message);
    const after = m.snapshot();
    // rows that first build something up (use after destroy or free) compare what is left with a fresh state
    if (!/use after|freed with|twice|unbinds/.test(_name)) expect(after).toEqual(before);
    m.checkInvariants();
  });

  it.each(MACHINES)('createMachine: %s', async (_name, config, message) => {
    await expect(createMachine({ backend, ...config } as never)).rejects.toThrow(message);
    await expect(createMachine({ backend, ...config } as never)).rejects.toBeInstanceOf(KernelError);
  });
});

describe('bad input: the planner', () => {
  it.each([
    ['an unknown kernel', { size: '64G', kernel: 'v9' }, /kernel "v9" is not one of/],
    ['onRow that is not a function', { size: '64G', onRow: 5 }, /onRow 5 is not a function/],
    ['an unknown backend', { size: '64G', backend: 'gpu' }, /backend "gpu"/],
    ['an unknown option', { size: '64G', fast: true }, /unknown planCapacity option "fast"/],
  ])('planCapacity: %s is EINVAL before any row runs', async (_name, opts, message) => {
    const err = await planCapacity(opts as never).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe('EINVAL');
    expect(err.message).toMatch(message);
  });
  it('planConfigs: an unknown kernel is EINVAL, not a RangeError', () => {
    expect(() => planConfigs('v9' as never)).toThrow(KernelError);
  });
});

describe('bad input: scenario files', () => {
  it.each([
    ['an unknown op', { steps: [{ op: 'frobnicate' }] }, /step 0.*frobnicate/],
    ['a step without its arguments', { steps: [{ op: 'createDevice', name: 'a' }, { op: 'memremap', device: 'a' }] }, /step 1/],
    ['steps that are not a list', { steps: 'all of them' }, /steps/],
    ['a bad machine option inside the scenario', { machine: { kernel: 'v9' }, steps: [] }, /kernel/],
    ...['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf'].map((op): [string, unknown, RegExp] => [`op ${op} (a prototype name)`, { steps: [{ op }] }, new RegExp(`unknown op "${op}"`)]),
  ])('%s is EINVAL naming the problem, before anything runs', async (_name, scenario, message) => {
    const err = await runScenario(scenario as never).catch((e) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect(err.code).toBe('EINVAL');
    expect(err.message).toMatch(message);
  });
});

/** `altmap ...args` from the repository's directory. */
const run = (args: string[]) => runAltmap(process.cwd(), args);

describe('bad input: the CLI', () => {
  it.each([
    ['an unknown flag', ['create-namespace', '--backend', 'ts', '--frobnicate']],
    ['an unknown command', ['frobnicate']],
    ['a non-canonical walk address', ['walk', '0x0000900000000000', '--backend', 'ts']],
    ['an unknown kernel', ['list', '--kernel', 'v9', '--backend', 'ts']],
    ['a malformed scenario', ['run', fileURLToPath(new URL('../../package.json', import.meta.url)), '--backend', 'ts']],
    ['too little DRAM to boot', ['create-namespace', '-s', '1G', '--dram-size', '1M', '--backend', 'ts']],
    // issue 18 why 4: a --state path whose directory cannot hold it (here a regular file; the tests may run as root, for whom no mode bars a write)
    ['a --state path under a regular file', ['create-namespace', '-s', '1G', '--state', 'package.json/s.json', '--backend', 'ts']],
  ])('%s exits 2 with one line on stderr', async (_name, args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('bad input: a saved machine is checked before any flag is applied (issue 18, why 3)', () => {
  it.each([
    ['"x"', 'x'],
    ['[null]', [null]],
  ])('a --state file whose e820 is %s, with --dram-size given: exit 2 naming the e820, the file unchanged (was "e.map is not a function")', async (_name, e820) => {
    const dir = mkdtempSync(join(tmpdir(), 'altmap-saved-'));
    try {
      const file = join(dir, 's.json');
      const text = JSON.stringify({ machine: { kernel: 'v6', e820 }, steps: [] });
      writeFileSync(file, text);
      const r = await runAltmap(dir, ['create-namespace', '-s', '1G', '--dram-size', '8G', '--state', 's.json', '--backend', 'ts']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: --state s\.json: .*e820/);
      expect(r.stderr).not.toMatch(/is not a function|TypeError/);
      expect(readFileSync(file, 'utf8')).toBe(text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad input: the CLI, ndctl refusals and crashes', () => {
  it('a mode named after a prototype property is refused by name, not as "a function" (as ndctl refuses -m bogus: fixture refuse-mode-bogus, exit 129 and the usage)', async () => {
    const r = await run(['create-namespace', '-m', 'constructor', '--backend', 'ts']);
    expect(r.code).toBe(129);
    expect(r.stderr).toMatch(/^ {2}Error: invalid mode 'constructor'\n\n\n usage: ndctl create-namespace \[<options>\]\n/);
  });
  it('T33: report on v4.5-rc1 shows the tables and the BUG, then the counters the crash left', async () => {
    const r = await run(['report', '--kernel', 'v4.5-rc1', '--backend', 'ts']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^altmap-sim: kernel profile v4\.5-rc1/);
    expect(r.stdout).toMatch(/namespace0\.0 \(fsdax, map=dev\)/);
    expect(r.stdout).toMatch(/BUG: unable to handle kernel NULL pointer dereference at \(null\)/);
    expect(r.stdout).toMatch(/destroy-namespace namespace0\.0 failed: EFAULT: machine is poisoned/);
    expect(r.stdout).toMatch(/counters \(DRAM pages\) after destroying nothing:/);
  });
});

describe.each(BACKENDS)('fuzzed arguments [%s]', (backend) => {
  const METHODS = [
    'devmMemremapPages', 'findDevPagemap', 'toVmemAltmap', 'createAltmap', 'vmemAltmapOffset', 'vmemAltmapFree', 'altmapAllocBlockBuf',
    'pfnToPage', 'pageToPfn', 'page', 'readPhys', 'walk', 'walkVerbose', 'regionIntersects', 'createNamespace', 'destroyNamespace',
    'walkPhys', 'walkMany', 'pagesMany', 'toVmemAltmapMany',
    'reconfigureDevice', 'hugetlbAlloc', 'hugetlbFree', 'injectFault', 'namespaceInfo', 'planNamespace', 'va', 'unbind', 'createDevice', 'listNamespaces',
  ];
  it('any arguments to any public method give a result or a KernelError, never another exception', async () => {
    const fc = (await import('fast-check')).default;
    const m = await createMachine({ backend, kernel: 'v6' });
    m.createDevice('d');
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), fc.array(fc.anything({ withBigInt: true, withNullPrototype: true, withObjectString: true }), { maxLength: 3 }), (name, args) => {
        try {
          (m as unknown as Record<string, (...a: unknown[]) => unknown>)[name](...args);
        } catch (e) {
          if (!(e instanceof KernelError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
    m.checkInvariants();
  }, 120_000);
});
