/**
 * The oracle's operations: a real run (live or recorded) against the model, and a live real run
 * against its recorded fixture (the CI smoke run: the real kernel must still say what we recorded).
 */
import { compareRuns, type Comparison, type RealSide } from './compare.ts';
import { fixtureFromRun, type Fixture } from './fixtures.ts';
import { layoutFrom, runOnModel, type CliMain, type ModelRun } from './model.ts';
import { pageLine, parseKpages } from './kpages.ts';
import { bootCase, bootSteps, type BootOptions } from './qemu.ts';
import type { OracleCase, OracleProfile, RealRun } from './types.ts';

/** The model's run of a recorded (or live) real run's steps, on the same layout. */
export async function modelRunFor(f: Fixture, main: CliMain, o: { profile?: OracleProfile; backend?: 'wasm' | 'ts'; state?: boolean } = {}): Promise<ModelRun> {
  const boot = f.steps[0]!;
  // the regions as the setup steps left them (labels initialised or not)
  const setup = [...f.steps].reverse().find((x) => x.setup) ?? boot;
  const layout = layoutFrom(f.earlyBoot, setup.state.nd, boot.state.memory);
  // a traced step is traced on the model with the real filter (NN.filter, "name [module]" per line); an older
  // recording without one with the guest's list
  const filterOf = (x: (typeof f.steps)[number]): true | string[] => (x.filter === undefined ? true : x.filter.split('\n').map((l) => l.replace(/\s*\[.*\]$/, '').trim()).filter(Boolean));
  return runOnModel(
    layout,
    f.steps.map((s) => ({ index: s.index, run: s.run, ...(s.setup ? { setup: true } : {}), ...(s.trace !== undefined ? { trace: filterOf(s) } : {}) })),
    {
      main,
      profile: o.profile ?? f.profile,
      ...(o.backend ? { backend: o.backend } : {}),
      ...(o.state !== undefined ? { state: o.state } : {}),
      realPages: (i) => {
        const s = f.steps.find((x) => x.index === i);
        return s && /^kpages\b/.test(s.run) ? parseKpages(s.stdout).map((p) => p.pfn) : null;
      },
      realSysfs: (i) => {
        // the boot is compared with what the real machine was after its setup steps (compareRuns): ask for those paths
        const s = i === 0 ? setup : f.steps.find((x) => x.index === i);
        return s ? { nd: s.state.nd, dax: s.state.dax, memory: s.state.memory, node: s.state.node } : {};
      },
    },
  );
}

/** A recorded (or live) real run against the model. */
export async function compareWithModel(f: Fixture, main: CliMain, o: { profile?: OracleProfile; backend?: 'wasm' | 'ts' } = {}): Promise<{ comparison: Comparison; model: ModelRun }> {
  const model = await modelRunFor(f, main, o);
  const comparison = compareRuns({ caseId: f.caseId, kernel: f.kernel, profile: o.profile ?? f.profile }, f.steps, model);
  return { comparison, model };
}

/** A real run shaped as the model side of a comparison (for real-vs-recorded). */
function asModelRun(f: Fixture): ModelRun {
  // compareRuns sets the model's boot beside the state the real setup steps left: so does this side
  const lastSetup = [...f.steps].reverse().find((s) => s.setup);
  return {
    profile: f.profile,
    machine: {},
    steps: f.steps.map((s0) => (s0.index === 0 && lastSetup ? { ...s0, state: lastSetup.state } : s0)).map((s) => ({
      index: s.index,
      run: s.run,
      ...(s.setup ? { setup: true } : {}),
      argv: [],
      exit: s.exit,
      stdout: s.stdout,
      stderr: s.stderr,
      dmesg: s.dmesg,
      state: { ...s.state },
      stateMissing: {},
      ...(s.trace !== undefined ? { trace: s.trace } : {}),
      ...(/^kpages\b/.test(s.run) ? { pages: parseKpages(s.stdout).map(pageLine).join('\n') } : {}),
    })),
  };
}

/**
 * A live real run against the recorded one: same normalisation as against the model, plus the whole
 * /proc/iomem. The real kernel is the authority, so a difference here means the fixture is stale (or
 * the environment changed: another kernel build, QEMU, ndctl).
 */
export function compareReal(recorded: Fixture, live: Fixture): Comparison {
  const c = compareRuns({ caseId: recorded.caseId, kernel: recorded.kernel, profile: `real ${live.kernel} (live)` }, recorded.steps as RealSide[], asModelRun(live));
  if (recorded.steps.length !== live.steps.length) {
    c.agree = false;
    c.aspects.find((a) => a.aspect === 'exit')!.diffs.push({ index: Math.min(recorded.steps.length, live.steps.length), run: '(steps)', real: `${recorded.steps.length} steps recorded`, model: `${live.steps.length} steps now` });
    c.aspects.find((a) => a.aspect === 'exit')!.status = 'differ';
  }
  return c;
}

/** Boot a case on a real kernel and return it as a Fixture (in memory). */
export async function liveFixture(c: OracleCase, o: BootOptions): Promise<{ fixture: Fixture; run: RealRun & { console: string } }> {
  const run = await bootCase(c, o);
  return { fixture: fixtureFromRun(c, run), run };
}

export { bootSteps };
export type { OracleProfile };
