/** checkInvariants after the spec's scenarios, leftovers included (T14, T22, T25, T36), on every backend and era. */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError } from '../../src/index.ts';
import { BACKENDS, P16_ALTMAP, P16_RES, t10Machine } from '../fixtures.ts';

const attempt = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
  }
};

describe.each(BACKENDS)('invariants [%s]', (backend) => {
  it('hold at boot and through create/destroy on every era', async () => {
    for (const kernel of ['v4.5', 'v4.5-rc1', 'v4.18', 'v6'] as const) {
      const m = await createMachine({ backend, kernel });
      const fresh = m.snapshot();
      expect(m.checkInvariants().problems).toEqual([]);
      m.createNamespace({ size: '16G' });
      m.createNamespace({ size: '4G', map: 'mem' });
      const r = m.checkInvariants();
      expect(r.dramMemmapPages).toBe(262656 + 16384); // 4 GiB of map=mem: 64 MiB of struct pages
      if (kernel !== 'v4.5-rc1') {
        for (const ns of m.listNamespaces()) m.destroyNamespace(ns.dev as string);
        m.checkInvariants();
        expect(m.snapshot()).toEqual(fresh);
      }
    }
  });

  it('T14, T22, T25, T36: the kernel\'s leftovers are consistent machines too', async () => {
    const t14 = await t10Machine(backend);
    t14.devmMemremapPages(t14.createDevice('a'), { start: 0x400000000n, end: 0x403ffffffn });
    attempt(() => t14.devmMemremapPages(t14.createDevice('b'), { start: 0x404000000n, end: 0x407ffffffn }));
    t14.checkInvariants();

    const t22 = await t10Machine(backend);
    attempt(() => t22.devmMemremapPages(t22.createDevice('a'), { start: 0x400000000n, end: 0x407ffffffn }, { basePfn: 0x400000, reserve: 2, free: 32767 }));
    t22.checkInvariants();

    const t25 = await t10Machine(backend);
    attempt(() => t25.createNamespace({ size: '16G', align: '4K' }));
    t25.checkInvariants();

    const t36 = await t10Machine(backend);
    const d = t36.createDevice('a');
    t36.devmMemremapPages(d, { start: 0x404000000n, end: 0x40bffffffn });
    t36.unbind(d);
    t36.checkInvariants();
  });

  it('a desynchronised altmap is reported: alloc against the pool pages mapped', async () => {
    const m = await t10Machine(backend);
    m.devmMemremapPages(m.createDevice('a'), P16_RES, P16_ALTMAP);
    m.vmemAltmapFree(m.toVmemAltmap(m.pfnToPage(0x400000))!, 512);
    expect(() => m.checkInvariants()).toThrow(/altmap of a: alloc 65024 but 65536 pfns of its pool are mapped/);
  });
});
