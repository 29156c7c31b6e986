/**
 * The e820 types the command line's memmap= makes: legacy pmem ("Persistent Memory (legacy)", type 12,
 * `memmap=2G!0x140000000`) on the e820 nd bus, against the recorded legacy-* fixtures of 6.12.117 and
 * 6.1.192; and the checks createMachine makes of an e820 type.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, type MachineConfig } from '../../src/index.ts';
import { BACKENDS, expectKernelError, realStep } from '../fixtures.ts';

const GiB = 1n << 30n;
const KERNELS = [['v6', '6.12.117'], ['v6.1', '6.1.192']] as const;

/** The legacy guest's user-defined e820: 8 GiB of QEMU pc RAM with 2 GiB at 5 GiB made type 12. */
const LEGACY_E820: NonNullable<MachineConfig['e820']> = [
  { start: 0x1000n, size: 0x9f000n, type: 'System RAM' },
  { start: 0x100000n, size: 0xbffdf000n - 0x100000n, type: 'System RAM' },
  { start: 4n * GiB, size: GiB, type: 'System RAM' },
  { start: 5n * GiB, size: 2n * GiB, type: 'Persistent Memory (legacy)' },
  { start: 7n * GiB, size: 2n * GiB, type: 'System RAM' },
];

const pmemLines = (iomem: string) => iomem.split('\n').filter((l) => /Persistent Memory|namespace|pfn|dax/.test(l));
const sysfsLike = (m: { readFile(p: string): string }, real: string, keep: RegExp) =>
  real
    .split('\n')
    .filter((l) => keep.test(l))
    .map((l) => `${l.slice(0, l.indexOf(':'))}:${m.readFile(l.slice(0, l.indexOf(':'))).replace(/\n$/, '')}`);

describe.each(BACKENDS)('legacy pmem (memmap=nn!ss) [%s]', (backend) => {
  it.each(KERNELS)('legacy-list (%s): the e820 bus, no DIMM, its raw namespace page-mapped: mode "memory", ndctl\'s fsdax map=mem', async (kernel, fixture) => {
    const m = await createMachine({ backend, kernel, e820: LEGACY_E820 });
    const r0 = realStep(fixture, 'legacy-list', 0);
    expect(pmemLines(m.readFile('/proc/iomem'))).toEqual(pmemLines(r0.state.iomem));
    expect(pmemLines(m.readFile('/proc/iomem'))).toEqual(['140000000-1bfffffff : Persistent Memory (legacy)', '  140000000-1bfffffff : namespace0.0']);
    const keep = /\/(ndbus0\/(provider|commands)|region0\/mappings|namespace0\.0\/mode):/;
    const want = r0.state.nd.split('\n').filter((l) => keep.test(l));
    expect(want).toEqual(['/sys/bus/nd/devices/namespace0.0/mode:memory', '/sys/bus/nd/devices/ndbus0/commands:', '/sys/bus/nd/devices/ndbus0/provider:e820', '/sys/bus/nd/devices/region0/mappings:0']);
    expect(sysfsLike(m, r0.state.nd, keep)).toEqual(want);
    expect(m.listDir('/sys/bus/nd/devices').some((n) => n.startsWith('nmem'))).toBe(false);
    expect(m.listDimms()).toEqual([]);
    expect(m.listBuses()).toEqual([{ provider: 'e820', dev: 'ndbus0' }]);
    expect(m.listRegions()[0]!.mappings).toEqual([]);
    const real = JSON.parse(realStep(fixture, 'legacy-list', 2).stdout) as Array<Record<string, unknown>>;
    expect(m.listNamespaces()).toEqual(real.map((ns) => expect.objectContaining(ns)));
    // nd_pmem's memremap of the whole namespace: its memmap in DRAM (32 MiB for 2 GiB), no altmap
    expect(m.stats().devices['namespace0.0']).toMatchObject({ start: 5n * GiB, end: 7n * GiB - 1n, altmapPages: 0, dramMemmapPages: 8192 });
    m.dispose();
  });

  it.each(KERNELS)('legacy-fsdax-dev (%s) step 01: -e to fsdax keeps the mode ("memory"): no pfn align to keep, so PAGE_SIZE; the direct map is unchanged', async (kernel, fixture) => {
    const m = await createMachine({ backend, kernel, e820: LEGACY_E820 });
    const dm = (t: string) => [...t.matchAll(/^DirectMap\w+:\s+\d+ kB$/gm)].map((x) => x[0]);
    const before = dm(m.readFile('/proc/meminfo'));
    const ns = m.createNamespace({ reconfig: 'namespace0.0', mode: 'fsdax', map: 'dev' });
    const real = JSON.parse(realStep(fixture, 'legacy-fsdax-dev', 1).stdout) as Record<string, unknown>;
    expect(ns).toMatchObject({ ...real, uuid: expect.any(String) });
    expect(ns.align).toBe(4096);
    expect(dm(m.readFile('/proc/meminfo'))).toEqual(before);
    expect(realStep(fixture, 'legacy-fsdax-dev', 1).dmesg).toContain('nd_pmem pfn0.0: unable to guarantee persistence of writes');
    expect(m.dmesg().join('\n')).toContain('nd_pmem pfn0.0: unable to guarantee persistence of writes');
    m.dispose();
  });

  it('an e820 entry of an unknown type is EINVAL, naming the types there are', async () => {
    const e = await expectKernelError(() => createMachine({ backend, e820: [{ start: 0x100000n, size: GiB, type: 'Bogus' as never }] }), 'EINVAL');
    expect(e.message).toMatch(/"Soft Reserved", "Persistent Memory \(legacy\)"/);
  });
});

