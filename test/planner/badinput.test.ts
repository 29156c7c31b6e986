/** Bad input to the sizing API (issue 15): a typed EINVAL naming the problem, before any machine runs. */
import { describe, expect, it } from 'vitest';
import { KernelError, namespaceSizeFor, planCapacity, planConfigs, createMachine } from '../../src/index.ts';

async function einval(p: Promise<unknown>, message: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(KernelError);
  expect((e as KernelError).code).toBe('EINVAL');
  expect((e as KernelError).message).toMatch(message);
}

describe('planCapacity: bad input', () => {
  it.each([
    ['both size and usable', { size: '1T', usable: '1T' }, /one of \{ size \} and \{ usable \}/],
    ['neither', { kernel: 'v6' }, /one of \{ size \} and \{ usable \}/],
    ['usable under 16 MiB', { usable: '8M' }, /usable 8388608 is below 16 MiB/],
    ['size over 2 PiB', { size: '3P' }, /over 2 PiB/],
    ['a usable that is not whole pages', { usable: 16 * 2 ** 20 + 1 }, /not a whole number of 4 KiB pages/],
    ['a fractional byte count', { usable: '1.0000001K' }, /not a whole number of bytes/],
    ['an unknown mode', { size: '64G', mode: 'raw' }, /mode "raw" is not fsdax, devdax or system-ram/],
    ['an unknown map', { size: '64G', map: 'pmem' }, /map "pmem" is not dev or mem/],
    ['an unknown align', { size: '64G', align: '4K' }, /align "4K" is not 2M or 1G/],
    ['a filter that keeps nothing (v4.5 has no devdax)', { size: '64G', kernel: 'v4.5', mode: 'devdax' }, /no configuration of v4.5 has mode devdax/],
    ['DRAM under 16 MiB', { size: '64G', dram: '1M' }, /dram 1048576 is not a whole number of 4 KiB pages of at least 16 MiB/],
    ['an unparsable DRAM size', { size: '64G', dram: 'lots' }, /failed to parse dram 'lots'/],
    ['onProbe that is not a function', { usable: '1G', onProbe: 1 }, /onProbe 1 is not a function/],
  ])('%s', async (_n, opts, message) => {
    let runs = 0;
    await einval(planCapacity({ ...(opts as object), onRow: () => runs++ } as never), message);
    expect(runs).toBe(0);
  });

  it('planConfigs with a filter: the rows it keeps (v6, map=dev: fsdax, devdax 2M, devdax 1G)', () => {
    expect(planConfigs('v6', { map: 'dev' }).map((c) => c.label)).toEqual(['fsdax, map=dev', 'devdax 2M, map=dev', 'devdax 1G, map=dev']);
    expect(planConfigs('v6', { mode: 'system-ram' }).map((c) => c.label)).toEqual(['system-ram (kmem)', 'system-ram, memmap_on_memory']);
  });
});

describe('namespaceSizeFor: bad input', () => {
  const machine = () => createMachine({ kernel: 'v6' });
  it.each([
    ['no machine factory', { usable: '1G' }, /machine undefined is not a function/],
    ['a sector namespace', { usable: '1G', mode: 'sector', machine }, /mode "sector" is not fsdax or devdax/],
    ['align 8M', { usable: '1G', align: '8M', machine }, /align 8388608 is not 4K, 2M or 1G/],
    ['a negative region', { usable: '1G', region: -1, machine }, /region -1 is not a region index/],
    ['usable 0', { usable: 0, machine }, /usable must be positive/],
    ['an unknown option', { usable: '1G', machine, size: '2G' }, /unknown namespaceSizeFor option "size"/],
  ])('%s', async (_n, opts, message) => {
    await einval(namespaceSizeFor(opts as never), message);
  });

  it('no such region: ENODEV', async () => {
    const e = await namespaceSizeFor({ usable: '1G', region: 3, machine }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelError);
    expect((e as KernelError).code).toBe('ENODEV');
  });
});

describe('namespaceSizeFor on a machine with a namespace already in the region (v6)', () => {
  it('usable 10 GiB devdax map=mem 1G after a 16 MiB fsdax namespace: raw 11 GiB (the data starts at the next 1 GiB boundary), 10 GiB one granule short', async () => {
    const machine = async () => {
      const m = await createMachine({ kernel: 'v6' });
      m.createNamespace({ size: '16M', mode: 'fsdax', map: 'mem' });
      return m;
    };
    const z = await namespaceSizeFor({ usable: '10G', mode: 'devdax', map: 'mem', align: '1G', machine });
    expect(z.granule).toBe(1n << 30n);
    expect(z.raw).toBe(11n << 30n);
    expect(z.usable).toBe(10n << 30n);
    expect(z.below).toMatchObject({ raw: 10n << 30n, ok: true, usable: 9n << 30n });
    // the answer, created on the machine itself
    const m = await machine();
    const ns = m.createNamespace({ size: z.raw, mode: 'devdax', map: 'mem', align: '1G' });
    expect(ns.size).toBe(10 * 2 ** 30);
    expect(m.namespaceInfo(ns.dev as string).start % (1n << 30n)).toBe(16n << 20n);
    m.dispose();
  });
});
