import { describe, expect, it } from 'vitest';
import { KernelError } from '../../src/kernel/errno.ts';
import { formatSize, formatSizeHuman, parseSize, parseSizeWithUnits } from '../../src/nvdimm/units.ts';
import { pfnLayout, type Era, type PfnLayoutParams, type RegionIntersects } from '../../src/nvdimm/pfn.ts';
import {
  DAX_SIG,
  PFN_MODE_PMEM,
  PFN_MODE_RAM,
  PFN_SIG,
  decodeInfoBlock,
  encodeInfoBlock,
  infoBlockForLayout,
  ndFletcher64,
  ndPfnValidate,
  ndSbChecksum,
} from '../../src/nvdimm/infoblock.ts';
import { NdctlError, checkCreateNamespace, namespaceJson, ndctlJsonString, uuidFromSeed } from '../../src/nvdimm/ndctl.ts';

const K = 1n << 10n;
const M = 1n << 20n;
const G = 1n << 30n;
const T = 1n << 40n;

/** Run fn, expect a KernelError, return it. */
function kernelError(fn: () => unknown): KernelError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KernelError);
    return e as KernelError;
  }
  throw new Error('expected a KernelError');
}

const UUID = uuidFromSeed(1);
const PARENT = uuidFromSeed(2);

function layout(p: Partial<PfnLayoutParams> & Pick<PfnLayoutParams, 'era' | 'raw'>) {
  return pfnLayout({ start: 0x1040000000n, mode: 'fsdax', map: 'dev', align: 2n * M, ...p });
}

describe('namespaces.md worked table (start 0x1040000000, 1 GiB aligned)', () => {
  const table: Array<{ raw: bigint; map: 'dev' | 'mem'; align: bigint; v45: bigint; v418: bigint; v6: bigint }> = [
    { raw: 16n * G, map: 'dev', align: 2n * M, v45: 16909336576n, v418: 16909336576n, v6: 16909336576n },
    { raw: 32n * G, map: 'dev', align: 2n * M, v45: 33820770304n, v418: 33820770304n, v6: 33820770304n },
    // v4.5: the arithmetic gives 48234496; the -ENOMEM comes later, at probe, in the hotplug code.
    { raw: 48n * M, map: 'dev', align: 2n * M, v45: 48234496n, v418: 46137344n, v6: 48234496n },
    { raw: 2n * G, map: 'dev', align: 1n * G, v45: 1073741824n, v418: 1073741824n, v6: 1073741824n },
    { raw: 64n * G, map: 'mem', align: 2n * M, v45: 68717379584n, v418: 68717379584n, v6: 68717379584n },
    { raw: 1n * T, map: 'dev', align: 2n * M, v45: 1082329661440n, v418: 1082329661440n, v6: 1082329661440n },
  ];
  for (const row of table) {
    const name = `${row.raw} ${row.map} align ${row.align}`;
    it(`${name}: v4.5 ${row.v45}, v4.18 ${row.v418}, v6 ${row.v6}`, () => {
      expect(layout({ era: 'v4.5', raw: row.raw, map: row.map, align: row.align }).size).toBe(row.v45);
      expect(layout({ era: 'v4.5-rc1', raw: row.raw, map: row.map, align: row.align }).size).toBe(row.v45);
      expect(layout({ era: 'v4.18', raw: row.raw, map: row.map, align: row.align }).size).toBe(row.v418);
      expect(layout({ era: 'v6', raw: row.raw, map: row.map, align: row.align }).size).toBe(row.v6);
    });
  }

  it('48 MiB map=dev: v4.5 offset 2 MiB with altmap free 510 (too small at probe), v4.18 46137344, v6 48234496', () => {
    const v45 = layout({ era: 'v4.5', raw: 48n * M });
    expect(v45.offset).toBe(2n * M);
    expect(v45.altmap).toEqual({ basePfn: 0x1040000, reserve: 2, free: 510 });
    const v418 = layout({ era: 'v4.18', raw: 48n * M });
    expect(v418.offset).toBe(4n * M); // npfns rounded up to a whole section: 2 MiB of memmap + 8 KiB
    expect(v418.size).toBe(46137344n);
    expect(v418.altmap!.free).toBe(1022);
    expect(layout({ era: 'v6', raw: 48n * M }).size).toBe(48234496n);
  });

  it('sizes are npfns pages and offset + size fills the namespace', () => {
    for (const era of ['v4.5', 'v4.18', 'v6'] as Era[]) {
      const l = layout({ era, raw: 16n * G });
      expect(BigInt(l.npfns) * 4096n).toBe(l.size);
      expect(l.offset + l.size + l.startPad + l.endTrunc).toBe(16n * G);
      // vmem_altmap_offset = reserve + free = offset / 4 KiB for a section-aligned start
      expect(l.altmap!.reserve + l.altmap!.free).toBe(Number(l.offset / 4096n));
    }
  });
});

