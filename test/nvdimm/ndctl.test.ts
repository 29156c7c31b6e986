/**
 * ndctl 76.1's list and destroy-namespace forms (src/nvdimm/ndctl.ts, src/nvdimm/region.ts) against the
 * 6.12.117 recordings: the printer, the key order, libndctl's device order and the refusal texts.
 */
import { describe, expect, it } from 'vitest';
import { errorOf, realStep } from '../fixtures.ts';
import { stdMachine } from './std.ts';
import {
  busJson,
  destroyNotForced,
  dimmJson,
  mappingJson,
  destroyReport,
  destroyZeroingFailed,
  displayJsonArray,
  kernfsNameHash,
  libndctlOrder,
  listDisplay,
  namespaceFilter,
  namespaceVerbose,
  ndctlJsonString,
  regionFilter,
  regionJson,
  checkCreateNamespace,
  NdctlError,
} from '../../src/nvdimm/ndctl.ts';
import { availableDpa, isetCookie1, maxContiguousDpa, ndFletcher64, regionCapacity } from '../../src/nvdimm/region.ts';
import { KernelError } from '../../src/kernel/errno.ts';

const K = '6.12.117';
const step = (c: string, i: number) => realStep(K, c, i);
const text = (c: string, i: number) => step(c, i).stdout.replace(/\n$/, '');
/** The dev names of a JSON text, in the order ndctl printed them. */
const devs = (s: string, prefix: string) => [...s.matchAll(/"dev":"([^"]+)"/g)].map((m) => m[1]!).filter((d) => d.startsWith(prefix));

describe('libndctl device order (kernfs readdir by name hash, list_add at the head)', () => {
  it('seeds-destroy-middle-recreate step 9: namespace0.2, namespace0.3, namespace0.0', () => {
    const real = devs(step('seeds-destroy-middle-recreate', 9).stdout, 'namespace');
    expect(libndctlOrder(['namespace0.0', 'namespace0.2', 'namespace0.3'], (x) => x)).toEqual(real);
  });

  it('seeds-fsdax-3 step 7: newest first for three namespaces', () => {
    const real = devs(step('seeds-fsdax-3', 7).stdout, 'namespace');
    expect(libndctlOrder(['namespace0.0', 'namespace0.1', 'namespace0.2'], (x) => x)).toEqual(real);
  });

  it('ns-fsdax-dev-4G-listfull step 6: the seed namespace0.1 before namespace0.0', () => {
    expect(libndctlOrder(['namespace0.0', 'namespace0.1'], (x) => x)).toEqual(devs(step('ns-fsdax-dev-4G-listfull', 6).stdout, 'namespace'));
  });

  it('a1G-offset-devdax-dev-1G step 5: region1 before region0', () => {
    expect(libndctlOrder(['region0', 'region1'], (x) => x)).toEqual(devs(step('a1G-offset-devdax-dev-1G', 5).stdout, 'region'));
  });

  it('kernfs_name_hash stays in 2 .. INT_MAX-1 and refuses a non-string', () => {
    for (const n of ['', 'a', 'namespace0.0', 'region12']) {
      const h = kernfsNameHash(n);
      expect(h).toBeGreaterThanOrEqual(2);
      expect(h).toBeLessThan(0x7fffffff);
    }
    expect(() => kernfsNameHash(3 as unknown as string)).toThrow(KernelError);
  });
});

describe('util_display_json_array and list_display (ns-fsdax-dev-4G-listfull)', () => {
  it('step 5: one namespace without -u is an array', () => {
    const [ns] = JSON.parse(text('ns-fsdax-dev-4G-listfull', 5));
    expect(displayJsonArray([ns], false)).toBe(text('ns-fsdax-dev-4G-listfull', 5));
  });

  it('step 9: one namespace under -u is a bare object', () => {
    const ns = JSON.parse(text('ns-fsdax-dev-4G-listfull', 9));
    expect(displayJsonArray([ns], true)).toBe(text('ns-fsdax-dev-4G-listfull', 9));
  });

  it('step 8: one region under -u is a bare object; list_display prints a lone kind as its array', () => {
    const r = JSON.parse(text('ns-fsdax-dev-4G-listfull', 8));
    expect(listDisplay({ regions: [r] }, true)).toBe(text('ns-fsdax-dev-4G-listfull', 8));
  });

  it('step 6: dimms and regions together make the platform object; namespaces nest in their region', () => {
    const real = JSON.parse(text('ns-fsdax-dev-4G-listfull', 6), (k, v) => (k === 'iset_id' ? 10248187106440278n : v));
    const shown = listDisplay({ dimms: real.dimms, regions: real.regions, namespaces: real.regions[0].namespaces }, false);
    expect(shown).toBe(text('ns-fsdax-dev-4G-listfull', 6));
  });

  it('nothing collected prints nothing', () => {
    expect(listDisplay({}, false)).toBeNull();
  });
});

