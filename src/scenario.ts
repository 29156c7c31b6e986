/**
 * Scenarios: a machine description and a list of steps, each a call of one machine method.
 *
 *   { "machine": { "e820": [...], "kernel": "v4.5" },
 *     "steps": [ { "op": "createDevice", "name": "pfn0.0" },
 *                { "op": "memremap", "device": "pfn0.0", "start": "0x400000000", "size": "64M",
 *                  "expectError": { "code": "EBUSY" } } ] }
 *
 * The whole scenario is validated before anything runs (shape, known ops, required arguments and
 * their types, no unknown keys); a malformed one is a KernelError EINVAL naming the step. Then every
 * step runs in order and yields a StepResult; a failing step does not stop the run unless it was
 * not expected to fail and `stopOnError` is set.
 *
 * Numbers: sizes and addresses may be JSON numbers (safe integers), or strings: decimal, 0x hex,
 * optionally with one binary suffix K/M/G/T ("16G", "0x400000000", "64M"). createNamespace's size
 * and align go to the machine as given, so ndctl's own size syntax and messages apply.
 */
import { Altmap, createMachine, type AltmapCounters, type AltmapInput, type Machine, type MachineConfig } from './machine.ts';
import { ERRNO, KernelError, type ErrnoCode } from './kernel/errno.ts';
import { parseInteger } from './args.ts';

// ------------------------------------------------------------------------------------------ types

/** One step as written in a scenario file: `op` plus its arguments. */
export interface ScenarioStep {
  /** The machine method to call ("createDevice", "memremap", "createNamespace", ...). */
  op: string;
  /** The step must fail with this errno code; anything else is a mismatch. */
  expectError?: {
    /** The errno name the step must fail with ("EBUSY"). */
    code: ErrnoCode;
  };
  /** The step must succeed with this value, in its JSON form (bigints as "0x..." hex); objects match on the keys given. */
  expect?: unknown;
  /** Free text for the reader; ignored. */
  note?: string;
  [arg: string]: unknown;
}

/** A scenario file: the machine to boot and the steps to run on it, in order. */
export interface Scenario {
  /** Free text for the reader; ignored. */
  description?: string;
  /** createMachine's config (default: the default machine). */
  machine?: MachineConfig;
  /** The steps, run in order. */
  steps: ScenarioStep[];
}

/** The altmap counters after a step that worked on a named altmap. */
export type AltmapSnapshot = AltmapCounters;

interface StepResultBase {
  /** The step's position in the scenario, from 0. */
  index: number;
  /** The step's op. */
  op: string;
  /** The code the step was expected to fail with, when it had expectError. */
  expectError?: ErrnoCode;
  /** Set when the outcome differs from the expectation: an unexpected failure, a wrong code, or a success where a failure was expected. */
  mismatch?: string;
  /** createAltmap, altmapAllocBlockBuf, vmemAltmapFree, vmemAltmapOffset: the altmap's counters after the step. */
  altmap?: AltmapSnapshot;
}

/** A step whose method returned. */
export interface StepOk extends StepResultBase {
  /** The method returned. */
  ok: true;
  /** The machine method's return value (bigints stay bigints; live views are snapshotted). */
  value: unknown;
}

/** A step whose method threw a KernelError. */
export interface StepFailed extends StepResultBase {
  /** The method threw. */
  ok: false;
  /** The KernelError it threw. */
  error: {
    /** The errno name ("EBUSY"). */
    code: ErrnoCode;
    /** The negative errno value (-16). */
    errno: number;
    /** The error's message. */
    message: string;
  };
}

/** What one step did: StepOk or StepFailed (tell them apart by `ok`), with `mismatch` set when that was not what the step expected. */
export type StepResult = StepOk | StepFailed;

/** How runScenario and runPreparedSteps run the steps. */
export interface RunScenarioOptions {
  /** Stop after a step that failed without an expectError. Default false. */
  stopOnError?: boolean;
  /** Run on this machine instead of booting one from `scenario.machine`; it is not disposed. */
  machine?: Machine;
  /** Merged over `scenario.machine` before booting (e.g. the CLI's --backend). */
  machineOverrides?: Partial<MachineConfig>;
  /** Called after every step (progress reporting). */
  onStep?: (result: StepResult, total: number) => void;
  /** Keep byte results longer than MAX_KEPT_BYTES whole (default: their length and digest). */
  keepBytes?: boolean;
}