describe('kernel.md §2.14 pmem driver scenarios (v4.5)', () => {
  it('T37 P16 map=dev: offset 0x10200000, npfns 4128256, altmap {0x400000, 2, 66046}, bad offset on re-probe', () => {
    const l = pfnLayout({ era: 'v4.5', start: 0x400000000n, raw: 16n * G, mode: 'fsdax', map: 'dev', align: 2n * M });
    expect(l.offset).toBe(0x10200000n);
    expect(l.npfns).toBe(4128256);
    expect(l.altmap).toEqual({ basePfn: 0x400000, reserve: 2, free: 66046 });
    expect(l.dataPfn).toBe(0x410200);
    expect(l.size / 512n).toBe(33026048n); // disk sectors
    expect(l.messages).toEqual([]);

    const block = encodeInfoBlock(infoBlockForLayout('v4.5', l, { mode: 'fsdax', map: 'dev', align: 2n * M, uuid: UUID, parentUuid: PARENT }));
    const e = kernelError(() => ndPfnValidate('v4.5', block, 16n * G, { parentUuid: PARENT }));
    expect(e.code).toBe('ENXIO');
    expect(e.errno).toBe(-6);
    expect(e.message).toContain('bad offset: 0x10200000 dax disabled');
  });

  it('T38 P16 map=mem: offset 0x200000, npfns 4193792, no altmap, 33550336 sectors, validate passes with align 2 MiB', () => {
    const l = pfnLayout({ era: 'v4.5', start: 0x400000000n, raw: 16n * G, mode: 'fsdax', map: 'mem', align: 2n * M });
    expect(l.offset).toBe(0x200000n);
    expect(l.npfns).toBe(4193792);
    expect(l.altmap).toBeNull();
    expect(l.size / 512n).toBe(33550336n);
    const block = encodeInfoBlock(infoBlockForLayout('v4.5', l, { mode: 'fsdax', map: 'mem', align: 2n * M, uuid: UUID, parentUuid: PARENT }));
    const r = ndPfnValidate('v4.5', block, 16n * G, { parentUuid: PARENT });
    expect(r.align).toBe(2n * M);
    expect(r.mode).toBe(PFN_MODE_RAM);
    expect(r.uuid).toBe(UUID);
  });

  it('T39 P1T map=dev: offset 0x400200000, npfns 264240640, free 4194814, usable 1082329661440; map=mem npfns 268434944', () => {
    const l = pfnLayout({ era: 'v4.5', start: 0x10000000000n, raw: 1n * T, mode: 'fsdax', map: 'dev', align: 2n * M });
    expect(l.offset).toBe(0x400200000n);
    expect(l.npfns).toBe(264240640);
    expect(l.altmap).toEqual({ basePfn: 0x10000000, reserve: 2, free: 4194814 });
    expect(l.size).toBe(1082329661440n);
    expect(l.size / 512n).toBe(2113925120n);
    const ram = pfnLayout({ era: 'v4.5', start: 0x10000000000n, raw: 1n * T, mode: 'fsdax', map: 'mem', align: 2n * M });
    expect(ram.npfns).toBe(268434944);
  });

  it('T34 128 MiB map=dev: offset 4 MiB, free 1022, npfns 31744; the info block passes and nd_pfn.align becomes 4 MiB', () => {
    const l = pfnLayout({ era: 'v4.5', start: 0x400000000n, raw: 128n * M, mode: 'fsdax', map: 'dev', align: 2n * M });
    expect(l.offset).toBe(0x400000n);
    expect(l.altmap).toEqual({ basePfn: 0x400000, reserve: 2, free: 1022 });
    expect(l.npfns).toBe(31744);
    const block = encodeInfoBlock(infoBlockForLayout('v4.5', l, { mode: 'fsdax', map: 'dev', align: 2n * M, uuid: UUID, parentUuid: PARENT }));
    const r = ndPfnValidate('v4.5', block, 128n * M, { parentUuid: PARENT, uuid: UUID });
    expect(r.align).toBe(4n * M);
    expect(r.mode).toBe(PFN_MODE_PMEM);
  });

  it('§2.14 section-misaligned namespace (start 0x404000000, 1 GiB): v4.5 base 0x400000 reserve 16386 free 4606; v4.5-rc1 base 0x404000', () => {
    const p = { start: 0x404000000n, raw: 1n * G, mode: 'fsdax', map: 'dev', align: 2n * M } as const;
    const v45 = pfnLayout({ era: 'v4.5', ...p });
    expect(v45.offset).toBe(18n * M);
    expect(v45.altmap).toEqual({ basePfn: 0x400000, reserve: 16386, free: 4606 });
    expect(v45.altmap!.basePfn + v45.altmap!.reserve + v45.altmap!.free).toBe(0x405200);
    expect(v45.dataPfn).toBe(0x405200);
    const rc1 = pfnLayout({ era: 'v4.5-rc1', ...p });
    expect(rc1.altmap).toEqual({ basePfn: 0x404000, reserve: 2, free: 4606 });
    expect(rc1.dataPfn).toBe(0x405200);
  });

  it('T25 align 4 KiB hazard: 16 GiB offset 0x10002000, free 65536 (510 short of the need)', () => {
    const l = pfnLayout({ era: 'v4.5', start: 0x400000000n, raw: 16n * G, mode: 'fsdax', map: 'dev', align: 4n * K });
    expect(l.offset).toBe(0x10002000n);
    expect(l.altmap!.free).toBe(65536);
  });

  it('devdax is refused on the v4.5 profiles (device-dax arrived in v4.7)', () => {
    for (const era of ['v4.5', 'v4.5-rc1'] as Era[]) {
      const e = kernelError(() => layout({ era, raw: 16n * G, mode: 'devdax' }));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toContain('v4.7');
      expect(e.message).toContain('devdax');
    }
  });

  it('v4.5 offset beyond the namespace: the capacity message of the next validation, -EBUSY', () => {
    const e = kernelError(() => layout({ era: 'v4.5', raw: 16n * M, align: 1n * G }));
    expect(e.code).toBe('EBUSY');
    expect(e.message).toContain('pfn array size exceeds capacity of namespace0.0');
  });
});

