/**
 * The firmware memory map read back from a real boot log: the lines e820__print_table() printed
 * ("BIOS-e820: [mem 0x...-0x...] usable", and after a memmap= the "user:" table the kernel went on
 * with), the "e820: update"/"e820: remove" edits e820__range_update()/e820__range_remove() logged,
 * and the page granularity the kernel uses the map at, as createMachine's e820 entries.
 *
 * Types the model has are kept as such; the ones it does not model ("ACPI data", "ACPI NVS",
 * "unusable", "type N") become Reserved: the kernel never puts them in the page allocator either
 * (e820__reserve_resources claims them busy, as Reserved is here), so the machine's RAM and its
 * free ranges are the same. SRAT/NUMA lines are not read here yet: a later `node` per entry would
 * come from the "ACPI: SRAT: Node N PXM P [mem ...]" lines, matched against these ranges.
 */
import { KernelError } from './errno.ts';
import { e820TypeOf, type E820Type } from './e820.ts';

const PAGE = 4096n;
/** The legacy BIOS area trim_bios_range() takes out of RAM (BIOS_BEGIN..BIOS_END). */
const BIOS_BEGIN = 0xa0000n;
const BIOS_END = 0x100000n;

/** One entry as createMachine's e820 takes it; addresses as hex strings (the form a state file keeps). */
export interface ParsedE820Entry {
  start: string;
  size: string;
  type: E820Type;
  /** The SRAT's node, on a NUMA boot (its "ACPI: SRAT: Node N PXM P [mem ...]" lines). */
  node?: number;
}

/** A boot log that is not one boot's e820 table: the 1-based line number and the line's text. */
export class E820ParseError extends KernelError {
  constructor(
    /** 1-based line number in the text given (0 when the text as a whole is wrong). */
    readonly line: number,
    /** The line as given (without its line ending). */
    readonly text: string,
    why: string,
  ) {
    super('EINVAL', line > 0 ? `e820 line ${line}: ${why}: ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text)}` : `e820: ${why}`);
    this.name = 'E820ParseError';
  }
}

/** What parseE820 gives back besides the entries: where they came from. */
export interface E820Parse {
  entries: ParsedE820Entry[];
  /** Which table was used: the firmware's, or the user-defined one a memmap= left. */
  table: 'BIOS-e820' | 'user';
  /** Entries of types the model does not have, kept as Reserved: the type name and the range. */
  keptAsReserved: string[];
}

/** A raw table entry: inclusive end, the kernel's type number (undefined for RAM-like E820_TYPE_RESERVED_KERN handled as 1). */
interface Raw {
  start: bigint;
  end: bigint;
  /** E820_TYPE_* */
  type: number;
}

/** The E820_TYPE_* of a name as e820_print_type() prints it (every era's names); undefined for text it never prints. */
function e820PrintTypeValue(name: string): number | undefined {
  switch (name) {
    case 'usable':
      return 1;
    case 'reserved':
      return 2;
    case 'ACPI data':
      return 3;
    case 'ACPI NVS':
      return 4;
    case 'unusable':
      return 5;
    case 'soft reserved':
      return 0xefffffff;
  }
  const m = /^(?:persistent \(type (7|12)\)|type (\d{1,10}))$/.exec(name);
  if (!m) return undefined;
  const v = Number(m[1] ?? m[2]);
  return v <= 0xffffffff ? v : undefined;
}

const TYPE_NAMES: Record<number, string> = { 3: 'ACPI data', 4: 'ACPI NVS', 5: 'unusable' };

/** A printed address: 0x and 1 to 16 hex digits. */
const ADDR = '0x[0-9a-fA-F]{1,16}';
const TABLE_LINE = new RegExp(`(?:^|[\\s\\]>:])(BIOS-e820|user): \\[mem (${ADDR})-(${ADDR})\\] (.*?)\\s*$`);
const TABLE_HINT = /(?:^|[\s\]>:])(?:BIOS-e820|user): (?:\[mem|[0-9a-fA-F]{8})/;
/** Kernels before 3.8 printed "BIOS-e820: 0000000000000000 - 000000000009fc00 (usable)": the end exclusive. */
const OLD_TABLE_LINE = /(?:^|[\s\]>:])(BIOS-e820|user): ([0-9a-fA-F]{16}) - ([0-9a-fA-F]{16}) \((.*)\)\s*$/;
const EDIT_LINE = new RegExp(`(?:^|[\\s\\]>:])e820: (update|remove) \\[mem (${ADDR})-(${ADDR})\\] (.*?)\\s*$`);