// ------------------------------------------------------------------------------------ arguments

type Kind =
  | 'string'
  | 'u64'
  | 'pfn'
  | 'count'
  | 'nsSize'
  | 'int'
  | 'boolean'
  | 'altmapRef'
  | 'altmapInput'
  | { enum: readonly string[] };

interface ArgSpec {
  kind: Kind;
  optional?: boolean;
}

/** What a step's run may use besides the machine: the altmaps earlier steps named. */
interface StepContext {
  getAltmap(name: unknown): Altmap;
  bindAltmap(name: string, a: Altmap): void;
}

/** A step's outcome: the method's return value, and the altmap it worked on (its counters are reported). */
interface StepRun {
  value: unknown;
  touched?: Altmap;
}

interface OpSpec {
  args: Record<string, ArgSpec>;
  /** Extra whole-step checks; returns a reason when the step is malformed. */
  check?: (raw: Record<string, unknown>) => string | undefined;
  /** Call the machine method with the validated arguments. */
  run: (m: Machine, a: Record<string, unknown>, ctx: StepContext) => StepRun;
}

const req = (kind: Kind): ArgSpec => ({ kind });
const opt = (kind: Kind): ArgSpec => ({ kind, optional: true });
const value = (v: unknown): StepRun => ({ value: v });