describe('v4.18 pfn arithmetic', () => {
  // System RAM [0x1040000000, 0x1043ffffff] followed by the pmem namespace at 0x1044000000.
  const ramEnd = 0x1043ffffffn;
  const intersects = (start: bigint, size: bigint): RegionIntersects => {
    const end = start + size - 1n;
    if (end < 0x1040000000n || start > ramEnd) return 'REGION_DISJOINT';
    return start >= 0x1040000000n && end <= ramEnd ? 'REGION_INTERSECTS' : 'REGION_MIXED';
  };

  it('section collision with System RAM: start_pad 64 MiB, "section collision, truncate 67108864 bytes"', () => {
    const calls: Array<[bigint, bigint]> = [];
    const l = pfnLayout({
      era: 'v4.18',
      start: 0x1044000000n,
      raw: 1n * G,
      mode: 'fsdax',
      map: 'dev',
      align: 2n * M,
      regionIntersects: (s, n) => {
        calls.push([s, n]);
        return intersects(s, n);
      },
    });
    expect(calls).toEqual([
      [0x1040000000n, 1n * G],
      [0x1044000000n, 0x1088000000n - 0x1044000000n],
    ]);
    expect(l.startPad).toBe(64n * M);
    expect(l.endTrunc).toBe(0n);
    expect(l.messages).toEqual(['namespace0.0 section collision, truncate 67108864 bytes']);
    expect(l.offset).toBe(18n * M); // 8 sections of memmap (16 MiB) + 8 KiB, rounded to 2 MiB
    expect(l.size).toBe(1n * G - 64n * M - 18n * M);
    expect(l.npfns).toBe(241152);
    expect(l.altmap).toEqual({ basePfn: 0x1048000, reserve: 2, free: 4606 });
    expect(l.dataPfn).toBe(0x1049200);
  });

  it('end collision: end_trunc to the section below the end', () => {
    // System RAM from 0x1040000000; the namespace [0x1000000000, 0x1044000000) ends 64 MiB into its section.
    const l = pfnLayout({
      era: 'v4.18',
      start: 0x1000000000n,
      raw: 0x44000000n,
      mode: 'fsdax',
      map: 'dev',
      align: 2n * M,
      regionIntersects: (s, n) => (s + n - 1n >= 0x1040000000n && s < 0x1040000000n ? 'REGION_MIXED' : 'REGION_DISJOINT'),
      ndns: 'namespace1.0',
    });
    expect(l.endTrunc).toBe(64n * M);
    expect(l.startPad).toBe(0n);
    expect(l.messages).toEqual(['namespace1.0 section collision, truncate 67108864 bytes']);
  });

  it('section-misaligned start without a collision: section-rounded base, gap in reserve', () => {
    const l = pfnLayout({ era: 'v4.18', start: 0x404000000n, raw: 1n * G, mode: 'fsdax', map: 'dev', align: 2n * M });
    expect(l.startPad).toBe(0n);
    expect(l.offset).toBe(18n * M);
    expect(l.altmap).toEqual({ basePfn: 0x400000, reserve: 16386, free: 4606 });
  });

  it('devdax reserves 128 KiB for its label (visible with map=mem, align 4 KiB); fsdax reserves nothing', () => {
    expect(layout({ era: 'v4.18', raw: 16n * G, map: 'mem', align: 4n * K, mode: 'devdax' }).offset).toBe(0x22000n);
    expect(layout({ era: 'v4.18', raw: 16n * G, map: 'mem', align: 4n * K, mode: 'fsdax' }).offset).toBe(0x2000n);
    // map=dev: the section-rounded memmap is a whole number of 2 MiB blocks, so 136 KiB still rounds to +2 MiB
    expect(layout({ era: 'v4.18', raw: 16n * G, mode: 'devdax' }).offset).toBe(0x10200000n);
  });

  it('map=dev aligns to max(align, 2 MiB): -a 4K gives the 2 MiB layout', () => {
    expect(layout({ era: 'v4.18', raw: 16n * G, align: 4n * K }).offset).toBe(0x10200000n);
  });

  it('"unable to satisfy requested alignment" -ENXIO', () => {
    const e = kernelError(() => layout({ era: 'v4.18', raw: 1n * G, align: 1n * G }));
    expect(e.code).toBe('ENXIO');
    expect(e.message).toContain('namespace0.0 unable to satisfy requested alignment');
  });
});