/**
 * e820__print_table()'s lines of a boot log as createMachine's e820 entries: `createMachine({ e820: parseE820(dmesg) })`.
 * See {@link parseE820Table}, which also says which table was read and what was kept as Reserved.
 * @throws E820ParseError (a KernelError EINVAL) naming the line.
 */
export function parseE820(text: string): ParsedE820Entry[] {
  return parseE820Table(text).entries;
}

/**
 * parseE820Table: e820__print_table()'s lines of a dmesg (or journalctl -k, or the lines alone) as createMachine's
 * e820 entries. The user-defined table (memmap=) wins over the firmware's when both are there, as the kernel
 * goes on with it; the logged "usable ==> reserved" updates and "remove ... usable" edits are applied, and
 * trim_bios_range()'s page 0 and BIOS area rules too, logged or not. System RAM is trimmed to whole pages
 * inwards (memblock uses PFN_UP/PFN_DOWN), other ranges grow to whole pages without reaching into RAM.
 * @throws E820ParseError (a KernelError EINVAL) naming the line for a malformed or truncated table line, an
 * unknown type name, ranges out of order or overlapping, two boots' tables, or text without any table.
 */
export function parseE820Table(text: string): E820Parse {
  if (typeof text !== 'string') throw new E820ParseError(0, '', `expected the text of a boot log, got ${text === null ? 'null' : typeof text}`);
  const lines = text.split(/\r?\n/);
  const tables: Record<'BIOS-e820' | 'user', Raw[]> = { 'BIOS-e820': [], user: [] };
  const lastLine: Record<'BIOS-e820' | 'user', number> = { 'BIOS-e820': 0, user: 0 };
  const edits: Array<{ op: 'update' | 'remove'; start: bigint; end: bigint; from: number; to?: number }> = [];
  lines.forEach((l, i) => {
    const n = i + 1;
    let t = TABLE_LINE.exec(l);
    const old = t ? null : OLD_TABLE_LINE.exec(l);
    if (old) {
      if (BigInt(`0x${old[3]}`) === 0n) throw new E820ParseError(n, l, 'an entry that ends at 0');
      t = Object.assign([...old.slice(0, 2), `0x${old[2]}`, `0x${(BigInt(`0x${old[3]}`) - 1n).toString(16)}`, old[4]!], { index: old.index, input: old.input }) as unknown as RegExpExecArray;
    }
    if (!t) {
      if (TABLE_HINT.test(l)) throw new E820ParseError(n, l, 'not an e820 table line ("BIOS-e820: [mem 0x...-0x...] type"), truncated?');
      const e = EDIT_LINE.exec(l);
      if (e) edits.push(editOf(e, l, n));
      return;
    }
    const which = t[1] as 'BIOS-e820' | 'user';
    const start = BigInt(t[2]!);
    const end = BigInt(t[3]!);
    const type = e820PrintTypeValue(t[4]!);
    if (type === undefined) throw new E820ParseError(n, l, `unknown e820 type ${JSON.stringify(t[4])} (e820_print_type prints usable, reserved, soft reserved, ACPI data, ACPI NVS, unusable, persistent (type N), type N)`);
    if (end < start) throw new E820ParseError(n, l, 'the range ends before it starts');
    const tab = tables[which];
    const prev = tab.at(-1);
    if (prev && start <= prev.end) {
      // the table is printed sorted and disjoint (e820__update_table): a lower start is another boot's table
      throw new E820ParseError(n, l, start === 0n ? `a second ${which} table (another boot in the same log?): give one boot's lines` : `overlaps or is below the entry before it (line ${lastLine[which]})`);
    }
    if (which === 'user' && tables['BIOS-e820'].length === 0) throw new E820ParseError(n, l, 'a user-defined table without the BIOS-e820 table before it');
    tab.push({ start, end, type });
    lastLine[which] = n;
  });
  const table = tables.user.length ? 'user' : 'BIOS-e820';
  let map = tables[table].map((r) => ({ ...r }));
  if (map.length === 0) throw new E820ParseError(0, '', 'no "BIOS-e820: [mem ...]" lines (dmesg prints them first thing at boot; a log that starts later lacks them)');
  // trim_bios_range(): page 0 is BIOS-owned, the 640K-1M BIOS area never RAM; logged or not, the kernel does it
  edits.unshift({ op: 'update', start: 0n, end: PAGE - 1n, from: 1, to: 2 }, { op: 'remove', start: BIOS_BEGIN, end: BIOS_END - 1n, from: 1 });
  for (const e of edits) map = applyEdit(map, e);
  return withNodes(toEntries(map, table), sratNodes(lines));
}

