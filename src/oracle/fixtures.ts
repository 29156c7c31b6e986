/**
 * Recorded real-kernel runs as text under test/fixtures/real/:
 *
 *   manifest.json                       tools, host, and per kernel: profile, package, release, cmdline, modules
 *   <kernel>/_boot/<machine>.dmesg       the boot log up to "Run /init" of one machine shape (shared by its cases)
 *   <kernel>/<case-id>/run.json          the case as run, per step: command, exit, timing, which files it has
 *   <kernel>/<case-id>/NN.stdout|stderr|dmesg|trace|filter      what step NN printed (00 is the boot)
 *   <kernel>/<case-id>/NN.iomem|meminfo   /proc/iomem and /proc/meminfo after step NN, when they changed
 *   <kernel>/<case-id>/00.nd|dax|memory|node|drivers   the sysfs state at boot (path:value lines, sorted)
 *   <kernel>/<case-id>/NN.<that>.diff    what step NN changed in it: "-line" and "+line" 
 *   <kernel>/<case-id>/traceable.txt     available_filter_functions limited to the trace filter (traced cases)
 *   <kernel>/<case-id>/console-tail.txt  the serial console's last lines, when the run did not complete (a panic)
 *
 * Text is stored as the guest printed it. The only reshaping is of the sysfs dump (path:value lines):
 * it is split by subsystem (nd, dax, memory, node), sorted, and duplicate lines dropped. Normalisation
 * (timestamps, uuids) is the comparison's business, never the recording's. Of nodeN/meminfo only the
 * MemTotal line is kept (the rest changes with every allocation; /proc/meminfo is recorded whole).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OracleCase, OracleProfile, RealRun, RealStep, StepHeader } from './types.ts';

export const FIXTURES_DIR = fileURLToPath(new URL('../../test/fixtures/real/', import.meta.url));

/** State files of a step, in the order the reader shows them. */
export const FIXTURE_STATE_KEYS = ['iomem', 'meminfo', 'nd', 'dax', 'memory', 'node', 'drivers'] as const;
export type FixtureStateKey = (typeof FIXTURE_STATE_KEYS)[number];

/** State kept as sets of lines: after the boot, a step stores what changed ("+line" / "-line", NN.<key>.diff). */
export const DELTA_KEYS: readonly FixtureStateKey[] = ['nd', 'dax', 'memory', 'node', 'drivers'];

function lineSet(text: string): string[] {
  return [...new Set(text.split('\n').filter(Boolean))].sort();
}

/** "+line" / "-line" for what `after` has that `before` has not, and the other way. */
export function lineDelta(before: string, after: string): string {
  const a = new Set(lineSet(before));
  const b = new Set(lineSet(after));
  const out = [...[...a].filter((l) => !b.has(l)).map((l) => `-${l}`), ...[...b].filter((l) => !a.has(l)).map((l) => `+${l}`)];
  out.sort((x, y) => (x.slice(1) === y.slice(1) ? x.localeCompare(y) : x.slice(1).localeCompare(y.slice(1))));
  return out.length ? out.join('\n') + '\n' : '';
}

/** A line set's stored form: sorted, each line once. */
export function setForm(text: string): string {
  const out = lineSet(text);
  return out.length ? out.join('\n') + '\n' : '';
}

/** `before` with a delta applied (sorted, one line each). */
export function applyDelta(before: string, delta: string): string {
  const set = new Set(lineSet(before));
  for (const l of delta.split('\n')) {
    if (l.startsWith('-')) set.delete(l.slice(1));
    else if (l.startsWith('+')) set.add(l.slice(1));
  }
  const out = [...set].sort();
  return out.length ? out.join('\n') + '\n' : '';
}

const SYSFS_GROUPS: Array<[Exclude<FixtureStateKey, 'iomem' | 'meminfo' | 'drivers'>, (path: string) => boolean]> = [
  ['nd', (p) => p.startsWith('/sys/bus/nd/')],
  ['dax', (p) => p.startsWith('/sys/bus/dax/')],
  ['memory', (p) => p.startsWith('/sys/devices/system/memory/') || p.startsWith('/sys/module/memory_hotplug/')],
  ['node', (p) => p.startsWith('/sys/devices/system/node/')],
];

