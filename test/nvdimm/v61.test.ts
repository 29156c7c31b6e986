/**
 * 6.1's zero-sized pfn devices (fixtures a1G-offset-*-1G and a1G-ll-* on 6.1.192): nd_pfn_init lets
 * offset + end_trunc == size through (6.5 refuses it), the device is created with size 0, and with
 * map=dev its destroy oopses in memunmap_pages on pfn_first()'s unmapped struct page. 6.12 refuses.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, type KernelName } from '../../src/index.ts';
import { dmesgMessages } from '../../src/oracle/compare.ts';
import { BACKENDS, realStep } from '../fixtures.ts';

const GiB = 1n << 30n;
/** The oracle's TWO-region machine, region1 at 0x141000000 (16 MiB aligned, not 1 GiB). */
const machine = (backend: 'wasm' | 'ts', kernel: KernelName) =>
  createMachine({
    backend,
    kernel,
    e820: [
      { start: 0x100000n, size: 2n * GiB - 0x200000n, type: 'System RAM' },
      { start: 0x141000000n, size: 8n * GiB, type: 'Persistent Memory' },
    ],
  });

describe.each(BACKENDS)('6.1 zero-sized pfn devices [%s]', (backend) => {
  it('a1G-offset-fsdax-dev-1G (6.1.192): -s 1G -a 1G gives size 0; destroy oopses in memunmap_pages as the real kernel printed it, and poisons the machine', async () => {
    const m = await machine(backend, 'v6.1');
    const ns = m.createNamespace({ size: '1G', align: '1G', map: 'dev' });
    const created = JSON.parse(realStep('6.1.192', 'a1G-offset-fsdax-dev-1G', 4).stdout) as { size: number; align: number };
    expect(ns.size).toBe(created.size);
    expect(ns.size).toBe(0);
    const n = m.dmesg().length;
    m.destroyNamespace(ns.dev as string);
    const real = realStep('6.1.192', 'a1G-offset-fsdax-dev-1G', 6);
    expect(real.exit).toBe(137);
    expect(dmesgMessages(m.dmesg().slice(n).join('\n'))).toBe(dmesgMessages(real.dmesg));
    expect(m.poisoned).toMatch(/memunmap_pages/);
    expect(() => m.createNamespace({ size: '1G' })).toThrow(KernelError);
  });

  it('a1G-offset-devdax-mem-1G (6.1.192): a zero-sized device-dax region has an idle daxR.0 of size 0 and no mapping; destroy is clean', async () => {
    const m = await machine(backend, 'v6.1');
    const ns = m.createNamespace({ size: '1G', align: '1G', map: 'mem', mode: 'devdax' });
    expect(ns.size).toBe(0);
    expect(m.readFile('/sys/bus/dax/devices/dax0.0/size')).toBe('0\n');
    expect(m.listDir('/sys/bus/dax/devices/dax0.0')).not.toContain('mapping0');
    m.destroyNamespace(ns.dev as string);
    expect(m.poisoned).toBeNull();
    expect(realStep('6.1.192', 'a1G-offset-devdax-mem-1G', 7).exit).toBe(0);
  });

  it('a1G-offset-fsdax-dev-1G (6.12.117): the same request is refused in the probe, "unable to satisfy requested alignment"', async () => {
    const m = await machine(backend, 'v6');
    expect(() => m.createNamespace({ size: '1G', align: '1G', map: 'dev' })).toThrow(/failed to enable|unable to satisfy/);
    expect(realStep('6.12.117', 'a1G-offset-fsdax-dev-1G', 4).dmesg).toContain('unable to satisfy requested alignment');
  });
});
