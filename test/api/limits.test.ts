/**
 * Issue 18 item 4: the core's tables are sized by the machine or grow, so no fixed core limit is reachable
 * by valid input, and both backends agree past what used to be the Wasm core's caps (ALTMAP_MAX = 65536
 * altmaps, RANGE_MAX = 1024 RAM ranges). Running out of host memory is HostMemoryError.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, type Machine } from '../../src/index.ts';
import { PAT_HEADROOM, PAT_MAX } from '../../src/core/ts/patterns.ts';
import { BACKENDS, CORE_BACKENDS, coreConfig, kernelErrorOf } from '../fixtures.ts';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
/** The Wasm core's former fixed table sizes (assembly/layout.ts before issue 18). */
const OLD_ALTMAP_MAX = 65536;
const OLD_RANGE_MAX = 1024;


/** What two machines must agree on: the kernel-visible state and the log. */
const view = (m: Machine) => ({ snapshot: m.snapshot(), dmesg: m.dmesg(), iomem: m.readFile('/proc/iomem'), meminfo: m.readFile('/proc/meminfo') });

describe('issue 18 item 4: altmap table', () => {
  it.each(BACKENDS)('65537 createAltmap/releaseAltmap cycles: every altmap is usable, and a map=dev namespace still gets its altmap [%s]', async (backend) => {
    const m = await createMachine({ backend, kernel: 'v6' });
    for (let i = 0; i < OLD_ALTMAP_MAX + 1; i++) {
      const a = m.createAltmap({ basePfn: 0x100000n, reserve: 0n, free: 512n });
      expect(m.altmapAllocBlockBuf(a, 4096)).not.toBeNull();
      m.releaseAltmap(a);
    }
    const ns = m.createNamespace({ size: '2G', mode: 'fsdax', map: 'dev' });
    expect(ns.map).toBe('dev');
  });

  it('65537 live standalone altmaps, then a map=dev namespace: both backends agree (the Wasm core failed the 65537th create)', async () => {
    const out = [];
    for (const backend of ['wasm', 'ts'] as const) {
      const m = await createMachine({ backend, kernel: 'v6' });
      const made = [];
      for (let i = 0; i < OLD_ALTMAP_MAX + 1; i++) made.push(m.createAltmap({ basePfn: i, reserve: 0n, free: 8n }));
      const last = made[made.length - 1];
      const pfn = m.altmapAllocBlockBuf(last, 8 * 4096);
      m.createNamespace({ size: '2G', mode: 'fsdax', map: 'dev' });
      out.push({ basePfn: last.basePfn, alloc: last.alloc, pfn, v: view(m) });
    }
    expect(out[0].basePfn).toBe(OLD_ALTMAP_MAX);
    expect(out[0].alloc).toBe(8);
    expect(out[0]).toEqual(out[1]);
  });

  it('releaseAltmap: EINVAL for a device\'s altmap, a released one, and one of another machine; a released one reads its last values', async () => {
    const m = await createMachine({ backend: 'wasm', kernel: 'v6' });
    const other = await createMachine({ backend: 'wasm', kernel: 'v6' });
    const a = m.createAltmap({ basePfn: 0x100000n, reserve: 2n, free: 512n });
    m.altmapAllocBlockBuf(a, 2 * 4096);
    m.releaseAltmap(a);
    expect(a.alloc).toBe(2);
    expect(kernelErrorOf(() => m.releaseAltmap(a)).code).toBe('EINVAL');
    expect(kernelErrorOf(() => m.altmapAllocBlockBuf(a, 4096)).code).toBe('EINVAL');
    const b = other.createAltmap({ basePfn: 0x100000n, reserve: 0n, free: 512n });
    expect(kernelErrorOf(() => m.releaseAltmap(b)).code).toBe('EINVAL');
    expect(other.altmapAllocBlockBuf(b, 4096)).not.toBeNull();
    m.createDevice('d0');
    const start = 65n * GiB; // defaultE820's Persistent Memory
    m.devmMemremapPages('d0', { start, end: start + GiB - 1n }, { basePfn: start >> 12n, reserve: 0n, free: 0x4000n });
    const devAltmap = m.findDevPagemap(start)!.altmap!;
    expect(devAltmap.free).toBe(0x4000);
    const before = m.snapshot();
    expect(kernelErrorOf(() => m.releaseAltmap(devAltmap)).code).toBe('EINVAL');
    expect(m.snapshot()).toEqual(before);
  });

  it('a memmap_on_memory kmem hot-add whose block altmaps sit past id 65536 (65000 standalone altmaps held first): both backends agree', async () => {
    const out = [];
    for (const backend of ['wasm', 'ts'] as const) {
      const m = await createMachine({
        backend,
        kernel: 'v6',
        e820: [
          { start: MiB, size: 4n * GiB - MiB, type: 'System RAM' },
          { start: 4n * GiB, size: 128n * GiB, type: 'Persistent Memory' },
        ],
      });
      for (let i = 0; i < 65000; i++) m.createAltmap({ basePfn: 0n, reserve: 0n, free: 0n });
      m.createNamespace({ size: '64G', mode: 'devdax', map: 'mem' });
      const r = m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: true });
      out.push({ r, v: view(m) });
    }
    expect(out[0].r.memmap_on_memory).toBe(true);
    // 64 GiB less the namespace's 2 MiB info block: 511 of 512 blocks of 128 MiB, one altmap each
    expect(out[0].r.total_memblocks).toBe(511);
    expect(out[0].r.online_memblocks).toBe(511);
    expect(out[0]).toEqual(out[1]);
  });
});

