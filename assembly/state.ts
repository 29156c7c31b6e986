/**
 * Core-wide state: the configuration given to init, memory growth, events and fault injection.
 * Event and fault semantics: docs/core.md "Events"; the event types and fault kinds are abi.ts's.
 */
import { FAULT_KINDS } from './abi';
import {
  CTL_EVENT_COUNT,
  CTL_EVENT_DROPPED,
  CTL_FAULTS,
  EVENTS,
  EVENT_MAX,
  EVENT_REC,
  MEMORY_LIMIT,
} from './layout';

// ---- configuration (CoreConfig) ----
export let cfgLevels: u32 = 4;
export let cfgPse: bool = true;
export let cfgGbpages: bool = true;
export let cfgEager: bool = false;
export let cfgDebug: bool = false;
export let cfgVmemmapStart: u64 = 0;
export let cfgPageOffset: u64 = 0;

export function setConfig(
  levels: u32,
  pse: bool,
  gbpages: bool,
  eager: bool,
  debug: bool,
  vmemmapStart: u64,
  pageOffset: u64,
): void {
  cfgLevels = levels;
  cfgPse = pse;
  cfgGbpages = gbpages;
  cfgEager = eager;
  cfgDebug = debug;
  cfgVmemmapStart = vmemmapStart;
  cfgPageOffset = pageOffset;
}

// ---- memory growth: the core is the only caller of memory.grow ----
/** Bytes of linear memory currently available. */
let memBytes: u64 = 0;
/** Grow in steps of at least this many 64 KiB pages (16 MiB) to keep grow calls rare. */
const GROW_STEP: i32 = 256;

// ---- running out of host room (not a kernel condition) ----
/** Times the core ran out of host room: the budget, a Backing fault, linear memory, a full table. */
export let hostFailures: u32 = 0;

/** Count a host-room failure; the host tells them from the kernel's own -ENOMEM by the count (src/core/core.ts hostFailures). */
export function hostFailure(): void {
  hostFailures++;
}

/** Make [0, end) addressable. False when that would pass 4 GiB or the host refuses. */
export function ensureMemory(end: u64): bool {
  if (end <= memBytes) return true;
  const cur = memory.size();
  memBytes = <u64>cur << 16;
  if (end <= memBytes) return true;
  if (end > MEMORY_LIMIT) {
    hostFailure();
    return false;
  }
  const want = <i32>((end + 0xffff) >> 16);
  let target = want;
  if (target < cur + GROW_STEP) target = cur + GROW_STEP;
  if (target > 65536) target = 65536;
  if (memory.grow(target - cur) < 0) {
    if (target == want || memory.grow(want - cur) < 0) {
      hostFailure();
      return false;
    }
  }
  memBytes = <u64>memory.size() << 16;
  return true;
}

// ---- events ----
/** An event record in EVENTS (src/core/wasm.ts reads it): the type (abi.ts EVENT_*), then four words. */
@unmanaged
class Event {
  type: u64;
  a: u64;
  b: u64;
  c: u64;
  d: u64;
}
if (offsetof<Event>() != EVENT_REC) ERROR('class Event must be EVENT_REC bytes');

/** Append an event; the host drains the buffer after every call. Past capacity events are counted as dropped. */
export function emit(type: u32, a: u64, b: u64, c: u64, d: u64): void {
  const n = load<u32>(CTL_EVENT_COUNT);
  const at = EVENTS + <usize>n * EVENT_REC;
  if (n >= EVENT_MAX || !ensureMemory(<u64>at + EVENT_REC)) {
    store<u32>(CTL_EVENT_DROPPED, load<u32>(CTL_EVENT_DROPPED) + 1);
    return;
  }
  const e = changetype<Event>(at);
  e.type = <u64>type;
  e.a = a;
  e.b = b;
  e.c = c;
  e.d = d;
  store<u32>(CTL_EVENT_COUNT, n + 1);
}

// ---- fault injection ----
export function setFault(kind: u32, nth: u32): void {
  if (kind >= FAULT_KINDS) return;
  store<u32>(CTL_FAULTS + (<usize>kind << 2), nth);
}

/** One allocation attempt of `kind`: true when it is the one armed to fail (the fault then disarms). */
@inline
export function faultFires(kind: u32): bool {
  const at = CTL_FAULTS + (<usize>kind << 2);
  const c = load<u32>(at);
  if (c == 0) return false;
  store<u32>(at, c - 1);
  return c == 1;
}

/** Is any fault armed? Batched paths (a PMD table populated as one run) take the per-entry path then, so each attempt is counted as the contract orders them. */
export function faultsArmed(): bool {
  for (let k: u32 = 0; k < FAULT_KINDS; k++) if (load<u32>(CTL_FAULTS + (<usize>k << 2)) != 0) return true;
  return false;
}