/** The sysfs dump (path:value lines) by subsystem, sorted, without power/ and uevent files, and of nodeN/meminfo only MemTotal. */
export function splitSysfs(dump: string): Record<string, string> {
  const groups: Record<string, Set<string>> = {};
  for (const line of dump.split('\n')) {
    if (!line) continue;
    const colon = line.indexOf(':');
    const path = colon < 0 ? line : line.slice(0, colon);
    if (/\/power\/|\/uevent$/.test(path)) continue;
    // of a node's meminfo, MemTotal only: the rest changes with every allocation (and /proc/meminfo has it)
    if (/\/node\d+\/meminfo$/.test(path) && !/ MemTotal:/.test(line)) continue;
    const g = SYSFS_GROUPS.find(([, f]) => f(path));
    if (!g) continue;
    (groups[g[0]] ??= new Set()).add(line);
  }
  const out: Record<string, string> = {};
  for (const [k] of SYSFS_GROUPS) out[k] = groups[k] ? [...groups[k]].sort().join('\n') + '\n' : '';
  return out;
}

/** The guest's state blobs as fixture state files. */
function stateFiles(s: RealStep): Partial<Record<FixtureStateKey, string>> {
  const out: Partial<Record<FixtureStateKey, string>> = {};
  if (s.state.iomem !== undefined) out.iomem = s.state.iomem;
  if (s.state.meminfo !== undefined) out.meminfo = s.state.meminfo;
  if (s.state.sysfs !== undefined) Object.assign(out, splitSysfs(s.state.sysfs));
  if (s.state.drivers !== undefined) out.drivers = s.state.drivers;
  return out;
}

const BOOT_SPLIT = /^.*Run \/init as init process.*$/m;

/** A machine's shape, for sharing its boot log. */
export function machineKey(c: Pick<OracleCase, 'machine'>): string {
  return createHash('sha256').update(JSON.stringify(c.machine)).digest('hex').slice(0, 10);
}

export interface StepRecord extends StepHeader {
  t0?: number;
  t1?: number;
  /** The files this step has (beyond run.json), by kind. */
  files: string[];
}

export interface RunRecord {
  caseId: string;
  title: string;
  tags: string[];
  profile: OracleProfile;
  kernel: string;
  release: string;
  package: string;
  packageVersion: string;
  machine: OracleCase['machine'];
  cmdline: string;
  qemuArgs: string[];
  bootLog: string;
  complete: boolean;
  incomplete?: string;
  wallSeconds: number;
  bootSeconds?: number;
  steps: StepRecord[];
}

const pad = (i: number) => String(i).padStart(2, '0');

/** A run as fixture files in memory: run.json's record, the step files, the early boot log. */
export interface BuiltFixture {
  record: RunRecord;
  files: Record<string, string>;
  earlyBoot: string;
  traceable?: string;
}

/** Lay a real run out as fixture files (without writing them). */
export function buildFixture(c: OracleCase, run: RealRun): BuiltFixture {
  const bootLog = `_boot/${machineKey(c)}.dmesg`;
  const files: Record<string, string> = {};
  let earlyBoot = '';
  const prev: Partial<Record<FixtureStateKey, string>> = {};
  const steps: StepRecord[] = [];
  for (const s of run.steps) {
    const kinds: string[] = [];
    const put = (kind: string, text: string | undefined, always = false) => {
      if (text === undefined || (!always && text === '')) return;
      files[`${pad(s.index)}.${kind}`] = text;
      kinds.push(kind);
    };
    let dmesg = s.dmesg;
    if (s.index === 0) {
      const m = BOOT_SPLIT.exec(dmesg);
      if (m) {
        earlyBoot = dmesg.slice(0, m.index);
        dmesg = dmesg.slice(m.index);
      }
    }
    put('stdout', s.stdout);
    put('stderr', s.stderr);
    put('dmesg', dmesg);
    put('trace', s.trace);
    put('filter', s.traceFilter);
    // of the setup steps (disable-region, init-labels, enable-region) only the last keeps the state it left
    const next = run.steps[run.steps.indexOf(s) + 1];
    const st = s.setup && next?.setup ? {} : stateFiles(s);
    for (const k of FIXTURE_STATE_KEYS) {
      let v = st[k];
      if (v === undefined) continue;
      if (DELTA_KEYS.includes(k)) v = setForm(v);
      if (v === prev[k]) continue;
      if (DELTA_KEYS.includes(k) && prev[k] !== undefined) put(`${k}.diff`, lineDelta(prev[k]!, v), true);
      else put(k, v, true);
      prev[k] = v;
    }
    steps.push({
      index: s.index,
      run: s.run,
      ...(s.setup ? { setup: true } : {}),
      exit: s.exit,
      ...(s.timedOut ? { timedOut: true } : {}),
      ...(s.skipped ? { skipped: true } : {}),
      ...(s.hung ? { hung: s.hung } : {}),
      ...(s.t0 !== undefined ? { t0: s.t0 } : {}),
      ...(s.t1 !== undefined ? { t1: s.t1 } : {}),
      files: kinds,
    });
  }
  const record: RunRecord = {
    caseId: c.id,
    title: c.title,
    tags: c.tags,
    profile: run.profile,
    kernel: run.kernel,
    release: run.release,
    package: run.package,
    packageVersion: run.packageVersion,
    machine: c.machine,
    cmdline: run.cmdline,
    qemuArgs: run.qemuArgs,
    bootLog,
    complete: run.complete,
    ...(run.incomplete ? { incomplete: run.incomplete } : {}),
    wallSeconds: run.wallSeconds,
    ...(run.bootSeconds !== undefined ? { bootSeconds: run.bootSeconds } : {}),
    steps,
  };
  return { record, files, earlyBoot, ...(run.traceable !== undefined ? { traceable: run.traceable } : {}) };
}

