/**
 * `altmap oracle`: the real kernel beside the model.
 *
 *   altmap oracle scenario.json --kernel v6        boot Debian's 6.12 under QEMU, run the steps there and on
 *                                                 the model, print both side by side; exit 0 when they agree
 *   altmap oracle --case ns-fsdax-dev-16G,tag:kmem  the same for cases of the recorded case set
 *   altmap oracle --fixtures [--case ...]          the model against the recorded real-kernel fixtures (no QEMU)
 *   altmap oracle --verify --case ...              the real kernel against its recorded fixture (CI smoke run)
 *   altmap oracle --record [--case ...]            (re)record fixtures into test/fixtures/real/ (both kernels)
 *   altmap oracle --compare-kernels 6.12.117,6.1.192  two recorded kernels side by side, case by case
 *   altmap oracle --list                           the case set
 *
 * Exit codes: 0 agree; 1 a disagreement, or a real boot that did not complete; 2 usage; 3 the host
 * cannot run the oracle (packages, kernel download).
 *
 * The command is registered on the CLI's program by `registerOracleCommand(program, setExit, main)`;
 * `main` is the CLI's own entry, which runs the model's side in-process (passed in so that this file
 * never imports the CLI back).
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { CASES, selectCases, usesKpages } from '../oracle/cases.ts';
import { formatComparison, type Comparison } from '../oracle/compare.ts';
import { defaultWorkdir, DEFAULT_IMAGES, OracleSetupError, prepare } from '../oracle/env.ts';
import { FIXTURES_DIR, fixtureCases, fixtureKernels, kernelForProfile, readFixture, readManifest } from '../oracle/fixtures.ts';
import type { CliMain } from '../oracle/model.ts';
import { compareReal, compareWithModel, liveFixture } from '../oracle/oracle.ts';
import { observedOf, pendingSource, type Observed } from '../oracle/pending.ts';
import { progressBar, record, type Bar } from '../oracle/record.ts';
import { ORACLE_PROFILES, type OracleCase, type OracleProfile, type OracleScenario } from '../oracle/types.ts';

interface OracleOpts {
  kernel?: string;
  backend?: 'wasm' | 'ts';
  case?: string;
  linuxImage?: string;
  record?: boolean;
  fixtures?: boolean;
  verify?: boolean;
  list?: boolean;
  json?: boolean;
  workdir?: string;
  fixturesDir?: string;
  jobs?: string;
  keep?: boolean;
  install: boolean;
  pending?: boolean;
  width?: string;
  compareKernels?: string;
}

class Usage extends Error {}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}
function err(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : s + '\n');
}

/** A scenario file: { description?, machine: { ram, dimms: [{ size, labels?, addr? }], cmdline? }, steps: [{ run, trace? }] }. */
export function loadScenario(file: string): OracleCase {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Usage(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const sc = raw as OracleScenario;
  const bad = (why: string): never => {
    throw new Usage(`${file}: ${why}`);
  };
  if (!sc || typeof sc !== 'object') bad('not an object');
  if (!sc.machine || typeof sc.machine !== 'object') bad('needs "machine": { "ram": "2G", "dimms": [{ "size": "16G" }] }');
  if (typeof sc.machine.ram !== 'string') bad('machine.ram must be a size string ("2G")');
  if (!Array.isArray(sc.machine.dimms)) bad('machine.dimms must be a list of { "size": "16G", "labels"?: false, "addr"?: "0x..." }');
  for (const [i, d] of sc.machine.dimms.entries()) if (!d || typeof d.size !== 'string') bad(`machine.dimms[${i}].size must be a size string`);
  if (sc.machine.cmdline !== undefined && (!Array.isArray(sc.machine.cmdline) || sc.machine.cmdline.some((c) => typeof c !== 'string'))) bad('machine.cmdline must be a list of strings');
  if (!Array.isArray(sc.steps) || !sc.steps.length) bad('needs "steps": [{ "run": "ndctl create-namespace -s 1G" }, ...]');
  for (const [i, st] of sc.steps.entries()) if (!st || typeof st.run !== 'string' || !st.run.trim()) bad(`steps[${i}].run must be a command line`);
  const id = sc.id ?? file.replace(/^.*\//, '').replace(/\.json$/, '');
  return { id, title: sc.title ?? sc.description ?? id, tags: sc.tags ?? ['scenario'], machine: sc.machine, steps: sc.steps, ...(sc.profiles ? { profiles: sc.profiles } : {}) };
}

function profilesOf(cmd: Command, o: OracleOpts, all: OracleProfile[]): OracleProfile[] {
  if (cmd.getOptionValueSourceWithGlobals('kernel') !== 'cli') return all;
  if (!(ORACLE_PROFILES as readonly string[]).includes(o.kernel ?? '')) throw new Usage(`--kernel ${o.kernel}: the oracle has real kernels for ${ORACLE_PROFILES.join(' and ')}`);
  return [o.kernel as OracleProfile];
}

function summaryLine(c: Comparison): string {
  const bad = c.aspects.filter((a) => a.status === 'differ').map((a) => a.aspect);
  const nm = c.aspects.filter((a) => a.status === 'not-modelled').map((a) => a.aspect);
  return `${c.agree ? 'agree ' : c.unsupported ? 'n/a   ' : 'DIFFER'}  ${c.kernel.padEnd(9)} ${c.caseId}${bad.length ? `  differ: ${bad.join(',')}` : ''}${nm.length ? `  not modelled: ${nm.join(',')}` : ''}${c.unsupported ? `  (${c.unsupported})` : ''}`;
}

async function cmdOracle(file: string | undefined, cmd: Command, main: CliMain): Promise<number> {
  const o = cmd.optsWithGlobals<OracleOpts>();
  const width = o.width ? Number(o.width) : Math.max(50, Math.min(90, Math.floor(((process.stdout.columns ?? 160) - 6) / 2)));
  const fixturesDir = o.fixturesDir ?? FIXTURES_DIR;
  const modes = [o.record, o.fixtures, o.verify, o.list, o.compareKernels].filter(Boolean).length;
  if (modes > 1) throw new Usage('--record, --fixtures, --verify, --compare-kernels and --list do not go together');
  if (file && o.case) throw new Usage('give a scenario file or --case, not both');

  if (o.list) {
    const cs = o.case ? selectCases(o.case) : [...CASES];
    if (o.json) out(JSON.stringify(cs, null, 2));
    else for (const c of cs) out(`${c.id.padEnd(36)} ${c.steps.length} steps  [${c.tags.join(',')}]  ${c.title}`);
    if (!o.json) err(`${cs.length} cases`);
    return 0;
  }

  // ---- one recorded kernel against another (what the v6.1 profile has to differ in)
  if (o.compareKernels) {
    const [a, b] = o.compareKernels.split(',');
    if (!a || !b) throw new Usage('--compare-kernels A,B: two recorded kernels, e.g. 6.12.117,6.1.192');
    for (const k of [a, b]) if (!fixtureKernels(fixturesDir).includes(k)) throw new Usage(`no recorded kernel ${k} in ${fixturesDir}`);
    const wanted = o.case ? new Set(selectCases(o.case).map((c) => c.id)) : null;
    const common = fixtureCases(a, fixturesDir).filter((id) => fixtureCases(b, fixturesDir).includes(id) && (!wanted || wanted.has(id)));
    const results: Comparison[] = [];
    for (const id of common) {
      const c = compareReal(readFixture(`${fixturesDir}/${a}/${id}`), readFixture(`${fixturesDir}/${b}/${id}`));
      c.profile = `real ${b}`;
      results.push(c);
      if (!o.json) out(o.case ? formatComparison(c, { width }) + '\n' : summaryLine(c));
    }
    if (o.json) out(JSON.stringify(results, null, 2));
    else out(`${results.filter((c) => c.agree).length} of ${results.length} cases say the same on ${a} and ${b}`);
    return 0;
  }

  // ---- the model against the recorded fixtures
  if (o.fixtures) {
    if (file) throw new Usage('--fixtures compares recorded cases: use --case, not a scenario file');
    let kernels = fixtureKernels(fixturesDir);
    if (cmd.getOptionValueSourceWithGlobals('kernel') === 'cli') {
      const k = kernelForProfile(o.kernel as OracleProfile, fixturesDir);
      if (!k) throw new Usage(`no recorded fixtures for --kernel ${o.kernel}`);
      kernels = [k];
    }
    const results: Comparison[] = [];
    const observed: Observed[] = [];
    for (const k of kernels) {
      const ids = fixtureCases(k, fixturesDir);
      const wanted = o.case ? new Set(selectCases(o.case).map((c) => c.id)) : null;
      for (const id of ids) {
        if (wanted && !wanted.has(id)) continue;
        const f = readFixture(`${fixturesDir}/${k}/${id}`);
        const { comparison } = await compareWithModel(f, main, { ...(o.backend ? { backend: o.backend } : {}) });
        results.push(comparison);
        if (!comparison.unsupported) observed.push(...observedOf(comparison, f.tags));
        if (!o.json && !o.pending) out(summaryLine(comparison));
      }
    }
    if (o.pending) out(pendingSource(observed));
    else if (o.json) out(JSON.stringify(results, null, 2));
    else {
      for (const c of results) if (!c.agree && !c.unsupported && o.case) out('\n' + formatComparison(c, { width }));
      out(`${results.filter((c) => c.agree).length} of ${results.length} recorded runs agree with the model`);
    }
    return results.every((c) => c.agree) ? 0 : 1;
  }

  // ---- record
  if (o.record) {
    const cases = file ? [loadScenario(file)] : selectCases(o.case ?? 'all');
    const profiles = profilesOf(cmd, o, [...ORACLE_PROFILES]);
    const s = await record({
      cases,
      profiles,
      images: o.linuxImage ? Object.fromEntries(profiles.map((p) => [p, o.linuxImage!])) : {},
      install: o.install,
      workdir: o.workdir ?? defaultWorkdir(),
      jobs: o.jobs ? Number(o.jobs) : 2,
      fixturesDir,
      log: (l) => err(l),
    });
    if (o.json) out(JSON.stringify(s, null, 2));
    for (const i of s.incomplete) err(`incomplete: ${i.kernel} ${i.caseId}: ${i.why}`);
    err(`recorded ${s.runs} runs into ${fixturesDir} in ${s.seconds.toFixed(0)} s`);
    return 0;
  }

  // ---- live real runs: against the model (default) or against the recorded fixture (--verify)
  const cases = file ? [loadScenario(file)] : o.case ? selectCases(o.case) : null;
  if (!cases) throw new Usage('give a scenario file, or --case IDS (see --list)');
  const profiles = profilesOf(cmd, o, ['v6']);
  const reports: Array<{ comparison: Comparison; real: { complete: boolean; incomplete?: string; wallSeconds: number; bootSeconds?: number } }> = [];
  let ok = true;
  const total = profiles.length * cases.length;
  const bar: Bar | null = process.stderr.isTTY && total > 1 && !o.json ? progressBar(total) : null;
  let done = 0;
  const later: string[] = [];
  for (const profile of profiles) {
    const env = prepare(profile, { structPages: cases.some(usesKpages), ...(o.linuxImage ? { pkg: o.linuxImage } : {}), workdir: o.workdir ?? defaultWorkdir(), install: o.install, log: (l) => err(l) });
    let i = 0;
    for (const c of cases) {
      i++;
      if (c.profiles && !c.profiles.includes(profile)) continue;
      if (!bar && process.stderr.isTTY) process.stderr.write(`\r\x1b[K  [${i}/${cases.length}] ${env.kernel.upstream} ${c.id}: booting`);
      bar?.update(done, { what: `${env.kernel.upstream} ${c.id}` });
      const { fixture, run } = await liveFixture(c, { ...env, ...(o.keep ? { keep: true } : {}) });
      bar?.update(++done, { what: `${env.kernel.upstream} ${c.id}` });
      if (!bar && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      if (!run.complete) {
        ok = false;
        later.push(`${c.id} on ${env.kernel.upstream}: the real run did not complete: ${run.incomplete}\n${run.console.split('\n').slice(-20).join('\n')}`);
        if (!bar) out(later.pop()!);
      }
      let comparison: Comparison;
      if (o.verify) {
        const dir = `${fixturesDir}/${env.kernel.upstream}/${c.id}`;
        if (!existsSync(`${dir}/run.json`)) throw new Usage(`no recorded fixture ${dir} (record it with --record)`);
        comparison = compareReal(readFixture(dir), fixture);
      } else {
        comparison = (await compareWithModel(fixture, main, { profile, ...(o.backend ? { backend: o.backend } : {}) })).comparison;
      }
      ok &&= comparison.agree;
      reports.push({ comparison, real: { complete: run.complete, ...(run.incomplete ? { incomplete: run.incomplete } : {}), wallSeconds: run.wallSeconds, ...(run.bootSeconds !== undefined ? { bootSeconds: run.bootSeconds } : {}) } });
      if (!o.json) {
        const text = `${formatComparison(comparison, { width })}\n  (real run: ${run.wallSeconds} s wall, guest up at ${run.bootSeconds ?? '?'} s)\n`;
        if (bar) later.push(text);
        else out(text);
      }
    }
  }
  bar?.stop();
  for (const t of later) out(t);
  if (o.json) out(JSON.stringify(reports, null, 2));
  else out(`${reports.filter((r) => r.comparison.agree).length} of ${reports.length} ${o.verify ? 'real runs match their fixtures' : 'cases agree with the model'}`);
  return ok ? 0 : 1;
}

/** Register `altmap oracle` on the CLI's program. `main` runs the model's side (the CLI's own entry). */
export function registerOracleCommand(program: Command, setExit: (code: number) => void, main: CliMain): Command {
  // --kernel is the program's option; the oracle also knows v6.1 (Debian 12's kernel), which the model
  // profiles may not have yet: the model's side then reports "not modelled" instead of a usage error.
  const k = program.options.find((x) => x.long === '--kernel') as (Option & { argChoices?: string[] }) | undefined;
  if (k?.argChoices) for (const p of ORACLE_PROFILES) if (!k.argChoices.includes(p)) k.argChoices = [...k.argChoices, p];
  const c = program
    .command('oracle')
    .description('the real kernel beside the model: boot Debian\'s Linux under QEMU, run the same steps on both, compare (--kernel v6 or v6.1)')
    .argument('[scenario]', 'oracle scenario JSON: { machine: { ram, dimms: [{ size, labels?, addr? }], cmdline? }, steps: [{ run, trace? }] }')
    .option('--case <ids>', 'cases of the recorded set: ids, globs (ns-fsdax-*), tag:NAME or all, comma-separated')
    .option('--linux-image <pkg>', `Debian kernel package to boot (default ${DEFAULT_IMAGES.v6} for v6, ${DEFAULT_IMAGES['v6.1']} for v6.1)`)
    .option('--fixtures', 'compare the model with the recorded real-kernel fixtures (no QEMU)')
    .option('--verify', 'compare the real kernel with its recorded fixtures (the CI smoke run)')
    .option('--record', 'record the cases on the real kernels into the fixtures (both kernels unless --kernel)')
    .option('--list', 'list the case set')
    .option('--compare-kernels <a,b>', 'compare two recorded kernels case by case (e.g. 6.12.117,6.1.192)')
    .option('--pending', 'with --fixtures: print the pending table (TypeScript) for what differs')
    .option('--json', 'print the comparison as JSON')
    .option('--workdir <dir>', `cache for packages, unpacked kernels, initramfs and runs (default ${defaultWorkdir()})`)
    .option('--fixtures-dir <dir>', 'where the fixtures are (default test/fixtures/real)')
    .option('--jobs <n>', 'QEMU guests at once when recording (default 2)')
    .option('--keep', 'keep the run directory (console log, guest report) of each boot')
    .option('--no-install', 'do not apt-get install missing host packages; name them and stop')
    .option('--width <n>', 'column width of the side-by-side report');
  c.action(async (file: string | undefined, _o: unknown, cmd: Command) => {
    try {
      setExit(await cmdOracle(file, cmd, main));
    } catch (e) {
      if (e instanceof Usage) {
        err(`error: ${e.message}`);
        setExit(2);
      } else if (e instanceof OracleSetupError) {
        err(`error: ${e.message}`);
        setExit(3);
      } else if (e instanceof Error && /^no oracle case /.test(e.message)) {
        err(`error: ${e.message} (see altmap oracle --list)`);
        setExit(2);
      } else throw e;
    }
  });
  return c;
}

/** The fixtures' manifest (kernels, tools, host), for --json consumers and tests. */
export function oracleManifest() {
  return readManifest();
}
