/**
 * /sys/bus/nd/devices against what Debian's 6.12 showed after every step of recorded runs on the
 * oracle's standard machine (one labelled 32 GiB NVDIMM): every file of every device, idle seeds included.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, validateScenario, type Machine } from '../../src/index.ts';
import { readFixture, type Fixture } from '../../src/oracle/fixtures.ts';
import { layoutFrom, machineFor } from '../../src/oracle/model.ts';
import { fileURLToPath } from 'node:url';
import { BACKENDS, realStep } from '../fixtures.ts';
import { stdMachine } from './std.ts';

const K = '6.12.117';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Every file under /sys/bus/nd/devices as the oracle dumps it: "path:value" lines, uuids masked, sorted. */
function dump(m: Machine): string[] {
  const base = '/sys/bus/nd/devices';
  const out: string[] = [];
  for (const d of m.listDir(base)) for (const a of m.listDir(`${base}/${d}`)) out.push(`${base}/${d}/${a}:${m.readFile(`${base}/${d}/${a}`).replace(/\n$/, '')}`);
  return out.map((l) => l.replace(UUID, '<uuid>').replace(/\s+$/, '')).sort();
}

const realDump = (caseId: string, step: number) =>
  realStep(K, caseId, step)
    .state.nd.split('\n')
    .filter(Boolean)
    .map((l) => l.replace(UUID, '<uuid>').replace(/\s+$/, ''))
    .sort();

/** The machine the oracle boots for a recorded run: its RAM and regions, labelled or not, as after its setup steps. */
function fixtureMachine(f: Fixture, backend: (typeof BACKENDS)[number]): Promise<Machine> {
  const setup = [...f.steps].reverse().find((s) => s.setup) ?? f.steps[0]!;
  const layout = layoutFrom(f.earlyBoot, setup.state.nd, f.steps[0]!.state.memory);
  return createMachine({ ...validateScenario({ machine: machineFor(layout, 'v6'), steps: [] }).machine, backend });
}

/** One recorded ndctl command on the model (create-namespace's -s -m -M -a -l -r -e -f, destroy-namespace -f NAME|all). */
function runStep(m: Machine, run: string): void {
  const argv = run.split(/\s+/);
  if (argv[1] === 'create-namespace') {
    const o: Record<string, string | number> = {};
    const keys: Record<string, string> = { '-s': 'size', '-m': 'mode', '-M': 'map', '-a': 'align', '-l': 'sectorSize', '-e': 'reconfig', '-r': 'region' };
    for (let i = 2; i < argv.length; i++) {
      if (argv[i] === '-f') continue;
      o[keys[argv[i]!]!] = argv[++i]!;
    }
    if (typeof o.region === 'string') o.region = Number(o.region.replace('region', ''));
    m.createNamespace(o);
  } else if (argv[1] === 'destroy-namespace') {
    const dev = argv[argv.length - 1]!;
    for (const d of dev === 'all' ? m.listNamespaces().map((n) => n.dev as string) : [dev]) m.destroyNamespace(d);
  } else throw new Error(`not a step this test runs: ${run}`);
}

const CASES = [
  'seeds-destroy-middle-recreate',
  'seeds-fsdax-devdax-alternate',
  'seeds-mixed-modes',
  'seeds-sector-2',
  'seeds-mode-switch',
  'seeds-reconfig-modes',
  'ns-devdax-mem-4G-a1G',
  'ns-fsdax-dev-all',
  'ns-raw-1G',
  // label-less DIMMs: one raw nd_namespace_io per region, reconfigured in place
  'll-4G-fsdax-dev',
  'll-4G-devdax-mem-a1G',
  'll-4G-sector',
  'll-mis-fsdax-mem',
  // a label-less DIMM, then a labelled one: namespaces in region1
  'a1G-offset-fsdax-dev-2G',
];