describe('issue 18 item 4: RAM range table', () => {
  it('1025 System RAM e820 entries boot on both backends, with the same iomem, log and DRAM figures (the Wasm core refused > 1024)', async () => {
    const e820 = Array.from({ length: OLD_RANGE_MAX + 1 }, (_, i) => ({ start: MiB + BigInt(i) * 4n * MiB, size: 2n * MiB, type: 'System RAM' as const }));
    const out = [];
    for (const backend of ['wasm', 'ts'] as const) {
      const m = await createMachine({ backend, kernel: 'v6', e820 });
      out.push(view(m));
    }
    expect(out[0].iomem.split('\n').filter((l) => l.endsWith(' : System RAM'))).toHaveLength(OLD_RANGE_MAX + 1);
    expect(out[0]).toEqual(out[1]);
  });
});

describe('issue 18 item 4: fill pattern table (PAT_MAX)', () => {
  // The Machine reaches PAT_MAX through ~2 TiB of HugeTLB pages (one pattern each); the core is driven directly
  // here, with the same effect per op: 2^26 pfns of memmap (2048 PMD blocks from DRAM), each 64-pfn frame given
  // its own first word, so one pattern per frame and none mergeable.
  const PFN0 = 0x4000000;
  const FRAMES = PAT_MAX;
  it(`${FRAMES} memmapWrite ops of one frame each: from op PAT_MAX - PAT_HEADROOM - 2 (${PAT_MAX - PAT_HEADROOM - 2}) both cores write bytes instead, with the same backedBytes and struct pages (the twin had no cap)`, async () => {
    const out = [];
    for (const [name, make] of CORE_BACKENDS) {
      const c = await make();
      // debug: the vmemmap's PMD tables written entry by entry, not as run tables (which are patterns too)
      expect(c.init(coreConfig({ ramRanges: [[0x100, 0x200000]], debug: true }))).toBe(0);
      expect(c.vmemmapPopulate(PFN0, FRAMES * 64, -2, 0), name).toBe(0);
      const before = c.backedBytes();
      let firstBytes = -1;
      let failed = -1;
      for (let i = 0; i < FRAMES; i++) {
        const words = [BigInt(i) + 1n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
        if (c.memmapWrite(PFN0 + i * 64, 64, { words, mask: 0xff, self: 0 }) !== 0 && failed < 0) failed = i;
        if (firstBytes < 0 && c.backedBytes() > before) firstBytes = i;
      }
      const probe = [0, PAT_MAX - PAT_HEADROOM - 3, PAT_MAX - PAT_HEADROOM - 2, FRAMES - 1].map((i) => c.readPage(PFN0 + i * 64 + 7)![0]);
      out.push({ failed, firstBytes, extra: c.backedBytes() - before, hostFailures: c.hostFailures(), events: c.takeEvents(), probe });
      c.dispose();
    }
    // op i finds i records and needs room for 3 more short of the headroom; from there on each op backs its one frame
    expect(out[0].failed).toBe(-1);
    expect(out[0].firstBytes).toBe(PAT_MAX - PAT_HEADROOM - 2);
    expect(out[0].extra).toBe((FRAMES - (PAT_MAX - PAT_HEADROOM - 2)) * 4096);
    expect(out[0].hostFailures).toBe(0);
    expect(out[0].probe).toEqual([1n, BigInt(PAT_MAX - PAT_HEADROOM - 2), BigInt(PAT_MAX - PAT_HEADROOM - 1), BigInt(FRAMES)]);
    expect(out[1]).toEqual(out[0]);
  }, 120_000);
});
