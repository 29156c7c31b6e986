/**
 * The oracle's case set: machines and the ndctl/daxctl/sysfs steps run on them, each case with a stable
 * id that tests and pending tables name. Every case is recorded on both real kernels (6.12 and 6.1)
 * unless it says otherwise. Machines (QEMU `pc`, TCG):
 *
 *   STD        2 GiB RAM, one labelled 32 GiB NVDIMM at 0x100000000 (region0: 32 GiB - 2 MiB of label room)
 *   TWO        2 GiB RAM, two labelled 8 GiB NVDIMMs (region0, region1)
 *   LL_*       label-less NVDIMMs: one raw namespaceN.0 per region, reconfigured with -e ... -f
 *   MIS        a label-less 1030 MiB DIMM, then a labelled 8 GiB one at 0x140600000 (not 1 GiB aligned)
 *   SOFTRES    8 GiB RAM with memmap=2G%0x140000000+0xefffffff (Soft Reserved, dax_hmem)
 *   LEGACY     8 GiB RAM with memmap=2G!0x140000000 (e820 type 12, nd_e820)
 *   NUMA2      2 GiB RAM as two 1 GiB nodes (the CPU on node 0), one labelled 8 GiB NVDIMM on node 1
 *   NUMA4      2 GiB RAM as four 512 MiB nodes, the NVDIMM on node 3
 */
import type { OracleCase, OracleDimm, OracleMachine, OracleProfile, OracleStep } from './types.ts';

// ------------------------------------------------------------------------------------ machines

const dimm = (size: string, o: Partial<OracleDimm> = {}): OracleDimm => ({ size, ...o });
export const STD: OracleMachine = { ram: '2G', dimms: [dimm('32G')] };
export const TWO: OracleMachine = { ram: '2G', dimms: [dimm('8G'), dimm('8G')] };
export const LL: OracleMachine = { ram: '2G', dimms: [dimm('4G', { labels: false })] };
export const LL_ODD: OracleMachine = { ram: '2G', dimms: [dimm('1030M', { labels: false })] };
export const LL_SMALL: OracleMachine = { ram: '2G', dimms: [dimm('130M', { labels: false })] };
/** Two label-less DIMMs: the second starts at 0x140600000 (4 GiB + 1030 MiB). */
export const LL_MIS: OracleMachine = { ram: '2G', dimms: [dimm('1030M', { labels: false }), dimm('4G', { labels: false })] };
/** A label-less DIMM placed 2 MiB above the 4 GiB boundary. */
export const LL_ADDR: OracleMachine = { ram: '2G', dimms: [dimm('2G', { labels: false, addr: '0x100200000' })] };
/** Label-less 1030 MiB, then a labelled 8 GiB DIMM whose region starts at 0x140600000 (not even 16 MiB aligned). */
export const MIS: OracleMachine = { ram: '2G', dimms: [dimm('1030M', { labels: false }), dimm('8G')] };
/** Label-less 1040 MiB, then a labelled 8 GiB DIMM whose region starts at 0x141000000: 16 MiB aligned, not 1 GiB. */
export const MIS16: OracleMachine = { ram: '2G', dimms: [dimm('1040M', { labels: false }), dimm('8G')] };
/** Label-less 1030 MiB, then a label-less 1 GiB DIMM at 0x140600000. */
export const LL_1G: OracleMachine = { ram: '2G', dimms: [dimm('1030M', { labels: false }), dimm('1G', { labels: false })] };
export const BIGRAM: OracleMachine = { ram: '4G', dimms: [dimm('72G')] };
export const TINYRAM: OracleMachine = { ram: '1G', dimms: [dimm('80G')] };
const SOFTRES_CMD = 'memmap=2G%0x140000000+0xefffffff';
export const SOFTRES: OracleMachine = { ram: '8G', dimms: [], cmdline: [SOFTRES_CMD] };
export const LEGACY: OracleMachine = { ram: '8G', dimms: [], cmdline: ['memmap=2G!0x140000000'] };
/** Two NUMA nodes of 1 GiB; the NVDIMM's NFIT range is node 1's (QEMU `-numa`, `nvdimm,node=1`). */
export const NUMA2: OracleMachine = { ram: '2G', nodes: ['1G', '1G'], dimms: [dimm('8G', { node: 1 })] };
/** Four NUMA nodes of 512 MiB (the CPU on node 0), the NVDIMM on node 3: find_next_best_node's tie-breaks. */
export const NUMA4: OracleMachine = { ram: '2G', nodes: ['512M', '512M', '512M', '512M'], dimms: [dimm('8G', { node: 3 })] };
const MOM = 'memory_hotplug.memmap_on_memory=1';
const withCmdline = (m: OracleMachine, ...cmd: string[]): OracleMachine => ({ ...m, cmdline: [...(m.cmdline ?? []), ...cmd] });

// ------------------------------------------------------------------------------------- steps

interface Create {
  size?: string;
  mode?: string;
  map?: string;
  align?: string;
  region?: string;
  reconfig?: string;
  sector?: string;
  extra?: string;
}

/** `ndctl create-namespace` with the flags given, in a fixed order. */
export function create(o: Create): string {
  const a = ['ndctl create-namespace'];
  if (o.reconfig) a.push(`-e ${o.reconfig}`);
  if (o.region) a.push(`-r ${o.region}`);
  if (o.size) a.push(`-s ${o.size}`);
  if (o.mode) a.push(`-m ${o.mode}`);
  if (o.map) a.push(`-M ${o.map}`);
  if (o.align) a.push(`-a ${o.align}`);
  if (o.sector) a.push(`-l ${o.sector}`);
  if (o.reconfig) a.push('-f');
  if (o.extra) a.push(o.extra);
  return a.join(' ');
}

const s = (run: string, o: Partial<OracleStep> = {}): OracleStep => ({ run, ...o });
const LIST_N = s('ndctl list -N');
const LIST_FULL = s('ndctl list -RNDXi');
const DAX_LIST = s('daxctl list -RDMi');
const destroy = (dev: string, o: Partial<OracleStep> = {}) => s(`ndctl destroy-namespace -f ${dev}`, o);
const DESTROY_ALL = s('ndctl destroy-namespace -f all');

// -------------------------------------------------------------------------------------- cases

const cases: OracleCase[] = [];
function add(c: OracleCase): void {
  cases.push(c);
}

// ---- sizes, modes, maps, aligns on the standard machine: create, list, destroy

function nsCase(id: string, title: string, tags: string[], o: Create, machine = STD, extra: OracleStep[] = []): OracleCase {
  const mode = o.mode ?? 'fsdax';
  return {
    id,
    title,
    tags,
    machine,
    steps: [s(create(o)), ...(mode === 'devdax' || mode === 'dax' ? [LIST_N, DAX_LIST] : [LIST_N]), ...extra, destroy('namespace0.0')],
  };
}