const OPS: Readonly<Record<string, OpSpec>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, OpSpec>, {
    createDevice: { args: { name: req('string') }, run: (m, a) => value(m.createDevice(a.name as string)) },
    unbind: { args: { device: req('string') }, run: (m, a) => value(m.unbind(a.device as string) ?? null) },
    memremap: {
      args: { device: req('string'), start: req('u64'), end: opt('u64'), size: opt('u64'), altmap: opt('altmapInput') },
      check: (s) => ((s.end === undefined) === (s.size === undefined) ? 'needs exactly one of "end" (inclusive) or "size"' : undefined),
      run: (m, a, ctx) => {
        const start = a.start as bigint;
        const end = a.end !== undefined ? (a.end as bigint) : start + (a.size as bigint) - 1n;
        let altmap: AltmapInput | null = null;
        if (typeof a.altmap === 'string') altmap = ctx.getAltmap(a.altmap).toJSON() as unknown as AltmapInput;
        else if (a.altmap) altmap = a.altmap as AltmapInput;
        if (altmap) altmap = { basePfn: altmap.basePfn, reserve: altmap.reserve, free: altmap.free, align: altmap.align, alloc: altmap.alloc };
        return value(m.devmMemremapPages(a.device as string, { start, end }, altmap));
      },
    },
    findDevPagemap: { args: { phys: req('u64') }, run: (m, a) => value(m.findDevPagemap(a.phys as bigint)) },
    toVmemAltmap: { args: { vaddr: req('u64') }, run: (m, a) => value(m.toVmemAltmap(a.vaddr as bigint)) },
    createAltmap: {
      args: { name: opt('string'), basePfn: req('u64'), reserve: req('u64'), free: req('u64'), align: opt('u64'), alloc: opt('u64') },
      run: (m, a, ctx) => {
        const made = m.createAltmap({ basePfn: a.basePfn as bigint, reserve: a.reserve as bigint, free: a.free as bigint, align: a.align as bigint | undefined, alloc: a.alloc as bigint | undefined });
        const name = (a.name as string | undefined) ?? DEFAULT_ALTMAP_NAME;
        ctx.bindAltmap(name, made);
        return { value: { name, ...snapshot(made) }, touched: made };
      },
    },
    altmapAllocBlockBuf: {
      args: { altmap: req('altmapRef'), bytes: req('u64') },
      run: (m, a, ctx) => {
        const touched = ctx.getAltmap(a.altmap);
        return { value: m.altmapAllocBlockBuf(touched, a.bytes as bigint), touched };
      },
    },
    vmemAltmapFree: {
      args: { altmap: req('altmapRef'), nrPfns: req('count') },
      run: (m, a, ctx) => {
        const touched = ctx.getAltmap(a.altmap);
        m.vmemAltmapFree(touched, a.nrPfns as number);
        return { value: null, touched };
      },
    },
    vmemAltmapOffset: {
      args: { altmap: req('altmapRef') },
      run: (m, a, ctx) => {
        const touched = ctx.getAltmap(a.altmap);
        return { value: m.vmemAltmapOffset(touched), touched };
      },
    },
    pfnToPage: { args: { pfn: req('pfn') }, run: (m, a) => value(m.pfnToPage(a.pfn as number)) },
    pageToPfn: { args: { vaddr: req('u64') }, run: (m, a) => value(m.pageToPfn(a.vaddr as bigint)) },
    page: { args: { pfn: req('pfn') }, run: (m, a) => value(m.page(a.pfn as number)) },
    readPhys: { args: { phys: req('u64'), length: req('count') }, run: (m, a) => value(m.readPhys(a.phys as bigint, a.length as number)) },
    walk: { args: { vaddr: req('u64') }, run: (m, a) => value(m.walk(a.vaddr as bigint)) },
    regionIntersects: { args: { start: req('u64'), size: req('u64'), name: req('string') }, run: (m, a) => value(m.regionIntersects(a.start as bigint, a.size as bigint, a.name as string)) },
    createNamespace: {
      args: { size: opt('nsSize'), mode: opt({ enum: ['fsdax', 'devdax', 'raw', 'sector'] }), map: opt({ enum: ['dev', 'mem'] }), align: opt('nsSize'), sectorSize: opt('nsSize'), region: opt('int'), reconfig: opt('string'), name: opt('string') },
      run: (m, a) => {
        const o: Record<string, unknown> = {};
        for (const k of ['size', 'mode', 'map', 'align', 'region', 'sectorSize', 'reconfig', 'name']) if (a[k] !== undefined) o[k] = a[k];
        return value(m.createNamespace(o));
      },
    },
    destroyNamespace: { args: { dev: req('string') }, run: (m, a) => value(m.destroyNamespace(a.dev as string) ?? null) },
    reconfigureDevice: {
      args: { dev: req('string'), mode: req({ enum: ['system-ram', 'devdax'] }), memmapOnMemory: opt('boolean'), forceMemmapOnMemory: opt('boolean'), movable: opt('boolean'), online: opt('boolean') },
      run: (m, a) =>
        value(
          m.reconfigureDevice(a.dev as string, {
            mode: a.mode as 'system-ram',
            memmapOnMemory: a.forceMemmapOnMemory ? 'force' : (a.memmapOnMemory as boolean | undefined),
            movable: a.movable as boolean | undefined,
            online: a.online as boolean | undefined,
          }),
        ),
    },
    listNamespaces: { args: { human: opt('boolean') }, run: (m, a) => value(m.listNamespaces({ human: a.human as boolean | undefined })) },
    stats: { args: {}, run: (m) => value(m.stats()) },
    readFile: { args: { path: req('string') }, run: (m, a) => value(m.readFile(a.path as string)) },
    listDir: { args: { path: req('string') }, run: (m, a) => value(m.listDir(a.path as string)) },
    writeFile: { args: { path: req('string'), text: req('string'), append: opt('boolean') }, run: (m, a) => value(m.writeFile(a.path as string, a.text as string, { append: a.append as boolean | undefined }) ?? null) },
    dmesg: { args: {}, run: (m) => value(m.dmesg()) },
  } satisfies Record<string, OpSpec>),
);

/** The op of a name, looked up as an own property only (never through the prototype). */
function opSpec(op: string): OpSpec | undefined {
  return Object.hasOwn(OPS, op) ? OPS[op] : undefined;
}

/** The ops a scenario may use. */
export const SCENARIO_OPS: readonly string[] = Object.keys(OPS);

/** The name a createAltmap step without `name` binds. */
export const DEFAULT_ALTMAP_NAME = 'altmap';