describe('v6 pfn arithmetic', () => {
  it('start misaligned to the 2 MiB compat alignment: -EINVAL with %pa formatting', () => {
    const e = kernelError(() => layout({ era: 'v6', start: 0x1040100000n, raw: 1n * G }));
    expect(e.code).toBe('EINVAL');
    expect(e.message).toContain('namespace0.0: start 0x0000001040100000 misaligned to 0x200000');
  });

  it('end_trunc trims the end to max(align, 2 MiB)', () => {
    const l = layout({ era: 'v6', raw: 3n * G + 2n * M, align: 1n * G });
    expect(l.endTrunc).toBe(2n * M);
    expect(l.offset).toBe(1n * G);
    expect(l.size).toBe(2n * G);
    expect(l.npfns).toBe(524288);
  });

  it('sub-section base: a 2 MiB-aligned start is its own base_pfn, reserve 2', () => {
    const l = layout({ era: 'v6', start: 0x404200000n, raw: 1n * G });
    expect(l.altmap).toEqual({ basePfn: 0x404200, reserve: 2, free: 4606 });
    expect(l.offset).toBe(18n * M); // 16 MiB - 128 B of memmap + 8 KiB, rounded to 2 MiB
  });

  it('no dax label reserve; "unable to satisfy requested alignment" -ENXIO', () => {
    expect(layout({ era: 'v6', raw: 16n * G, mode: 'devdax', map: 'mem' }).offset).toBe(2n * M);
    const e = kernelError(() => layout({ era: 'v6', raw: 1n * G, align: 1n * G }));
    expect(e.code).toBe('ENXIO');
    expect(e.message).toContain('unable to satisfy requested alignment');
  });

  it('rejects parameters no kernel would see', () => {
    expect(kernelError(() => layout({ era: 'v6', raw: 16n * G, align: 3n * M })).code).toBe('EINVAL');
    expect(kernelError(() => layout({ era: 'v6', raw: 4096n })).code).toBe('EINVAL');
    expect(kernelError(() => layout({ era: 'v5' as Era, raw: 16n * G })).code).toBe('EINVAL');
  });
});

describe('parseSize (ndctl __parse_size64)', () => {
  it('accepts plain bytes, K/M/G/T in either case, hex and octal like strtoull base 0', () => {
    expect(parseSize('4096', 'size')).toBe(4096n);
    expect(parseSize('4K', 'size')).toBe(4096n);
    expect(parseSize('4k', 'size')).toBe(4096n);
    expect(parseSize('1024M', 'size')).toBe(1n * G);
    expect(parseSize('16g', 'size')).toBe(16n * G);
    expect(parseSize('16G', 'size')).toBe(16n * G);
    expect(parseSize('1T', 'size')).toBe(1n * T);
    expect(parseSize('2t', 'size')).toBe(2n * T);
    expect(parseSize('0x10M', 'size')).toBe(16n * M);
    expect(parseSize('0x8400000', 'size')).toBe(0x8400000n);
    expect(parseSize('010', 'size')).toBe(8n);
    expect(parseSize('0', 'size')).toBe(0n);
    expect(parseSize(' +1G', 'size')).toBe(1n * G);
    expect(parseSize(4096, 'size')).toBe(4096n);
    expect(parseSize(16n * G, 'size')).toBe(16n * G);
    expect(parseSize((1n << 64n) - 1n, 'size')).toBe((1n << 64n) - 1n);
    expect(parseSizeWithUnits('1000M', 'size')).toEqual({ bytes: 1000n * M, units: M });
    expect(parseSizeWithUnits('4096', 'size')).toEqual({ bytes: 4096n, units: 1n });
  });

  const bad: Array<bigint | number | string> = [
    '-1',
    '-0x10',
    '1.5G',
    '',
    '   ',
    'K',
    'abc',
    '1P',
    '1E',
    '1GB',
    '1 G',
    '1G ',
    '0x',
    '08',
    '1e3',
    '18446744073709551615', // ULLONG_MAX is ndctl's failure value
    '18446744073709551616',
    '16777216T',
    Number.NaN,
    -1,
    1.5,
    Infinity,
    2 ** 60,
    -1n,
    1n << 64n,
  ];
  for (const input of bad) {
    it(`refuses ${typeof input === 'string' ? JSON.stringify(input) : String(input)} with EINVAL naming it`, () => {
      const e = kernelError(() => parseSize(input, 'namespace size'));
      expect(e.code).toBe('EINVAL');
      expect(e.message).toContain(`failed to parse namespace size '${String(input)}'`);
    });
  }
});