for (const size of ['32M', '64M', '128M', '256M', '512M', '1G', '1008M', '2G', '4G', '8G', '16G', '31G']) {
  add(nsCase(`ns-fsdax-dev-${size}`, `fsdax, map=dev, ${size}`, ['sizes', 'fsdax', 'map-dev'], { size, mode: 'fsdax', map: 'dev' }));
}
for (const size of ['64M', '1G', '4G', '16G']) {
  add(nsCase(`ns-fsdax-mem-${size}`, `fsdax, map=mem, ${size}`, ['sizes', 'fsdax', 'map-mem'], { size, mode: 'fsdax', map: 'mem' }));
  add(nsCase(`ns-devdax-dev-${size}`, `devdax, map=dev, ${size}`, ['sizes', 'devdax', 'map-dev'], { size, mode: 'devdax', map: 'dev' }));
  add(nsCase(`ns-devdax-mem-${size}`, `devdax, map=mem, ${size} (compound devmap, 2 MiB)`, ['sizes', 'devdax', 'map-mem', 'compound'], { size, mode: 'devdax', map: 'mem' }));
}
for (const mode of ['fsdax', 'devdax']) {
  for (const map of ['dev', 'mem']) {
    for (const align of ['4K', '2M', '1G']) {
      add(nsCase(`ns-${mode}-${map}-4G-a${align}`, `${mode}, map=${map}, 4 GiB, align ${align}`, ['aligns', mode, `map-${map}`, ...(mode === 'devdax' && map === 'mem' ? ['compound'] : [])], { size: '4G', mode, map, align }));
    }
  }
}
add(nsCase('ns-devdax-mem-16G-a1G', 'devdax, map=mem, 16 GiB, align 1G (compound devmap, 1 GiB)', ['aligns', 'devdax', 'map-mem', 'compound'], { size: '16G', mode: 'devdax', map: 'mem', align: '1G' }));
add(nsCase('ns-fsdax-mem-64G', 'fsdax, map=mem, 64 GiB (1 GiB of memmap in DRAM, 4 GiB RAM)', ['sizes', 'fsdax', 'map-mem'], { size: '64G', mode: 'fsdax', map: 'mem' }, BIGRAM));
add(nsCase('ns-fsdax-dev-64G', 'fsdax, map=dev, 64 GiB', ['sizes', 'fsdax', 'map-dev'], { size: '64G', mode: 'fsdax', map: 'dev' }, BIGRAM));
for (const size of ['16M', '1G', '4G', '16G']) {
  add(nsCase(`ns-raw-${size}`, `raw, ${size}`, ['sizes', 'raw'], { size, mode: 'raw' }));
}
for (const size of ['16M', '1G', '4G']) {
  add(nsCase(`ns-sector-${size}`, `sector (btt), ${size}`, ['sizes', 'sector'], { size, mode: 'sector' }));
}
add(nsCase('ns-sector-1G-l4096', 'sector (btt), 1 GiB, 4096-byte sectors', ['sizes', 'sector'], { size: '1G', mode: 'sector', sector: '4096' }));
add(nsCase('ns-fsdax-dev-all', 'fsdax, map=dev, the whole region (no -s)', ['sizes', 'fsdax', 'map-dev'], { mode: 'fsdax', map: 'dev' }));
add(nsCase('ns-fsdax-mem-all', 'fsdax, map=mem, the whole region', ['sizes', 'fsdax', 'map-mem'], { mode: 'fsdax', map: 'mem' }));
add(nsCase('ns-devdax-dev-all', 'devdax, map=dev, the whole region', ['sizes', 'devdax', 'map-dev'], { mode: 'devdax', map: 'dev' }));
add(nsCase('ns-devdax-mem-all', 'devdax, map=mem, the whole region', ['sizes', 'devdax', 'map-mem', 'compound'], { mode: 'devdax', map: 'mem' }));
add(nsCase('ns-raw-all', 'raw, the whole region', ['sizes', 'raw'], { mode: 'raw' }));
add(nsCase('ns-fsdax-default-map-4G', 'fsdax without -M (ndctl picks map=dev)', ['sizes', 'fsdax', 'defaults'], { size: '4G', mode: 'fsdax' }));
add(nsCase('ns-default-mode-4G', 'no -m (ndctl picks fsdax)', ['sizes', 'defaults'], { size: '4G' }));
add(nsCase('ns-mode-memory-alias-1G', '-m memory (the old name of fsdax)', ['modes', 'defaults'], { size: '1G', mode: 'memory' }));
add(nsCase('ns-mode-dax-alias-1G', '-m dax (the old name of devdax)', ['modes', 'devdax', 'defaults'], { size: '1G', mode: 'dax' }));
add(nsCase('ns-fsdax-dev-4G-listfull', 'fsdax map=dev 4 GiB, then ndctl list -RNDXi and -BRDNiv', ['list-forms', 'fsdax'], { size: '4G', mode: 'fsdax', map: 'dev' }, STD, [LIST_FULL, s('ndctl list -BRDNiv'), s('ndctl list -Ru'), s('ndctl list -N -u')]));
add(nsCase('ns-devdax-mem-4G-listfull', 'devdax map=mem 4 GiB, then every list form', ['list-forms', 'devdax'], { size: '4G', mode: 'devdax', map: 'mem' }, STD, [LIST_FULL, s('ndctl list -X'), s('daxctl list'), s('daxctl list -R'), s('daxctl list -D -u')]));

// ---- refusals: ndctl's own and the kernel's