describe('region_to_json (ns-fsdax-dev-4G-listfull, a 4 GiB fsdax namespace in a 32 GiB region)', () => {
  const region = {
    dev: 'region0',
    size: 34357641216n,
    align: 16777216n,
    ...regionCapacity(34357641216n, [{ start: 0n, size: 4n << 30n }], 16777216n),
    isetId: 0x2468ac00123456n,
  };

  it('step 6: available_size and max_available_extent (nd_pmem_available_dpa, nd_pmem_max_contiguous_dpa)', () => {
    const real = JSON.parse(text('ns-fsdax-dev-4G-listfull', 6)).regions[0];
    expect(Number(region.availableSize)).toBe(real.available_size);
    expect(Number(region.maxAvailableExtent)).toBe(real.max_available_extent);
  });

  it('step 8 (-Ru): keys, order and human forms, iset_id in hex', () => {
    expect(ndctlJsonString(regionJson(region, { human: true, verbose: false, dax: false, idle: false }))).toBe(text('ns-fsdax-dev-4G-listfull', 8));
  });

  it('step 7 (-v): numa_node and target_node after type; iset_id beyond 2^53 printed exactly', () => {
    const j = regionJson({ ...region, numaNode: 0, targetNode: 0 }, { human: false, verbose: true, dax: false, idle: false });
    const real = step('ns-fsdax-dev-4G-listfull', 7).stdout;
    expect(Object.keys(j)).toEqual(['dev', 'size', 'align', 'available_size', 'max_available_extent', 'type', 'numa_node', 'target_node', 'iset_id', 'persistence_domain']);
    expect(real).toContain(`"iset_id":${ndctlJsonString(j.iset_id)},`);
    expect(ndctlJsonString(j.iset_id)).toBe('10248187106440278');
  });

  it('a1G-offset-devdax-dev-1G step 5: an empty 8 GiB region at 0x141000000 trims its end to the 16 MiB align', () => {
    const real = JSON.parse(text('a1G-offset-devdax-dev-1G', 5)).regions.find((r: { dev: string }) => r.dev === 'region1');
    expect(Number(availableDpa(BigInt(real.size), [], 16777216n))).toBe(real.available_size);
    expect(Number(maxContiguousDpa(BigInt(real.size), [], 16777216n))).toBe(real.max_available_extent);
  });

  it('refuses a busy range outside the region', () => {
    expect(() => availableDpa(1n << 30n, [{ start: 1n << 30n, size: 4096n }], 4096n)).toThrow(KernelError);
    expect(() => maxContiguousDpa(1n << 30n, [], 0n)).toThrow(KernelError);
  });
});

describe('util_namespace_to_json under -v (ns-fsdax-dev-4G-listfull step 7)', () => {
  it('raw_uuid after uuid, numa_node and target_node last', () => {
    const plain = JSON.parse(text('ns-fsdax-dev-4G-listfull', 5))[0];
    const real = JSON.parse(text('ns-fsdax-dev-4G-listfull', 7))[0].regions[0].namespaces.find((n: { dev: string }) => n.dev === 'namespace0.0');
    expect(ndctlJsonString(namespaceVerbose(plain, { rawUuid: real.raw_uuid, numaNode: 0, targetNode: 0 }))).toBe(ndctlJsonString(real));
  });
});

describe('util_region_filter and util_namespace_filter', () => {
  it('a region by name, by id, or all; a namespace by name or R.N', () => {
    expect(regionFilter('region1', 1, 'region1')).toBe(true);
    expect(regionFilter('region1', 1, '1')).toBe(true);
    expect(regionFilter('region1', 1, 'region0')).toBe(false);
    expect(regionFilter('region1', 1, 'all')).toBe(true);
    expect(namespaceFilter('namespace0.2', '0.2')).toBe(true);
    expect(namespaceFilter('namespace0.2', 'namespace0.1')).toBe(false);
  });
});

