/**
 * Core-wide state of the twin (as assembly/state.ts): events and fault injection. The configuration is
 * handed to each part's constructor; the twin has no linear memory to grow.
 */
import { FAULT_KINDS, type CoreEvent, type EventType, type FaultKind } from '../core.ts';

/** Fault injection counters: fail the nth next attempt of a kind. */
export class Faults {
  private readonly nth = new Array<number>(FAULT_KINDS).fill(0);
  /** Times the core ran out of host room (assembly/state.ts hostFailures): the budget, a Backing fault, a full table. */
  hostFailures = 0;

  /** Count a host-room failure (assembly: hostFailure). */
  hostFailure(): void {
    this.hostFailures++;
  }

  /** setFault: arm (nth >= 1) or disarm (0) a kind; kinds the core does not know are ignored. */
  setFault(kind: FaultKind, nth: number): void {
    if (kind >= 0 && kind < FAULT_KINDS) this.nth[kind] = nth;
  }

  /** Is any fault armed? (assembly: faultsArmed) Batched paths then take the per-entry path. */
  anyArmed(): boolean {
    return this.nth.some((n) => n !== 0);
  }

  /** One allocation attempt of `kind`: true when it is the one armed to fail (the fault then disarms). */
  faultFires(kind: FaultKind): boolean {
    const n = this.nth[kind];
    if (n === 0) return false;
    this.nth[kind] = n - 1;
    return n === 1;
  }
}

/** The event log the host drains after each call. */
export class Events {
  private list: CoreEvent[] = [];

  emit(type: EventType, a: bigint, b = 0n, c = 0n, d = 0n): void {
    this.list.push({ type, a, b, c, d });
  }

  take(): CoreEvent[] {
    const out = this.list;
    this.list = [];
    return out;
  }
}
