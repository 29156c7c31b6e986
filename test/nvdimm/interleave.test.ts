/**
 * Regions as interleave sets (issue #14 item 2): createMachine's interleaveWays, checked against the kernel's and ndctl
 * v76.1's sources (QEMU builds one region per NVDIMM, so no fixture records an interleave set):
 * default_align() and dpa_align() (drivers/nvdimm/region_devs.c, dimm_devs.c), mappingN_show, ndctl's
 * validate_namespace_options() refusals, and `ndctl list -RD` as region_to_json() and mappings_init() print it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, kernelErrorOf } from '../fixtures.ts';
import { createMachine, checkMachineConfig, namespaceSizeFor, KernelError, NdctlError, type Machine, type MachineConfig } from '../../src/index.ts';
import { checkInterleaveWays, defaultAlign, regionCapacity } from '../../src/nvdimm/region.ts';
import { collectList, listPlan, type ListOpts } from '../../src/cli/list.ts';
import { listDisplay } from '../../src/nvdimm/ndctl.ts';

const M = 1n << 20n;
const G = 1n << 30n;
const RAM = { start: 0x100000n, size: 4n * G - 0x100000n, type: 'System RAM' as const };
/** Four NFIT regions: 24 GiB over 6 DIMMs at 8 GiB, 8 GiB over 2 at 32 GiB, 16 GiB over 4 at 40 GiB, 32 GiB over 8 at 56 GiB: 4 GiB per DIMM. */
const ISET: MachineConfig = {
  kernel: 'v6',
  e820: [
    RAM,
    { start: 8n * G, size: 24n * G, type: 'Persistent Memory' },
    { start: 32n * G, size: 8n * G, type: 'Persistent Memory' },
    { start: 40n * G, size: 16n * G, type: 'Persistent Memory' },
    { start: 56n * G, size: 32n * G, type: 'Persistent Memory' },
  ],
  interleaveWays: [6, 2, 4, 8],
};
const SIX: MachineConfig = { e820: [RAM, { start: 8n * G, size: 24n * G, type: 'Persistent Memory' }], interleaveWays: [6] };

/** cmd_list's plan for these switches (the machine options do not matter to it). */
const plan = (o: Partial<ListOpts>) => listPlan(o as ListOpts);
const sys = (m: Machine, path: string) => m.readFile(`/sys/bus/nd/devices/${path}`);
const ndctlError = (fn: () => unknown): NdctlError => {
  const e = kernelErrorOf(fn);
  if (!(e instanceof NdctlError)) throw e;
  return e;
};

describe('default_align() (drivers/nvdimm/region_devs.c, 6.1 and 6.12)', () => {
  it('16 MiB for 1, 2, 4 and 8 DIMMs, 96 MiB for 6 (16 MiB does not divide by 6)', () => {
    expect([1, 2, 4, 8].map((w) => defaultAlign(24n * G, w))).toEqual([16n * M, 16n * M, 16n * M, 16n * M]);
    expect(defaultAlign(24n * G, 6)).toBe(96n * M);
    expect(defaultAlign(24n * G, 3)).toBe(48n * M);
  });

  it('PAGE_SIZE for a region under 16 MiB (times the DIMMs when 4096 does not divide by them); no DIMM counts as one', () => {
    expect(defaultAlign(8n * M, 1)).toBe(4096n);
    expect(defaultAlign(12n * M, 6)).toBe(24576n);
    expect(defaultAlign(16n * M, 0)).toBe(16n * M);
    expect(() => defaultAlign(16n * M, -1)).toThrow(KernelError);
  });
});

describe('nd_region_available_dpa / nd_region_allocatable_dpa over several mappings (dpa_align = align / ways)', () => {
  it('a 24 GiB 6-way region with a 96 MiB namespace: 24 GiB - 96 MiB free, in one extent', () => {
    expect(regionCapacity(24n * G, [{ start: 0n, size: 96n * M }], 96n * M, 6)).toEqual({ availableSize: 25669140480n, maxAvailableExtent: 25669140480n });
  });

  it('a hole between two namespaces of a 4-way region: the larger extent, times the ways', () => {
    // per DIMM (256 MiB): busy [0, 4M) and [8M, 12M); free [4M, 8M) and [12M, 256M)
    const c = regionCapacity(1n * G, [{ start: 0n, size: 16n * M }, { start: 32n * M, size: 16n * M }], 16n * M, 4);
    expect(c).toEqual({ availableSize: 1n * G - 32n * M, maxAvailableExtent: 1n * G - 48n * M });
  });

  it('an align the DIMMs do not share evenly is dpa_align()\'s WARN: no capacity at all', () => {
    expect(regionCapacity(24n * G, [], 16n * M, 6)).toEqual({ availableSize: 0n, maxAvailableExtent: 0n });
  });
});

