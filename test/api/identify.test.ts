/** identifyAddress (drgn's identify_address): what a physical or kernel virtual address is, on both backends. */
import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import { BACKENDS, expectKernelError, P16_ALTMAP, P16_RES, t10Machine } from '../fixtures.ts';

describe.each(BACKENDS)('identifyAddress [%s]', (backend) => {
  it('T37 P16 map=dev: the data page, its struct page in the altmap pool, the info block and the first 4 KiB', async () => {
    const m = await t10Machine(backend);
    m.createNamespace({ size: '16G', mode: 'fsdax', map: 'dev' });
    const info = m.namespaceInfo('namespace0.0');
    expect(info.region).toBe(0);
    const dataPhys = BigInt(info.dataPfn) << 12n;
    expect(m.identifyAddress(dataPhys)).toMatchObject({ space: 'physical', kind: 'namespace', namespace: 'namespace0.0', device: 'pfn0.0', part: 'data' });
    expect(m.identifyAddress(info.start + 0x1000n)).toMatchObject({ kind: 'namespace', part: 'info block', description: 'namespace0.0 (pfn0.0): its pfn info block' });
    expect(m.identifyAddress(info.start)).toMatchObject({ kind: 'namespace', part: 'left alone' });
    // the struct page of the first data pfn lives in the pool: base_pfn + reserve .. + free
    const va = m.pfnToPage(info.dataPfn);
    const id = m.identifyAddress(va);
    const phys = m.walk(va)!.phys;
    expect(id).toMatchObject({ space: 'virtual', kind: 'vmemmap', pfn: info.dataPfn, phys });
    expect(id.target).toMatchObject({ kind: 'namespace', part: 'altmap pool', device: 'pfn0.0' });
    expect(phys >> 12n >= BigInt(P16_ALTMAP.basePfn + P16_ALTMAP.reserve)).toBe(true);
    expect(phys >> 12n < BigInt(P16_ALTMAP.basePfn + P16_ALTMAP.reserve + P16_ALTMAP.free)).toBe(true);
    expect(id.description).toBe(`struct page of pfn 0x${info.dataPfn.toString(16)}, in namespace0.0 (pfn0.0): its altmap pool (the memmap on the device)`);
  });

  it('map=mem: the struct page is in System RAM; the direct map of a RAM page is __va', async () => {
    const m = await t10Machine(backend);
    m.createNamespace({ size: '8G', mode: 'fsdax', map: 'mem' });
    const info = m.namespaceInfo('namespace0.0');
    expect(m.identifyAddress(m.pfnToPage(info.dataPfn)).target).toMatchObject({ kind: 'System RAM' });
    expect(m.identifyAddress(m.va(0x1000000n))).toMatchObject({ kind: 'direct-map', phys: 0x1000000n, target: { kind: 'System RAM' }, description: '__va(0x1000000), the direct map' });
    expect(m.identifyAddress(0x700000000n)).toMatchObject({ kind: 'Persistent Memory', description: 'Persistent Memory outside every namespace' });
  });

  it('T10 a device memremap\'d by hand: its altmap pool and its memory', async () => {
    const m = await t10Machine(backend);
    m.devmMemremapPages(m.createDevice('pfn0.0'), P16_RES, P16_ALTMAP);
    expect(m.identifyAddress(BigInt(P16_ALTMAP.basePfn + P16_ALTMAP.reserve) << 12n)).toMatchObject({ kind: 'device', device: 'pfn0.0', part: 'altmap pool' });
    expect(m.identifyAddress(P16_RES.end)).toMatchObject({ kind: 'device', device: 'pfn0.0', part: 'data' });
  });

  it('T46 devdax memory onlined by kmem is System RAM (kmem)', async () => {
    const m = await createMachine({ backend, kernel: 'v6' });
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    const block = m.stats().systemRam['dax0.0'];
    expect(block.blocks).toBeGreaterThan(0);
    const info = m.namespaceInfo('namespace0.0');
    // the last data page is inside the last whole 128 MiB block
    const last = info.start + info.raw - 4096n - info.endTrunc;
    expect(m.identifyAddress(last)).toMatchObject({ kind: 'System RAM (kmem)', device: 'dax0.0', namespace: 'namespace0.0' });
  });

  it('an address beyond the physical address space and outside the kernel half is EINVAL', async () => {
    const m = await t10Machine(backend);
    await expectKernelError(() => m.identifyAddress(1n << 50n), 'EINVAL');
    await expectKernelError(() => m.identifyAddress(-1), 'EINVAL');
    expect(m.identifyAddress(0xffffffff80000000n).kind).toBe('none');
  });
});
