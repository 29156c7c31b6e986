/**
 * /sys/bus/nd/devices against what Debian's 6.12 showed after every step of recorded runs on the
 * oracle's standard machine (one labelled 32 GiB NVDIMM): every file of every device, idle seeds included.
 */
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../src/index.ts';
import { readFixture } from '../../src/oracle/fixtures.ts';
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

/** One recorded ndctl command on the model (create-namespace's -s -m -M -a -l, destroy-namespace -f NAME|all). */
function runStep(m: Machine, run: string): void {
  const argv = run.split(/\s+/);
  if (argv[1] === 'create-namespace') {
    const o: Record<string, string> = {};
    const keys: Record<string, string> = { '-s': 'size', '-m': 'mode', '-M': 'map', '-a': 'align', '-l': 'sectorSize' };
    for (let i = 2; i < argv.length; i += 2) o[keys[argv[i]!]!] = argv[i + 1]!;
    m.createNamespace(o);
  } else if (argv[1] === 'destroy-namespace') {
    const dev = argv[argv.length - 1]!;
    for (const d of dev === 'all' ? m.listNamespaces().map((n) => n.dev as string) : [dev]) m.destroyNamespace(d);
  } else if (argv[1] !== 'list') throw new Error(`not a step this test runs: ${run}`);
}

const CASES = ['seeds-destroy-middle-recreate', 'seeds-fsdax-devdax-alternate', 'seeds-mixed-modes', 'seeds-sector-2', 'seeds-mode-switch', 'ns-devdax-mem-4G-a1G', 'ns-fsdax-dev-all', 'ns-raw-1G'];

describe.each(BACKENDS)('/sys/bus/nd/devices [%s]', (backend) => {
  it.each(CASES)('%s: every file of every nd device after every step, as 6.12 shows them', async (caseId) => {
    const f = readFixture(fileURLToPath(new URL(`../fixtures/real/${K}/${caseId}`, import.meta.url)));
    const m = await stdMachine(backend);
    // the model boots into what the real machine is after its setup steps (labels initialised)
    const setup = [...f.steps].reverse().find((s) => s.setup)!;
    expect(dump(m)).toEqual(realDump(caseId, setup.index));
    for (const s of f.steps.filter((x) => x.index > 0 && !x.setup)) {
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