const STEP_KEYS = new Set(['op', 'expectError', 'expect', 'note']);
/** The scenario files' integers: the public API's one grammar (src/args.ts). */
export const parseScenarioInt = parseInteger;

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** Validate one argument; returns the converted value or throws a reason string. */
function convertArg(kind: Kind, v: unknown, altmaps: Set<string>): unknown {
  if (typeof kind === 'object') {
    if (typeof v !== 'string' || !kind.enum.includes(v)) throw `must be one of ${kind.enum.map((e) => JSON.stringify(e)).join(', ')}`;
    return v;
  }
  switch (kind) {
    case 'string':
      if (typeof v !== 'string' || v.length === 0) throw `must be a non-empty string, got ${typeName(v)}`;
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw `must be true or false, got ${typeName(v)}`;
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw `must be a non-negative integer, got ${JSON.stringify(v) ?? typeName(v)}`;
      return v;
    case 'u64': {
      const n = parseScenarioInt(v);
      if (typeof n === 'string') throw n;
      return n;
    }
    case 'pfn':
    case 'count': {
      const n = parseScenarioInt(v);
      if (typeof n === 'string') throw n;
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw `${String(v)} is too large for a ${kind === 'pfn' ? 'pfn' : 'count'}`;
      return Number(n);
    }
    case 'nsSize':
      // ndctl's syntax is the machine's business; here only the JSON type.
      if (typeof v === 'string' && v.length > 0) return v;
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
      throw `must be a size such as "16G" or a non-negative integer, got ${JSON.stringify(v) ?? typeName(v)}`;
    case 'altmapRef':
      if (typeof v !== 'string' || v.length === 0) throw `must name an altmap made by an earlier createAltmap step, got ${typeName(v)}`;
      if (!altmaps.has(v)) throw `no earlier createAltmap step names an altmap ${JSON.stringify(v)}`;
      return v;
    case 'altmapInput': {
      if (typeof v === 'string') return convertArg('altmapRef', v, altmaps);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw 'must be { basePfn, reserve, free, align?, alloc? } or the name of an altmap';
      const o = v as Record<string, unknown>;
      const out: Record<string, bigint> = {};
      for (const k of Object.keys(o)) if (!['basePfn', 'reserve', 'free', 'align', 'alloc'].includes(k)) throw `has an unknown field ${JSON.stringify(k)}`;
      for (const k of ['basePfn', 'reserve', 'free', 'align', 'alloc']) {
        if (o[k] === undefined) {
          if (k === 'align' || k === 'alloc') continue;
          throw `needs ${k}`;
        }
        const n = parseScenarioInt(o[k]);
        if (typeof n === 'string') throw `.${k}: ${n}`;
        out[k] = n;
      }
      return out;
    }
  }
}

/** A validated step, arguments converted. */
export interface PreparedStep {
  /** The step's position in the scenario, from 0. */
  index: number;
  /** The op, a known one. */
  op: string;
  /** Its arguments by name, checked and converted (sizes and addresses as bigints). */
  args: Record<string, unknown>;
  /** The errno code the step must fail with, from expectError. */
  expectError?: ErrnoCode;
  /** The expected value (JSON form), when the step has `expect`. */
  expect?: unknown;
  /** True when the step has `expect` (which may itself be undefined or null). */
  hasExpect?: boolean;
}

/** validateScenario's answer: a scenario checked whole, ready for runPreparedSteps. */
export interface PreparedScenario {
  /** The machine config to boot (empty for the default machine). */
  machine: MachineConfig;
  /** The steps, validated, in order. */
  steps: PreparedStep[];
}

function bad(where: string, why: string): never {
  throw new KernelError('EINVAL', `${where}: ${why}`);
}

/**
 * Check a whole scenario without running anything: its shape, every step's op, arguments and their
 * types, and that altmap names are defined before use. Throws KernelError EINVAL naming the step.
 */