describe('formatSizeHuman (ndctl display_size)', () => {
  it('prints the spec examples exactly', () => {
    expect(formatSizeHuman(21140000000n)).toBe('19.69 GiB (21.14 GB)');
    expect(formatSizeHuman(62n * M)).toBe('62.00 MiB (65.01 MB)');
  });

  it('prints the worked examples as ndctl -u does', () => {
    expect(formatSizeHuman(16909336576n)).toBe('15.75 GiB (16.91 GB)'); // 16 GiB, map=dev
    expect(formatSizeHuman(1082329661440n)).toBe('1008.00 GiB (1082.33 GB)'); // 1 TiB, map=dev
    expect(formatSizeHuman(46137344n)).toBe('44.00 MiB (46.14 MB)'); // 48 MiB, v4.18
    expect(formatSizeHuman(48234496n)).toBe('46.00 MiB (48.23 MB)'); // 48 MiB, v6
    expect(formatSizeHuman(68717379584n)).toBe('64.00 GiB (68.72 GB)'); // 64 GiB, map=mem
    expect(formatSizeHuman(16n * G)).toBe('16.00 GiB (17.18 GB)');
  });

  it('switches units at 5000 KiB, 2 GiB and 2 TiB', () => {
    expect(formatSizeHuman(5119999n)).toBe('5119999');
    expect(formatSizeHuman(5120000n)).toBe('4.88 MiB (5.12 MB)');
    expect(formatSizeHuman(2n * G - 1n)).toBe('2048.00 MiB (2147.48 MB)');
    expect(formatSizeHuman(2n * G)).toBe('2.00 GiB (2.15 GB)');
    expect(formatSizeHuman(1n * G)).toBe('1024.00 MiB (1073.74 MB)');
    expect(formatSizeHuman(2n * T - 1n)).toBe('2048.00 GiB (2199.02 GB)');
    expect(formatSizeHuman(2n * T)).toBe('2.00 TiB (2.20 TB)');
    expect(formatSizeHuman(0n)).toBe('0');
  });

  it('formatSize: bytes as a JSON number, the human string only from 5000 KiB up', () => {
    expect(formatSize(16909336576n, false)).toBe(16909336576);
    expect(formatSize(16909336576n, true)).toBe('15.75 GiB (16.91 GB)');
    expect(formatSize(4096n, true)).toBe(4096);
    expect(formatSize(2n * M, true)).toBe(2097152);
  });
});

describe('struct nd_pfn_sb', () => {
  it('nd_fletcher64: lo32 sums words, hi32 sums lo32, lo32 wraps at 32 bits', () => {
    expect(ndFletcher64(new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]))).toBe(0x0000000a00000006n);
    expect(ndFletcher64(new Uint8Array([0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0]))).toBe(0x0000000000000001n);
  });

  it('v4.5 P16 block: 4096 bytes, "NVDIMM_PFN_INFO\\0", version 1.0, round trip, checksum in the last 8 bytes', () => {
    const l = pfnLayout({ era: 'v4.5', start: 0x400000000n, raw: 16n * G, mode: 'fsdax', map: 'dev', align: 2n * M });
    const block = encodeInfoBlock(infoBlockForLayout('v4.5', l, { mode: 'fsdax', map: 'dev', align: 2n * M, uuid: UUID, parentUuid: PARENT }));
    expect(block.length).toBe(4096);
    expect(String.fromCharCode(...block.subarray(0, 16))).toBe(PFN_SIG);
    const view = new DataView(block.buffer);
    expect(view.getUint16(52, true)).toBe(1);
    expect(view.getUint16(54, true)).toBe(0);
    expect(view.getBigUint64(56, true)).toBe(0x10200000n);
    expect(view.getBigUint64(64, true)).toBe(4128256n);
    expect(view.getUint32(72, true)).toBe(PFN_MODE_PMEM);
    expect(view.getBigUint64(4088, true)).toBe(ndSbChecksum(block));
    const sb = decodeInfoBlock(block)!;
    expect(sb).toMatchObject({
      signature: 'pfn',
      uuid: UUID,
      parentUuid: PARENT,
      flags: 0,
      versionMajor: 1,
      versionMinor: 0,
      dataoff: 0x10200000n,
      npfns: 4128256n,
      mode: PFN_MODE_PMEM,
      startPad: 0n,
      endTrunc: 0n,
      align: 0n,
      pageSize: 0,
      pageStructSize: 0,
    });
  });

  it('a flipped byte or a foreign signature decodes to null', () => {
    const block = encodeInfoBlock({ era: 'v4.5', uuid: UUID, parentUuid: PARENT, dataoff: 2n * M, npfns: 4193792, mode: PFN_MODE_RAM });
    const flipped = block.slice();
    flipped[100] = flipped[100]! ^ 1;
    expect(decodeInfoBlock(flipped)).toBeNull();
    const foreign = block.slice();
    foreign.set(new TextEncoder().encode('BTT_ARENA_INFO\0\0'), 0);
    expect(decodeInfoBlock(foreign)).toBeNull();
    expect(decodeInfoBlock(new Uint8Array(4096))).toBeNull();
    expect(kernelError(() => ndPfnValidate('v4.5', flipped, 16n * G)).code).toBe('ENODEV');
  });

  it('v4.18 writes 1.2 with start_pad/end_trunc/align; v6 writes 1.4 with page_size 4096, page_struct_size 64', () => {
    const v418 = decodeInfoBlock(
      encodeInfoBlock({ era: 'v4.18', signature: 'dax', uuid: UUID, parentUuid: PARENT, dataoff: 0x10200000n, npfns: 4128256, mode: PFN_MODE_PMEM, startPad: 64n * M, align: 2n * M }),
    )!;
    expect(v418).toMatchObject({ signature: 'dax', versionMinor: 2, startPad: 64n * M, align: 2n * M, pageSize: 0 });
    const raw = encodeInfoBlock({ era: 'v6', uuid: UUID, parentUuid: PARENT, dataoff: 2n * M, npfns: 1, mode: PFN_MODE_RAM, endTrunc: 2n * M, align: 1n * G });
    expect(String.fromCharCode(...raw.subarray(0, 16))).toBe(PFN_SIG);
    expect(decodeInfoBlock(raw)).toMatchObject({ versionMajor: 1, versionMinor: 4, endTrunc: 2n * M, align: 1n * G, pageSize: 4096, pageStructSize: 64 });
    const dax = encodeInfoBlock({ era: 'v6', signature: 'dax', uuid: UUID, parentUuid: PARENT, dataoff: 2n * M, npfns: 1, mode: PFN_MODE_PMEM });
    expect(String.fromCharCode(...dax.subarray(0, 16))).toBe(DAX_SIG);
  });

  it('an era cannot write fields its struct lacks', () => {
    const base = { uuid: UUID, parentUuid: PARENT, dataoff: 2n * M, npfns: 1, mode: PFN_MODE_RAM };
    expect(kernelError(() => encodeInfoBlock({ era: 'v4.5', signature: 'dax', ...base })).code).toBe('EINVAL');
    expect(kernelError(() => encodeInfoBlock({ era: 'v4.5', startPad: 4096n, ...base })).code).toBe('EINVAL');
    expect(kernelError(() => encodeInfoBlock({ era: 'v4.18', pageSize: 4096, ...base })).code).toBe('EINVAL');
  });
});