/** Write one run (replacing an earlier recording of the same case on the same kernel). An incomplete run keeps the tail of its serial console. */
export function writeFixture(c: OracleCase, run: RealRun, root = FIXTURES_DIR, consoleText?: string): string {
  const b = buildFixture(c, run);
  const kdir = join(root, run.kernel);
  const dir = join(kdir, c.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(kdir, '_boot'), { recursive: true });
  if (b.earlyBoot && !existsSync(join(kdir, b.record.bootLog))) writeFileSync(join(kdir, b.record.bootLog), b.earlyBoot);
  for (const [f, text] of Object.entries(b.files)) writeFileSync(join(dir, f), text);
  if (b.traceable !== undefined) writeFileSync(join(dir, 'traceable.txt'), b.traceable);
  if (!run.complete && consoleText) writeFileSync(join(dir, 'console-tail.txt'), consoleText.split('\n').slice(-150).join('\n'));
  writeFileSync(join(dir, 'run.json'), JSON.stringify(b.record, null, 2) + '\n');
  return dir;
}

/** A recorded step with its state resolved (carried forward from the last step that changed it). */
export interface FixtureStep extends StepRecord {
  stdout: string;
  stderr: string;
  dmesg: string;
  trace?: string;
  filter?: string;
  state: Record<FixtureStateKey, string>;
  /** The state keys that changed in this step. */
  changed: FixtureStateKey[];
}

export interface Fixture extends Omit<RunRecord, 'steps'> {
  dir: string;
  /** The early boot log (up to Run /init), from the shared file. */
  earlyBoot: string;
  traceable?: string;
  steps: FixtureStep[];
}

function resolve(rec: RunRecord, file: (name: string) => string, dir: string, earlyBoot: string, traceable: string | undefined): Fixture {
  const state = Object.fromEntries(FIXTURE_STATE_KEYS.map((k) => [k, ''])) as Record<FixtureStateKey, string>;
  const steps: FixtureStep[] = rec.steps.map((s) => {
    const f = (kind: string) => (s.files.includes(kind) ? file(`${pad(s.index)}.${kind}`) : undefined);
    const changed: FixtureStateKey[] = [];
    for (const k of FIXTURE_STATE_KEYS) {
      const v = f(k);
      const d = f(`${k}.diff`);
      if (v !== undefined) state[k] = v;
      else if (d !== undefined) state[k] = applyDelta(state[k], d);
      else continue;
      changed.push(k);
    }
    const trace = f('trace');
    const filter = f('filter');
    return { ...s, stdout: f('stdout') ?? '', stderr: f('stderr') ?? '', dmesg: f('dmesg') ?? '', ...(trace !== undefined ? { trace } : {}), ...(filter !== undefined ? { filter } : {}), state: { ...state }, changed };
  });
  return { ...rec, dir, earlyBoot, ...(traceable !== undefined ? { traceable } : {}), steps };
}

/** A live run as a Fixture, without going through the disk. */
export function fixtureFromRun(c: OracleCase, run: RealRun): Fixture {
  const b = buildFixture(c, run);
  return resolve(b.record, (n) => b.files[n]!, '', b.earlyBoot, b.traceable);
}