describe('createMachine({ interleaveWays }) refusals (EINVAL naming the region)', () => {
  const e820 = ISET.e820!;
  const refused = (ways: unknown, extra: Partial<MachineConfig> = {}) => kernelErrorOf(() => checkMachineConfig({ kernel: 'v6', e820, interleaveWays: ways as number[], ...extra }));

  it('not a positive integer, beyond ND_MAX_MAPPINGS (32), more regions than the machine has, not a list', () => {
    expect(refused([0]).message).toContain('interleaveWays[0] (the region of 25769803776 bytes, in address order): 0 is not a positive integer');
    expect(refused([6, 1.5]).message).toContain('interleaveWays[1] (the region of 8589934592 bytes, in address order): 1.5 is not a positive integer');
    expect(refused([33]).message).toContain('33 DIMMs exceed ND_MAX_MAPPINGS (32)');
    expect(refused([6, 2, 4, 8, 1]).message).toContain('interleaveWays names 5 regions, the machine has 4 Persistent Memory regions');
    expect(refused('6').message).toContain('is not a list of DIMM counts');
    for (const w of [[0], [33], [7], "6"]) expect(refused(w).code).toBe("EINVAL");
  });

  it('7 DIMMs cannot share 24 GiB in whole pages (nd_region_create: mapping not PAGE_SIZE aligned)', () => {
    expect(refused([7]).message).toContain('interleaveWays[0] (the region of 25769803776 bytes, in address order): 7 DIMMs do not split it into equal whole-page shares (needs a multiple of 28672 bytes)');
  });

  it('a regionAlign of 16 MiB over 6 DIMMs is not a power of two per DIMM (align_store); 96 MiB is', () => {
    expect(refused([6], { regionAlign: '16M' }).message).toContain('regionAlign 16777216 does not split over 6 DIMMs');
    expect(() => checkInterleaveWays([6], [24n * G], 96n * M)).not.toThrow();
    // beside a 6-way set, a 1-way region's align must be a power of two as well: 96 MiB is not
    expect(refused([6], { regionAlign: '96M' }).message).toContain('interleaveWays[1] (the region of 8589934592 bytes, in address order): regionAlign 100663296 does not split over 1 DIMM');
  });

  it('without interleave sets a given regionAlign keeps its old rule: 24K is refused, 48M (a multiple of 16 MiB) taken', () => {
    expect(refused([], { regionAlign: 24576 }).message).toBe('EINVAL: regionAlign 24576 is not a power of two nor a multiple of 16 MiB');
    expect(() => checkMachineConfig({ kernel: 'v6', e820, regionAlign: '48M' })).not.toThrow();
  });
});

