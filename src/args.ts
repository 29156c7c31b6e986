/**
 * The one integer grammar of the public API, the scenario files and the CLI's numeric arguments:
 * a non-negative integer (number below 2^53, or bigint), or a string of decimal or 0x hex digits
 * with an optional binary K/M/G/T suffix, at most 2^64-1. ndctl's size syntax (src/nvdimm/units.ts)
 * stays where ndctl's syntax is meant: namespace sizes and aligns.
 */
const SUFFIX: Readonly<Record<string, bigint>> = { K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };
export const U64_MAX = (1n << 64n) - 1n;

/** The integer, or the reason it is not one. */
export function parseInteger(v: unknown): bigint | string {
  if (typeof v === 'bigint') return v >= 0n && v <= U64_MAX ? v : `${v} is outside 0..2^64-1`;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) return `${v} is not a non-negative integer (use a bigint or a "0x..." string beyond 2^53)`;
    return BigInt(v);
  }
  if (typeof v === 'string') {
    const m = /^\s*(0x[0-9a-f]+|[0-9]+)([kmgt])?\s*$/i.exec(v);
    if (!m) return `${JSON.stringify(v)} is not an integer (decimal, 0x hex, optional K/M/G/T suffix)`;
    const n = BigInt(m[1]!) * (m[2] ? SUFFIX[m[2].toUpperCase()]! : 1n);
    return n <= U64_MAX ? n : `${JSON.stringify(v)} is beyond 2^64-1`;
  }
  return `expected a number or a numeric string, got ${v === null ? 'null' : typeof v}`;
}
