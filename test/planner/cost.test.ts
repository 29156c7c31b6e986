/**
 * Where the planner's cost grew with the device (issue 15), checked by behaviour, not by timing: the core
 * hands out the lowest free altmap id without rescanning from 0 (memmap_on_memory takes one altmap per
 * memory block, 65536 of them for 8 TiB), and both cores agree on which id that is.
 */
import { describe, expect, it } from 'vitest';
import { CORE_BACKENDS, coreConfig } from '../fixtures.ts';

const fields = (basePfn: number) => ({ basePfn: BigInt(basePfn), reserve: 2n, free: 510n, align: 0n, alloc: 0n });

describe('altmapCreate: the lowest free id, on both cores', () => {
  it.each(CORE_BACKENDS)('%s: ids 0..4, release 1 and 3, then 1, 3, 5; a released id reads back as zeros', async (_name, make) => {
    const c = await make();
    try {
      expect(c.init(coreConfig())).toBe(0);
      const ids = [0, 1, 2, 3, 4].map((i) => c.altmapCreate(fields(0x100000 + i * 0x8000)));
      expect(ids).toEqual([0, 1, 2, 3, 4]);
      c.altmapRelease(3);
      c.altmapRelease(1);
      expect(c.altmapRead(1).basePfn).toBe(0n);
      expect(c.altmapCreate(fields(0x200000))).toBe(1);
      expect(c.altmapCreate(fields(0x208000))).toBe(3);
      expect(c.altmapCreate(fields(0x210000))).toBe(5);
      expect(c.altmapRead(3).basePfn).toBe(0x208000n);
      // releasing the top and below it: the next one is the lowest free again
      c.altmapRelease(5);
      c.altmapRelease(0);
      expect(c.altmapCreate(fields(0x300000))).toBe(0);
      expect(c.altmapCreate(fields(0x308000))).toBe(5);
    } finally {
      c.dispose();
    }
  });
});
