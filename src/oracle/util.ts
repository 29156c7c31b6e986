/** Small helpers of the oracle (kept here so the oracle does not depend on the model's internals). */

const UNITS: Record<string, bigint> = { '': 1n, K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n };

/** "4G", "1030M", "0x140000000", "4096" -> bytes. */
export function bytes(s: string | number | bigint, what = 'size'): bigint {
  if (typeof s === 'bigint') return s;
  if (typeof s === 'number') return BigInt(s);
  const m = /^\s*(0x[0-9a-f]+|\d+)\s*([KMGT]?)i?B?\s*$/i.exec(s);
  if (!m) throw new Error(`${what}: ${JSON.stringify(s)} is not a size (4096, 0x1000, 2M, 16G)`);
  return BigInt(m[1]!) * UNITS[m[2]!.toUpperCase()]!;
}

export function hex(x: bigint | number): string {
  return `0x${x.toString(16)}`;
}
