/**
 * Namespace, pfn, dax and btt names from the region's seeds, against Debian's 6.12 (fixtures seeds-*:
 * the oracle's standard machine, one labelled 32 GiB NVDIMM at 4 GiB, region align 16 MiB).
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/index.ts';
import { BACKENDS, realStep } from '../fixtures.ts';
import { stdMachine } from './std.ts';

const K = '6.12.117';
/** What ndctl printed for a create step. */
const realCreated = (caseId: string, step: number) => JSON.parse(realStep(K, caseId, step).stdout) as Record<string, unknown>;
/** One attribute of the real nd bus after a step. */
function realAttr(caseId: string, step: number, path: string): string | undefined {
  const line = realStep(K, caseId, step)
    .state.nd.split('\n')
    .find((l) => l.startsWith(`/sys/bus/nd/devices/${path}:`));
  return line?.slice(`/sys/bus/nd/devices/${path}:`.length);
}
const attr = (m: Machine, path: string) => m.readFile(`/sys/bus/nd/devices/${path}`).replace(/\n$/, '');

describe.each(BACKENDS)('region seeds [%s]', (backend) => {
  it('seeds-destroy-middle-recreate: after namespace0.1 goes, the fourth namespace is namespace0.3 held by pfn0.3; the new seeds are namespace0.1 and pfn0.1', async () => {
    const c = 'seeds-destroy-middle-recreate';
    const m = await stdMachine(backend);
    for (const step of [4, 5, 6]) expect(m.createNamespace({ size: '1G' })).toMatchObject({ dev: realCreated(c, step).dev, blockdev: realCreated(c, step).blockdev });
    m.destroyNamespace('namespace0.1');
    const ns = m.createNamespace({ size: '1G' });
    expect(realCreated(c, 8)).toMatchObject({ dev: 'namespace0.3', blockdev: 'pmem0.3' });
    expect(ns).toMatchObject({ dev: realCreated(c, 8).dev, blockdev: realCreated(c, 8).blockdev });
    for (const a of ['namespace0.3/holder', 'region0/namespace_seed', 'region0/pfn_seed', 'region0/dax_seed', 'region0/btt_seed']) expect(attr(m, a)).toBe(realAttr(c, 8, a));
    expect(attr(m, 'namespace0.3/holder')).toBe('pfn0.3');
    expect(attr(m, 'region0/namespace_seed')).toBe('namespace0.1');
  });

  it('seeds-fsdax-6-destroy-odd: with namespace0.1, 0.3 and 0.5 destroyed, the next two are namespace0.6 (held by the seed pfn0.6) and namespace0.1 (held by the new seed, pfn0.1)', async () => {
    const c = 'seeds-fsdax-6-destroy-odd';
    const m = await stdMachine(backend);
    for (let i = 0; i < 6; i++) m.createNamespace({ size: '1G' });
    for (const dev of ['namespace0.1', 'namespace0.3', 'namespace0.5']) m.destroyNamespace(dev);
    const a = m.createNamespace({ size: '1G' });
    const b = m.createNamespace({ size: '1G' });
    expect([a.dev, b.dev]).toEqual([realCreated(c, 13).dev, realCreated(c, 14).dev]);
    expect(a.dev).toBe('namespace0.6');
    expect(attr(m, 'namespace0.6/holder')).toBe(realAttr(c, 14, 'namespace0.6/holder'));
    expect(attr(m, 'namespace0.6/holder')).toBe('pfn0.6');
    expect(attr(m, 'namespace0.1/holder')).toBe(realAttr(c, 14, 'namespace0.1/holder'));
    expect(attr(m, 'namespace0.1/holder')).toBe('pfn0.1');
  });

  it('seeds-fsdax-devdax-alternate: devdax namespace0.1 is held by the nd_dax device dax0.0, its device-dax chardev is dax0.1', async () => {
    const c = 'seeds-fsdax-devdax-alternate';
    const m = await stdMachine(backend);
    m.createNamespace({ size: '1G', mode: 'fsdax' });
    const dax = m.createNamespace({ size: '1G', mode: 'devdax' });
    const real = realCreated(c, 5) as { dev: string; daxregion: { devices: Array<{ chardev: string }> } };
    expect(real.daxregion.devices[0].chardev).toBe('dax0.1');
    expect((dax.daxregion as typeof real.daxregion).devices[0].chardev).toBe(real.daxregion.devices[0].chardev);
    expect(attr(m, 'namespace0.1/holder')).toBe(realAttr(c, 5, 'namespace0.1/holder'));
    expect(attr(m, 'namespace0.1/holder')).toBe('dax0.0');
    expect(m.listDir('/sys/bus/dax/devices')).toEqual(['dax0.1']);
    // the third namespace's pfn is pfn0.1: the pfn ida is the region's own, apart from the dax one
    expect(m.createNamespace({ size: '1G', mode: 'fsdax' }).blockdev).toBe(realCreated(c, 6).blockdev);
    expect(attr(m, 'namespace0.2/holder')).toBe(realAttr(c, 6, 'namespace0.2/holder'));
  });

  it('seeds-cycle-6: create and destroy again and again: ndctl takes the idle namespace0.0 each time, not the seed namespace0.1', async () => {
    const c = 'seeds-cycle-6';
    const m = await stdMachine(backend);
    for (const step of [4, 6, 8, 10]) {
      expect(m.createNamespace({ size: '1G' }).dev).toBe(realCreated(c, step).dev);
      expect(attr(m, 'region0/namespace_seed')).toBe(realAttr(c, step, 'region0/namespace_seed'));
      m.destroyNamespace('namespace0.0');
      expect(m.listDir('/sys/bus/nd/devices').filter((d) => d.startsWith('namespace'))).toEqual(['namespace0.0', 'namespace0.1']);
    }
    expect(attr(m, 'region0/namespace_seed')).toBe('namespace0.1');
  });

  it('ns-sector-16M: a btt that fails to probe leaves its seed in place and the namespace held by it', async () => {
    const c = 'ns-sector-16M';
    const m = await stdMachine(backend);
    expect(() => m.createNamespace({ size: '16M', mode: 'sector' })).toThrow(/btt0\.0: failed to enable/);
    for (const a of ['namespace0.0/holder', 'namespace0.0/mode', 'namespace0.0/size', 'region0/btt_seed', 'region0/namespace_seed', 'btt0.0/size']) expect(attr(m, a)).toBe(realAttr(c, 4, a));
  });
});
