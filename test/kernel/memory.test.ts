/**
 * Memory blocks and memory_hotplug's parameters in sysfs, against what Debian's 6.12 printed for the
 * oracle's standard machine (fixture ns-devdax-dev-1G, step 00: the boot; 2 GiB of RAM, 128 MiB blocks).
 */
import { describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../../src/index.ts';
import { BACKENDS, realStep } from '../fixtures.ts';
import { GUEST_E820 } from '../dax/guest.ts';
import { kstrtobool } from '../../src/kernel/cmdline.ts';
import { probeMemoryBlockSize } from '../../src/kernel/memory.ts';



/** Every file under a directory, as the oracle dumps sysfs: "path:value" lines, sorted. */
function dump(m: Machine, path: string): string[] {
  const out: string[] = [];
  for (const name of m.listDir(path)) {
    const p = `${path}/${name}`;
    try {
      out.push(`${p}:${m.readFile(p).replace(/\n$/, '')}`);
    } catch {
      out.push(...dump(m, p));
    }
  }
  return out;
}

describe.each(BACKENDS)('memory blocks in sysfs [%s]', (backend) => {
  it('ns-devdax-dev-1G step 00 (6.12): /sys/devices/system/memory and memory_hotplug parameters as the real kernel lists them', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    const real = realStep('6.12.117', 'ns-devdax-dev-1G', 0).state.memory.trim().split('\n').sort();
    const model = [...dump(m, '/sys/devices/system/memory'), ...dump(m, '/sys/module/memory_hotplug/parameters')].sort();
    expect(model).toEqual(real);
  });

  it.each([
    // Debian's 6.12 onlines new blocks itself (auto_online_blocks=online) in ZONE_NORMAL: daxctl reports movable false
    ['kmem-system-ram-mem-1G (6.12): the kernel\'s policy onlines them, to ZONE_NORMAL', '', 'Normal', false],
    // with the policy offline (6.1's default), daxctl onlines them to ZONE_MOVABLE (6.1 fixture: movable true)
    ['memhp_default_state=offline: daxctl onlines them, to ZONE_MOVABLE', 'memhp_default_state=offline', 'Movable', true],
  ])('T46 %s; block ids from the physical address (0x108000000 is memory33)', async (_name, cmdline, zone, movable) => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820, cmdline });
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    const r = m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const real = JSON.parse(realStep('6.12.117', 'kmem-system-ram-mem-1G', 5).stdout)[0];
    expect({ ...r, movable: undefined, online_pages: undefined, memmap_on_memory: undefined, memmap_on_memory_pages: undefined, memmap_dram_pages: undefined }).toEqual({ ...real, movable: undefined });
    expect(r.movable).toBe(movable);
    const ids = m.listDir('/sys/devices/system/memory').filter((n) => /^memory\d+$/.test(n)).map((n) => Number(n.slice(6))).filter((id) => id >= 32);
    expect(ids).toEqual([33, 34, 35, 36, 37, 38, 39]);
    for (const id of ids) {
      expect(m.readFile(`/sys/devices/system/memory/memory${id}/state`)).toBe('online\n');
      expect(m.readFile(`/sys/devices/system/memory/memory${id}/valid_zones`)).toBe(`${zone}\n`);
    }
  });
});

describe.each(BACKENDS)('the dax bus in sysfs [%s]', (backend) => {
  it('ns-devdax-dev-1G step 04 (6.12): /sys/bus/dax/devices/dax0.0 and its dax_region as the real kernel shows them', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'dev' });
    const real = realStep('6.12.117', 'ns-devdax-dev-1G', 4).state.dax.trim().split('\n').sort();
    const base = '/sys/bus/dax/devices/dax0.0';
    const model = [...dump(m, base), ...dump(m, `${base}/../dax_region`)].sort();
    expect(model).toEqual(real);
  });

  it('memmap_on_memory: 1 is EOPNOTSUPP while the module parameter is off; 0 is taken', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    const f = '/sys/bus/dax/devices/dax0.0/memmap_on_memory';
    expect(() => m.writeFile(f, '1\n')).toThrow(expect.objectContaining({ code: 'EOPNOTSUPP' }));
    m.writeFile(f, '0\n');
    expect(m.readFile(f)).toBe('0\n');
    expect(() => m.writeFile(f, 'maybe\n')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe.each(BACKENDS)('the kernel command line [%s]', (backend) => {
  it('memory_hotplug.memmap_on_memory=1 lets the device file take 1, and kmem then puts each block\'s memmap on the block (T46: 512 pages per 128 MiB)', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820, cmdline: 'console=ttyS0 memory_hotplug.memmap_on_memory=1' });
    expect(m.readFile('/sys/module/memory_hotplug/parameters/memmap_on_memory')).toBe('Y\n');
    expect(m.dmesg().some((l) => l.endsWith('Kernel command line: console=ttyS0 memory_hotplug.memmap_on_memory=1'))).toBe(true);
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    m.writeFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1\n');
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const s = m.stats().systemRam['dax0.0'];
    expect(s.memmapOnMemoryPages).toBe(512 * s.blocks);
    expect(s.dramMemmapPages).toBe(0);
    // changing it while kmem holds the device is EBUSY
    expect(() => m.writeFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory', '0\n')).toThrow(expect.objectContaining({ code: 'EBUSY' }));
  });

  it('memhp_default_state=offline shows in auto_online_blocks; an unknown parameter goes to user space; a bad value is reported', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820, cmdline: 'memhp_default_state=offline frobnicate=1 memory_hotplug.memmap_on_memory=maybe' });
    expect(m.readFile('/sys/devices/system/memory/auto_online_blocks')).toBe('offline\n');
    const log = m.dmesg().join('\n');
    expect(log).toMatch(/Unknown kernel command line parameters "frobnicate=1", will be passed to user space\./);
    expect(log).toMatch(/Booting kernel: `maybe' invalid for parameter `memory_hotplug.memmap_on_memory'/);
    expect(m.readFile('/sys/module/memory_hotplug/parameters/memmap_on_memory')).toBe('N\n');
  });

  it('kmem-mom-force: memory_hotplug.memmap_on_memory=force is force on 6.12.117, and on 6.1.192 (a bool, kstrtobool reading the "f") N without a message', async () => {
    for (const [kernel, fixture] of [['v6', '6.12.117'], ['v6.1', '6.1.192']] as const) {
      const m = await createMachine({ backend, kernel, e820: GUEST_E820, cmdline: 'memory_hotplug.memmap_on_memory=force' });
      const real = realStep(fixture, 'kmem-mom-force', 0).state.memory.split('\n').find((l) => l.includes('parameters/memmap_on_memory:'))!;
      expect(`/sys/module/memory_hotplug/parameters/memmap_on_memory:${m.readFile('/sys/module/memory_hotplug/parameters/memmap_on_memory').trim()}`).toBe(real);
      expect(m.dmesg().join('\n')).not.toMatch(/invalid for parameter/);
      m.dispose();
    }
    expect(kstrtobool('off')).toBe(false);
    expect(kstrtobool('on')).toBe(true);
    expect(kstrtobool('o')).toBe(null);
    expect(kstrtobool('True')).toBe(true);
  });
});