describe('destroy-namespace texts and exit codes', () => {
  it('refuse-destroy-no-force step 5: an active namespace without -f (exit 240)', () => {
    const real = step('refuse-destroy-no-force', 5);
    const r = destroyReport('EBUSY', 0, 0);
    expect(destroyNotForced('namespace0.0').stderr + r.stderr).toBe(real.stderr);
    expect(r.exitCode).toBe(real.exit);
  });

  it('refuse-destroy-missing step 4: a name that matched nothing (exit 250)', () => {
    const real = step('refuse-destroy-missing', 4);
    const r = destroyReport('ENXIO', 0, 0);
    expect(r.stderr).toBe(real.stderr);
    expect(r.exitCode).toBe(real.exit);
  });

  it('kmem-destroy-online step 6: the kernel says EBUSY while dax0.0 is System RAM (exit 240)', () => {
    const real = step('kmem-destroy-online', 6);
    const r = destroyReport('EBUSY', 0, 0);
    expect(r.stderr).toBe(real.stderr);
    expect(r.exitCode).toBe(real.exit);
  });

  it('refuse-destroy-twice step 6: an inactive namespace fails its zeroing and is destroyed (exit 0)', () => {
    const real = step('refuse-destroy-twice', 6);
    const r = destroyReport(null, 1, 1);
    expect(destroyZeroingFailed('namespace0.0') + r.stderr).toBe(real.stderr);
    expect(r.exitCode).toBe(real.exit);
  });

  it('refuse-destroy-twice step 5: one destroyed', () => {
    expect(destroyReport(null, 0, 1).stderr).toBe(step('refuse-destroy-twice', 5).stderr);
    expect(() => destroyReport(null, 0, -1)).toThrow(KernelError);
  });
});

describe('the NFIT side of list -BRDNiv (ns-fsdax-dev-4G-listfull step 7): bus, DIMM, mapping, interleave-set cookie', () => {
  const raw = step('ns-fsdax-dev-4G-listfull', 7).stdout;
  const bus = JSON.parse(raw)[0];

  it('util_bus_to_json and util_dimm_to_json: keys and order', () => {
    const d = bus.dimms[0];
    expect(ndctlJsonString(busJson({ provider: bus.provider, dev: bus.dev }))).toBe(ndctlJsonString({ provider: bus.provider, dev: bus.dev }));
    expect(Object.keys(bus).slice(0, 2)).toEqual(['provider', 'dev']);
    expect(ndctlJsonString(dimmJson({ dev: d.dev, id: d.id, handle: d.handle, physId: d.phys_id }, false))).toBe(ndctlJsonString(d));
  });

  it('util_mapping_to_json: dimm, offset, length, position', () => {
    const m = bus.regions[0].mappings[0];
    expect(ndctlJsonString(mappingJson({ dimm: m.dimm, offset: BigInt(m.offset), length: BigInt(m.length), position: m.position }, false))).toBe(ndctlJsonString(m));
  });

  it('regionJson under -v with mappings: the region\'s keys in ndctl\'s order', () => {
    const r = bus.regions[0];
    const j = regionJson(
      { dev: r.dev, size: BigInt(r.size), align: BigInt(r.align), availableSize: BigInt(r.available_size), maxAvailableExtent: BigInt(r.max_available_extent), numaNode: 0, targetNode: 0, isetId: 10248187106440278n, mappings: r.mappings.map((m: { dimm: string; offset: number; length: number; position: number }) => ({ ...m, offset: BigInt(m.offset), length: BigInt(m.length) })) },
      { human: false, verbose: true, dax: false, idle: false },
    );
    expect(Object.keys(j)).toEqual(Object.keys(r).filter((k) => k !== 'namespaces'));
  });

  it('iset_id is cookie1: nd_fletcher64 over { region_offset 0, the serial from the DIMM id }', () => {
    // nfit id_show prints be32_to_cpu(serial_number): "56341200" is the NFIT's 0x00123456
    const printed = /"id":"[0-9a-f]{4}-([0-9a-f]{8})"/.exec(raw)![1]!;
    const serial = Buffer.from(printed, 'hex').readUInt32LE(0);
    const iset = /"iset_id":(\d+)/.exec(raw)![1]!;
    expect(isetCookie1([{ regionOffset: 0n, serial }])).toBe(BigInt(iset));
  });

  it('ns-fsdax-dev-4G-listfull step 8 (-u): the cookie in hex', () => {
    const r = JSON.parse(text('ns-fsdax-dev-4G-listfull', 8));
    expect(`0x${isetCookie1([{ regionOffset: 0n, serial: 0x123456 }]).toString(16)}`).toBe(r.iset_id);
    // a1G-offset-devdax-dev-1G step 5: the second DIMM (QEMU's serial 0x123456 + slot) behind region1
    const iset1 = /"dev":"region1"[^}]*?"iset_id":(\d+)/s.exec(step('a1G-offset-devdax-dev-1G', 5).stdout)![1]!;
    expect(isetCookie1([{ regionOffset: 0n, serial: 0x123457 }])).toBe(BigInt(iset1));
    expect(() => ndFletcher64([2 ** 32])).toThrow(KernelError);
    expect(() => isetCookie1([])).toThrow(KernelError);
  });
});

