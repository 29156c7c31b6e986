/**
 * Reverse sizing: the smallest raw size, on the size granularity ndctl accepts, whose usable capacity
 * reaches a target. A closed-form estimate only picks where to start; every answer is the result of
 * runs on simulated machines: the answer's own run reaches the target, and the run one granule smaller
 * falls short of it (or is below the smallest namespace ndctl creates).
 */
import type { PlanConfig } from './configs.ts';
import type { Figures } from './run.ts';

const MiB = 1n << 20n;
/** ndctl refuses pfn/dax namespaces under 16 MiB (ND_MIN_NAMESPACE_SIZE is 4 KiB, but the pfn info block needs room; ndctl checks it). */
export const MIN_NAMESPACE = 16n * MiB;
/** The memory block size the estimate assumes for kmem rows (the machine's own block size decides the answer). */
const BLOCK_ESTIMATE = 128n * MiB;

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/** The raw sizes ndctl accepts for a namespace: multiples of the region's align (v5.7+) and of interleave-width x align. */
export function sizeGranule(regionAlign: bigint | null, align: bigint, interleaveWidth = 1n): bigint {
  const a = align * interleaveWidth;
  const r = regionAlign !== null && regionAlign > 0n ? regionAlign : 1n;
  return (a / gcd(a, r)) * r;
}

/** The align option in bytes. */
export function alignBytes(align: PlanConfig['align']): bigint {
  return align === '1G' ? 1n << 30n : 2n * MiB;
}

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/**
 * Where the search starts: the memmap on the device takes 64 bytes of every 4 KiB page (1/64 of the raw
 * size), the data offset rounds up to the alignment (2 MiB at least), and kmem loses the first memory block
 * to it. Only a starting point: the runs decide.
 */
export function estimateRaw(target: bigint, cfg: { map: 'dev' | 'mem'; align: bigint; systemRam?: PlanConfig['systemRam'] }): bigint {
  const aeff = cfg.align > 2n * MiB ? cfg.align : 2n * MiB;
  if (cfg.systemRam) {
    const perBlock = cfg.systemRam.memmapOnMemory ? BLOCK_ESTIMATE - BLOCK_ESTIMATE / 64n : BLOCK_ESTIMATE;
    return (ceilDiv(target, perBlock) + 1n) * BLOCK_ESTIMATE;
  }
  return (cfg.map === 'dev' ? ceilDiv(target * 64n, 63n) : target) + aeff;
}

/** What the search is given: the target, the granularity and bounds of raw sizes, and a probe that runs one raw size on a machine. */
export interface RawSearch {
  /** The usable bytes to reach. */
  target: bigint;
  /** Raw sizes are multiples of it. */
  granule: bigint;
  /** The smallest raw size to try (rounded up to the granule). */
  min: bigint;
  /** The largest raw size there is room for. */
  max: bigint;
  /** Where to start. */
  estimate: bigint;
  /** Run one raw size on a machine. */
  probe: (raw: bigint) => Promise<Figures>;
  /** Called after each run. */
  onProbe?: (f: Figures) => void;
}

/** The search's answer. */
export interface RawAnswer {
  /** The run of the answer: usable >= target. */
  answer: Figures;
  /** The run one granule smaller (usable < target); null when that is below the smallest namespace. */
  below: Figures | null;
  /** Machine runs the search took. */
  probes: number;
}

/**
 * Exponential steps from the estimate until a run reaches the target and one falls short, then bisection
 * between them down to neighbouring granules (a failed run counts as short). Null when even the largest raw size falls short.
 */
export async function smallestRaw(s: RawSearch): Promise<RawAnswer | null> {
  const g = s.granule;
  const kmin = ceilDiv(s.min, g);
  const kmax = s.max / g;
  if (kmax < kmin) return null;
  const runs = new Map<bigint, Figures>();
  const run = async (k: bigint): Promise<Figures> => {
    let f = runs.get(k);
    if (!f) {
      f = await s.probe(k * g);
      runs.set(k, f);
      s.onProbe?.(f);
    }
    return f;
  };
  const reaches = async (k: bigint) => (await run(k)).ok && BigInt((await run(k)).usable) >= s.target;
  let k = ceilDiv(s.estimate, g);
  if (k < kmin) k = kmin;
  if (k > kmax) k = kmax;
  let good: bigint;
  let bad: bigint; // kmin - 1: below the smallest namespace
  if (await reaches(k)) {
    good = k;
    for (let step = 1n; ; step *= 2n) {
      const t = good - step;
      if (t < kmin) {
        bad = kmin - 1n;
        break;
      }
      if (await reaches(t)) good = t;
      else {
        bad = t;
        break;
      }
    }
  } else {
    bad = k;
    for (let step = 1n; ; step *= 2n) {
      if (bad === kmax) return null;
      // each step lands on a multiple of itself: a size the kernel only takes on a coarser grid (v4.5's
      // map=dev only enables whole 128 MiB sections) is met on the way up, not stepped over
      const up = ((bad + step + step - 1n) / step) * step;
      const t = up > kmax ? kmax : up;
      if (await reaches(t)) {
        good = t;
        break;
      }
      bad = t;
    }
  }
  while (good - bad > 1n) {
    const mid = (good + bad) / 2n;
    if (await reaches(mid)) good = mid;
    else bad = mid;
  }
  return { answer: runs.get(good)!, below: bad < kmin ? null : runs.get(bad)!, probes: runs.size };
}