/** Read one recorded run. */
export function readFixture(dir: string): Fixture {
  const rec = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  const boot = join(dir, '..', rec.bootLog);
  const traceable = existsSync(join(dir, 'traceable.txt')) ? readFileSync(join(dir, 'traceable.txt'), 'utf8') : undefined;
  return resolve(rec, (n) => readFileSync(join(dir, n), 'utf8'), dir, existsSync(boot) ? readFileSync(boot, 'utf8') : '', traceable);
}

/**
 * Rewrite a recorded case with the current selection rules (splitSysfs): state files re-filtered, the
 * ones that no longer change dropped, run.json's file lists updated. Content is never altered otherwise.
 */
export function compactFixture(dir: string): void {
  const rec = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  const prev: Partial<Record<FixtureStateKey, string>> = {};
  const cur: Partial<Record<FixtureStateKey, string>> = {};
  const carry: Partial<Record<'iomem' | 'meminfo', string>> = {};
  rec.steps.forEach((s, i) => {
    const intermediate = !!s.setup && !!rec.steps[i + 1]?.setup;
    // of the setup steps only the last keeps the state it left (the others' is never compared)
    for (const k of ['iomem', 'meminfo'] as const) {
      const f = join(dir, `${pad(s.index)}.${k}`);
      if (intermediate) {
        if (s.files.includes(k)) {
          carry[k] = readFileSync(f, 'utf8');
          rmSync(f);
          s.files = s.files.filter((x) => x !== k);
        }
      } else if (carry[k] !== undefined) {
        if (!s.files.includes(k)) {
          writeFileSync(f, carry[k]!);
          s.files.push(k);
        }
        delete carry[k];
      }
    }
    for (const k of DELTA_KEYS) {
      const full = join(dir, `${pad(s.index)}.${k}`);
      const diff = `${full}.diff`;
      let v: string | undefined;
      if (s.files.includes(k)) v = readFileSync(full, 'utf8');
      else if (s.files.includes(`${k}.diff`)) v = applyDelta(cur[k] ?? '', readFileSync(diff, 'utf8'));
      if (v === undefined) continue;
      cur[k] = v;
      if (k !== 'drivers') v = splitSysfs(v)[k]!;
      v = setForm(v);
      if (existsSync(full)) rmSync(full);
      if (existsSync(diff)) rmSync(diff);
      s.files = s.files.filter((x) => x !== k && x !== `${k}.diff`);
      if (v === prev[k] || intermediate) continue;
      if (prev[k] === undefined) {
        writeFileSync(full, v);
        s.files.push(k);
      } else {
        writeFileSync(diff, lineDelta(prev[k]!, v));
        s.files.push(`${k}.diff`);
      }
      prev[k] = v;
    }
  });
  writeFileSync(join(dir, 'run.json'), JSON.stringify(rec, null, 2) + '\n');
}

/** Every recorded kernel directory (6.12.117, 6.1.192, ...). */
export function fixtureKernels(root = FIXTURES_DIR): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** The case ids recorded for a kernel. */
export function fixtureCases(kernel: string, root = FIXTURES_DIR): string[] {
  const k = join(root, kernel);
  if (!existsSync(k)) return [];
  return readdirSync(k, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('_') && existsSync(join(k, d.name, 'run.json')))
    .map((d) => d.name)
    .sort();
}

export interface Manifest {
  recorded: string;
  tools: Record<string, unknown>;
  kernels: Record<string, { profile: OracleProfile; package: string; packageVersion: string; release: string; cmdlineBase: string; modules: string[]; cases: number; recorded: string; structPages?: string }>;
}

export function readManifest(root = FIXTURES_DIR): Manifest | null {
  const f = join(root, 'manifest.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Manifest) : null;
}

export function writeManifest(m: Manifest, root = FIXTURES_DIR): void {
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'manifest.json'), JSON.stringify(m, null, 2) + '\n');
}

/** The fixture kernel directory that records a profile (from the manifest). */
export function kernelForProfile(profile: OracleProfile, root = FIXTURES_DIR): string | null {
  const m = readManifest(root);
  if (!m) return null;
  const hit = Object.entries(m.kernels).find(([, v]) => v.profile === profile);
  return hit ? hit[0] : null;
}
