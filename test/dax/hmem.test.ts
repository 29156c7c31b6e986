/**
 * Soft Reserved memory and dax_hmem through the public API, against the recorded softres-* fixtures
 * of 6.12.117 and 6.1.192: the guest's 8 GiB with `memmap=2G%0x140000000+0xefffffff` (the e820 map
 * the kernel printed as "user:"), the iomem nesting of each era, the hmem device and its dax region,
 * kmem at boot on 6.12, the reconfiguration both ways and what it does to MemTotal.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, type Machine, type MachineConfig } from '../../src/index.ts';
import { BACKENDS, realStep } from '../fixtures.ts';

const GiB = 1n << 30n;
type Kernel = '6.12.117' | '6.1.192';
const PROFILE = { '6.12.117': 'v6', '6.1.192': 'v6.1' } as const;

/** The softres guest's user-defined e820 (QEMU pc, 8 GiB) with a Soft Reserved range cut out of the RAM above 4 GiB. */
function softresE820(start: bigint, size: bigint, dimm?: bigint): NonNullable<MachineConfig['e820']> {
  const e: NonNullable<MachineConfig['e820']> = [
    { start: 0x1000n, size: 0x9f000n, type: 'System RAM' },
    { start: 0x100000n, size: 0xbffdf000n - 0x100000n, type: 'System RAM' },
    { start: 4n * GiB, size: start - 4n * GiB, type: 'System RAM' },
    { start, size, type: 'Soft Reserved' },
    { start: start + size, size: 9n * GiB - start - size, type: 'System RAM' },
  ];
  if (dimm) e.push({ start: 9n * GiB, size: dimm, type: 'Persistent Memory' });
  return e;
}

/** The lines of an /proc/iomem text from `from` on that name Soft Reserved, hmem, dax or kmem entries. */
const softresLines = (iomem: string) => iomem.split('\n').filter((l) => / : (Soft Reserved|hmem\.\d+|dax\d+\.\d+|System RAM \(kmem\))$/.test(l));

/** The model's values of the paths a recorded sysfs dump has, as path:value lines. */
function sysfsLike(m: Machine, real: string): string {
  return real
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const path = l.slice(0, l.indexOf(':'));
      let v: string;
      try {
        v = m.readFile(path).replace(/\n$/, '');
      } catch (e) {
        v = `<${e instanceof KernelError ? e.code : String(e)}>`;
      }
      return `${path}:${v}`;
    })
    .join('\n');
}

const memTotal = (meminfo: string) => Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)![1]);
const onlineBlocks = (m: Machine) => m.listDir('/sys/devices/system/memory').filter((n) => /^memory\d+$/.test(n) && m.readFile(`/sys/devices/system/memory/${n}/state`) === 'online\n').length;