describe.each(BACKENDS)('memmap= on the command line [%s]', (backend) => {
  /** QEMU pc's firmware map for 8 GiB, page-granular (the model's e820 is). */
  const BIOS: NonNullable<MachineConfig['e820']> = [
    { start: 0x1000n, size: 0x9f000n, type: 'System RAM' },
    { start: 0x100000n, size: 0xbffdf000n - 0x100000n, type: 'System RAM' },
    { start: 4n * GiB, size: 5n * GiB, type: 'System RAM' },
  ];
  /** The fixture's "user:" lines from 4 GiB up (below, QEMU's sub-page BIOS entries). */
  const userLines = (text: string) => text.split('\n').filter((l) => / user: \[mem 0x000000010/.test(l) || / user: \[mem 0x0000000[1-9a-f][0-9a-f]/.test(l)).map((l) => l.replace(/^.*\] user: /, 'user: '));

  it.each([
    ['softres-boot', 'memmap=2G%0x140000000+0xefffffff', 'Soft Reserved'],
    ['softres-misaligned', 'memmap=1026M%0x140200000+0xefffffff', 'Soft Reserved'],
    ['softres-two-ranges', 'memmap=1G%0x140000000+0xefffffff memmap=1G%0x1c0000000+0xefffffff', 'Soft Reserved'],
    ['legacy-list', 'memmap=2G!0x140000000', 'Persistent Memory (legacy)'],
  ] as const)('%s (6.12.117): `%s` makes the map the kernel printed as "user:"', async (c, cmdline, type) => {
    const m = await createMachine({ backend, kernel: 'v6', e820: BIOS, cmdline });
    const { readFixture } = await import('../../src/oracle/fixtures.ts');
    const f = readFixture(new URL(`../fixtures/real/6.12.117/${c}`, import.meta.url).pathname);
    const real = userLines(f.earlyBoot);
    expect(real.length).toBeGreaterThan(2);
    expect(userLines(m.dmesg().map((l) => l.replace(/^\[\s*[\d.]+\] /, '[    0.000000] ')).join('\n'))).toEqual(real);
    expect(m.e820.some((e) => e.type === type)).toBe(true);
    expect(m.dmesg().join('\n')).toContain('e820: user-defined physical RAM map:');
    m.dispose();
  });

  it('memmap=2G%0x140000000+0xefffffff boots softres-boot\'s machine: the hmem device and kmem on v6', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: BIOS, cmdline: 'memmap=2G%0x140000000+0xefffffff' });
    expect(m.stats().systemRam['dax0.0']).toMatchObject({ blocks: 16, onlineBlocks: 16 });
    m.dispose();
  });

  it('a malformed memmap= is reported as early param parsing reports it, and changes nothing; a type the model has not is EINVAL', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: BIOS, cmdline: 'memmap=2G^0x140000000' });
    expect(m.dmesg().join('\n')).toContain("Malformed early option 'memmap'");
    expect(m.e820.map((e) => e.type)).toEqual(['System RAM', 'System RAM', 'System RAM']);
    m.dispose();
    await expectKernelError(() => createMachine({ backend, kernel: 'v6', e820: BIOS, cmdline: 'memmap=2G%0x140000000+3' }), 'EINVAL');
    await expectKernelError(() => createMachine({ backend, kernel: 'v6', e820: BIOS, cmdline: 'memmap=exactmap' }), 'EINVAL');
  });
});

describe.each(BACKENDS)('efi=nosoftreserve and hugetlb_free_vmemmap= [%s]', (backend) => {
  const SP: NonNullable<MachineConfig['e820']> = [
    { start: 0x100000n, size: 0xbffdf000n - 0x100000n, type: 'System RAM' },
    { start: 4n * GiB, size: GiB, type: 'System RAM' },
    { start: 5n * GiB, size: 2n * GiB, type: 'Soft Reserved' },
    { start: 7n * GiB, size: 2n * GiB, type: 'System RAM' },
  ];

  it('efi=nosoftreserve: the firmware\'s Soft Reserved (EFI_MEMORY_SP) range is System RAM, no hmem device; a memmap=...+0xefffffff range stays Soft Reserved', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: SP, cmdline: 'efi=debug,nosoftreserve' });
    expect(m.e820.map((e) => e.type)).toEqual(['System RAM', 'System RAM']);
    expect(m.listDir('/sys/bus/dax/devices')).toEqual([]);
    m.dispose();
    const n = await createMachine({ backend, kernel: 'v6', e820: SP.map((e) => (e.type === 'Soft Reserved' ? { ...e, type: 'System RAM' as const } : e)), cmdline: 'efi=nosoftreserve memmap=2G%0x140000000+0xefffffff' });
    expect(n.listDir('/sys/bus/dax/devices')).toEqual(['dax0.0']);
    n.dispose();
  });

  it('hugetlb_free_vmemmap=off leaves a 2M HugeTLB page its 8 vmemmap pages, =on frees 7; a value kstrtobool refuses is a malformed early option', async () => {
    const off = await createMachine({ backend, kernel: 'v6', e820: SP, cmdline: 'hugetlb_free_vmemmap=off' });
    expect(off.hugetlbAlloc('2M').vmemmapPagesFreed).toBe(0);
    off.dispose();
    const on = await createMachine({ backend, kernel: 'v6', e820: SP, cmdline: 'hugetlb_free_vmemmap=on' });
    expect(on.hugetlbAlloc('2M').vmemmapPagesFreed).toBe(7);
    on.dispose();
    const bad = await createMachine({ backend, kernel: 'v6', e820: SP, cmdline: 'hugetlb_free_vmemmap=maybe' });
    expect(bad.dmesg().join('\n')).toContain("Malformed early option 'hugetlb_free_vmemmap'");
    expect(bad.hugetlbAlloc('2M').vmemmapPagesFreed).toBe(7);
    bad.dispose();
  });
});