export function validateScenario(input: unknown): PreparedScenario {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('scenario', `must be an object { machine?, steps }, got ${typeName(input)}`);
  const sc = input as Record<string, unknown>;
  for (const k of Object.keys(sc)) if (!['machine', 'steps', 'description'].includes(k)) bad('scenario', `unknown key ${JSON.stringify(k)} (known: machine, steps, description)`);
  if (sc.description !== undefined && typeof sc.description !== 'string') bad('scenario', 'description must be a string');
  if (sc.machine !== undefined && (typeof sc.machine !== 'object' || sc.machine === null || Array.isArray(sc.machine))) {
    bad('scenario.machine', `must be an object of machine options, got ${typeName(sc.machine)}`);
  }
  if (!Array.isArray(sc.steps)) bad('scenario', `steps must be an array, got ${typeName(sc.steps)}`);
  const altmaps = new Set<string>();
  const steps: PreparedStep[] = sc.steps.map((raw: unknown, index: number): PreparedStep => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad(`scenario step ${index}`, `must be an object { op, ... }, got ${typeName(raw)}`);
    const s = raw as Record<string, unknown>;
    const op = s.op;
    if (typeof op !== 'string') bad(`scenario step ${index}`, `needs "op" (a string), got ${typeName(op)}`);
    const where = `scenario step ${index} (${op})`;
    const spec = opSpec(op);
    if (!spec) bad(where, `unknown op ${JSON.stringify(op)} (known: ${SCENARIO_OPS.join(', ')})`);
    for (const k of Object.keys(s)) if (!STEP_KEYS.has(k) && !Object.hasOwn(spec.args, k)) bad(where, `unknown argument ${JSON.stringify(k)} (takes: ${Object.keys(spec.args).join(', ') || 'none'})`);
    if (s.note !== undefined && typeof s.note !== 'string') bad(where, 'note must be a string');
    let expectError: ErrnoCode | undefined;
    if (s.expectError !== undefined) {
      const e = s.expectError as Record<string, unknown>;
      if (typeof e !== 'object' || e === null || Array.isArray(e) || Object.keys(e).some((k) => k !== 'code')) bad(where, 'expectError must be { "code": "EBUSY" }');
      if (typeof e.code !== 'string' || !(e.code in ERRNO)) bad(where, `expectError.code ${JSON.stringify(e.code)} is not one of ${Object.keys(ERRNO).join(', ')}`);
      expectError = e.code as ErrnoCode;
    }
    const hasExpect = 'expect' in s;
    if (hasExpect && expectError) bad(where, 'a step cannot have both "expect" and "expectError"');
    const args: Record<string, unknown> = {};
    for (const [name, a] of Object.entries(spec.args)) {
      const v = s[name];
      if (v === undefined) {
        if (!a.optional) bad(where, `missing argument ${JSON.stringify(name)}`);
        continue;
      }
      try {
        args[name] = convertArg(a.kind, v, altmaps);
      } catch (why) {
        if (typeof why !== 'string') throw why;
        bad(where, `argument ${JSON.stringify(name)} ${why}`);
      }
    }
    const why = spec.check?.(s);
    if (why) bad(where, why);
    if (op === 'createAltmap') altmaps.add((args.name as string | undefined) ?? DEFAULT_ALTMAP_NAME);
    return { index, op, args, expectError, ...(hasExpect ? { hasExpect, expect: s.expect } : {}) };
  });
  return { machine: (sc.machine ?? {}) as MachineConfig, steps };
}

// ------------------------------------------------------------------------------------- running

function snapshot(a: Altmap): AltmapSnapshot {
  return a.toJSON();
}

/** Replace live views (Altmap) by plain snapshots, keep bigints; the result outlives the machine. */
/** Byte results up to this length are kept whole; longer ones as their length and digest, unless the run asks for every byte. */
export const MAX_KEPT_BYTES = 4096;

/** A byte result too long to keep: its length and FNV-1a digest. */
export interface BytesSummary {
  length: number;
  fnv1a32: string;
}

function summariseBytes(b: Uint8Array): BytesSummary {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return { length: b.length, fnv1a32: h.toString(16).padStart(8, '0') };
}

function detach(v: unknown, keepBytes = false): unknown {
  if (v instanceof Altmap) return snapshot(v);
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map((x) => detach(x, keepBytes));
  if (v instanceof Uint8Array) return keepBytes || v.length <= MAX_KEPT_BYTES ? Uint8Array.from(v) : summariseBytes(v);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = detach(x, keepBytes);
    return out;
  }
  return v;
}

