/**
 * Soft Reserved (CXL) rows of the planner (issue 15 item 2): the range as System RAM through dax_hmem and
 * kmem, with and without memmap_on_memory, at the machine's memory block size. The real kernels' figures
 * (issue 14, fixtures softres-boot / softres-mom, 2 GiB at 0x140000000 with 128 MiB blocks): 6.12 onlines
 * 16 blocks, MemTotal +2 GiB, or +16 x 126 MiB with memmap_on_memory; 6.1 has no memmap_on_memory for kmem.
 */
import { describe, expect, it } from 'vitest';
import { planSoftReserved } from '../../src/index.ts';
import { BACKENDS, realStep } from '../fixtures.ts';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const meminfoKb = (text: string) => Number(/^MemTotal:\s+(\d+) kB/m.exec(text)![1]);

describe.each(BACKENDS)('planSoftReserved [%s]', (backend) => {
  it('softres-mom (6.12.117): 2 GiB in 128 MiB blocks gives 2 GiB, or 16 x 126 MiB with memmap_on_memory; the real MemTotal grew by as much', async () => {
    const p = await planSoftReserved({ size: '2G', start: 0x140000000n, kernel: 'v6', dram: '2G', memoryBlockSize: '128M', backend });
    expect(p.rows.map((r) => [r.label, r.ok, r.usable, r.trimmedBytes])).toEqual([
      ['Soft Reserved: system-ram (kmem)', true, Number(2n * GiB), 0],
      ['Soft Reserved: system-ram, memmap_on_memory', true, Number(16n * 126n * MiB), 0],
    ]);
    // 2 MiB of struct pages per 128 MiB block: in DRAM without memmap_on_memory, in the block itself with it
    expect(p.rows[0]!.memmapDram).toBe(Number(32n * MiB));
    expect(p.rows[0]!.hotAddFreeDram).toBe(Number(32n * MiB));
    expect(p.rows[1]!.memmapDram).toBe(0);
    expect(p.rows[1]!.deviceGivenUp).toBe(Number(32n * MiB));
    expect(p.rows[1]!.best).toContain('dram');
    expect(p.rows[0]!.best).toContain('capacity');
    // the real kernel's MemTotal: onlined at boot (step 0), back to devdax (2), system-ram with memmap_on_memory (4)
    const kb = (i: number) => meminfoKb(realStep('6.12.117', 'softres-mom', i).state.meminfo!);
    expect((kb(0) - kb(2)) * 1024).toBe(p.rows[0]!.usable);
    expect((kb(4) - kb(2)) * 1024).toBe(p.rows[1]!.usable);
  });

  it('v6.1: kmem only (no memmap_on_memory for dax kmem before 6.8): one row, the whole range online, its memmap in DRAM', async () => {
    const p = await planSoftReserved({ size: '2G', start: 0x140000000n, kernel: 'v6.1', dram: '2G', memoryBlockSize: '128M', backend });
    expect(p.rows.map((r) => [r.label, r.usable, r.memmapDram])).toEqual([['Soft Reserved: system-ram (kmem)', Number(2n * GiB), Number(32n * MiB)]]);
  });

  it('a 1 TiB expander off the 2 GiB block grid: kmem trims to whole blocks at both ends (dax_kmem_range); 1/64 of the rest is memmap, in DRAM or on the blocks', async () => {
    const start = (8n << 40n) + 256n * MiB;
    const p = await planSoftReserved({ size: '1T', start, kernel: 'v6', dram: '384G', memoryBlockSize: '2G', backend });
    const [kmem, mom] = p.rows;
    const trimmed = 2n * GiB; // 1.75 GiB at the head, 256 MiB at the tail
    expect(kmem!.trimmedBytes).toBe(Number(trimmed));
    expect(kmem!.usable).toBe(Number((1n << 40n) - trimmed));
    expect(kmem!.memmapDram).toBe(Number(((1n << 40n) - trimmed) / 64n));
    expect(mom!.usable).toBe(Number((((1n << 40n) - trimmed) / 64n) * 63n));
    expect(mom!.deviceGivenUp).toBe(Number(trimmed + ((1n << 40n) - trimmed) / 64n));
    expect(kmem!.dramPercent).toBeCloseTo((kmem!.dram / Number(384n * GiB)) * 100, 10);
  });

  it('bad input is a KernelError EINVAL naming it', async () => {
    await expect(planSoftReserved({ size: '2G', kernel: 'v4.18', backend })).rejects.toThrow(/has no dax kmem/);
    await expect(planSoftReserved({ size: '1000', backend })).rejects.toThrow(/not whole 4 KiB pages/);
    await expect(planSoftReserved({ size: '2G', bogus: 1, backend } as never)).rejects.toThrow(/unknown planSoftReserved option "bogus"/);
  });
});
