/**
 * Physical limits the benchmarks compare the hot path against, measured in this same module:
 * memory.fill bandwidth (struct page initialisation writes 64-byte records) and a chain of dependent
 * loads over a working set (a page-table walk is such a chain). They use the memory above DYN, which
 * only a core that simulates nothing leaves free (the exports refuse once init ran).
 */
import { ENOMEM } from './abi';
import { DYN } from './layout';
import { ensureMemory } from './state';

let chaseLines: u64 = 0;

/** memory.fill of `bytes` at DYN. */
export function benchFill(bytes: u64, value: i32): i32 {
  if (!ensureMemory(<u64>DYN + bytes)) return ENOMEM;
  memory.fill(DYN, <u8>value, <usize>bytes);
  return 0;
}

/** A random single cycle through the 64-byte lines of [DYN, DYN + bytes) (Sattolo's shuffle). */
export function benchChaseSetup(bytes: u64, seed: u32): i32 {
  const lines = bytes >> 6;
  if (lines < 2 || !ensureMemory(<u64>DYN + (lines << 6))) return ENOMEM;
  // identity, then Sattolo: every line links to exactly one other, all in one cycle
  for (let i: u64 = 0; i < lines; i++) store<u64>(DYN + <usize>(i << 6), i);
  let s = seed | 1;
  for (let i = lines - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    const j = <u64>s % i;
    const a = DYN + <usize>(i << 6);
    const b = DYN + <usize>(j << 6);
    const t = load<u64>(a);
    store<u64>(a, load<u64>(b));
    store<u64>(b, t);
  }
  chaseLines = lines;
  return 0;
}

/** `walks` × `depth` dependent loads; returns where the chain ended (so nothing is optimised away). */
export function benchChase(walks: u64, depth: i32): f64 {
  if (chaseLines == 0) return -1;
  let p: u64 = 0;
  for (let w: u64 = 0; w < walks; w++) {
    // each walk starts where the last ended: the next start depends on the previous walk too
    for (let d = 0; d < depth; d++) p = load<u64>(DYN + <usize>(p << 6));
  }
  return <f64>p;
}