describe('nd_pfn_validate', () => {
  const p16 = pfnLayout({ era: 'v4.5', start: 0x400000000n, raw: 16n * G, mode: 'fsdax', map: 'dev', align: 2n * M });
  const ids = { uuid: UUID, parentUuid: PARENT };

  it('v4.5: align beyond capacity, then offset beyond capacity, then the power-of-two rule, in that order', () => {
    const block = encodeInfoBlock({ era: 'v4.5', ...ids, dataoff: 0x10200000n, npfns: 4128256, mode: PFN_MODE_PMEM });
    const a = kernelError(() => ndPfnValidate('v4.5', block, 128n * M, { align: 256n * M }));
    expect(a.code).toBe('EINVAL');
    expect(a.message).toContain('alignment: 10000000 exceeds capacity 8000000');
    const b = kernelError(() => ndPfnValidate('v4.5', block, 128n * M));
    expect(b.code).toBe('EBUSY');
    expect(b.message).toContain('pfn array size exceeds capacity of namespace0.0');
    const c = kernelError(() => ndPfnValidate('v4.5', block, 16n * G));
    expect(c.code).toBe('ENXIO');
    expect(c.message).toContain('bad offset: 0x10200000 dax disabled');
  });

  it('v4.5: sizes whose offset is a power of two pass (384 MiB -> 8 MiB, 896 MiB -> 16 MiB)', () => {
    for (const [raw, off] of [
      [384n * M, 8n * M],
      [896n * M, 16n * M],
    ] as const) {
      const l = pfnLayout({ era: 'v4.5', start: 0x400000000n, raw, mode: 'fsdax', map: 'dev', align: 2n * M });
      expect(l.offset).toBe(off);
      const block = encodeInfoBlock(infoBlockForLayout('v4.5', l, { mode: 'fsdax', map: 'dev', align: 2n * M, ...ids }));
      expect(ndPfnValidate('v4.5', block, raw).align).toBe(off);
    }
  });

  it('v4.5: uuid and parent uuid mismatches mean "no info block" (-ENODEV)', () => {
    const block = encodeInfoBlock({ era: 'v4.5', ...ids, dataoff: 2n * M, npfns: 4193792, mode: PFN_MODE_RAM });
    expect(kernelError(() => ndPfnValidate('v4.5', block, 16n * G, { parentUuid: uuidFromSeed(9) })).code).toBe('ENODEV');
    expect(kernelError(() => ndPfnValidate('v4.5', block, 16n * G, { uuid: uuidFromSeed(9) })).code).toBe('ENODEV');
    expect(kernelError(() => ndPfnValidate('v4.5', null, 16n * G)).code).toBe('ENODEV');
  });

  it('v4.5-rc1 does not accept a PMEM-mode block on re-read (fixed in 4.5-rc2); RAM passes', () => {
    const pmem = encodeInfoBlock({ era: 'v4.5-rc1', ...ids, dataoff: 4n * M, npfns: 31744, mode: PFN_MODE_PMEM });
    expect(kernelError(() => ndPfnValidate('v4.5-rc1', pmem, 128n * M)).code).toBe('ENXIO');
    expect(ndPfnValidate('v4.5', pmem, 128n * M).align).toBe(4n * M);
    const ram = encodeInfoBlock({ era: 'v4.5-rc1', ...ids, dataoff: 2n * M, npfns: 4193792, mode: PFN_MODE_RAM });
    expect(ndPfnValidate('v4.5-rc1', ram, 16n * G).align).toBe(2n * M);
  });

  it('v4.18: the recorded align replaces the power-of-two rule; a moved namespace is a bad offset', () => {
    const l = pfnLayout({ era: 'v4.18', start: 0x400000000n, raw: 16n * G, mode: 'fsdax', map: 'dev', align: 2n * M });
    const block = encodeInfoBlock(infoBlockForLayout('v4.18', l, { mode: 'fsdax', map: 'dev', align: 2n * M, ...ids }));
    expect(ndPfnValidate('v4.18', block, 16n * G, { start: 0x400000000n }).align).toBe(2n * M);
    expect(ndPfnValidate('v4.18', block, 16n * G, { start: 0x400000000n, uuid: UUID, align: 2n * M, mode: PFN_MODE_PMEM }).mode).toBe(PFN_MODE_PMEM);
    const moved = kernelError(() => ndPfnValidate('v4.18', block, 16n * G, { start: 0x400001000n }));
    expect(moved.code).toBe('ENXIO');
    expect(moved.message).toContain('bad offset: 0x10200000 dax disabled align: 0x200000');
    const mismatch = kernelError(() => ndPfnValidate('v4.18', block, 16n * G, { uuid: UUID, align: 1n * G }));
    expect(mismatch.code).toBe('EINVAL');
    expect(mismatch.message).toContain('init failed, settings mismatch');
    // a v1.0 block read by v4.18: align falls back to 1 << ilog2(offset) = 256 MiB, which 0x10200000 is not aligned to
    const old = encodeInfoBlock(infoBlockForLayout('v4.5', p16, { mode: 'fsdax', map: 'dev', align: 2n * M, ...ids }));
    expect(kernelError(() => ndPfnValidate('v4.18', old, 16n * G, { start: 0x400000000n })).message).toContain(
      'bad offset: 0x10200000 dax disabled align: 0x10000000',
    );
  });
});

