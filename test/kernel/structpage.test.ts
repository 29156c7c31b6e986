/**
 * struct page as each era lays it out (src/core/structPage.ts), against the words the real kernels
 * printed (kpages steps of the sp-* fixtures, 6.12.117 and 6.1.192): flags bits, the ZONE_DEVICE
 * pgmap word, and memmap_init_compound's head, first tail (folio fields) and tails.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, type KernelName } from '../../src/index.ts';
import { parseKpages } from '../../src/oracle/kpages.ts';
import { BACKENDS, realStep } from '../fixtures.ts';

const GiB = 1n << 30n;
const KERNELS: Array<[string, KernelName]> = [
  ['6.12.117', 'v6'],
  ['6.1.192', 'v6.1'],
];

/** The STD oracle machine: 2 GiB of RAM, a 32 GiB NVDIMM region at 4 GiB. */
const std = (backend: 'wasm' | 'ts', kernel: KernelName) =>
  createMachine({
    backend,
    kernel,
    e820: [
      { start: 0x100000n, size: 2n * GiB - 0x100000n - 0x21000n, type: 'System RAM' },
      { start: 4n * GiB, size: 32n * GiB - (2n << 20n), type: 'Persistent Memory' },
    ],
  });

/** Real words against the model's; a pgmap pointer (the allocator's) only has to be a pointer on both sides. */
function expectSameWords(real: ReturnType<typeof parseKpages>, page: (pfn: number) => { words: bigint[]; pgmap: bigint | null } | null): void {
  expect(real.length).toBeGreaterThan(0);
  for (const r of real) {
    const p = page(r.pfn);
    expect(p, `pfn ${r.pfn.toString(16)}`).not.toBeNull();
    const words = [...p!.words];
    if (p!.pgmap !== null && r.words![1]! >> 47n === 0x1ffffn) words[1] = r.words![1]!;
    expect(words.map((w) => w.toString(16)), `pfn ${r.pfn.toString(16)}`).toEqual(r.words!.map((w) => w.toString(16)));
  }
}

describe.each(BACKENDS)('struct page layouts [%s]', (backend) => {
  it.each(KERNELS)('%s sp-devdax-mem-1G: memmap_init_compound leaves a head (PG_head, pgmap), a first tail with the folio fields, and tails (compound_head | 1, TAIL_MAPPING, _refcount 0)', async (kernel, profile) => {
    const m = await std(backend, profile);
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    for (const step of [5, 6]) expectSameWords(parseKpages(realStep(kernel, 'sp-devdax-mem-1G', step).stdout), (pfn) => m.page(pfn));
    const head = m.page(0x100200)!;
    expect(head.head).toBe(true);
    expect(head.pgmap).not.toBeNull();
    expect(m.page(0x100203)!.compoundHead).toBe(head.vaddr);
    expect(m.page(0x100203)!.refcount).toBe(0);
    expect(m.page(0x100400)!.head).toBe(true); // the next 2 MiB compound page
  });

  it.each(KERNELS)('%s sp-devdax-mem-4G-a1G: a 1 GiB compound page keeps order 18 and 262144 pages in its first tail', async (kernel, profile) => {
    const m = await std(backend, profile);
    m.createNamespace({ size: '4G', mode: 'devdax', map: 'mem', align: '1G' });
    for (const step of [5, 6]) expectSameWords(parseKpages(realStep(kernel, 'sp-devdax-mem-4G-a1G', step).stdout), (pfn) => m.page(pfn));
  });

  it.each(KERNELS)('%s sp-fsdax-dev-1G: the altmap reserve stays zero, the altmap\'s own pages are initialised with lru at itself, data pages carry pgmap in word 1', async (kernel, profile) => {
    const m = await std(backend, profile);
    m.createNamespace({ size: '1G', mode: 'fsdax', map: 'dev' });
    for (const step of [5, 6, 7]) expectSameWords(parseKpages(realStep(kernel, 'sp-fsdax-dev-1G', step).stdout), (pfn) => m.page(pfn));
    expect(m.page(0x101200)!.pgmap).not.toBeNull();
    expect(m.page(0x100002)!.pgmap).toBeNull(); // lru pointing at itself, not a pgmap
    expect(m.page(0x101200)!.reserved).toBe(true);
  });

  it.each(KERNELS)('%s sp-boot-ram: boot RAM pages (zone DMA32, PG_reserved at the era\'s bit)', async (kernel, profile) => {
    const m = await std(backend, profile);
    for (const step of [4, 5]) expectSameWords(parseKpages(realStep(kernel, 'sp-boot-ram', step).stdout), (pfn) => m.page(pfn));
    expect(m.page(0x1000)!.zone).toBe('DMA32');
  });

  it('a 1 TiB devdax map=dev namespace keeps its compound memmap in a few patterns: host memory does not grow with the device', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: [{ start: 0x100000n, size: 64n * GiB, type: 'System RAM' }, { start: 65n * GiB, size: 1024n * GiB, type: 'Persistent Memory' }] });
    const before = m.stats().host.backedBytes;
    m.createNamespace({ size: '1T', mode: 'devdax', map: 'dev' });
    expect(m.stats().host.backedBytes - before).toBeLessThan(16n << 20n);
  }, 120_000);
});