describe('probe_memory_block_size (arch/x86/mm/init_64.c)', () => {
  it('every recorded guest (8 GiB, 2 GiB) boots with 128 MiB blocks, as block_size_bytes and "x86/mm: Memory block size: 128MB" say', async () => {
    for (const c of ['softres-boot', 'kmem-8G-block-trim']) {
      const line = realStep('6.12.117', c, 0).state.memory.split('\n').find((l) => l.includes('/block_size_bytes:'))!;
      expect(BigInt(`0x${line.split(':')[1]}`)).toBe(probeMemoryBlockSize(9n << 30n, true));
    }
    const m = await createMachine({ kernel: 'v6', e820: GUEST_E820 });
    expect(m.readFile('/sys/devices/system/memory/block_size_bytes')).toBe('8000000\n');
    expect(m.dmesg().join('\n')).toContain('x86/mm: Memory block size: 128MB');
    m.dispose();
  });

  it('from 64 GiB: 2 GiB on bare metal; in a guest the largest size up to 2 GiB that the end of boot memory aligns to', async () => {
    expect(probeMemoryBlockSize((64n << 30n) - 1n, false)).toBe(128n << 20n);
    expect(probeMemoryBlockSize(64n << 30n, false)).toBe(2n << 30n);
    expect(probeMemoryBlockSize((64n << 30n) + (1n << 20n), false)).toBe(2n << 30n);
    expect(probeMemoryBlockSize(64n << 30n, true)).toBe(2n << 30n);
    expect(probeMemoryBlockSize((64n << 30n) + (512n << 20n), true)).toBe(512n << 20n);
    // the default machine (64 GiB of RAM from 1 MiB) ends at 64 GiB + 1 MiB: a guest's 128 MiB
    expect(probeMemoryBlockSize((64n << 30n) + (1n << 20n), true)).toBe(128n << 20n);
    const m = await createMachine({ kernel: 'v6', hypervisor: false, e820: [{ start: 0x100000n, size: 64n << 30n, type: 'System RAM' }] });
    expect(m.readFile('/sys/devices/system/memory/block_size_bytes')).toBe('80000000\n');
    expect(m.dmesg().join('\n')).toContain('x86/mm: Memory block size: 2048MB');
    m.dispose();
  });

  it('the v4.x eras (sources: v4.5/v4.6 and v4.17 arch/x86/mm/init_64.c): v4.5 takes 2 GiB once RAM ends at 64 GiB, aligned or not; v4.18 aligns to the end of boot memory, guest or not', async () => {
    const end = (64n << 30n) + (1n << 20n); // the default machine's max_pfn
    expect(probeMemoryBlockSize((64n << 30n) - 4096n, true, 'ram-end')).toBe(128n << 20n);
    expect(probeMemoryBlockSize(end, true, 'ram-end')).toBe(2n << 30n);
    expect(probeMemoryBlockSize(end, false, 'aligned-end')).toBe(128n << 20n);
    expect(probeMemoryBlockSize((64n << 30n) + (1n << 30n), false, 'aligned-end')).toBe(1n << 30n);
    for (const [kernel, text, mb] of [['v4.5', '80000000\n', 2048], ['v4.18', '8000000\n', 128]] as const) {
      const m = await createMachine({ kernel, hypervisor: false });
      expect(m.readFile('/sys/devices/system/memory/block_size_bytes'), kernel).toBe(text);
      expect(m.dmesg().join('\n'), kernel).toContain(`x86/mm: Memory block size: ${mb}MB`);
      m.dispose();
    }
  });
});