/** The SRAT's nodes on the entries (a NUMA boot only): System RAM cut where a node's range ends, each RAM, pmem and Soft Reserved entry on the node of its start. */
function withNodes(p: E820Parse, srat: ReturnType<typeof sratNodes>): E820Parse {
  if (!srat) return p;
  const entries: ParsedE820Entry[] = [];
  for (const e of p.entries) {
    const start = BigInt(e.start);
    const end = start + BigInt(e.size) - 1n;
    const parts = e.type === 'System RAM' ? srat.split({ start, end }) : [{ start, end }];
    for (const r of parts) {
      const noded = e.type === 'System RAM' || e.type === 'Persistent Memory' || e.type === 'Persistent Memory (legacy)' || e.type === 'Soft Reserved';
      entries.push({ start: hx(r.start), size: hx(r.end + 1n - r.start), type: e.type, ...(noded ? { node: srat.nodeOf(r.start) ?? 0 } : {}) });
    }
  }
  return { ...p, entries };
}

function editOf(e: RegExpExecArray, l: string, n: number): { op: 'update' | 'remove'; start: bigint; end: bigint; from: number; to?: number } {
  const start = BigInt(e[2]!);
  const end = BigInt(e[3]!);
  if (end < start) throw new E820ParseError(n, l, 'the range ends before it starts');
  if (e[1] === 'remove') {
    // e820__range_remove(start, size, old_type, check_type): "remove [mem ...] usable" or bare "remove [mem ...]"
    const from = e[4] === '' ? -1 : e820PrintTypeValue(e[4]!);
    if (from === undefined) throw new E820ParseError(n, l, `unknown e820 type ${JSON.stringify(e[4])}`);
    return { op: 'remove', start, end, from };
  }
  const u = /^(.*) ==> (.*)$/.exec(e[4]!);
  const from = u ? e820PrintTypeValue(u[1]!) : undefined;
  const to = u ? e820PrintTypeValue(u[2]!) : undefined;
  if (from === undefined || to === undefined) throw new E820ParseError(n, l, 'not an e820 update ("e820: update [mem A-B] old ==> new")');
  return { op: 'update', start, end, from, to };
}

/** __e820__range_update() / e820__range_remove() on a sorted, disjoint table: the part of each entry of the old type inside the range changes (or goes). */
function applyEdit(map: Raw[], e: { op: 'update' | 'remove'; start: bigint; end: bigint; from: number; to?: number }): Raw[] {
  const out: Raw[] = [];
  for (const r of map) {
    const hit = (e.from === -1 || r.type === e.from) && r.start <= e.end && r.end >= e.start;
    if (!hit) {
      out.push(r);
      continue;
    }
    if (r.start < e.start) out.push({ start: r.start, end: e.start - 1n, type: r.type });
    if (e.op === 'update') out.push({ start: r.start > e.start ? r.start : e.start, end: r.end < e.end ? r.end : e.end, type: e.to! });
    if (r.end > e.end) out.push({ start: e.end + 1n, end: r.end, type: r.type });
  }
  return out;
}

const hx = (x: bigint) => `0x${x.toString(16)}`;

