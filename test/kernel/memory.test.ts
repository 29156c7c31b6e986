/**
 * Memory blocks and memory_hotplug's parameters in sysfs, against what Debian's 6.12 printed for the
 * oracle's standard machine (fixture ns-devdax-dev-1G, step 00: the boot; 2 GiB of RAM, 128 MiB blocks).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMachine, type Machine } from '../../src/index.ts';
import { BACKENDS } from '../fixtures.ts';

const FIXTURE = new URL('../fixtures/real/6.12.117/ns-devdax-dev-1G/00.memory', import.meta.url);

/** The oracle's standard guest: the e820 RAM of QEMU's pc machine with 2 GiB, one 32 GiB NVDIMM at 4 GiB. */
const GUEST_E820 = [
  { start: 0x1000n, size: 0x9f000n, type: 'System RAM' as const },
  { start: 0x100000n, size: 0x7ffdf000n - 0x100000n, type: 'System RAM' as const },
  { start: 0x100000000n, size: 0x7ffe00000n, type: 'Persistent Memory' as const },
];

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
    const real = readFileSync(FIXTURE, 'utf8').trim().split('\n').sort();
    const model = [...dump(m, '/sys/devices/system/memory'), ...dump(m, '/sys/module/memory_hotplug/parameters')].sort();
    expect(model).toEqual(real);
  });

  it('T46: kmem blocks appear online in ZONE_MOVABLE, with their ids from the physical address', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const blocks = m.stats().systemRam['dax0.0'].blocks;
    const ids = m.listDir('/sys/devices/system/memory').filter((n) => /^memory\d+$/.test(n)).map((n) => Number(n.slice(6))).filter((id) => id >= 32);
    expect(ids).toHaveLength(blocks);
    for (const id of ids) {
      expect(m.readFile(`/sys/devices/system/memory/memory${id}/state`)).toBe('online\n');
      expect(m.readFile(`/sys/devices/system/memory/memory${id}/valid_zones`)).toBe('Movable\n');
    }
  });
});

describe.each(BACKENDS)('the dax bus in sysfs [%s]', (backend) => {
  it('ns-devdax-dev-1G step 04 (6.12): /sys/bus/dax/devices/dax0.0 and its dax_region as the real kernel shows them', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'dev' });
    const real = readFileSync(new URL('../fixtures/real/6.12.117/ns-devdax-dev-1G/04.dax', import.meta.url), 'utf8').trim().split('\n').sort();
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