for (const backend of BACKENDS) {
  describe(`a v6 machine of four interleave sets (6, 2, 4 and 8 DIMMs of 4 GiB) [${backend}]`, () => {
    let m: Machine;
    beforeAll(async () => {
      m = await createMachine({ ...ISET, backend });
    });
    afterAll(() => m.dispose());

    it('sysfs: align 0x6000000 for 6 DIMMs, 0x1000000 for 2, 4 and 8; mappings 6, 2, 4, 8', () => {
      expect([0, 1, 2, 3].map((r) => sys(m, `region${r}/align`))).toEqual(['0x6000000\n', '0x1000000\n', '0x1000000\n', '0x1000000\n']);
      expect([0, 1, 2, 3].map((r) => sys(m, `region${r}/mappings`))).toEqual(['6\n', '2\n', '4\n', '8\n']);
    });

    it('sysfs mappingN: nmemX,0,<4 GiB>,position, DIMMs counted on region by region (nmem0..nmem19)', () => {
      expect(sys(m, 'region0/mapping3')).toBe('nmem3,0,4294967296,3\n');
      expect(sys(m, 'region1/mapping1')).toBe('nmem7,0,4294967296,1\n');
      expect(sys(m, 'region2/mapping0')).toBe('nmem8,0,4294967296,0\n');
      expect(sys(m, 'region3/mapping7')).toBe('nmem19,0,4294967296,7\n');
      expect(m.listDir('/sys/bus/nd/devices/region0').filter((f) => f.startsWith('mapping'))).toEqual(['mapping0', 'mapping1', 'mapping2', 'mapping3', 'mapping4', 'mapping5', 'mappings']);
      const nmems = m.listDir('/sys/bus/nd/devices').filter((d) => d.startsWith('nmem'));
      expect(nmems.length).toBe(20);
      expect(sys(m, 'nmem19/dev')).toBe(`${sys(m, 'nmem0/dev').split(':')[0]}:19\n`);
    });

    it('set_cookie is the interleave set\'s (each set its own), and ndctl list -R shows it as iset_id', () => {
      const cookies = [0, 1, 2, 3].map((r) => sys(m, `region${r}/set_cookie`));
      expect(new Set(cookies).size).toBe(4);
      const regions = m.listRegions();
      for (const r of regions) expect(`0x${r.isetId!.toString(16)}\n`).toBe(sys(m, `${r.dev}/set_cookie`));
    });

    it('ndctl list -D lists all 20 DIMMs; list -RD prints each region\'s mappings last first', () => {
      const shown = JSON.parse(listDisplay(collectList(m, plan({ regions: true, dimms: true })), false)!);
      expect(shown.dimms.map((d: { dev: string }) => d.dev).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `nmem${i}`).sort());
      expect(shown.dimms.find((d: { dev: string }) => d.dev === 'nmem13')).toEqual({ dev: 'nmem13', id: '8680-63341200', handle: 14, phys_id: 13 });
      const r0 = shown.regions.find((r: { dev: string }) => r.dev === 'region0');
      expect(r0.mappings).toEqual([5, 4, 3, 2, 1, 0].map((k) => ({ dimm: `nmem${k}`, offset: 0, length: 4294967296, position: k })));
      expect(Object.keys(r0)).toEqual(['dev', 'size', 'align', 'available_size', 'max_available_extent', 'type', 'iset_id', 'mappings', 'persistence_domain']);
      expect([r0.size, r0.align, r0.available_size]).toEqual([25769803776, 100663296, 25769803776]);
      // -R without -D: no mappings (region_to_json breaks out of ndctl_mapping_foreach)
      const plain = JSON.parse(listDisplay(collectList(m, plan({ regions: true })), false)!);
      expect(plain.map((r: { dev: string }) => r.dev).sort()).toEqual(['region0', 'region1', 'region2', 'region3']);
      expect(plain.every((r: object) => !('mappings' in r))).toBe(true);
    });

    it('-r 2 -RD: region2 alone, with its DIMMs nmem8..nmem11 (filter_dimm by region)', () => {
      const shown = JSON.parse(listDisplay(collectList(m, plan({ regions: true, dimms: true, region: '2' })), false)!);
      expect(shown.regions.map((r: { dev: string }) => r.dev)).toEqual(['region2']);
      expect(shown.dimms.map((d: { dev: string }) => d.dev).sort()).toEqual(['nmem10', 'nmem11', 'nmem8', 'nmem9']);
    });

    it("create-namespace -r 0 -s 1G on 6 DIMMs: ndctl's 'align setting is 0x6000000' refusal, exit 234", () => {
      const e = ndctlError(() => m.createNamespace({ size: '1G', region: 0 }));
      expect(e.stderr).toBe('  Error: create namespace: region0: align setting is 0x6000000 size 0x40000000 is misaligned\n\n');
      expect(e.exitCode).toBe(234);
    });

    it("-r 0 -s 1536M -a 1G: 'must align to interleave-width: 6 and alignment: 1073741824', did you intend --size=6144M?", () => {
      const e = ndctlError(() => m.createNamespace({ size: '1536M', align: '1G', region: 0 }));
      expect(e.stderr).toBe("  Error: create namespace: '--size=' must align to interleave-width: 6 and alignment: 1073741824\ndid you intend --size=6144M?\n\n");
      expect(e.exitCode).toBe(234);
    });

    it('-r 0 -s 96M fsdax: one label on each of the 6 DIMMs, 6 DPA extents, 24 GiB - 96 MiB left', () => {
      const ns = m.createNamespace({ size: '96M', region: 0 });
      expect([ns.dev, ns.blockdev]).toEqual(['namespace0.0', 'pmem0']);
      expect(sys(m, 'namespace0.0/dpa_extents')).toBe('6\n');
      expect([0, 5, 6].map((n) => sys(m, `nmem${n}/available_slots`))).toEqual(['1018\n', '1018\n', '1019\n']);
      const r0 = m.listRegions().find((r) => r.dev === 'region0')!;
      expect([r0.availableSize, r0.maxAvailableExtent]).toEqual([25669140480n, 25669140480n]);
      expect(sys(m, 'region0/available_size')).toBe('25669140480\n');
    });

    it('-r 1 -s 16M devdax on 2 DIMMs (16 MiB align): created in region1 only', () => {
      const ns = m.createNamespace({ size: '16M', mode: 'devdax', region: 1 });
      expect(ns.dev).toBe('namespace1.0');
      const r1 = m.listRegions().find((r) => r.dev === 'region1')!;
      expect(r1.availableSize).toBe(8n * G - 16n * M);
    });

    it('no -r: ndctl_region_foreach in libndctl order (region1, region3, region0, region2), the first with room', () => {
      expect(m.createNamespace({ size: '16M' }).dev).toBe('namespace1.1');
      // region1 has 8 GiB - 32 MiB left: 8 GiB goes to region3
      expect(m.createNamespace({ size: '8G' }).dev).toBe('namespace3.0');
    });
  });
}