function refuse(id: string, title: string, run: string, machine = STD, after: OracleStep[] = [LIST_N]): OracleCase {
  return { id, title, tags: ['refusals'], machine, steps: [s(run), ...after] };
}
add(refuse('refuse-oversize-64G', '-s 64G on a 32 GiB region', create({ size: '64G', mode: 'fsdax', map: 'dev' })));
add(refuse('refuse-oversize-32G', '-s 32G: the region is 32 GiB - 2 MiB', create({ size: '32G', mode: 'fsdax', map: 'dev' })));
add(refuse('refuse-size-1000M', '-s 1000M: not a multiple of the 16 MiB region align', create({ size: '1000M', mode: 'fsdax', map: 'dev' })));
add(refuse('refuse-size-4097', '-s 4097: not page sized', create({ size: '4097', mode: 'fsdax' })));
add(refuse('refuse-size-12K', '-s 12K: below the region align', create({ size: '12K', mode: 'fsdax' })));
add(refuse('refuse-size-zero', '-s 0', create({ size: '0', mode: 'fsdax' })));
add(refuse('refuse-size-junk', '-s 12Q: not a size', create({ size: '12Q', mode: 'fsdax' })));
add(refuse('refuse-align-3M', '-a 3M: not a power of two', create({ size: '4G', mode: 'fsdax', map: 'dev', align: '3M' })));
add(refuse('refuse-align-16M', '-a 16M: a power of two the kernel does not support', create({ size: '4G', mode: 'fsdax', map: 'dev', align: '16M' })));
add(refuse('refuse-align-8K', '-a 8K', create({ size: '4G', mode: 'fsdax', map: 'dev', align: '8K' })));
add(refuse('refuse-align-2K', '-a 2K: below 4096', create({ size: '4G', mode: 'fsdax', map: 'dev', align: '2K' })));
add(refuse('refuse-align-4G', '-a 4G', create({ size: '8G', mode: 'fsdax', map: 'dev', align: '4G' })));
add(refuse('refuse-devdax-align-3M', 'devdax -a 3M', create({ size: '4G', mode: 'devdax', map: 'mem', align: '3M' })));
add(refuse('refuse-devdax-align-16M', 'devdax -a 16M', create({ size: '4G', mode: 'devdax', map: 'mem', align: '16M' })));
add(refuse('refuse-raw-align-2M', '-m raw -a 2M', create({ size: '1G', mode: 'raw', align: '2M' })));
add(refuse('refuse-raw-map-dev', '-m raw -M dev', create({ size: '1G', mode: 'raw', map: 'dev' })));
add(refuse('refuse-sector-align-2M', '-m sector -a 2M', create({ size: '1G', mode: 'sector', align: '2M' })));
add(refuse('refuse-sector-map-dev', '-m sector -M dev', create({ size: '1G', mode: 'sector', map: 'dev' })));
add(refuse('refuse-sector-l-1000', '-m sector -l 1000: not a BTT sector size', create({ size: '1G', mode: 'sector', sector: '1000' })));
add(refuse('refuse-mode-bogus', '-m bogus', create({ size: '1G', mode: 'bogus' })));
add(refuse('refuse-map-bogus', '-M bogus', create({ size: '1G', mode: 'fsdax', map: 'bogus' })));
add(refuse('refuse-region-bogus', '-r region9', create({ size: '1G', mode: 'fsdax', region: 'region9' })));
add(refuse('refuse-fsdax-dev-16M-a1G', '-s 16M -a 1G: the align exceeds the namespace', create({ size: '16M', mode: 'fsdax', map: 'dev', align: '1G' })));
add(refuse('refuse-devdax-dev-1G-a1G', 'devdax map=dev -s 1G -a 1G: no 1 GiB page fits after the info block and memmap', create({ size: '1G', mode: 'devdax', map: 'dev', align: '1G' })));
add(refuse('refuse-fsdax-dev-16M', 'fsdax map=dev -s 16M: the smallest pfn namespace', create({ size: '16M', mode: 'fsdax', map: 'dev' }), STD, [LIST_N, destroy('namespace0.0')]));
add({ id: 'refuse-no-space', title: 'the region is full: a second create', tags: ['refusals'], machine: STD, steps: [s(create({ mode: 'fsdax', map: 'dev' })), s(create({ size: '1G', mode: 'fsdax', map: 'dev' })), LIST_N, destroy('namespace0.0')] });
add({ id: 'refuse-no-space-after-3', title: 'three 10 GiB namespaces, then 4 GiB more does not fit', tags: ['refusals', 'seeds'], machine: STD, steps: [s(create({ size: '10G' })), s(create({ size: '10G' })), s(create({ size: '10G' })), s(create({ size: '4G' })), LIST_N, DESTROY_ALL] });
add(refuse('refuse-destroy-missing', 'destroy-namespace of a namespace that does not exist', 'ndctl destroy-namespace -f namespace0.9'));
add({ id: 'refuse-destroy-no-force', title: 'destroy-namespace of an active namespace without -f', tags: ['refusals'], machine: STD, steps: [s(create({ size: '1G' })), s('ndctl destroy-namespace namespace0.0'), LIST_N, destroy('namespace0.0')] });
add({ id: 'refuse-destroy-twice', title: 'destroy-namespace twice', tags: ['refusals'], machine: STD, steps: [s(create({ size: '1G' })), destroy('namespace0.0'), destroy('namespace0.0'), LIST_N] });
add(refuse('refuse-reconfig-missing', '-e namespace0.5 (no such namespace)', create({ reconfig: 'namespace0.5', mode: 'fsdax' })));
add(refuse('refuse-map-mem-enomem', 'map=mem 64 GiB with 1 GiB of RAM: the memmap does not fit', create({ size: '64G', mode: 'fsdax', map: 'mem' }), TINYRAM, [LIST_N, DESTROY_ALL]));
for (const [mode, map] of [['fsdax', 'dev'], ['fsdax', 'mem'], ['devdax', 'dev'], ['devdax', 'mem']] as const) {
  add({
    id: `align1G-misaligned-${mode}-${map}`,
    title: `-a 1G on region1 at 0x140600000, which is not even 16 MiB aligned (ndctl refuses first): ${mode}, map=${map}`,
    tags: ['refusals', 'aligns', 'misaligned'],
    machine: MIS,
    steps: [s(create({ region: 'region1', size: '2G', mode, map, align: '1G' })), s('ndctl list -RNi'), destroy('namespace1.0', { timeout: 30 }), s('ndctl list -N')],
  });
}
for (const [mode, map] of [['fsdax', 'dev'], ['fsdax', 'mem'], ['devdax', 'dev'], ['devdax', 'mem']] as const) {
  add({
    id: `align1G-misaligned-${mode}-${map}-1G`,
    title: `-s 1G -a 1G on region1 at 0x140600000 (not 16 MiB aligned: ndctl refuses first): ${mode}, map=${map}`,
    tags: ['refusals', 'aligns', 'misaligned'],
    machine: MIS,
    steps: [s(create({ region: 'region1', size: '1G', mode, map, align: '1G' })), s('ndctl list -RNi'), destroy('namespace1.0', { timeout: 30 }), s('ndctl list -N')],
  });
}
for (const [mode, map] of [['fsdax', 'dev'], ['fsdax', 'mem'], ['devdax', 'dev'], ['devdax', 'mem']] as const) {
  for (const size of ['1G', '2G']) {
    add({
      id: `a1G-offset-${mode}-${map}-${size}`,
      title: `-s ${size} -a 1G on region1 at 0x141000000 (16 MiB aligned, not 1 GiB): ${mode}, map=${map}; destroy (6.1 oopses in memunmap_pages with map=dev)`,
      tags: ['refusals', 'aligns', 'misaligned'],
      machine: MIS16,
      steps: [s(create({ region: 'region1', size, mode, map, align: '1G' })), s('ndctl list -RNi'), destroy('namespace1.0', { timeout: 30 }), s('ndctl list -N')],
    });
  }
  add({
    id: `a1G-ll-${mode}-${map}`,
    title: `a label-less 1 GiB DIMM at 0x140600000, -e namespace1.0 -a 1G: ${mode}, map=${map}; back to raw`,
    tags: ['refusals', 'aligns', 'misaligned', 'labelless'],
    machine: LL_1G,
    steps: [s(create({ reconfig: 'namespace1.0', mode, map, align: '1G' })), s('ndctl list -RNi'), s(create({ reconfig: 'namespace1.0', mode: 'raw' }), { timeout: 30 }), s('ndctl list -N')],
  });
}
add({ id: 'align1G-misaligned-fsdax-dev-4G', title: '-a 1G, 4 GiB on region1 at 0x140600000: room for whole 1 GiB pages', tags: ['aligns', 'misaligned'], machine: MIS, steps: [s(create({ region: 'region1', size: '4G', mode: 'fsdax', map: 'dev', align: '1G' })), LIST_N, destroy('namespace1.0', { timeout: 30 })] });
add({ id: 'align2M-misaligned-fsdax-dev', title: 'region1 at 0x140600000, 2 GiB fsdax map=dev, default align', tags: ['misaligned'], machine: MIS, steps: [s(create({ region: 'region1', size: '2G', mode: 'fsdax', map: 'dev' })), LIST_N, destroy('namespace1.0')] });
add({ id: 'align2M-misaligned-devdax-mem', title: 'region1 at 0x140600000, 2 GiB devdax map=mem', tags: ['misaligned', 'devdax'], machine: MIS, steps: [s(create({ region: 'region1', size: '2G', mode: 'devdax', map: 'mem' })), LIST_N, DAX_LIST, destroy('namespace1.0')] });

