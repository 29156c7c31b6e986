/**
 * The inspection calls (issue #17): the lean and batch forms say what the full calls say, on both
 * backends, on the default machine (v4.5, 64 GiB RAM, 1 TiB pmem) with a 256 GiB map=dev namespace.
 */
import { inspect as show } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, UNMAPPED } from '../../src/index.ts';
import { BACKENDS } from '../fixtures.ts';

describe.each(BACKENDS)('inspection calls [%s]', (backend) => {
  it('a 256 GiB map=dev namespace: walk, walkPhys, walkMany and walkVerbose agree; its struct pages sit in its altmap pool', async () => {
    const m = await createMachine({ backend });
    const ns = m.createNamespace({ size: '256G', map: 'dev' });
    const info = m.namespaceInfo(ns.dev as string);
    const a = m.findDevPagemap(info.start + info.startPad)!.altmap!.toJSON();
    const first = Number((info.start + info.startPad + info.offset) >> 12n);
    const n = Number(info.size >> 12n);
    const pfns = [first, first + 1, first + 63, first + 64, first + 32767, first + 32768, first + n - 1, first + n, 0x100, 0x10];
    const vas = BigUint64Array.from(pfns, (p) => m.pfnToPage(p));
    const many = m.walkMany(vas);
    pfns.forEach((p, i) => {
      const w = m.walk(vas[i]);
      const v = m.walkVerbose(vas[i]);
      expect(m.walkPhys(vas[i])).toBe(w ? w.phys : null);
      expect(many[i]).toBe(w ? w.phys : UNMAPPED);
      expect(w && { phys: w.phys, pageSize: w.pageSize, levels: w.levels }).toEqual(v.mapped ? { phys: v.phys, pageSize: v.pageSize, levels: v.levels } : null);
      if (p >= first && p < first + n) {
        // map=dev: 2 MiB vmemmap blocks from the pool [base + reserve, base + reserve + free)
        expect(w!.pageSize).toBe(2 ** 21);
        const pfn = Number(w!.phys >> 12n);
        expect(pfn).toBeGreaterThanOrEqual(a.basePfn + a.reserve);
        expect(pfn).toBeLessThan(a.basePfn + a.reserve + a.free);
      }
    });
    // the levels show in JSON and util.inspect, though drawn on first read
    const w = m.walk(vas[0])!;
    expect(JSON.stringify(w, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v))).toContain('"levels":[{"level":"pgd"');
    expect(show(w)).toContain("level: 'pmd'");
    m.dispose();
  });

  it('pagesMany holds the words page() decodes; toVmemAltmapMany the ids of toVmemAltmap, the namespace altmap throughout', async () => {
    const m = await createMachine({ backend });
    const ns = m.createNamespace({ size: '256G', map: 'dev' });
    const info = m.namespaceInfo(ns.dev as string);
    const base = m.findDevPagemap(info.start + info.startPad)!.altmap!.basePfn;
    const r = m.pagesMany(base, 2000);
    expect(r.startPfn).toBe(base);
    expect(r.count).toBe(2000);
    for (let i = 0; i < 2000; i += 37) {
      const pg = m.page(base + i);
      expect(r.mapped[i]).toBe(pg ? 1 : 0);
      expect(Array.from(r.words.subarray(8 * i, 8 * i + 8))).toEqual(pg!.words);
    }
    const vas = BigUint64Array.from({ length: 64 }, (_, i) => m.pfnToPage(base + i * 65536));
    const ids = m.toVmemAltmapMany(vas);
    const one = m.toVmemAltmap(vas[0])!;
    expect(one).toBe(m.toVmemAltmap(vas[63]));
    expect(Array.from(ids)).toEqual(Array.from(vas, (va) => m.toVmemAltmap(va)?.id ?? -1));
    expect(new Set(ids)).toEqual(new Set([one.id]));
    expect(m.findDevPagemap(BigInt(base) << 12n)!.altmap).toBe(one);
    // outside the namespace: no pgmap
    expect(m.toVmemAltmap(m.pfnToPage(0x100))).toBeNull();
    expect(Array.from(m.toVmemAltmapMany(BigUint64Array.of(m.pfnToPage(0x100))))).toEqual([-1]);
    // after destroy the lookup is empty again, in the core as in the kernel
    m.destroyNamespace(ns.dev as string);
    expect(m.findDevPagemap(BigInt(base) << 12n)).toBeNull();
    expect(Array.from(m.toVmemAltmapMany(vas))).toEqual(new Array(64).fill(-1));
    m.dispose();
  });

  it('v6: the pgmap lookup answers from the core for a pfn-keyed era too (find_dev_pagemap of a devdax namespace)', async () => {
    const m = await createMachine({ backend, kernel: 'v6' });
    const ns = m.createNamespace({ size: '16G', mode: 'devdax', map: 'mem' });
    const info = m.namespaceInfo(ns.dev as string);
    const pm = m.findDevPagemap(info.start + info.startPad + info.offset);
    expect(pm?.dev).toBe(info.device);
    expect(pm?.altmap).toBeNull();
    expect(m.toVmemAltmap(m.pfnToPage(Number((info.start + info.startPad + info.offset) >> 12n)))).toBeNull();
    expect(() => m.walkMany(BigUint64Array.of(1n << 63n))).toThrow(KernelError);
    m.dispose();
  });
});