for (const backend of BACKENDS) {
  describe(`ndctl's interleave-width rule where the region align does not catch it first [${backend}]`, () => {
    it('v4.18 (no region align): -s 1G over 6 DIMMs, did you intend --size=6G?; -s 1000M, --size=1008M?; 1008M is created', async () => {
      const m = await createMachine({ ...SIX, kernel: 'v4.18', backend });
      try {
        expect(ndctlError(() => m.createNamespace({ size: '1G' })).stderr).toBe("  Error: create namespace: '--size=' must align to interleave-width: 6 and alignment: 2097152\ndid you intend --size=6G?\n\n");
        const e = ndctlError(() => m.createNamespace({ size: '1000M' }));
        expect(e.stderr).toBe("  Error: create namespace: '--size=' must align to interleave-width: 6 and alignment: 2097152\ndid you intend --size=1008M?\n\n");
        expect(e.exitCode).toBe(234);
        expect(m.createNamespace({ size: '1008M' }).dev).toBe('namespace0.0');
        expect(sys(m, 'region0/mappings')).toBe('6\n');
      } finally {
        m.dispose();
      }
    });

    it('v6 with regionAlign 24K (4 KiB per DIMM): -s 18M, did you intend --size=24M?', async () => {
      const m = await createMachine({ ...SIX, kernel: 'v6', regionAlign: 24576, backend });
      try {
        expect(sys(m, 'region0/align')).toBe('0x6000\n');
        expect(ndctlError(() => m.createNamespace({ size: '18M' })).stderr).toBe("  Error: create namespace: '--size=' must align to interleave-width: 6 and alignment: 2097152\ndid you intend --size=24M?\n\n");
      } finally {
        m.dispose();
      }
    });

    it('the planner sizes by the set: --usable 1G fsdax over 6 DIMMs is 1056 MiB raw (11 x the 96 MiB granule)', async () => {
      const r = await namespaceSizeFor({ usable: '1G', mode: 'fsdax', region: 0, machine: () => createMachine({ ...SIX, kernel: 'v6', backend }) });
      expect([r.raw, r.usable, r.granule]).toEqual([1107296256n, 1088421888n, 100663296n]);
    });

    it('v6.1: a 6-way region has the 96 MiB align too', async () => {
      const m = await createMachine({ ...SIX, kernel: 'v6.1', backend });
      try {
        expect(sys(m, 'region0/align')).toBe('0x6000000\n');
        expect(m.listRegions()[0]!.align).toBe(96n * M);
      } finally {
        m.dispose();
      }
    });
  });

  describe(`one DIMM per region stays as it was (interleaveWays: [1] is the default) [${backend}]`, () => {
    it('list -RD and region0\'s sysfs are byte-identical with and without interleaveWays: [1]', async () => {
      const e820 = [RAM, { start: 8n * G, size: 32n * G, type: 'Persistent Memory' as const }];
      const a = await createMachine({ kernel: 'v6', e820, backend });
      const b = await createMachine({ kernel: 'v6', e820, interleaveWays: [1], backend });
      try {
        const show = (m: Machine) => listDisplay(collectList(m, plan({ regions: true, dimms: true })), false);
        expect(show(b)).toBe(show(a));
        expect(JSON.parse(show(a)!).regions[0].mappings).toEqual([{ dimm: 'nmem0', offset: 0, length: 34359738368, position: 0 }]);
        for (const f of ['align', 'mappings', 'mapping0', 'set_cookie']) expect(sys(b, `region0/${f}`)).toBe(sys(a, `region0/${f}`));
        expect(sys(a, 'region0/mapping0')).toBe('nmem0,0,34359738368,0\n');
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  });
}