describe('the machine\'s DIMM and region facts under ndctl list -RD (seeds-list-idle step 4)', () => {
  it('listDimms / listRegions: nmem0 (id, handle, phys_id), iset_id and mapping0 as /sys/bus/nd shows them', async () => {
    const m = await stdMachine('ts');
    try {
      const real = JSON.parse(realStep('6.12.117', 'seeds-list-idle', 4).stdout);
      expect(m.listDimms().map((d) => JSON.parse(ndctlJsonString(dimmJson(d, false))))).toEqual(real.dimms);
      const r = m.listRegions()[0]!;
      expect(Number(r.isetId)).toBe(real.regions[0].iset_id);
      expect(r.mappings.map((x) => JSON.parse(ndctlJsonString(mappingJson(x, false))))).toEqual(real.regions[0].mappings);
      expect(r.idleSeeds).toEqual(['namespace0.0']);
      // the same facts the region's sysfs attributes print
      expect(m.readFile('/sys/bus/nd/devices/region0/mapping0')).toBe(`${r.mappings[0]!.dimm},0,${r.mappings[0]!.length},0\n`);
      expect(m.readFile('/sys/bus/nd/devices/region0/set_cookie')).toBe(`0x${r.isetId!.toString(16)}\n`);
    } finally {
      m.dispose();
    }
  });
});

describe('validate_namespace_options over an interleave set (ndctl v76.1 ndctl/namespace.c; no fixture: QEMU builds none)', () => {
  const M = 1n << 20n;
  const G = 1n << 30n;
  const six = { align: 2n * M, available: 24n * G, interleaveWidth: 6, region: 'region0' };
  const refusal = (fn: () => unknown): NdctlError => errorOf(fn, NdctlError);

  it('6 DIMMs, align 96 MiB: -s 1G is refused by the region align check first (err(), exit 234)', () => {
    const e = refusal(() => checkCreateNamespace({ ...six, size: '1G', regionAlign: 96n * M }));
    expect(e.stderr).toBe('  Error: create namespace: region0: align setting is 0x6000000 size 0x40000000 is misaligned\n\n');
    expect(e.exitCode).toBe(234);
    expect(checkCreateNamespace({ ...six, size: '96M', regionAlign: 96n * M })).toBe(100663296n);
  });

  it('no region align (before 5.7): -s 1000M over 6 DIMMs, did you intend --size=1008M?; in bytes, the hint is in bytes', () => {
    expect(refusal(() => checkCreateNamespace({ ...six, size: '1000M', regionAlign: null })).stderr).toBe(
      "  Error: create namespace: '--size=' must align to interleave-width: 6 and alignment: 2097152\ndid you intend --size=1008M?\n\n",
    );
    expect(refusal(() => checkCreateNamespace({ ...six, size: 1n * G, regionAlign: null })).stderr).toBe(
      "  Error: create namespace: '--size=' must align to interleave-width: 6 and alignment: 2097152\ndid you intend --size=1082130432?\n\n",
    );
  });

  it('the default size (max_available_extent, 24 GiB - 96 MiB) with -a 1G over 6 DIMMs: did you intend --size=25769803776?', () => {
    const e = refusal(() => checkCreateNamespace({ ...six, align: 1n * G, available: 24n * G - 96n * M, regionAlign: 96n * M }));
    expect(e.stderr).toBe("  Error: create namespace: '--size=' must align to interleave-width: 6 and alignment: 1073741824\ndid you intend --size=25769803776?\n\n");
  });
});
