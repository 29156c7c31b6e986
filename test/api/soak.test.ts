/**
 * Soak and trap containment (the reliability issue). ALTMAP_SOAK_OPS sets the number of random
 * operations (10 000 in CI; `ALTMAP_SOAK_OPS=1000000 npx vitest run test/soak.test.ts` for the long run).
 * Invariants are checked throughout; at every return to an empty machine the state must equal the fresh
 * one and the model's own host memory must not have grown.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, MachinePoisonedError, type Machine } from '../../src/index.ts';
import { CoreTrap } from '../../src/core/core.ts';
import { BACKENDS, t10Machine } from '../fixtures.ts';

const OPS = Number(process.env.ALTMAP_SOAK_OPS ?? 10_000);
const GiB = 1n << 30n;

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** One random operation that the kernel completes (no leftovers), so that teardown returns to fresh. */
function randomOp(m: Machine, r: (n: number) => number): void {
  const list = m.listNamespaces();
  const choice = r(10);
  try {
    if (choice < 4 && list.length < 6) {
      const sizes = ['128M', '256M', '1G', '2G', '4G'];
      m.createNamespace({ size: sizes[r(sizes.length)], map: r(2) ? 'dev' : 'mem', mode: r(3) === 0 ? 'devdax' : 'fsdax', align: r(4) === 0 ? '1G' : '2M' });
    } else if (choice < 7 && list.length) {
      const ns = list[r(list.length)];
      const info = m.namespaceInfo(ns.dev as string);
      if (info.mode === 'devdax' && m.stats().systemRam[info.device!]) m.reconfigureDevice(info.device!, { mode: 'devdax' });
      m.destroyNamespace(ns.dev as string);
    } else if (choice < 8 && list.length) {
      const dax = list.filter((n) => n.mode === 'devdax');
      if (dax.length) {
        const dev = m.namespaceInfo(dax[r(dax.length)].dev as string).device!;
        m.reconfigureDevice(dev, { mode: m.stats().systemRam[dev] ? 'devdax' : 'system-ram', memmapOnMemory: r(2) === 0 });
      }
    } else {
      const pfn = 0x400000 + r(0x400000);
      m.walk(m.pfnToPage(pfn));
      m.page(pfn);
    }
  } catch (e) {
    // refusals are fine (no space, alignment, a region too small for a memory block); they change nothing
    if (!(e instanceof Error) || !('code' in e)) throw e;
  }
}

function teardown(m: Machine): void {
  for (const ns of m.listNamespaces()) {
    const info = m.namespaceInfo(ns.dev as string);
    if (info.device && m.stats().systemRam[info.device]) m.reconfigureDevice(info.device, { mode: 'devdax' });
    m.destroyNamespace(ns.dev as string);
  }
}

describe.each(BACKENDS)('soak [%s]', (backend) => {
  it(`${OPS} random operations with invariants throughout and no growth across teardown cycles`, async () => {
    const m = await createMachine({
      backend,
      kernel: 'v6',
      e820: [
        { start: 0x100000n, size: 16n * GiB - 0x100000n, type: 'System RAM' },
        { start: 16n * GiB, size: 16n * GiB, type: 'Persistent Memory' },
      ],
    });
    const fresh = m.snapshot();
    const r = rng(0xa17a9);
    let firstBacked = -1;
    const every = Math.max(1, Math.floor(OPS / 200));
    for (let i = 1; i <= OPS; i++) {
      randomOp(m, r);
      if (i % every === 0) m.checkInvariants();
      if (i % 500 === 0) {
        teardown(m);
        m.checkInvariants();
        expect(m.snapshot()).toEqual(fresh);
        const backed = m.stats().host.backedBytes;
        // what stays is on the media, as on a real device: an info block, and a struct-page frame written in
        // part, per place a namespace started (128 MiB granules of the 16 GiB region): at most 2 x 128 frames
        if (firstBacked < 0) firstBacked = backed;
        expect(backed).toBeLessThanOrEqual(firstBacked + 2 * 128 * 4096);
      }
    }
    console.log(`soak ${backend}: ${OPS} operations, host backed bytes ${m.stats().host.backedBytes}, process RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
  }, 600_000);
});

describe('trap containment', () => {
  it('a trap in the Wasm core poisons the machine with an internal error; a fresh machine works', async () => {
    const m = await t10Machine('wasm');
    const core = m.k.core as unknown as { vmemmapPopulate: (...a: unknown[]) => number };
    // the core never traps on any input, so make one: the loader turns it into CoreTrap
    core.vmemmapPopulate = () => {
      throw new CoreTrap('wasm trap: unreachable', { cause: new WebAssembly.RuntimeError('unreachable') });
    };
    expect(() => m.createNamespace({ size: '1G' })).toThrow(MachinePoisonedError);
    expect(m.poisoned).toMatch(/internal error/);
    expect(m.dmesg().join('\n')).toContain('internal error in the wasm core');
    expect(() => m.createNamespace({ size: '1G' })).toThrow(MachinePoisonedError);
    const fresh = await t10Machine('wasm');
    expect(fresh.createNamespace({ size: '1G' }).size).toBe(1073741824 - 2 ** 24 - 2 ** 21);
  });
});