/**
 * The SRAT's memory affinity lines ("ACPI: SRAT: Node 1 PXM 1 [mem 0x40000000-0x7fffffff]", with
 * " non-volatile" for an NVDIMM's range and " hotplug" for the hot-pluggable window, which QEMU gives
 * the last node): a function from an address to its node, the fixed ranges before the hotplug window;
 * undefined when the boot has no SRAT (one node).
 */
export function sratNodes(lines: string[]): { nodeOf: (phys: bigint) => number | undefined; split: (r: { start: bigint; end: bigint }) => Array<{ start: bigint; end: bigint }> } | undefined {
  const ranges: Array<{ start: bigint; end: bigint; node: number; hotplug: boolean }> = [];
  for (const l of lines) {
    const m = /SRAT: Node (\d+) PXM \d+ \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]( hotplug)?/.exec(l);
    if (m) ranges.push({ node: Number(m[1]), start: BigInt(m[2]!), end: BigInt(m[3]!), hotplug: !!m[4] });
  }
  if (!ranges.length) return undefined;
  ranges.sort((a, b) => Number(a.hotplug) - Number(b.hotplug));
  const nodeOf = (phys: bigint) => ranges.find((r) => phys >= r.start && phys <= r.end)?.node;
  // one e820 entry can span nodes (QEMU's RAM below 4 GiB): cut it where a fixed SRAT range ends
  const cuts = ranges.filter((r) => !r.hotplug).map((r) => r.end + 1n);
  const split = (r: { start: bigint; end: bigint }) => {
    const out: Array<{ start: bigint; end: bigint }> = [];
    let at = r.start;
    for (const c of [...cuts].sort((a, b) => (a < b ? -1 : 1))) {
      if (c > at && c <= r.end) {
        out.push({ start: at, end: c - 1n });
        at = c;
      }
    }
    out.push({ start: at, end: r.end });
    return out;
  };
  return { nodeOf, split };
}

/** Page-granular entries of the model's types: RAM trimmed inward, the rest rounded outward but clear of RAM, like neighbours merged. */
function toEntries(map: Raw[], table: E820Parse['table']): E820Parse {
  const keptAsReserved: string[] = [];
  const ram: Array<{ start: bigint; end: bigint }> = [];
  for (const r of map) {
    if (r.type !== 1) continue;
    const s = ((r.start + PAGE - 1n) / PAGE) * PAGE;
    const e = ((r.end + 1n) / PAGE) * PAGE;
    if (e > s) ram.push({ start: s, end: e });
  }
  const merged: Array<{ start: bigint; end: bigint; type: E820Type }> = ram.map((r) => ({ ...r, type: 'System RAM' as E820Type }));
  for (const r of map) {
    if (r.type === 1) continue;
    // E820_TYPE_PMEM (7): NFIT-described pmem, one region; E820_TYPE_PRAM (12): legacy pmem; the rest the model has by number
    let type = e820TypeOf(r.type);
    if (type === undefined || type === 'System RAM') {
      keptAsReserved.push(`${TYPE_NAMES[r.type] ?? `type ${r.type}`} [mem ${hx(r.start)}-${hx(r.end)}]`);
      type = 'Reserved';
    }
    let s = (r.start / PAGE) * PAGE;
    let e = ((r.end + PAGE) / PAGE) * PAGE;
    for (const m of ram) {
      if (s >= m.start && s < m.end) s = m.end;
      if (e > m.start && e <= m.end) e = m.start;
    }
    if (e > s) merged.push({ start: s, end: e, type });
  }
  merged.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const entries: Array<{ start: bigint; end: bigint; type: E820Type }> = [];
  for (const r of merged) {
    const last = entries.at(-1);
    // two non-RAM ranges rounded out onto the same page: the later one starts after the earlier
    const start = last && r.start < last.end ? last.end : r.start;
    if (r.end <= start) continue;
    if (last && last.type === r.type && last.end === start) last.end = r.end;
    else entries.push({ start, end: r.end, type: r.type });
  }
  return { entries: entries.map((r) => ({ start: hx(r.start), size: hx(r.end - r.start), type: r.type })), table, keptAsReserved };
}