// ---- seeds: several namespaces, created and destroyed in sequence

add({ id: 'seeds-fsdax-3', title: 'three 1 GiB fsdax namespaces', tags: ['seeds'], machine: STD, steps: [s(create({ size: '1G' })), s(create({ size: '1G' })), s(create({ size: '1G' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-destroy-middle-recreate', title: 'three namespaces, destroy the middle one, create again', tags: ['seeds'], machine: STD, steps: [s(create({ size: '1G' })), s(create({ size: '1G' })), s(create({ size: '1G' })), destroy('namespace0.1'), s(create({ size: '1G' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-destroy-first-recreate', title: 'two namespaces, destroy the first, create a larger one', tags: ['seeds'], machine: STD, steps: [s(create({ size: '1G' })), s(create({ size: '1G' })), destroy('namespace0.0'), s(create({ size: '2G' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-cycle-6', title: 'create and destroy six times (which namespace, pfn and dax names come next)', tags: ['seeds'], machine: STD, steps: Array.from({ length: 6 }, () => [s(create({ size: '1G' })), DESTROY_ALL]).flat().concat([s(create({ size: '1G' })), LIST_N, DESTROY_ALL]) });
add({ id: 'seeds-mixed-modes', title: 'fsdax, devdax, raw and sector side by side', tags: ['seeds', 'modes'], machine: STD, steps: [s(create({ size: '1G', mode: 'fsdax' })), s(create({ size: '1G', mode: 'devdax' })), s(create({ size: '1G', mode: 'raw' })), s(create({ size: '1G', mode: 'sector' })), LIST_N, LIST_FULL, DESTROY_ALL, LIST_N] });
add({ id: 'seeds-devdax-3', title: 'three devdax namespaces (dax region and chardev names)', tags: ['seeds', 'devdax'], machine: STD, steps: [s(create({ size: '1G', mode: 'devdax' })), s(create({ size: '1G', mode: 'devdax' })), s(create({ size: '1G', mode: 'devdax' })), LIST_N, DAX_LIST, DESTROY_ALL] });
add({ id: 'seeds-fsdax-devdax-alternate', title: 'fsdax, devdax, fsdax, devdax', tags: ['seeds', 'devdax'], machine: STD, steps: [s(create({ size: '1G', mode: 'fsdax' })), s(create({ size: '1G', mode: 'devdax' })), s(create({ size: '1G', mode: 'fsdax' })), s(create({ size: '1G', mode: 'devdax' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-sector-2', title: 'two sector namespaces (btt seeds)', tags: ['seeds', 'sector'], machine: STD, steps: [s(create({ size: '1G', mode: 'sector' })), s(create({ size: '1G', mode: 'sector' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-destroy-all-recreate', title: 'two namespaces, destroy all, two again', tags: ['seeds'], machine: STD, steps: [s(create({ size: '1G' })), s(create({ size: '1G' })), DESTROY_ALL, s(create({ size: '1G' })), s(create({ size: '1G' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-reconfig-modes', title: 'create-namespace -e: fsdax to devdax to raw to fsdax', tags: ['seeds', 'reconfig'], machine: STD, steps: [s(create({ size: '2G' })), s(create({ reconfig: 'namespace0.0', mode: 'devdax' })), s(create({ reconfig: 'namespace0.0', mode: 'raw' })), s(create({ reconfig: 'namespace0.0', mode: 'fsdax', map: 'mem' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-two-regions', title: 'a namespace in each of two regions', tags: ['seeds', 'regions'], machine: TWO, steps: [s(create({ region: 'region1', size: '1G' })), s(create({ region: 'region0', size: '1G' })), LIST_N, s('ndctl list -RNi'), DESTROY_ALL] });
add({ id: 'seeds-two-regions-spill', title: 'no -r: the second namespace does not fit in region0', tags: ['seeds', 'regions'], machine: TWO, steps: [s(create({ size: '6G' })), s(create({ size: '4G' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-mode-switch', title: 'fsdax, destroy, devdax, destroy, sector, destroy, raw', tags: ['seeds', 'modes'], machine: STD, steps: [s(create({ size: '1G', mode: 'fsdax' })), DESTROY_ALL, s(create({ size: '1G', mode: 'devdax' })), DESTROY_ALL, s(create({ size: '1G', mode: 'sector' })), DESTROY_ALL, s(create({ size: '1G', mode: 'raw' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-fsdax-6-destroy-odd', title: 'six namespaces, destroy 0.1, 0.3, 0.5, create two more', tags: ['seeds'], machine: STD, steps: [...Array.from({ length: 6 }, () => s(create({ size: '1G' }))), destroy('namespace0.1'), destroy('namespace0.3'), destroy('namespace0.5'), s(create({ size: '1G' })), s(create({ size: '1G' })), LIST_N, DESTROY_ALL] });
add({ id: 'seeds-list-idle', title: 'the idle seed devices (ndctl list -Ni and -RNDi before and after a create)', tags: ['seeds', 'list-forms'], machine: STD, steps: [s('ndctl list -RNDi'), s(create({ size: '1G' })), s('ndctl list -RNDi'), DESTROY_ALL, s('ndctl list -RNDi')] });

// ---- label-less DIMMs: one raw namespace per region, reconfigured in place

function llCase(id: string, title: string, machine: OracleMachine, ns: string, o: Create, tags: string[] = []): OracleCase {
  const devdax = o.mode === 'devdax';
  return { id, title, tags: ['labelless', ...tags], machine, steps: [s(create({ reconfig: ns, ...o })), LIST_N, ...(devdax ? [DAX_LIST] : []), s(create({ reconfig: ns, mode: 'raw' })), LIST_N] };
}
add({ id: 'll-list', title: 'a label-less 4 GiB DIMM at boot', tags: ['labelless', 'list-forms'], machine: LL, steps: [s('ndctl list -RNDi'), LIST_N] });
add(refuse('ll-refuse-subdivide', 'label-less: -s 1G cannot sub-divide the region', create({ size: '1G', mode: 'fsdax' }), LL));
add(refuse('ll-refuse-create-new', 'label-less: create without -e (the region has no free space)', create({ mode: 'fsdax' }), LL));
add(refuse('ll-refuse-destroy', 'label-less: destroy-namespace namespace0.0', 'ndctl destroy-namespace -f namespace0.0', LL, [LIST_N]));
for (const [mode, map] of [['fsdax', 'dev'], ['fsdax', 'mem'], ['devdax', 'dev'], ['devdax', 'mem']] as const) {
  add(llCase(`ll-4G-${mode}-${map}`, `label-less 4 GiB: -e namespace0.0 -m ${mode} -M ${map}`, LL, 'namespace0.0', { mode, map }));
  add(llCase(`ll-odd-1030M-${mode}-${map}`, `label-less 1030 MiB DIMM: ${mode}, map=${map}`, LL_ODD, 'namespace0.0', { mode, map }, ['odd-size']));
  add(llCase(`ll-mis-${mode}-${map}`, `two label-less DIMMs, the second at 0x140600000: ${mode}, map=${map} on namespace1.0`, LL_MIS, 'namespace1.0', { mode, map }, ['misaligned']));
  add(llCase(`ll-addr-${mode}-${map}`, `label-less 2 GiB DIMM at 0x100200000: ${mode}, map=${map}`, LL_ADDR, 'namespace0.0', { mode, map }, ['misaligned']));
}
for (const align of ['4K', '1G']) {
  add(llCase(`ll-4G-fsdax-dev-a${align}`, `label-less 4 GiB: fsdax map=dev -a ${align}`, LL, 'namespace0.0', { mode: 'fsdax', map: 'dev', align }, ['aligns']));
  add(llCase(`ll-4G-devdax-mem-a${align}`, `label-less 4 GiB: devdax map=mem -a ${align}`, LL, 'namespace0.0', { mode: 'devdax', map: 'mem', align }, ['aligns']));
  add(llCase(`ll-mis-fsdax-dev-a${align}`, `label-less at 0x140600000: fsdax map=dev -a ${align}`, LL_MIS, 'namespace1.0', { mode: 'fsdax', map: 'dev', align }, ['aligns', 'misaligned']));
}
add(llCase('ll-mis-devdax-dev-a1G', 'label-less at 0x140600000: devdax map=dev -a 1G', LL_MIS, 'namespace1.0', { mode: 'devdax', map: 'dev', align: '1G' }, ['aligns', 'misaligned']));
add(llCase('ll-4G-sector', 'label-less 4 GiB: sector', LL, 'namespace0.0', { mode: 'sector' }, ['sector']));
add(llCase('ll-small-130M-fsdax-dev', 'label-less 130 MiB DIMM: fsdax map=dev', LL_SMALL, 'namespace0.0', { mode: 'fsdax', map: 'dev' }, ['odd-size']));
add(llCase('ll-small-130M-devdax-mem', 'label-less 130 MiB DIMM: devdax map=mem', LL_SMALL, 'namespace0.0', { mode: 'devdax', map: 'mem' }, ['odd-size']));
add({ id: 'll-mis-both', title: 'two label-less DIMMs: fsdax on both', tags: ['labelless', 'misaligned'], machine: LL_MIS, steps: [s(create({ reconfig: 'namespace0.0', mode: 'fsdax', map: 'dev' })), s(create({ reconfig: 'namespace1.0', mode: 'fsdax', map: 'dev' })), LIST_N, s('ndctl list -RNi')] });

// ---- dax kmem

function kmemCase(id: string, title: string, steps: OracleStep[], machine: OracleMachine = STD, tags: string[] = []): OracleCase {
  return { id, title, tags: ['kmem', ...tags], machine, steps };
}
const devdax = (size: string, map = 'mem', align?: string) => s(create({ size, mode: 'devdax', map, ...(align ? { align } : {}) }));
const toRam = (o = '-f') => s(`daxctl reconfigure-device dax0.0 -m system-ram ${o}`.trim());
const toDevdax = s('daxctl reconfigure-device dax0.0 -m devdax -f');
const MOM_FILE = '/sys/bus/dax/devices/dax0.0/memmap_on_memory';
add(kmemCase('kmem-policy-refusal', 'reconfigure to system-ram without -f (6.12 auto-onlines: daxctl refuses)', [devdax('2G'), toRam(''), DAX_LIST, destroy('namespace0.0')]));
for (const map of ['mem', 'dev']) {
  for (const size of ['1G', '2G']) {
    add(kmemCase(`kmem-system-ram-${map}-${size}`, `devdax ${size} map=${map} to system-ram (-f) and back`, [devdax(size, map), toRam(), DAX_LIST, toDevdax, DAX_LIST, destroy('namespace0.0')]));
  }
}
add(kmemCase('kmem-8G-block-trim', 'devdax -s 8G map=mem (8 GiB - 2 MiB) to system-ram: trimmed to memory blocks', [devdax('8G'), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-offline-online', 'system-ram, then daxctl offline-memory and online-memory', [devdax('2G'), toRam(), s('daxctl offline-memory dax0.0'), DAX_LIST, s('daxctl online-memory dax0.0'), DAX_LIST, toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-no-online', 'reconfigure --no-online', [devdax('2G'), toRam('-f --no-online'), DAX_LIST, s('daxctl online-memory dax0.0'), toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-no-movable', 'reconfigure --no-movable (ZONE_NORMAL)', [devdax('2G'), toRam('-f --no-movable'), DAX_LIST, toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-sysfs-state', 'system-ram, then echo offline/online into a memory block state', [devdax('2G'), toRam(), s('echo offline > /sys/devices/system/memory/memory33/state'), s('cat /sys/devices/system/memory/memory33/state'), s('echo online_movable > /sys/devices/system/memory/memory33/state'), s('echo online_kernel > /sys/devices/system/memory/memory34/state'), toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-destroy-online', 'destroy-namespace while the memory is online', [devdax('2G'), toRam(), destroy('namespace0.0'), LIST_N, DAX_LIST, toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-destroy-offline-kmem', 'system-ram, offline-memory, then destroy-namespace (still bound to kmem)', [devdax('2G'), toRam(), s('daxctl offline-memory dax0.0'), destroy('namespace0.0'), LIST_N]));
add(kmemCase('kmem-auto-online-off', 'echo offline > auto_online_blocks, then reconfigure without -f', [devdax('2G'), s('echo offline > /sys/devices/system/memory/auto_online_blocks'), toRam(''), DAX_LIST, toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-memhp-offline-cmdline', 'memhp_default_state=offline on the command line, reconfigure without -f', [devdax('2G'), toRam(''), DAX_LIST, toDevdax, destroy('namespace0.0')], withCmdline(STD, 'memhp_default_state=offline')));
add(kmemCase('kmem-memhp-movable-cmdline', 'memhp_default_state=online_movable: the round trip to system-ram and back', [devdax('2G'), toRam(), DAX_LIST, toDevdax, DAX_LIST, destroy('namespace0.0')], withCmdline(STD, 'memhp_default_state=online_movable')));
add(kmemCase('kmem-mom-file-read', 'the per-device memmap_on_memory file (6.8+) in devdax mode', [devdax('2G'), s(`cat ${MOM_FILE}`), destroy('namespace0.0')], STD, ['memmap-on-memory']));
add(kmemCase('kmem-mom-file-no-param', 'echo 1 > memmap_on_memory while the module parameter is off (EOPNOTSUPP)', [devdax('2G'), s(`echo 1 > ${MOM_FILE}`), s(`cat ${MOM_FILE}`), destroy('namespace0.0')], STD, ['memmap-on-memory']));
add(kmemCase('kmem-mom-param', 'memory_hotplug.memmap_on_memory=1, device file 1, system-ram', [devdax('2G'), s(`cat ${MOM_FILE}`), s(`echo 1 > ${MOM_FILE}`), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')], withCmdline(STD, MOM), ['memmap-on-memory']));
add(kmemCase('kmem-mom-param-no-file', 'memory_hotplug.memmap_on_memory=1, device file left at its default, system-ram', [devdax('2G'), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')], withCmdline(STD, MOM), ['memmap-on-memory']));
add(kmemCase('kmem-mom-param-dev', 'memmap_on_memory=1 with a map=dev devdax namespace', [devdax('2G', 'dev'), s(`echo 1 > ${MOM_FILE}`), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')], withCmdline(STD, MOM), ['memmap-on-memory']));
add(kmemCase('kmem-mom-busy', 'memmap_on_memory=1: write the device file while bound to kmem (EBUSY)', [devdax('2G'), toRam(), s(`echo 1 > ${MOM_FILE}`), s(`cat ${MOM_FILE}`), toDevdax, destroy('namespace0.0')], withCmdline(STD, MOM), ['memmap-on-memory']));
add(kmemCase('kmem-mom-force', 'memory_hotplug.memmap_on_memory=force', [devdax('2G'), s(`echo 1 > ${MOM_FILE}`), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')], withCmdline(STD, 'memory_hotplug.memmap_on_memory=force'), ['memmap-on-memory']));
add(kmemCase('kmem-mom-8G-block-trim', 'memmap_on_memory=1, devdax -s 8G map=mem to system-ram', [devdax('8G'), s(`echo 1 > ${MOM_FILE}`), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')], withCmdline(STD, MOM), ['memmap-on-memory']));
add(kmemCase('kmem-a1G', 'devdax -a 1G to system-ram', [devdax('4G', 'mem', '1G'), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')]));
add(kmemCase('kmem-two-devices', 'two devdax namespaces, both to system-ram', [devdax('1G'), devdax('1G'), s('daxctl reconfigure-device dax0.0 -m system-ram -f'), s('daxctl reconfigure-device dax1.0 -m system-ram -f'), DAX_LIST, s('daxctl reconfigure-device dax0.0 -m devdax -f'), s('daxctl reconfigure-device dax1.0 -m devdax -f'), DESTROY_ALL]));

// ---- Soft Reserved (dax_hmem) and legacy pmem (nd_e820)

const HMEM = { v6: 'dax0.0', 'v6.1': 'dax0.0' } as const;
const hmem = (cmd: (dev: string) => string): OracleStep => ({ run: cmd(HMEM.v6), runOn: { 'v6.1': cmd(HMEM['v6.1']) } });
add({ id: 'softres-boot', title: 'memmap=2G%0x140000000+0xefffffff: the hmem device at boot', tags: ['softreserved'], machine: SOFTRES, steps: [DAX_LIST, s('daxctl list -RDMi -u')] });
add({ id: 'softres-to-devdax', title: 'Soft Reserved: reconfigure the hmem device to devdax', tags: ['softreserved', 'kmem'], machine: SOFTRES, steps: [hmem((d) => `daxctl reconfigure-device ${d} -m devdax -f`), DAX_LIST] });
add({ id: 'softres-to-system-ram', title: 'Soft Reserved: devdax, then system-ram', tags: ['softreserved', 'kmem'], machine: SOFTRES, steps: [hmem((d) => `daxctl reconfigure-device ${d} -m devdax -f`), hmem((d) => `daxctl reconfigure-device ${d} -m system-ram -f`), DAX_LIST] });
add({ id: 'softres-offline-online', title: 'Soft Reserved: system-ram, offline-memory, online-memory', tags: ['softreserved', 'kmem'], machine: SOFTRES, steps: [hmem((d) => `daxctl reconfigure-device ${d} -m system-ram -f`), hmem((d) => `daxctl offline-memory ${d}`), DAX_LIST, hmem((d) => `daxctl online-memory ${d}`), DAX_LIST] });
add({ id: 'softres-mom', title: 'Soft Reserved with memory_hotplug.memmap_on_memory=1 and the device file', tags: ['softreserved', 'kmem', 'memmap-on-memory'], machine: withCmdline(SOFTRES, MOM), steps: [DAX_LIST, hmem((d) => `daxctl reconfigure-device ${d} -m devdax -f`), hmem((d) => `echo 1 > /sys/bus/dax/devices/${d}/memmap_on_memory`), hmem((d) => `daxctl reconfigure-device ${d} -m system-ram -f`), DAX_LIST] });
add({ id: 'softres-with-pmem', title: 'Soft Reserved and an 8 GiB NVDIMM (region and dax numbering)', tags: ['softreserved', 'regions'], machine: { ...SOFTRES, dimms: [dimm('8G')] }, steps: [s('ndctl list -RNi'), DAX_LIST, s(create({ size: '1G', mode: 'devdax' })), DAX_LIST, LIST_N, DESTROY_ALL] });
add({ id: 'softres-4G', title: 'memmap=4G%0x140000000+0xefffffff', tags: ['softreserved'], machine: { ram: '8G', dimms: [], cmdline: ['memmap=4G%0x140000000+0xefffffff'] }, steps: [DAX_LIST] });
add({ id: 'softres-misaligned', title: 'memmap=1026M%0x140200000+0xefffffff: not block aligned', tags: ['softreserved', 'misaligned'], machine: { ram: '8G', dimms: [], cmdline: ['memmap=1026M%0x140200000+0xefffffff'] }, steps: [DAX_LIST, hmem((d) => `daxctl reconfigure-device ${d} -m devdax -f`), hmem((d) => `daxctl reconfigure-device ${d} -m system-ram -f`), DAX_LIST] });
add({ id: 'softres-two-ranges', title: 'two Soft Reserved ranges', tags: ['softreserved'], machine: { ram: '8G', dimms: [], cmdline: ['memmap=1G%0x140000000+0xefffffff', 'memmap=1G%0x1c0000000+0xefffffff'] }, steps: [DAX_LIST] });
add({ id: 'legacy-list', title: 'memmap=2G!0x140000000: a legacy pmem region', tags: ['legacy', 'labelless'], machine: LEGACY, steps: [s('ndctl list -RNDi'), LIST_N] });
add({ id: 'legacy-fsdax-dev', title: 'legacy pmem: fsdax map=dev', tags: ['legacy', 'labelless'], machine: LEGACY, steps: [s(create({ reconfig: 'namespace0.0', mode: 'fsdax', map: 'dev' })), LIST_N, s(create({ reconfig: 'namespace0.0', mode: 'raw' }))] });
add({ id: 'legacy-devdax-mem', title: 'legacy pmem: devdax map=mem', tags: ['legacy', 'labelless', 'devdax'], machine: LEGACY, steps: [s(create({ reconfig: 'namespace0.0', mode: 'devdax', map: 'mem' })), LIST_N, DAX_LIST, s(create({ reconfig: 'namespace0.0', mode: 'raw' }))] });

// ---- NUMA (issue 14): a two-node guest, the NVDIMM on node 1

add({ id: 'numa-boot', title: 'two NUMA nodes, an 8 GiB NVDIMM on node 1: region and node sysfs at boot', tags: ['numa'], machine: NUMA2, steps: [s('ndctl list -RNDiv'), DAX_LIST] });
add({ id: 'numa-devdax-mem', title: 'two NUMA nodes: devdax -s 2G map=mem on node 1 (memmap on node 1)', tags: ['numa', 'devdax'], machine: NUMA2, steps: [s(create({ size: '2G', mode: 'devdax', map: 'mem' })), s('ndctl list -Nv'), DAX_LIST, destroy('namespace0.0')] });
add({ id: 'numa4-kmem', title: 'four NUMA nodes of 512 MiB, the NVDIMM on node 3: devdax 1G to system-ram (each node\'s fallback order)', tags: ['numa', 'kmem'], machine: NUMA4, steps: [devdax('1G'), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')] });
add({ id: 'numa-kmem', title: 'two NUMA nodes: devdax 2G on node 1 to system-ram, then back', tags: ['numa', 'kmem'], machine: NUMA2, steps: [devdax('2G'), toRam(), DAX_LIST, toDevdax, destroy('namespace0.0')] });

// ---- function_graph traces of create and destroy (issue 16)

function traceCase(id: string, title: string, o: Create, machine = STD, extra: OracleStep[] = []): OracleCase {
  return { id, title, tags: ['trace'], machine, steps: [s(create(o), { trace: true }), ...extra, destroy('namespace0.0', { trace: true })] };
}
for (const mode of ['fsdax', 'devdax']) {
  for (const map of ['dev', 'mem']) {
    for (const align of ['2M', '1G']) {
      add(traceCase(`trace-${mode}-${map}-a${align}`, `function_graph of create and destroy: ${mode}, map=${map}, 2 GiB, align ${align}`, { size: '2G', mode, map, align }));
    }
  }
}
add(traceCase('trace-fsdax-dev-a4K', 'function_graph: fsdax map=dev -a 4K', { size: '1G', mode: 'fsdax', map: 'dev', align: '4K' }));
add(traceCase('trace-raw', 'function_graph: raw', { size: '1G', mode: 'raw' }));
add(traceCase('trace-sector', 'function_graph: sector', { size: '1G', mode: 'sector' }));
add({ id: 'trace-kmem', title: 'function_graph of dax kmem: system-ram and back', tags: ['trace', 'kmem'], machine: STD, steps: [devdax('1G'), s('daxctl reconfigure-device dax0.0 -m system-ram -f', { trace: true }), s('daxctl reconfigure-device dax0.0 -m devdax -f', { trace: true }), destroy('namespace0.0')] });
add({ id: 'trace-kmem-mom', title: 'function_graph of dax kmem with memmap_on_memory', tags: ['trace', 'kmem', 'memmap-on-memory'], machine: withCmdline(STD, MOM), steps: [devdax('1G'), s(`echo 1 > ${MOM_FILE}`), s('daxctl reconfigure-device dax0.0 -m system-ram -f', { trace: true }), s('daxctl reconfigure-device dax0.0 -m devdax -f', { trace: true }), destroy('namespace0.0')] });
add({ id: 'trace-softres-kmem', title: 'function_graph of the hmem device to devdax and back', tags: ['trace', 'softreserved', 'kmem'], machine: SOFTRES, steps: [hmem((d) => `daxctl reconfigure-device ${d} -m devdax -f`), { ...hmem((d) => `daxctl reconfigure-device ${d} -m system-ram -f`), trace: true }] });
add({ id: 'trace-ll-fsdax-dev', title: 'function_graph: label-less reconfigure to fsdax and back to raw', tags: ['trace', 'labelless'], machine: LL, steps: [s(create({ reconfig: 'namespace0.0', mode: 'fsdax', map: 'dev' }), { trace: true }), s(create({ reconfig: 'namespace0.0', mode: 'raw' }), { trace: true })] });
add({ id: 'trace-align1G-misaligned', title: 'function_graph: -a 1G on a start that is not 1 GiB aligned, map=mem', tags: ['trace', 'misaligned'], machine: MIS, steps: [s(create({ region: 'region1', size: '2G', mode: 'fsdax', map: 'mem', align: '1G' }), { trace: true }), destroy('namespace1.0', { trace: true, timeout: 30 })] });

// ---- struct pages (the kpages helper module: loaded by the first kpages of a boot, tainting the kernel)

const kp = (spec: string, n = 2) => s(`kpages ${spec} ${n}`);
function spCase(id: string, title: string, o: Create, reads: OracleStep[], machine = STD, after: OracleStep[] = [destroy('namespace0.0')]): OracleCase {
  return { id, title, tags: ['struct-page'], machine, steps: [s(create(o)), ...reads, ...after] };
}
// region0 starts at pfn 0x100000: the namespace's first pages (info block, altmap reserve), then the data
add(spCase('sp-fsdax-dev-1G', 'struct pages of a 1 GiB fsdax map=dev namespace: its first pfns, the data start, the last page', { size: '1G', mode: 'fsdax', map: 'dev' }, [kp('0x100000', 4), kp('pfn0.0', 4), kp('pfn0.0+257535', 1)]));
add(spCase('sp-fsdax-mem-1G', 'struct pages of a 1 GiB fsdax map=mem namespace', { size: '1G', mode: 'fsdax', map: 'mem' }, [kp('0x100000', 4), kp('pfn0.0', 4), kp('pfn0.0+261631', 1)]));
add(spCase('sp-devdax-mem-1G', 'struct pages of a devdax map=mem namespace: 2 MiB compound pages (head, tails, the next head)', { size: '1G', mode: 'devdax', map: 'mem' }, [kp('dax0.0', 4), kp('dax0.0+510', 3)]));
add(spCase('sp-devdax-dev-1G', 'struct pages of a devdax map=dev namespace (compound, memmap in the device)', { size: '1G', mode: 'devdax', map: 'dev' }, [kp('0x100000', 2), kp('dax0.0', 4), kp('dax0.0+510', 3)]));
add(spCase('sp-devdax-mem-4G-a1G', 'struct pages of a devdax map=mem -a 1G namespace: 1 GiB compound pages', { size: '4G', mode: 'devdax', map: 'mem', align: '1G' }, [kp('dax0.0', 4), kp('dax0.0+262143', 2)]));
add(spCase('sp-devdax-dev-4G-a1G', 'struct pages of a devdax map=dev -a 1G namespace', { size: '4G', mode: 'devdax', map: 'dev', align: '1G' }, [kp('dax0.0', 3), kp('dax0.0+262143', 2)]));
add(spCase('sp-fsdax-dev-4G-a1G', 'struct pages of a fsdax map=dev -a 1G namespace', { size: '4G', mode: 'fsdax', map: 'dev', align: '1G' }, [kp('0x100000', 2), kp('pfn0.0', 2)]));
add(spCase('sp-raw-1G', 'a raw namespace has no memmap of its own', { size: '1G', mode: 'raw' }, [kp('0x100000', 2)]));
add({ id: 'sp-after-destroy', title: 'struct pages of a destroyed namespace: the vmemmap is gone', tags: ['struct-page'], machine: STD, steps: [s(create({ size: '1G', mode: 'fsdax', map: 'dev' })), kp('pfn0.0', 1), destroy('namespace0.0'), kp('0x100200', 1)] });
add({ id: 'sp-kmem', title: 'struct pages of devdax memory onlined by kmem', tags: ['struct-page', 'kmem'], machine: withCmdline(STD, 'memhp_default_state=online_movable'), steps: [devdax('1G'), kp('dax0.0', 2), toRam(), kp('0x108000', 3), toDevdax, destroy('namespace0.0')] });
add({ id: 'sp-kmem-mom', title: 'struct pages of kmem memory with memmap_on_memory (the block\'s first pages hold its memmap)', tags: ['struct-page', 'kmem', 'memmap-on-memory'], machine: withCmdline(STD, MOM, 'memhp_default_state=online_movable'), steps: [devdax('1G'), s(`echo 1 > ${MOM_FILE}`), toRam(), kp('0x108000', 3), kp('0x108200', 2), toDevdax, destroy('namespace0.0')] });
add({ id: 'sp-ll-mis-fsdax-dev', title: 'struct pages of a label-less namespace at 0x140600000', tags: ['struct-page', 'labelless', 'misaligned'], machine: LL_MIS, steps: [s(create({ reconfig: 'namespace1.0', mode: 'fsdax', map: 'dev' })), kp('0x140600', 2), kp('pfn1.0', 2), s(create({ reconfig: 'namespace1.0', mode: 'raw' }))] });
add({ id: 'sp-boot-ram', title: 'struct pages of boot RAM (for the layout and flags of ordinary pages)', tags: ['struct-page'], machine: STD, steps: [kp('0x1000', 2), kp('0x7ffd0', 2)] });

// -------------------------------------------------------------------------------------- export

export const CASES: readonly OracleCase[] = cases;

const ids = new Set<string>();
for (const c of cases) {
  if (ids.has(c.id)) throw new Error(`duplicate oracle case id ${c.id}`);
  if (!/^[a-z0-9][a-z0-9.-]*$/i.test(c.id)) throw new Error(`bad oracle case id ${c.id}`);
  ids.add(c.id);
}

export function caseById(id: string): OracleCase | undefined {
  return cases.find((c) => c.id === id);
}

/** Whether a case reads real struct pages (needs the kpages helper module in the initramfs). */
export function usesKpages(c: Pick<OracleCase, 'steps'>): boolean {
  return c.steps.some((st) => /^kpages\b/.test(st.run));
}

/** Select cases: ids, globs (ns-fsdax-*), tags (tag:kmem) or "all"; comma-separated. */
export function selectCases(spec: string, profile?: OracleProfile): OracleCase[] {
  const parts = spec.split(',').map((p) => p.trim()).filter(Boolean);
  const out: OracleCase[] = [];
  for (const p of parts) {
    let hit: OracleCase[];
    if (p === 'all') hit = [...cases];
    else if (p.startsWith('tag:')) hit = cases.filter((c) => c.tags.includes(p.slice(4)));
    else if (p.includes('*')) {
      const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
      hit = cases.filter((c) => re.test(c.id));
    } else {
      const c = caseById(p);
      if (!c) throw new Error(`no oracle case ${JSON.stringify(p)}`);
      hit = [c];
    }
    for (const c of hit) if (!out.includes(c)) out.push(c);
  }
  return profile ? out.filter((c) => !c.profiles || c.profiles.includes(profile)) : out;
}

/** The steps of a case as a kernel runs them (runOn resolved). */
export function stepsFor(c: Pick<OracleCase, 'steps'>, profile: OracleProfile): OracleStep[] {
  return c.steps.map((st) => {
    const run = st.runOn?.[profile] ?? st.run;
    const { runOn: _r, ...rest } = st;
    return { ...rest, run };
  });
}
