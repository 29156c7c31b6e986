/** Shared constants and small helpers of the TypeScript twin. */
import { EventType, FaultKind, type CoreEvent } from '../core.ts';

export const PAGE_SIZE = 4096;
export const ENOMEM = -12;
export const EFAULT = -14;
export const EINVAL = -22;
export const TWO32 = 4294967296;

/** Split a non-negative integer below 2^64 (exact below 2^53) into u32 halves. */
export function lo32(x: number): number {
  return x % TWO32 >>> 0;
}
export function hi32(x: number): number {
  return Math.floor(x / TWO32) >>> 0;
}

export function toHalves(x: bigint): [number, number] {
  const u = BigInt.asUintN(64, x);
  return [Number(u & 0xffffffffn), Number(u >> 32n)];
}

export function fromHalves(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Fault injection counters: fail the nth next attempt of a kind. */
export class Faults {
  private readonly nth = [0, 0, 0];

  arm(kind: FaultKind, nth: number): void {
    this.nth[kind] = nth;
  }

  /** Count an attempt; true when this one must fail. */
  fire(kind: FaultKind): boolean {
    const n = this.nth[kind];
    if (n === 0) return false;
    this.nth[kind] = n - 1;
    return n === 1;
  }
}

/** The event log the host drains after each call. */
export class Events {
  list: CoreEvent[] = [];

  push(type: EventType, a: bigint, b = 0n, c = 0n, d = 0n): void {
    this.list.push({ type, a, b, c, d });
  }

  take(): CoreEvent[] {
    const out = this.list;
    this.list = [];
    return out;
  }
}

const MASK57 = (1n << 57n) - 1n;
const TOP7 = ((1n << 64n) - 1n) ^ MASK57;

/** The low 57 bits of a virtual address, as the twin's hot paths carry it. */
export function vaLow(va: bigint): number {
  return Number(va & MASK57);
}

/** The canonical 64-bit address of a low-57-bit value (sign-extended from bit 56). */
export function vaFull(low: number): bigint {
  const v = BigInt(low);
  return low >= 2 ** 56 ? v | TOP7 : v;
}