describe.each(BACKENDS)('Soft Reserved and dax_hmem [%s]', (backend) => {
  const boot = (kernel: Kernel, e820 = softresE820(5n * GiB, 2n * GiB), cmdline?: string) => createMachine({ backend, kernel: PROFILE[kernel], e820, ...(cmdline ? { cmdline } : {}) });

  it('softres-boot (6.12.117): Soft Reserved > dax0.0 > System RAM (kmem), kmem onlined its 16 blocks at boot; dax0.0 under /platform/hmem.0 as sysfs shows it', async () => {
    const C = 'softres-boot';
    const m = await boot('6.12.117');
    const r = realStep('6.12.117', C, 0);
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(softresLines(r.state.iomem));
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(['140000000-1bfffffff : Soft Reserved', '  140000000-1bfffffff : dax0.0', '    140000000-1bfffffff : System RAM (kmem)']);
    expect(sysfsLike(m, r.state.dax)).toBe(r.state.dax.trimEnd());
    expect(m.readLink('/sys/bus/dax/devices/dax0.0')).toBe('../../../devices/platform/hmem.0/dax0.0');
    expect(m.stats().systemRam['dax0.0']).toMatchObject({ blocks: 16, onlineBlocks: 16, movable: false, memmapOnMemoryPages: 0 });
    // 48 blocks of boot RAM and the 16 of kmem, as the recorded memory sysfs has them
    expect(onlineBlocks(m)).toBe(r.state.memory.split('\n').filter((l) => /\/state:online$/.test(l)).length);
    expect(onlineBlocks(m)).toBe(48 + 16);
    m.dispose();
  });

  it('softres-boot (6.1.192): hmem.0 > Soft Reserved > dax0.0, in devdax mode (device_dax bound), no memory blocks for it', async () => {
    const C = 'softres-boot';
    const m = await boot('6.1.192');
    const r = realStep('6.1.192', C, 0);
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(['140000000-1bfffffff : hmem.0', '  140000000-1bfffffff : Soft Reserved', '    140000000-1bfffffff : dax0.0']);
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(softresLines(r.state.iomem));
    expect(sysfsLike(m, r.state.dax)).toBe(r.state.dax.trimEnd());
    expect(m.stats().systemRam).toEqual({});
    expect(m.stats().devices['dax0.0']).toMatchObject({ start: 0x140000000n, end: 0x1bfffffffn, altmapPages: 0 });
    expect(onlineBlocks(m)).toBe(48);
    m.dispose();
  });

  it('softres-with-pmem: the memregion ids: 6.12.117 numbers the NVDIMM region0 and hmem.1 (dax1.0), 6.1.192 hmem.0 and region1', async () => {
    const C = 'softres-with-pmem';
    const e820 = softresE820(5n * GiB, 2n * GiB, 8587837440n);
    const m12 = await boot('6.12.117', e820);
    expect(m12.listRegions().map((r) => r.dev)).toEqual(['region0']);
    expect(m12.listDir('/sys/bus/dax/devices')).toEqual(['dax1.0']);
    expect(m12.readLink('/sys/bus/dax/devices/dax1.0')).toBe(/dax1\.0 -> (\S+)/.exec(realStep('6.12.117', C, 0).state.drivers)![1]);
    expect(softresLines(m12.readFile('/proc/iomem'))).toEqual(softresLines(realStep('6.12.117', C, 0).state.iomem));
    const m61 = await boot('6.1.192', e820);
    expect(m61.listRegions().map((r) => r.dev)).toEqual(['region1']);
    expect(m61.listDir('/sys/bus/dax/devices')).toEqual(['dax0.0']);
    expect(m61.readLink('/sys/bus/dax/devices/dax0.0')).toBe(/dax0\.0 -> (\S+)/.exec(realStep('6.1.192', C, 0).state.drivers)![1]);
    // the region's namespace and DIMM keep their own numbers: namespace1.0 on nmem0
    expect(m61.listRegions()[0]!.mappings[0]!.dimm).toBe('nmem0');
    expect(m61.listDir('/sys/bus/nd/devices').filter((n) => /^(namespace|nmem|region)/.test(n))).toEqual(['namespace1.0', 'nmem0', 'region1']);
    m12.dispose();
    m61.dispose();
  });

  it('softres-to-devdax and softres-to-system-ram (6.12.117): devdax takes the 2 GiB out of MemTotal, system-ram brings them back; the boot blocks all offline', async () => {
    const m = await boot('6.12.117');
    const k = '6.12.117';
    const total = () => memTotal(m.readFile('/proc/meminfo'));
    const t0 = total();
    m.reconfigureDevice('dax0.0', { mode: 'devdax' });
    const dropped = t0 - total();
    expect(dropped).toBe(memTotal(realStep(k, 'softres-to-devdax', 0).state.meminfo) - memTotal(realStep(k, 'softres-to-devdax', 1).state.meminfo));
    expect(dropped).toBe(2 * 1024 * 1024);
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(softresLines(realStep(k, 'softres-to-system-ram', 1).state.iomem));
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', movable: false });
    expect(total() - (t0 - dropped)).toBe(memTotal(realStep(k, 'softres-to-system-ram', 2).state.meminfo) - memTotal(realStep(k, 'softres-to-system-ram', 1).state.meminfo));
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(softresLines(realStep(k, 'softres-to-system-ram', 2).state.iomem));
    m.dispose();
  });

  it('softres-mom (6.12.117): with memory_hotplug.memmap_on_memory=1 the device file starts at 0; set to 1 in devdax mode, system-ram grows MemTotal by 16 x 126 MiB', async () => {
    const C = 'softres-mom';
    const k = '6.12.117';
    const m = await boot(k, softresE820(5n * GiB, 2n * GiB), 'memory_hotplug.memmap_on_memory=1');
    expect(m.readFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory')).toBe('0\n');
    m.reconfigureDevice('dax0.0', { mode: 'devdax' });
    const before = memTotal(m.readFile('/proc/meminfo'));
    m.writeFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1\n');
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', movable: false });
    const grown = memTotal(m.readFile('/proc/meminfo')) - before;
    expect(grown).toBe(memTotal(realStep(k, C, 4).state.meminfo) - memTotal(realStep(k, C, 3).state.meminfo));
    expect(grown).toBe(16 * 126 * 1024);
    m.dispose();
  });

  it('softres-misaligned (6.12.117): kmem trims 0x140200000+1026M to the blocks 148000000-17fffffff; memory48 (boot RAM with the range\'s tail as a hole) refuses offline with EINVAL', async () => {
    const C = 'softres-misaligned';
    const k = '6.12.117';
    const m = await boot(k, softresE820(0x140200000n, 1026n << 20n));
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(softresLines(realStep(k, C, 0).state.iomem));
    expect(m.stats().systemRam['dax0.0']).toMatchObject({ blocks: 7, onlineBlocks: 7 });
    // the capacity lost to alignment: 0x140200000 up to 0x148000000, and 0x180000000-0x1803fffff
    expect(m.stats().systemRam['dax0.0']!.trimmedBytes).toEqual({ head: 0x148000000n - 0x140200000n, tail: 0x400000n });
    // daxctl offlines the blocks it counts for the device (41..48) until memory48 fails: "Invalid argument"
    expect(realStep(k, C, 2).stderr).toContain('memory48/state: Invalid argument');
    expect(() => m.writeFile('/sys/devices/system/memory/memory48/state', 'offline\n')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    m.dispose();
  });

  it('softres-misaligned (6.1.192): the device_dax memremap of a range that starts and ends inside boot RAM\'s sections (early sections) succeeds', async () => {
    const C = 'softres-misaligned';
    const m = await boot('6.1.192', softresE820(0x140200000n, 1026n << 20n));
    expect(softresLines(m.readFile('/proc/iomem'))).toEqual(softresLines(realStep('6.1.192', C, 0).state.iomem));
    expect(m.stats().devices['dax0.0']).toMatchObject({ start: 0x140200000n, end: 0x1803fffffn });
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: false });
    expect(m.stats().systemRam['dax0.0']).toMatchObject({ blocks: 7 });
    m.checkInvariants();
    m.dispose();
  });

  it('softres-two-ranges: two Soft Reserved ranges are two hmem devices, dax0.0 and dax1.0, on both eras', async () => {
    // memmap=1G%0x140000000+0xefffffff memmap=1G%0x1c0000000+0xefffffff: RAM between them
    const e820 = softresE820(5n * GiB, 3n * GiB).flatMap((e) => (e.type === 'Soft Reserved' ? [{ ...e, size: GiB }, { start: 6n * GiB, size: GiB, type: 'System RAM' as const }, { ...e, start: 7n * GiB, size: GiB }] : [e]));
    for (const k of ['6.12.117', '6.1.192'] as const) {
      const m = await boot(k, e820);
      expect(m.listDir('/sys/bus/dax/devices')).toEqual(['dax0.0', 'dax1.0']);
      expect(softresLines(m.readFile('/proc/iomem'))).toEqual(softresLines(realStep(k, 'softres-two-ranges', 0).state.iomem));
      m.dispose();
    }
  });
});

describe('identifyAddress of Soft Reserved memory', () => {
  it('softres-boot: an address of the range is kmem\'s System RAM on 6.12.117, device-dax memory on 6.1.192', async () => {
    const e820 = [
      { start: 0x100000n, size: 0xbffdf000n - 0x100000n, type: 'System RAM' as const },
      { start: 4n << 30n, size: 1n << 30n, type: 'System RAM' as const },
      { start: 5n << 30n, size: 2n << 30n, type: 'Soft Reserved' as const },
    ];
    const m12 = await createMachine({ kernel: 'v6', e820 });
    expect(m12.identifyAddress(0x150000000n)).toMatchObject({ kind: 'System RAM (kmem)', device: 'dax0.0' });
    const m61 = await createMachine({ kernel: 'v6.1', e820 });
    expect(m61.identifyAddress(0x150000000n)).toMatchObject({ kind: 'device', device: 'dax0.0' });
    m12.dispose();
    m61.dispose();
  });
});
