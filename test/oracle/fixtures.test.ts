/**
 * The model against the recorded real kernels (test/fixtures/real/, recorded by `altmap oracle --record`
 * under QEMU; no QEMU here). Every recorded case runs on the model through its CLI, on the recorded
 * guest's layout, and every aspect of it (exit codes, stdout, stderr, dmesg, /proc/iomem, meminfo,
 * sysfs, traces) is compared after normalisation (src/oracle/compare.ts).
 *
 * An aspect that does not agree must be in the pending table (./pending.json) with the issue that closes
 * it: it then runs as `it.fails` (and fails the suite the day it starts to agree, so that the entry
 * is removed). A kernel whose model profile does not exist yet (v6.1) is `it.todo`, one per case.
 * Test names carry the kernel, the case id and the aspect.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/index.ts';
import { KERNELS } from '../../src/index.ts';
import { ASPECTS, formatComparison, type Aspect, type Comparison } from '../../src/oracle/compare.ts';
import { FIXTURES_DIR, fixtureCases, fixtureKernels, readFixture, readManifest, type Fixture } from '../../src/oracle/fixtures.ts';
import { compareWithModel } from '../../src/oracle/oracle.ts';
import { readFileSync } from 'node:fs';
import { findPending, type PendingTable } from '../../src/oracle/pending.ts';
import { CASES } from '../../src/oracle/cases.ts';

/** The known divergences: kernel -> case -> aspect -> reason key (regenerate with `altmap oracle --fixtures --pending`, then review). */
const PENDING = JSON.parse(readFileSync(new URL('./pending.json', import.meta.url), 'utf8')) as PendingTable;

const manifest = readManifest();
const kernels = fixtureKernels();
const backend = (process.env.ALTMAP_ORACLE_BACKEND as 'wasm' | 'ts' | undefined) ?? 'wasm';

/** The aspects a recorded run has something to compare for. */
function aspectsOf(f: Fixture): Aspect[] {
  const traced = f.steps.some((s) => s.trace !== undefined);
  const pages = f.steps.some((s) => /^kpages\b/.test(s.run));
  return ASPECTS.filter((a) => (a !== 'trace' || traced) && (a !== 'struct-page' || pages));
}

function verdict(c: Comparison, aspect: Aspect): void {
  const a = c.aspects.find((x) => x.aspect === aspect)!;
  if (a.status === 'agree' || a.status === 'not-applicable') return;
  const one = { ...c, aspects: [a] };
  throw new Error(`${aspect} ${a.status}${a.why ? ` (${a.why})` : ''}\n${formatComparison(one, { width: 60, maxDiffs: 2 })}`);
}

describe('the recorded fixtures', () => {
  it('have a manifest naming every recorded kernel with its profile, package and tools', () => {
    expect(manifest).not.toBeNull();
    for (const k of kernels) {
      expect(manifest!.kernels[k], k).toBeDefined();
      expect(manifest!.kernels[k]!.package).toMatch(/^linux-image-/);
    }
    expect(String(manifest!.tools.ndctl)).toMatch(/^\d+/);
    expect(String(manifest!.tools.qemu)).toMatch(/QEMU/);
  });

  it('hold at least 150 cases on each kernel, every one complete or with its reason, from the case set', () => {
    const ids = new Set(CASES.map((c) => c.id));
    for (const k of kernels) {
      const cs = fixtureCases(k);
      expect(cs.length, k).toBeGreaterThanOrEqual(150);
      for (const id of cs) {
        expect(ids.has(id), `${k}/${id} is not in the case set`).toBe(true);
        const f = readFixture(`${FIXTURES_DIR}${k}/${id}`);
        expect(f.complete || !!f.incomplete, `${k}/${id}`).toBe(true);
        expect(f.steps[0]!.state.nd !== '' || f.machine.dimms.length === 0, `${k}/${id} has its boot state`).toBe(true);
      }
    }
  });

  it('and the pending table names only recorded kernels, cases and aspects, with reasons it defines', () => {
    for (const [k, cases] of Object.entries(PENDING.kernels)) {
      expect(kernels, `pending kernel ${k}`).toContain(k);
      const known = new Set(fixtureCases(k));
      for (const [id, aspects] of Object.entries(cases)) {
        expect(known.has(id), `pending case ${k}/${id} is not recorded`).toBe(true);
        for (const [a, key] of Object.entries(aspects)) {
          expect(ASPECTS as readonly string[], `${k}/${id}`).toContain(a);
          expect(PENDING.reasons[key!], `${k}/${id} ${a}: reason ${key}`).toBeDefined();
        }
      }
    }
    for (const r of Object.values(PENDING.reasons)) expect([12, 13, 14, 16, 'kept']).toContain(r.issue);
  });
});

for (const kernel of kernels) {
  const ids = fixtureCases(kernel);
  const profile = manifest?.kernels[kernel]?.profile ?? (ids[0] ? readFixture(`${FIXTURES_DIR}${kernel}/${ids[0]}`).profile : 'v6');
  const modelled = (KERNELS as readonly string[]).includes(profile);
  describe(`real ${kernel} vs model ${profile}`, () => {
    for (const id of ids) {
      if (!modelled) {
        it.todo(`${kernel}/${id}: the model has no ${profile} profile yet (#12)`);
        continue;
      }
      const dir = `${FIXTURES_DIR}${kernel}/${id}`;
      const fixture = readFixture(dir);
      let cmp: Promise<Comparison> | undefined;
      const comparison = () => (cmp ??= compareWithModel(fixture, main, { backend }).then((r) => r.comparison));
      describe(id, () => {
        for (const aspect of aspectsOf(fixture)) {
          const p = findPending(PENDING, kernel, id, aspect);
          const name = `${kernel}/${id} ${aspect}`;
          if (p) it.fails(`${name} (${p.issue === 'kept' ? 'kept' : `pending #${p.issue}`}: ${p.key})`, async () => verdict(await comparison(), aspect));
          else it(name, async () => verdict(await comparison(), aspect));
        }
      });
    }
  });
}
