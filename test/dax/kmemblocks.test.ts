/**
 * memmap_on_memory's hot-add of 128 MiB blocks a chunk of 512 at once (core addMemoryBlocks: the direct map
 * as run tables, the vmemmap PMD table as one pattern whose leaves map each block's head, the altmaps parked
 * in the run) leaves the machine the blocks added one by one leave: every table byte (the snapshot's page
 * table digest), DRAM by use and node, sysfs, meminfo, iomem, on both backends; and it costs a chunk a few
 * records where block by block it backs 64 direct-map tables.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/index.ts';
import { BACKENDS } from '../fixtures.ts';
import { block, twins } from './twins.ts';

const GiB = 1n << 30n;
/** 4 GiB of DRAM and a 160 GiB region at 64 GiB: a 136 GiB devdax namespace spans the 64 GiB chunk at 128 GiB, with blocks before and after it. */
const MACHINE = {
  kernel: 'v6' as const,
  memoryBlockSize: '128M',
  e820: [
    { start: 0x100000n, size: 4n * GiB, type: 'System RAM' as const },
    { start: 64n * GiB, size: 160n * GiB, type: 'Persistent Memory' as const },
  ],
};
/** Every struct page of blocks around the chunk (the device's first, the chunk's first two, one inside, its last, the next, the last): a digest each; and the bytes past the last block. */
function memmaps(m: Machine): string[] {
  // and the 2 MiB after the last block, where a memmap that ran past it would land
  const after = createHash('sha256').update(m.readPhys(200n * GiB, 2 << 20)).digest('hex').slice(0, 16);
  return [64n * GiB + (128n << 20n), 128n * GiB, 128n * GiB + (128n << 20n), 130n * GiB, 192n * GiB - (128n << 20n), 192n * GiB, 200n * GiB - (128n << 20n)].map((phys) => {
    const p = m.pagesMany(Number(phys >> 12n), 32768);
    return createHash('sha256').update(Buffer.from(p.words.buffer)).update(p.mapped).digest('hex').slice(0, 16);
  }).concat(after);
}
/** memoryN of the block at phys. */
const id = (phys: bigint) => Number(phys / (128n << 20n));

describe.each(BACKENDS)('kmem memmap_on_memory: 512 blocks at once and block by block agree [%s]', (backend) => {
  it('planner shape (v6, 128 MiB blocks): 136 GiB as system-ram with memmap_on_memory (1087 blocks, a chunk of 512 at once), a block in the chunk offline and online_movable, its last block offline, back to devdax, system-ram again', async () => {
    const last = await twins(backend, (m) => void m.createNamespace({ size: '136G', mode: 'devdax', map: 'mem', align: '2M' }), [
      ['reconfigure system-ram', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: true })],
      ['offline a block inside the first chunk', (m) => block(m, id(130n * GiB), 'offline')],
      ['online_movable it', (m) => block(m, id(130n * GiB), 'online_movable')],
      ['offline the chunk\'s last block', (m) => block(m, id(192n * GiB) - 1, 'offline')],
      ['back to devdax', (m) => m.reconfigureDevice('dax0.0', { mode: 'devdax' })],
      ['system-ram again', (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: true })],
    ], MACHINE, memmaps);
    expect(last.blocks.filter((b) => Number(b.split(' ')[0].slice(6)) >= id(64n * GiB)).length).toBe(1087);
    // the chunk's 64 direct-map tables and its vmemmap table are not backed
    expect(last.backedBytes.each - last.backedBytes.runs).toBeGreaterThanOrEqual(65 * 4096);
  }, 120_000);
});
