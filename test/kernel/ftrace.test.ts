/**
 * Issue 16: function_graph over the modelled kernel (src/kernel/ftrace.ts) and tracefs. The call trees are
 * checked against the real kernels' recorded traces (test/fixtures/real/<kernel>/trace-* /NN.trace, with
 * that step's NN.filter), durations and CPUs ignored (traceTree); v4.5 and v4.18 against their sources.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMachine, defaultE820, KernelError, type Machine } from '../../src/index.ts';
import { traceTree } from '../../src/oracle/compare.ts';
import { TRACEABLE } from '../../src/kernel/ftrace.ts';

const REAL = join(import.meta.dirname, '..', 'fixtures', 'real');
const real = (kernel: string, id: string, file: string) => readFileSync(join(REAL, kernel, id, file), 'utf8');
/** NN.filter as set_ftrace_filter printed it ("name [module]" lines): the names to write back. */
const filterOf = (kernel: string, id: string, step: string) =>
  real(kernel, id, `${step}.filter`)
    .split('\n')
    .map((l) => l.replace(/\s*\[.*\]$/, ''))
    .filter(Boolean);

const KERNELS = [
  ['6.12.117', 'v6'],
  ['6.1.192', 'v6.1'],
] as const;

/** A machine with 32 GiB of labelled pmem, as the trace-* cases' guests. */
const machine = (kernel: 'v6' | 'v6.1' | 'v4.5' | 'v4.18') => createMachine({ kernel, e820: defaultE820({ dramSize: 8n << 30n, pmemSize: 32n << 30n }) });

/** The namespace cases: ndctl create-namespace's options (step 04) and destroy-namespace (step 05). */
const CREATE: Array<[id: string, opts: Parameters<Machine['createNamespace']>[0]]> = [
  ['trace-fsdax-dev-a2M', { size: '2G', mode: 'fsdax', map: 'dev', align: '2M' }],
  ['trace-fsdax-dev-a1G', { size: '2G', mode: 'fsdax', map: 'dev', align: '1G' }],
  ['trace-fsdax-dev-a4K', { size: '1G', mode: 'fsdax', map: 'dev', align: '4K' }],
  ['trace-fsdax-mem-a2M', { size: '2G', mode: 'fsdax', map: 'mem', align: '2M' }],
  ['trace-fsdax-mem-a1G', { size: '2G', mode: 'fsdax', map: 'mem', align: '1G' }],
  ['trace-devdax-dev-a2M', { size: '2G', mode: 'devdax', map: 'dev', align: '2M' }],
  ['trace-devdax-dev-a1G', { size: '2G', mode: 'devdax', map: 'dev', align: '1G' }],
  ['trace-devdax-mem-a2M', { size: '2G', mode: 'devdax', map: 'mem', align: '2M' }],
  ['trace-devdax-mem-a1G', { size: '2G', mode: 'devdax', map: 'mem', align: '1G' }],
  ['trace-raw', { size: '1G', mode: 'raw' }],
  ['trace-sector', { size: '1G', mode: 'sector' }],
];

describe.each(KERNELS)('function_graph against the real %s traces', (kernel, profile) => {
  it.each(CREATE)('%s: create-namespace (04.trace) and destroy-namespace (05.trace) call for call', async (id, opts) => {
    const m = await machine(profile);
    const create = m.trace((x) => x.createNamespace(opts), filterOf(kernel, id, '04'));
    expect(traceTree(create)).toBe(traceTree(real(kernel, id, '04.trace')));
    const destroy = m.trace((x) => x.destroyNamespace('namespace0.0'), filterOf(kernel, id, '05'));
    expect(traceTree(destroy)).toBe(traceTree(real(kernel, id, '05.trace')));
  });

  it('trace-fsdax-dev-a2M: available_filter_functions is the real traceable.txt', async () => {
    const m = await machine(profile);
    expect(m.readFile('/sys/kernel/tracing/available_filter_functions')).toBe(real(kernel, 'trace-fsdax-dev-a2M', 'traceable.txt'));
  });
});

