/** Numbers as the page prints them, and the size syntax its forms accept ("64G", "0x1040000000", "4096"). */

/** strerror() of the errnos the model raises (the library's table). */
export { STRERROR } from 'altmap-sim';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const SHIFT: Record<string, bigint> = { '': 0n, K: 10n, M: 20n, G: 30n, T: 40n, P: 50n };

/** "16G", "1.5T", "0x1040000000", "4096", "64 MiB" -> bytes; throws on anything else. */
export function parseSize(text: string, what = 'size'): bigint {
  const s = text.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return BigInt(s);
  const m = /^([0-9]+)(?:\.([0-9]+))?\s*([KMGTP]?)(?:i?B)?$/i.exec(s);
  if (!m) throw new Error(`${what} ${JSON.stringify(text)} is not a size (e.g. 16G, 64M, 0x40000000)`);
  const unit = SHIFT[m[3].toUpperCase()];
  if (m[2] === undefined) return BigInt(m[1]) << unit;
  const scale = 10n ** BigInt(m[2].length);
  const v = ((BigInt(m[1]) * scale + BigInt(m[2])) << unit) / scale;
  return v;
}

/** Bytes in binary units: "16 GiB", "258 MiB", "1.06 TiB", "8 KiB". */
export function fmtSize(bytes: number | bigint): string {
  let v = Number(bytes);
  if (v === 0) return '0 B';
  let u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = Number.isInteger(v) ? 0 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${Number(v.toFixed(digits))} ${UNITS[u]}`;
}

export { hex } from 'altmap-sim';

/** A 64-bit entry as the kernel prints it: 0x%016llx */
export function hex16(x: bigint): string {
  return `0x${BigInt.asUintN(64, x).toString(16).padStart(16, '0')}`;
}

/** 16,449,013 */
export function num(n: number | bigint): string {
  return n.toLocaleString('en-US');
}

/** Pages as a size too: "65,536 pages (256 MiB)" */
export function pages(n: number): string {
  return `${num(n)} (${fmtSize(n * 4096)})`;
}


export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