/** A value made JSON-friendly: bigint -> "0x..." hex, bytes -> hex string, live views -> plain objects. */
export function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  if (v instanceof Altmap) return snapshot(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJsonValue(x);
    return out;
  }
  return v;
}

/** Hex strings, decimal strings and numbers compare as integers. */
function asInt(v: unknown): bigint | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v)) return BigInt(v);
  return null;
}

/** `actual` (a JSON value) matches `expected`: equal scalars (integers in any notation), equal arrays, objects on the keys `expected` gives. */
export function matchesExpected(actual: unknown, expected: unknown): boolean {
  if (Array.isArray(expected)) return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matchesExpected(actual[i], e));
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const a = actual as Record<string, unknown>;
    return Object.entries(expected).every(([k, e]) => k in a && matchesExpected(a[k], e));
  }
  if (actual === expected) return true;
  const x = asInt(actual);
  const y = asInt(expected);
  return x !== null && y !== null && x === y;
}

/** Run the steps of a validated scenario on `m`. */
export function runPreparedSteps(m: Machine, steps: PreparedStep[], opts: RunScenarioOptions = {}): StepResult[] {
  const altmaps = new Map<string, Altmap>();
  const results: StepResult[] = [];
  const ctx: StepContext = {
    getAltmap: (name) => {
      const a = altmaps.get(name as string);
      if (!a) throw new KernelError('EINVAL', `altmap ${JSON.stringify(name)} was not created (its createAltmap step failed)`);
      return a;
    },
    bindAltmap: (name, a) => void altmaps.set(name, a),
  };
  for (const step of steps) {
    let touched: Altmap | undefined;
    const base = { index: step.index, op: step.op, ...(step.expectError ? { expectError: step.expectError } : {}) };
    let result: StepResult;
    try {
      const spec = opSpec(step.op);
      if (!spec) throw new KernelError('EINVAL', `scenario step ${step.index} (${step.op}): unknown op`);
      const r = spec.run(m, step.args, ctx);
      touched = r.touched;
      const value = r.value;
      result = { ...base, ok: true, value: detach(value, opts.keepBytes) };
      if (step.expectError) result.mismatch = `expected ${step.expectError}, but the step succeeded`;
      else if (step.hasExpect && !matchesExpected(toJsonValue(value), step.expect)) {
        result.mismatch = `expected the value ${JSON.stringify(step.expect)}, got ${JSON.stringify(toJsonValue(value))}`;
      }
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      result = { ...base, ok: false, error: { code: e.code, errno: e.errno, message: e.message } };
      if (!step.expectError) result.mismatch = `unexpected failure: ${e.message}`;
      else if (step.expectError !== e.code) result.mismatch = `expected ${step.expectError}, got ${e.message}`;
    }
    if (touched) {
      try {
        result.altmap = snapshot(touched);
      } catch {
        // the altmap is gone (its device was unbound): nothing to show
      }
    }
    results.push(result);
    opts.onStep?.(result, steps.length);
    if (!result.ok && !step.expectError && opts.stopOnError) break;
  }
  return results;
}

/**
 * Validate the whole scenario, boot its machine (or use `opts.machine`), run every step, and
 * report each step. A malformed scenario throws KernelError EINVAL before anything runs.
 */
export async function runScenario(scenario: Scenario | unknown, opts: RunScenarioOptions = {}): Promise<StepResult[]> {
  const prepared = validateScenario(scenario);
  if (opts.machine) return runPreparedSteps(opts.machine, prepared.steps, opts);
  let m: Machine;
  try {
    m = await createMachine({ ...prepared.machine, ...(opts.machineOverrides ?? {}) });
  } catch (e) {
    if (e instanceof KernelError && e.code === 'EINVAL' && !e.message.startsWith('EINVAL: scenario')) {
      throw new KernelError('EINVAL', `scenario.machine: ${e.message.replace(/^EINVAL: /, '')}`);
    }
    throw e;
  }
  try {
    return runPreparedSteps(m, prepared.steps, opts);
  } finally {
    m.dispose();
  }
}