describe('what each kernel can trace', () => {
  it('trace-devdax-dev-a2M: 6.12 traces one sparse_add_section per 128 MiB section (16 for 2 GiB), each with one 2 MiB vmemmap block', async () => {
    const m = await machine('v6');
    const t = m.trace((x) => x.createNamespace({ size: '2G', mode: 'devdax', map: 'dev', align: '2M' }));
    expect(t.match(/\bsparse_add_section\(\) \{/g)).toHaveLength(16);
    expect(t.match(/\bvmemmap_alloc_block_buf\(\);/g)).toHaveLength(16);
    expect(t.match(/\bvmemmap_set_pmd\(\);/g)).toHaveLength(16);
    expect(t).not.toContain('vmem_altmap_offset'); // inlined on 6.12
  });

  it('trace-devdax-mem-a2M: a 2 MiB compound devmap section allocates 2 vmemmap pages per compound page (128 per section)', async () => {
    const m = await machine('v6');
    const t = traceTree(m.trace((x) => x.createNamespace({ size: '2G', mode: 'devdax', map: 'mem', align: '2M' }), ['sparse_add_section', 'vmemmap_alloc_block_buf', 'vmemmap_populate']));
    expect(t.match(/^ {2}vmemmap_alloc_block_buf$/gm)).toHaveLength(16 * 128);
    expect(t).not.toContain('vmemmap_populate');
  });

  it('trace-fsdax-dev-a2M on 6.1.192: __meminit functions are notrace, vmem_altmap_offset and vmem_altmap_free are seen', async () => {
    const m = await machine('v6.1');
    const create = m.trace((x) => x.createNamespace({ size: '2G', mode: 'fsdax', map: 'dev' }));
    for (const fn of ['sparse_add_section', 'vmemmap_populate', 'kernel_physical_mapping_init', 'memmap_init_range']) expect(create).not.toContain(`${fn}(`);
    // __add_pages' altmap check, move_pfn_range_to_zone's and memmap_init_zone_device's
    expect(create.match(/vmem_altmap_offset\(\);/g)).toHaveLength(3);
    const destroy = m.trace((x) => x.destroyNamespace('namespace0.0'));
    expect(destroy).not.toContain('remove_pagetable');
    expect(destroy.match(/vmem_altmap_free\(\);/g)).toHaveLength(16);
  });

  it('v4.5: devm_memremap_pages does the work itself (kernel/memremap.c): region_intersects, arch_add_memory -> init_memory_mapping, __add_pages', async () => {
    const m = await machine('v4.5');
    const t = traceTree(m.trace((x) => x.createNamespace({ size: '2G', mode: 'fsdax', map: 'dev' })));
    expect(t.split('(other tasks')[0]).toBe(
      [
        'nd_pmem_probe [nd_pmem] {',
        '  nvdimm_namespace_attach_pfn [nd_pmem] {',
        '    nd_pfn_validate [libnvdimm]',
        '    devm_memremap_pages {',
        '      region_intersects',
        '      arch_add_memory {',
        '        init_memory_mapping',
        '        __add_pages',
        '',
      ].join('\n'),
    );
    expect(t).not.toMatch(/(^|\s)memremap_pages \{|pagemap_range|get_dev_pagemap|memmap_init_zone_device/m);
    // the release: __remove_pages -> __remove_section -> sparse_remove_one_section -> vmemmap_free (v4.5's free_pagetable gives the block to the altmap)
    const d = traceTree(m.trace((x) => x.destroyNamespace('namespace0.0'), ['devm_memremap_pages_release', 'arch_remove_memory', '__remove_pages', 'sparse_remove_one_section', 'vmemmap_free', 'vmem_altmap_free']));
    expect(d.startsWith('devm_memremap_pages_release {\n  arch_remove_memory {\n    __remove_pages {\n      sparse_remove_one_section {\n        vmemmap_free {\n          vmem_altmap_free')).toBe(true);
    expect(d.match(/sparse_remove_one_section/g)).toHaveLength(16);
  });

  it('v4.18: devm_memremap_pages checks get_dev_pagemap twice, hot-adds through add_pages and initialises in move_pfn_range_to_zone (no memmap_init_zone_device before 4.20)', async () => {
    const m = await machine('v4.18');
    const tree = traceTree(m.trace((x) => x.createNamespace({ size: '2G', mode: 'fsdax', map: 'dev' }))).split('\n');
    // devm_memremap_pages' subtree, dedented
    const at = tree.findIndex((l) => l.trim() === 'devm_memremap_pages {');
    const indent = tree[at]!.indexOf('d');
    const end = tree.findIndex((l, i) => i > at && l.search(/\S/) <= indent);
    const t = tree.slice(at, end).map((l) => l.slice(indent)).join('\n');
    expect(t).toBe(
      [
        'devm_memremap_pages {',
        '  get_dev_pagemap',
        '  get_dev_pagemap',
        '  region_intersects',
        '  arch_add_memory {',
        '    init_memory_mapping',
        '    add_pages {',
        '      __add_pages {',
        '        vmem_altmap_offset',
        '  move_pfn_range_to_zone',
      ].join('\n'),
    );
    expect(m.readFile('/sys/kernel/tracing/available_filter_functions')).not.toMatch(/^(memremap_pages|sparse_add_section|vmemmap_populate)$/m);
  });

  it('every profile lists each function once, with the module ftrace prints', () => {
    for (const [name, list] of Object.entries(TRACEABLE)) {
      expect(new Set(list.map(([n]) => n)).size, name).toBe(list.length);
    }
    expect(TRACEABLE.v6.find(([n]) => n === 'nd_pmem_probe')?.[1]).toBe('nd_pmem');
    expect(TRACEABLE.v6.find(([n]) => n === 'dev_dax_probe')?.[1]).toBe('device_dax');
  });
});

describe('tracefs (/sys/kernel/tracing)', () => {
  const T = '/sys/kernel/tracing';

  it('the format line for line: header, CPU column, blank duration, two spaces per depth, funcgraph-tail', async () => {
    const m = await machine('v6');
    m.writeFile(`${T}/set_ftrace_filter`, 'nd_namespace_pmem_set_resource devm_nsio_enable region_intersects\n');
    m.writeFile(`${T}/current_tracer`, 'function_graph\n');
    m.createNamespace({ size: '1G', mode: 'raw' });
    const lines = m.readFile(`${T}/trace`).split('\n');
    expect(lines.slice(0, 9)).toEqual([
      '# tracer: function_graph',
      '#',
      '# CPU  DURATION                  FUNCTION CALLS',
      '# |     |   |                     |   |   |   |',
      ' 0)               |  nd_namespace_pmem_set_resource [libnvdimm]();',
      ' 0)               |  devm_nsio_enable [libnvdimm]() {',
      ' 0)               |    region_intersects();',
      ' 0)               |    region_intersects();',
      ' 0)               |  }',
    ]);
    m.writeFile(`${T}/options/funcgraph-tail`, '1\n');
    m.writeFile(`${T}/trace`, '\n');
    expect(m.readFile(`${T}/trace`).split('\n')).toHaveLength(5); // the header alone
    m.destroyNamespace('namespace0.0');
    expect(m.readFile(`${T}/trace`)).toContain(' 0)               |  } /* devm_nsio_enable [libnvdimm] */\n');
  });

  it('set_ftrace_filter: a write replaces, append adds, reads back with modules; an unknown name is EINVAL and changes nothing', async () => {
    const m = await machine('v6');
    expect(m.readFile(`${T}/set_ftrace_filter`)).toBe('#### all functions enabled ####\n');
    m.writeFile(`${T}/set_ftrace_filter`, 'nd_pmem_probe\n');
    m.writeFile(`${T}/set_ftrace_filter`, 'memremap_pages\n', { append: true });
    expect(m.readFile(`${T}/set_ftrace_filter`)).toBe('memremap_pages\nnd_pmem_probe [nd_pmem]\n');
    expect(() => m.writeFile(`${T}/set_ftrace_filter`, 'region_intersects no_such_function\n')).toThrow(KernelError);
    try {
      m.writeFile(`${T}/set_ftrace_filter`, 'pagemap_range\n'); // inlined into memremap_pages on 6.12
    } catch (e) {
      expect((e as KernelError).code).toBe('EINVAL');
    }
    expect(m.readFile(`${T}/set_ftrace_filter`)).toBe('memremap_pages\nnd_pmem_probe [nd_pmem]\n');
    m.writeFile(`${T}/set_ftrace_filter`, 'vmemmap_populate*\n');
    expect(m.readFile(`${T}/set_ftrace_filter`)).toBe('vmemmap_populate\nvmemmap_populate_basepages\nvmemmap_populate_hugepages\n');
    // 6.1: vmemmap_populate is __meminit, notrace
    const old = await machine('v6.1');
    expect(() => old.writeFile(`${T}/set_ftrace_filter`, 'vmemmap_populate\n')).toThrow(/not in available_filter_functions/);
  });

  it('current_tracer takes nop and function_graph only; tracing_on 0 and nop record nothing; max_graph_depth 1 keeps the top level', async () => {
    const m = await machine('v6');
    expect(m.readFile(`${T}/current_tracer`)).toBe('nop\n');
    expect(() => m.writeFile(`${T}/current_tracer`, 'function\n')).toThrow(KernelError);
    m.createNamespace({ size: '1G', mode: 'raw' });
    expect(m.readFile(`${T}/trace`)).toMatch(/^# tracer: nop\n/);
    m.writeFile(`${T}/current_tracer`, 'function_graph\n');
    m.writeFile(`${T}/tracing_on`, '0\n');
    m.destroyNamespace('namespace0.0');
    expect(m.readFile(`${T}/trace`).split('\n')).toHaveLength(5);
    m.writeFile(`${T}/tracing_on`, '1\n');
    m.writeFile(`${T}/max_graph_depth`, '1\n');
    m.createNamespace({ size: '2G', mode: 'fsdax' });
    const body = m.readFile(`${T}/trace`).split('\n').filter((l) => l.startsWith(' 0)') && l.includes('|'));
    // namespace0.0 (idle again) is configured, so only the pfn seed is replaced: one async probe, of pfn0.1
    expect(body.map((l) => l.slice(l.indexOf('|') + 1))).toEqual(['  nd_namespace_pmem_set_resource [libnvdimm]();', '  nd_pmem_probe [nd_pmem]();', '  nd_pmem_probe [nd_pmem]();']);
    expect(() => m.writeFile(`${T}/max_graph_depth`, '-1\n')).toThrow(KernelError);
  });

  it('trace-fsdax-dev-a2M on v6: onCall sees every traced entry and return as it is written, with the altmap filling in section by section', async () => {
    const m = await machine('v6');
    const GiB = 1n << 30n;
    const pmem = m.e820.find((e) => e.type === 'Persistent Memory')!.start;
    const seen: string[] = [];
    const alloc: number[] = [];
    const t = m.trace(
      (x) => x.createNamespace({ size: '2G', mode: 'fsdax', map: 'dev', align: '2M' }),
      undefined,
      {
        onCall: (kind, fn, depth) => {
          seen.push(`${kind} ${fn} ${depth}`);
          // the pgmap is in the lookup from before arch_add_memory (stats().devices lists it once memremap_pages returns)
          if (kind === 'exit' && fn === 'sparse_add_section') alloc.push(m.findDevPagemap(pmem + GiB)?.altmap?.alloc ?? -1);
        },
      },
    );
    // one event per entry the buffer holds: a `{` line is an enter, a `}` an exit, a `();` line both
    const body = t.split('\n').filter((l) => l.startsWith(' 0)') && l.includes('|'));
    const events = body.reduce((n, l) => n + (l.endsWith('();') ? 2 : 1), 0);
    expect(seen.filter((e) => !e.startsWith('switch'))).toHaveLength(events);
    expect(seen.filter((e) => e.startsWith('switch'))).toEqual(['switch kworker-29 0']);
    expect(seen[0]).toBe('enter nd_namespace_pmem_set_resource 0');
    // 16 sections of 2 GiB; with an observer the model populates them one at a time, as the kernel does, so the
    // i-th sparse_add_section returns with i blocks of 512 pages of the altmap taken
    expect(alloc).toHaveLength(16);
    expect(alloc).toEqual(Array.from({ length: 16 }, (_, i) => (i + 1) * 512));
    // and the trace is the same as without an observer
    const plain = (await machine('v6')).trace((x) => x.createNamespace({ size: '2G', mode: 'fsdax', map: 'dev', align: '2M' }));
    expect(traceTree(t)).toBe(traceTree(plain));
    expect(() => m.trace(() => 0, undefined, { onCall: 3 as unknown as () => void })).toThrow(KernelError);
  });

  it('machine.trace validates its arguments and restores the settings it changed', async () => {
    const m = await machine('v6');
    expect(() => m.trace(() => 0, ['nd_pmem_probe', 'bogus'])).toThrow(/bogus/);
    expect(() => m.trace('x' as unknown as () => void)).toThrow(KernelError);
    m.trace((x) => x.createNamespace({ size: '1G', mode: 'raw' }), ['nd_pmem_probe']);
    expect(m.readFile(`${T}/current_tracer`)).toBe('nop\n');
    expect(m.readFile(`${T}/set_ftrace_filter`)).toBe('#### all functions enabled ####\n');
  });
});

describe("function_graph's trampoline and the direct map", () => {
  const dm = (text: string) => Object.fromEntries([...text.matchAll(/^(DirectMap\w+):\s+(\d+) kB/gm)].map((x) => [x[1]!, Number(x[2])]));
  const delta = (a: string, b: string) => {
    const x = dm(a);
    const y = dm(b);
    return Object.fromEntries(Object.keys(y).map((k) => [k, y[k]! - x[k]!]));
  };

  it('trace-raw step 4 (6.12.117): starting function_graph splits one 2 MiB page of the direct map, once per boot', async () => {
    const m = await machine('v6');
    const before = m.readFile('/proc/meminfo');
    m.trace((x) => x.createNamespace({ size: '1G', mode: 'raw' }), filterOf('6.12.117', 'trace-raw', '04'));
    const after = m.readFile('/proc/meminfo');
    // the real step's change, from its recorded meminfo (03 -> 04)
    expect(delta(before, after)).toEqual(delta(real('6.12.117', 'trace-raw', '03.meminfo'), real('6.12.117', 'trace-raw', '04.meminfo')));
    expect(delta(before, after)).toEqual({ DirectMap4k: 2048, DirectMap2M: -2048, DirectMap1G: 0 });
    // the destroy (step 5) starts the tracer again: nothing more is split
    m.trace((x) => x.destroyNamespace('namespace0.0'), filterOf('6.12.117', 'trace-raw', '05'));
    expect(dm(m.readFile('/proc/meminfo'))).toEqual(dm(after));
  });

  it('trace-raw (6.1.192): the v6.1 profile does not split (6.1.192 did in 5 of 16 recorded runs, where its trampoline landed)', async () => {
    const m = await machine('v6.1');
    const before = dm(m.readFile('/proc/meminfo'));
    m.trace((x) => x.createNamespace({ size: '1G', mode: 'raw' }), filterOf('6.1.192', 'trace-raw', '04'));
    expect(dm(m.readFile('/proc/meminfo'))).toEqual(before);
  });
});