describe('ndctl v76 output and refusals', () => {
  const fsdax = {
    dev: 'namespace0.0',
    mode: 'fsdax',
    map: 'dev',
    size: 16909336576n,
    uuid: UUID,
    sectorSize: 512,
    align: 2n * M,
    blockdev: 'pmem0',
  } as const;

  it('fsdax: dev, mode, map, size, uuid, sector_size, align, blockdev', () => {
    const j = namespaceJson(fsdax, { human: true });
    expect(Object.keys(j)).toEqual(['dev', 'mode', 'map', 'size', 'uuid', 'sector_size', 'align', 'blockdev']);
    expect(j).toEqual({
      dev: 'namespace0.0',
      mode: 'fsdax',
      map: 'dev',
      size: '15.75 GiB (16.91 GB)',
      uuid: UUID,
      sector_size: 512,
      align: 2097152,
      blockdev: 'pmem0',
    });
    expect(namespaceJson(fsdax, { human: false }).size).toBe(16909336576);
    expect(ndctlJsonString(j)).toBe(
      [
        '{',
        '  "dev":"namespace0.0",',
        '  "mode":"fsdax",',
        '  "map":"dev",',
        '  "size":"15.75 GiB (16.91 GB)",',
        `  "uuid":"${UUID}",`,
        '  "sector_size":512,',
        '  "align":2097152,',
        '  "blockdev":"pmem0"',
        '}',
      ].join('\n'),
    );
  });

  it('devdax: no sector_size, daxregion {id, size, align, devices[{chardev, size, ..., mode}]} before align', () => {
    const j = namespaceJson(
      {
        dev: 'namespace0.0',
        mode: 'devdax',
        map: 'dev',
        size: 16909336576n,
        uuid: UUID,
        align: 2n * M,
        daxRegion: { id: 0, size: 16909336576n, align: 2n * M, devices: [{ chardev: 'dax0.0', size: 16909336576n, targetNode: 0, align: 2n * M }] },
      },
      { human: true },
    );
    expect(Object.keys(j)).toEqual(['dev', 'mode', 'map', 'size', 'uuid', 'daxregion', 'align']);
    expect(j.daxregion).toEqual({
      id: 0,
      size: '15.75 GiB (16.91 GB)',
      align: 2097152,
      devices: [{ chardev: 'dax0.0', size: '15.75 GiB (16.91 GB)', target_node: 0, align: 2097152, mode: 'devdax' }],
    });
    const bare = namespaceJson(
      { dev: 'namespace0.0', mode: 'devdax', map: 'mem', size: 1n * G, uuid: UUID, align: 2n * M, daxRegion: { id: 0, size: 1n * G, align: 2n * M, devices: [{ chardev: 'dax0.0', size: 1n * G }] } },
      { human: false, daxRegion: false },
    );
    expect(Object.keys(bare)).toEqual(['dev', 'mode', 'map', 'size', 'uuid', 'chardev', 'align']);
  });

  it('raw: no map, no align; uuid only for a labelled namespace', () => {
    const j = namespaceJson({ dev: 'namespace0.0', mode: 'raw', size: 16n * G, blockdev: 'pmem0' }, { human: false });
    expect(Object.keys(j)).toEqual(['dev', 'mode', 'size', 'sector_size', 'blockdev']);
    expect(j.sector_size).toBe(512);
    const labelled = namespaceJson({ dev: 'namespace0.0', mode: 'raw', size: 16n * G, uuid: UUID, align: 2n * M, blockdev: 'pmem0' }, { human: true });
    expect(Object.keys(labelled)).toEqual(['dev', 'mode', 'size', 'uuid', 'sector_size', 'blockdev']);
    expect(labelled.size).toBe('16.00 GiB (17.18 GB)');
  });

  it("size not a multiple of interleave-width x align: \"'--size=' must align to interleave-width: 1 and alignment: 1073741824\" + hint (error()'s blank line: fixture refuse-fsdax-dev-16M-a1G)", () => {
    let e: NdctlError | undefined;
    try {
      checkCreateNamespace({ size: '1000M', align: 1n * G, available: 64n * G, regionAlign: null });
    } catch (err) {
      e = err as NdctlError;
    }
    expect(e).toBeInstanceOf(NdctlError);
    expect(e).toBeInstanceOf(KernelError);
    expect(e!.code).toBe('EINVAL');
    expect(e!.message).toContain("'--size=' must align to interleave-width: 1 and alignment: 1073741824");
    expect(e!.message).toContain('did you intend --size=1024M?');
    expect(e!.stderr).toBe(
      "  Error: create namespace: '--size=' must align to interleave-width: 1 and alignment: 1073741824\ndid you intend --size=1024M?\n\n",
    );
  });

  it('-a 2M refuses 0x4001000 and suggests the next multiple in bytes; interleave 2 suggests in G', () => {
    const a = kernelError(() => checkCreateNamespace({ size: 0x4001000n, align: 2n * M, available: 64n * G, regionAlign: null }));
    expect(a.message).toContain("'--size=' must align to interleave-width: 1 and alignment: 2097152");
    expect(a.message).toContain('did you intend --size=69206016?');
    const b = kernelError(() => checkCreateNamespace({ size: '3G', align: 1n * G, available: 64n * G, regionAlign: null, interleaveWidth: 2 }));
    expect(b.message).toContain("'--size=' must align to interleave-width: 2 and alignment: 1073741824");
    expect(b.message).toContain('did you intend --size=4G?');
  });

  it('region align: "region0: align setting is 0x1000000 size 0x8400000 is misaligned"', () => {
    const e = kernelError(() => checkCreateNamespace({ size: 0x8400000n, align: 4096n, available: 64n * G, regionAlign: 16n * M }));
    expect(e.code).toBe('EINVAL');
    expect(e.message).toContain('region0: align setting is 0x1000000 size 0x8400000 is misaligned');
    // the region check comes before the size/align check
    const first = kernelError(() => checkCreateNamespace({ size: 0x8400000n, align: 2n * G, available: 64n * G, regionAlign: 16n * M }));
    expect(first.message).toContain('align setting is 0x1000000');
  });

  it('no room: ENOSPC "failed to create namespace: No space left on device"', () => {
    const e = kernelError(() => checkCreateNamespace({ size: 32n * G, align: 2n * M, available: 16n * G, regionAlign: null }));
    expect(e.code).toBe('ENOSPC');
    expect(e.message).toContain('failed to create namespace: No space left on device');
    expect(kernelError(() => checkCreateNamespace({ align: 2n * M, available: 0n, regionAlign: null })).code).toBe('ENOSPC');
  });

  it('sizes: default takes all that is left; the 16 MiB minimum; parse failures and bad aligns', () => {
    expect(checkCreateNamespace({ align: 2n * M, available: 16n * G, regionAlign: 16n * M })).toBe(16n * G);
    expect(checkCreateNamespace({ size: '16G', align: 2n * M, available: 64n * G, regionAlign: 16n * M })).toBe(16n * G);
    const small = kernelError(() => checkCreateNamespace({ size: '8M', align: 2n * M, available: 64n * G, regionAlign: null }));
    expect(small.message).toContain("'--size=' must be >= 16MiB for 'fsdax' mode");
    expect(checkCreateNamespace({ size: '8M', align: 4096n, available: 64n * G, regionAlign: null, mode: 'raw' })).toBe(8n * M);
    const parse = kernelError(() => checkCreateNamespace({ size: '1.5G', align: 2n * M, available: 64n * G, regionAlign: null }));
    expect(parse.message).toContain("failed to parse namespace size '1.5G'");
    const align = kernelError(() => checkCreateNamespace({ size: '1G', align: 3n * M, available: 64n * G, regionAlign: null }));
    expect(align.message).toContain('align must be a power-of-2 greater than 4096');
  });

  it('uuidFromSeed is deterministic and RFC-4122 shaped', () => {
    expect(uuidFromSeed(42)).toBe(uuidFromSeed(42));
    expect(uuidFromSeed(42)).not.toBe(uuidFromSeed(43));
    for (const seed of [0, 1, 2, 42, 2 ** 31, -7]) {
      expect(uuidFromSeed(seed)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
  });
});
