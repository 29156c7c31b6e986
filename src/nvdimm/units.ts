/**
 * ndctl's size syntax and its human-readable size form.
 *
 * Sources (read for semantics, ndctl v76): util/size.c `__parse_size64` (strtoull base 0, then one
 * optional k/K/m/M/g/G/t/T binary suffix, nothing after it, ULLONG_MAX as the failure value) and
 * util/json.c `display_size` (plain number below 5000 KiB, else IEC and JEDEC side by side with
 * MiB below 2 GiB, GiB below 2 TiB, TiB above).
 */

import { KernelError } from '../kernel/errno.ts';

const U64_MAX = (1n << 64n) - 1n;
const SZ_1K = 1n << 10n;
const SZ_1M = 1n << 20n;
const SZ_1G = 1n << 30n;
const SZ_1T = 1n << 40n;

/** The binary suffixes `__parse_size64` knows (ndctl has no P or E). */
const SUFFIX_UNITS: Readonly<Record<string, bigint>> = {
  k: SZ_1K,
  K: SZ_1K,
  m: SZ_1M,
  M: SZ_1M,
  g: SZ_1G,
  G: SZ_1G,
  t: SZ_1T,
  T: SZ_1T,
};

/** A parsed size and the unit its suffix named (1 for plain bytes), as `__parse_size64` reports it. */
export interface ParsedSize {
  bytes: bigint;
  units: bigint;
}

function badSize(what: string, input: unknown, why: string): never {
  throw new KernelError('EINVAL', `failed to parse ${what} '${String(input)}' (${why})`);
}

const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);

/** Models ndctl's `__parse_size64()`: strtoull(str, &end, 0) plus one binary suffix; also returns the unit. */
export function parseSizeWithUnits(input: string, what: string): ParsedSize {
  let i = 0;
  // strtoull skips leading isspace() and takes an optional sign.
  while (i < input.length && SPACE.has(input[i]!)) i++;
  if (input[i] === '-') badSize(what, input, 'negative');
  if (input[i] === '+') i++;

  let radix = 10;
  let digits: string;
  if (input[i] === '0' && (input[i + 1] === 'x' || input[i + 1] === 'X') && /[0-9a-fA-F]/.test(input[i + 2] ?? '')) {
    radix = 16;
    i += 2;
    digits = /^[0-9a-fA-F]+/.exec(input.slice(i))![0];
  } else if (input[i] === '0') {
    radix = 8;
    digits = /^[0-7]+/.exec(input.slice(i))![0];
  } else {
    digits = /^[0-9]*/.exec(input.slice(i))![0];
  }
  // ndctl would take "" (and a lone suffix such as "K") as 0; the model refuses an input with no digits.
  if (digits.length === 0) badSize(what, input, 'no digits');
  i += digits.length;

  const prefix = radix === 16 ? '0x' : radix === 8 ? '0o' : '';
  const value = BigInt(prefix + digits);
  // strtoull clamps an out-of-range value to ULLONG_MAX, which ndctl reads as failure.
  if (value >= U64_MAX) badSize(what, input, 'beyond 2^64-1');

  let units = 1n;
  const suffix = input[i];
  if (suffix !== undefined && suffix in SUFFIX_UNITS) {
    units = SUFFIX_UNITS[suffix]!;
    i++;
  }
  if (i !== input.length) {
    const rest = input.slice(i);
    badSize(what, input, rest.startsWith('.') ? 'fractional' : `unexpected '${rest}'`);
  }
  const bytes = value * units;
  if (bytes >= U64_MAX) badSize(what, input, 'beyond 2^64-1');
  return { bytes, units };
}

/** Models ndctl's `parse_size64()`: a size in bytes from a bigint, a safe integer, or ndctl's size syntax. */
export function parseSize(input: bigint | number | string, what: string): bigint {
  if (typeof input === 'bigint') {
    if (input < 0n) badSize(what, input, 'negative');
    if (input > U64_MAX) badSize(what, input, 'beyond 2^64-1');
    return input;
  }
  if (typeof input === 'number') {
    if (Number.isNaN(input)) badSize(what, input, 'NaN');
    if (!Number.isFinite(input)) badSize(what, input, 'not finite');
    if (input < 0) badSize(what, input, 'negative');
    if (!Number.isInteger(input)) badSize(what, input, 'fractional');
    if (!Number.isSafeInteger(input)) badSize(what, input, 'not exactly representable; pass a bigint or a string');
    return BigInt(input);
  }
  if (typeof input !== 'string') badSize(what, input, 'not a size');
  return parseSizeWithUnits(input, what).bytes;
}

/** Two-decimal rendering of a centi-unit count, as "%ld.%02ld". */
function centi(c: bigint): string {
  return `${c / 100n}.${(c % 100n).toString().padStart(2, '0')}`;
}

/** Models ndctl's `display_size()` (util/json.c): the text `-u` prints for a size (without JSON quotes). */
export function formatSizeHuman(bytes: bigint): string {
  if (bytes < 0n || bytes > U64_MAX) throw new KernelError('EINVAL', `size ${bytes} is not an unsigned 64-bit value`);
  if (bytes < 5000n * SZ_1K) return bytes.toString();
  // ndctl computes bytes * 200 in unsigned long long; it wraps only beyond ~92 PB.
  const times200 = BigInt.asUintN(64, bytes * 200n);
  let iec: string;
  let jedec: string;
  if (bytes < 2n * SZ_1G) {
    iec = `${centi((times200 / SZ_1M + 1n) / 2n)} MiB`;
    jedec = `${centi((bytes / 5000n + 1n) / 2n)} MB`;
  } else if (bytes < 2n * SZ_1T) {
    iec = `${centi((times200 / SZ_1G + 1n) / 2n)} GiB`;
    jedec = `${centi((bytes / 5000000n + 1n) / 2n)} GB`;
  } else {
    iec = `${centi((times200 / SZ_1T + 1n) / 2n)} TiB`;
    jedec = `${centi((bytes / 5000000000n + 1n) / 2n)} TB`;
  }
  return `${iec} (${jedec})`;
}

/** Models `util_json_object_size()`: the JSON value ndctl emits for a size (bytes, or the -u form). */
export function formatSize(bytes: bigint, human: boolean): number | string {
  if (human && bytes >= 5000n * SZ_1K) return formatSizeHuman(bytes);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KernelError('EINVAL', `size ${bytes} does not fit a JSON number exactly`);
  }
  return Number(bytes);
}
