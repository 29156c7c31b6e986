/**
 * x86-64 page tables as the host sees them (arch/x86/include/asm/pgtable_types.h,
 * arch/x86/mm/init_64.c): entry decoding and flag names, one iterator over every table reachable
 * from the root, and the direct map (init_memory_mapping / kernel_physical_mapping_remove).
 */
import type { Core, CoreWalk } from '../core/core.ts';

/** _PAGE_* bits, with the short names page-table dumps print. */
export const PTE_FLAGS: ReadonlyArray<readonly [bit: bigint, name: string]> = [
  [1n << 0n, 'P'],
  [1n << 1n, 'RW'],
  [1n << 2n, 'US'],
  [1n << 3n, 'PWT'],
  [1n << 4n, 'PCD'],
  [1n << 5n, 'A'],
  [1n << 6n, 'D'],
  [1n << 7n, 'PS'],
  [1n << 8n, 'G'],
  [1n << 63n, 'NX'],
];
export const _PAGE_PRESENT = 1n;
export const _PAGE_PSE = 0x80n;
/** PTE_PFN_MASK with 52 physical address bits. */
export const PTE_PFN_MASK = 0x000ffffffffff000n;

/** A page-table level, root first (arch/x86/include/asm/pgtable_types.h): p4d is folded into the pgd with 4-level paging. */
export type Level = 'pgd' | 'p4d' | 'pud' | 'pmd' | 'pte';

/** An entry's parts: present, where it points, whether it is a leaf at `level`. */
export interface Entry {
  /** _PAGE_PRESENT is set. */
  present: boolean;
  /** The physical address it points to (a table, or the page of a leaf). */
  phys: bigint;
  /** A leaf: a PTE, or a PMD/PUD with _PAGE_PSE. */
  leaf: boolean;
  /** Flag names of the set bits, in PTE_FLAGS order. */
  flags: string[];
}

/** Decode a page-table entry found at `level`. */
export function decodeEntry(e: bigint, level: Level): Entry {
  const present = (e & _PAGE_PRESENT) !== 0n;
  return {
    present,
    phys: e & PTE_PFN_MASK,
    leaf: present && (level === 'pte' || ((level === 'pmd' || level === 'pud') && (e & _PAGE_PSE) !== 0n)),
    flags: PTE_FLAGS.filter(([bit]) => (e & bit) !== 0n).map(([, n]) => n),
  };
}

/** The level names from the root down, for 4- or 5-level paging. */
export function levelNames(levels: 4 | 5): Level[] {
  return levels === 5 ? ['pgd', 'p4d', 'pud', 'pmd', 'pte'] : ['pgd', 'pud', 'pmd', 'pte'];
}

/** One table reached from the root: its address, depth, the virtual address its first entry maps, and its bytes. */
export interface TableVisit {
  /** Physical address of the 4096-byte table. */
  table: bigint;
  /** 0 for the root (the pgd), one more per level down. */
  depth: number;
  /** The level of the entries the table holds. */
  level: Level;
  /** The virtual address its entry 0 maps. */
  vaBase: bigint;
  /** Its 4096 bytes, 512 little-endian 64-bit entries. */
  bytes: Uint8Array;
  /** log2 of the span one entry maps. */
  entryShift: number;
}

/**
 * Every table reachable from `root`, depth first in entry order (the order the digest hashes them);
 * `readTable` reads a table's 4096 bytes. A table linked twice is visited each time it is linked.
 */
export function* pageTables(readTable: (phys: bigint) => Uint8Array, root: bigint, levels: 4 | 5): Generator<TableVisit> {
  const names = levelNames(levels);
  const stack: Array<{ table: bigint; depth: number; vaBase: bigint }> = [{ table: root, depth: 0, vaBase: 0n }];
  while (stack.length) {
    const t = stack.pop()!;
    const bytes = readTable(t.table);
    const entryShift = 12 + 9 * (levels - 1 - t.depth);
    yield { ...t, level: names[t.depth], bytes, entryShift };
    if (t.depth === levels - 1) continue;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, 4096);
    const children = [];
    for (let i = 0; i < 512; i++) {
      const d = decodeEntry(dv.getBigUint64(i * 8, true), names[t.depth]);
      if (d.present && !d.leaf) children.push({ table: d.phys, depth: t.depth + 1, vaBase: t.vaBase + (BigInt(i) << BigInt(entryShift)) });
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
}

/** A virtual address made canonical: bits above the top level's copy its highest bit (47, or 56 with 5 levels). */
export function canonical(va: bigint, levels: 4 | 5): bigint {
  const bit = levels === 5 ? 56n : 47n;
  return (va >> bit) & 1n ? BigInt.asUintN(64, va | ~((1n << bit) - 1n)) : va;
}

/** The entries of a table, as 64-bit values. */
export function entriesOf(bytes: Uint8Array): BigUint64Array {
  const out = new BigUint64Array(512);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 4096);
  for (let i = 0; i < 512; i++) out[i] = dv.getBigUint64(i * 8, true);
  return out;
}

/** A leaf mapping: the canonical virtual address it maps, where it lands, its size (log2) and the table visit holding it. */
export interface Leaf {
  va: bigint;
  phys: bigint;
  shift: number;
  table: TableVisit;
}

/** Every leaf of every table from the root, in table order. */
export function* leavesOf(tables: Iterable<TableVisit>, levels: 4 | 5): Generator<Leaf> {
  for (const t of tables) {
    const entries = entriesOf(t.bytes);
    for (let i = 0; i < 512; i++) {
      const e = decodeEntry(entries[i], t.level);
      if (e.leaf) yield { va: canonical(t.vaBase + (BigInt(i) << BigInt(t.entryShift)), levels), phys: e.phys, shift: t.entryShift, table: t };
    }
  }
}

/** The kernel's page tables over the core. */
export class Pgtable {
  constructor(
    private readonly core: Core,
    readonly levels: 4 | 5,
  ) {}

  /** The root table (init_mm.pgd). */
  root(): bigint {
    return this.core.walk(0n).levels[0].table;
  }

  /** Walk a canonical virtual address; every level visited. */
  walk(va: bigint): CoreWalk {
    return this.core.walk(va);
  }

  /** init_memory_mapping of [startPfn, endPfn): 0 or -ENOMEM. */
  directMapAdd(startPfn: number, endPfn: number): number {
    return this.core.directMapAdd(startPfn, endPfn);
  }

  /** kernel_physical_mapping_remove */
  directMapRemove(startPfn: number, endPfn: number): number {
    return this.core.directMapRemove(startPfn, endPfn);
  }

  /** Every table from the root. */
  tables(): Generator<TableVisit> {
    return pageTables((t) => this.core.readPhys(t, 4096), this.root(), this.levels);
  }

  /** Every leaf mapping. */
  leaves(): Generator<Leaf> {
    return leavesOf(this.tables(), this.levels);
  }

  /** FNV-1a over every page-table page reachable from the root, in walk order; and their count. */
  digest(): { tables: number; digest: string } {
    let h = 0x811c9dc5;
    let tables = 0;
    for (const t of this.tables()) {
      tables++;
      for (let i = 0; i < 4096; i++) h = Math.imul(h ^ t.bytes[i], 0x01000193) >>> 0;
    }
    return { tables, digest: h.toString(16).padStart(8, '0') };
  }
}