describe.each(BACKENDS)('/sys/bus/nd/devices [%s]', (backend) => {
  it.each(CASES)('%s: every file of every nd device after every step, as 6.12 shows them', async (caseId) => {
    const f = readFixture(fileURLToPath(new URL(`../fixtures/real/${K}/${caseId}`, import.meta.url)));
    const m = await fixtureMachine(f, backend);
    // the model boots into what the real machine is after its setup steps (labels initialised)
    const setup = [...f.steps].reverse().find((s) => s.setup) ?? f.steps[0]!;
    expect(dump(m)).toEqual(realDump(caseId, setup.index));
    for (const s of f.steps.filter((x) => x.index > 0 && !x.setup)) {
      if (/^(daxctl|ndctl list)/.test(s.run)) continue;
      runStep(m, s.run);
      expect(dump(m), `${caseId} step ${s.index}: ${s.run}`).toEqual(realDump(caseId, s.index));
    }
  });

  it('ns-devdax-mem-4G-a1G step 04: the nd_dax device shows the data after the 1 GiB-aligned memmap (resource 0x140000000, size 3 GiB, mode ram)', async () => {
    const m = await stdMachine(backend);
    m.createNamespace({ size: '4G', mode: 'devdax', map: 'mem', align: '1G' });
    const real = realDump('ns-devdax-mem-4G-a1G', 4).filter((l) => /dax0\.0\/(resource|size|mode|align):/.test(l));
    expect(real).toEqual(['/sys/bus/nd/devices/dax0.0/align:1073741824', '/sys/bus/nd/devices/dax0.0/mode:ram', '/sys/bus/nd/devices/dax0.0/resource:0x140000000', '/sys/bus/nd/devices/dax0.0/size:3221225472']);
    expect(dump(m).filter((l) => /dax0\.0\/(resource|size|mode|align):/.test(l))).toEqual(real);
  });
});

describe.each(BACKENDS)('label-less and misaligned regions: what ndctl refuses [%s]', (backend) => {
  const machineOf = (caseId: string) => fixtureMachine(readFixture(fileURLToPath(new URL(`../fixtures/real/${K}/${caseId}`, import.meta.url))), backend);
  /** The NdctlError a model call throws. */
  const refusal = (fn: () => unknown): { stderr: string; exitCode: number } => {
    try {
      fn();
    } catch (e) {
      return e as { stderr: string; exitCode: number };
    }
    throw new Error('no refusal');
  };

  it.each([
    ['ll-refuse-subdivide', 1, { size: '1G', mode: 'fsdax' }],
    ['ll-refuse-create-new', 1, { mode: 'fsdax' }],
    ['refuse-reconfig-missing', 4, { reconfig: 'namespace0.5', mode: 'fsdax' }],
    ['align2M-misaligned-fsdax-dev', 4, { region: 1, size: '2G', mode: 'fsdax', map: 'dev' }],
  ] as const)('%s step %i: ndctl\'s stderr and exit, and the nd bus as the real kernel left it', async (caseId, step, opts) => {
    const m = await machineOf(caseId);
    const real = realStep(K, caseId, step);
    const e = refusal(() => m.createNamespace({ ...opts }));
    expect(e.stderr).toBe(real.stderr);
    // cmd_reconfig exits with the errno; cmd_create with 237 for what fails after its option checks
    expect(e.exitCode).toBe(real.exit);
    expect(dump(m)).toEqual(realDump(caseId, step));
  });
});

describe.each(BACKENDS)('dax_minor_ida: pmem disks and device-dax share it [%s]', (backend) => {
  const machineOf = (caseId: string) => fixtureMachine(readFixture(fileURLToPath(new URL(`../fixtures/real/${K}/${caseId}`, import.meta.url))), backend);
  const minor = (caseId: string, step: number, dev: string) => realStep(K, caseId, step).state.dax.match(new RegExp(`${dev}/dev:(\\S+)`))![1];

  it.each([
    // pmem0 (namespace0.0, raw) keeps minor 0; namespace1.0's pmem1 gives its minor 1 back when -e tears it down
    ['ll-mis-devdax-dev', 'namespace1.0', 'dax1.0', '252:1'],
    // the only pmem disk is the one reconfigured: its minor 0 is free again for dax0.0
    ['ll-4G-devdax-dev', 'namespace0.0', 'dax0.0', '252:0'],
  ] as const)('%s step 1: create-namespace -e %s -m devdax gives %s the chardev %s', async (caseId, ns, dax, want) => {
    const m = await machineOf(caseId);
    m.createNamespace({ reconfig: ns, mode: 'devdax', map: 'dev' });
    expect(minor(caseId, 1, dax)).toBe(want);
    expect(m.readFile(`/sys/bus/dax/devices/${dax}/dev`)).toBe(`${want}\n`);
  });
});
