/**
 * util-linux's lsmem (sys-utils/lsmem.c, 2.38 as Debian 12 ships it) over the model's
 * /sys/devices/system/memory: the memory blocks merged into ranges by the shown columns (state,
 * removable, node, zones), in libsmartcols' table form as printed to a pipe, then the summary.
 */
import { Command } from 'commander';
import type { Machine } from '../index.ts';
import { usage } from './output.ts';
import { openSession } from './session.ts';

const MEM = '/sys/devices/system/memory';

/** coldescs[]: name, width hint, right-aligned. */
const COLUMNS: Record<string, { whint: number; right: boolean }> = {
  RANGE: { whint: 0, right: false },
  SIZE: { whint: 5, right: true },
  STATE: { whint: 0, right: true },
  REMOVABLE: { whint: 0, right: true },
  BLOCK: { whint: 0, right: true },
  NODE: { whint: 0, right: true },
  ZONES: { whint: 0, right: true },
};
const DEFAULT = ['RANGE', 'SIZE', 'STATE', 'REMOVABLE', 'BLOCK'];
const ZONE_NAMES = ['DMA', 'DMA32', 'Normal', 'Highmem', 'Movable', 'Device', 'None'];

/** size_to_human_string(SIZE_SUFFIX_1LETTER) (lib/strutils.c): one decimal, rounded, a trailing zero dropped. */
export function sizeToHumanString(bytes: bigint): string {
  let exp = 0;
  while (exp < 60 && bytes >= 1n << BigInt(exp + 10)) exp += 10;
  const c = 'BKMGTPE'[exp / 10]!;
  let dec = bytes >> BigInt(exp);
  let frac = exp ? ((bytes % (1n << BigInt(exp))) * 1000n) >> BigInt(exp) : 0n;
  if (frac) {
    frac = ((frac + 50n) / 100n) * 10n;
    if (frac === 100n) {
      dec++;
      frac = 0n;
    }
  }
  return frac ? `${dec}.${String(frac).padStart(2, '0').replace(/0$/, '')}${c}` : `${dec}${c}`;
}

interface Block {
  index: number;
  count: number;
  state: string;
  removable: boolean;
  node: number;
  zones: string[];
}

/** memory_block_read_attrs: state, removable, node (the node's link to the block) and valid_zones. */
function memoryBlockReadAttrs(m: Machine, name: string): Block {
  const rd = (f: string) => m.readFile(`${MEM}/${name}/${f}`).trim();
  const state = rd('state');
  const nodeDir = m.listDir('/sys/devices/system/node').find((x) => /^node\d+$/.test(x) && m.listDir(`/sys/devices/system/node/${x}`).includes(name));
  const node = nodeDir ? Number(nodeDir.slice(4)) : -1;
  // zone_name_to_id: an unknown name is "Unknown"
  const zones = rd('valid_zones').split(' ').map((z) => ZONE_NAMES.find((n) => n.toLowerCase() === z.toLowerCase()) ?? 'Unknown');
  return { index: Number(name.slice(6)), count: 1, state: state === 'online' || state === 'offline' ? state : state === 'going-offline' ? 'on->off' : '?', removable: rd('removable') === '1', node, zones };
}

/** is_mergeable: the next block, contiguous, alike in what the columns split by. */
function isMergeable(cur: Block | undefined, b: Block, split: Set<string>, all: boolean): boolean {
  if (!cur || all || cur.index + cur.count !== b.index) return false;
  if (split.has('STATE') && cur.state !== b.state) return false;
  if (split.has('REMOVABLE') && cur.removable !== b.removable) return false;
  if (split.has('NODE') && cur.node !== b.node) return false;
  if (split.has('ZONES') && (cur.zones.join() !== b.zones.join() || cur.zones.includes('Unknown'))) return false;
  return true;
}

/**
 * The table as libsmartcols prints it to a pipe: each column as wide as its widest cell, its header
 * (counted with -n too) and its hint; one space between; the last left-aligned cell unpadded.
 */
function printTable(cols: string[], rows: Array<Array<string | null>>, noheadings: boolean): string {
  const width = cols.map((c, i) => Math.max(COLUMNS[c]!.whint, c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: Array<string | null>) =>
    cells
      .map((v, i) => {
        const s = v ?? '';
        if (COLUMNS[cols[i]!]!.right) return s.padStart(width[i]!);
        return i === cells.length - 1 ? s : s.padEnd(width[i]!);
      })
      .join(' ');
  return [...(noheadings ? [] : [line(cols)]), ...rows.map(line)].map((l) => `${l}\n`).join('');
}

export async function cmdLsmem(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<{ output?: string; all?: boolean; bytes?: boolean; noheadings?: boolean; summary?: string | boolean }>();
  let cols = DEFAULT;
  if (o.output !== undefined) {
    const list = o.output.startsWith('+') ? o.output.slice(1) : o.output;
    const named = list.split(',').map((n) => Object.keys(COLUMNS).find((c) => c.toLowerCase() === n.toLowerCase()) ?? usage(`lsmem: unknown column: ${n}`));
    cols = o.output.startsWith('+') ? [...DEFAULT, ...named] : named;
  }
  const summary = o.summary === undefined ? 'always' : o.summary === true ? 'only' : String(o.summary);
  if (!['always', 'only', 'never'].includes(summary)) usage('lsmem: unsupported --summary argument');
  const s = await openSession(cmd);
  try {
    const m = s.m;
    const blockSize = BigInt(`0x${m.readFile(`${MEM}/block_size_bytes`).trim()}`);
    // scandir with versionsort: memory0, memory1, ..., memory10
    const names = m.listDir(MEM).filter((n) => /^memory\d+$/.test(n)).sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)));
    const split = new Set(cols);
    const blocks: Block[] = [];
    let online = 0n;
    let offline = 0n;
    for (const n of names) {
      const b = memoryBlockReadAttrs(m, n);
      if (b.state === 'online') online += blockSize;
      else offline += blockSize;
      const cur = blocks[blocks.length - 1];
      if (isMergeable(cur, b, split, !!o.all)) cur!.count++;
      else blocks.push(b);
    }
    const size = (x: bigint) => (o.bytes ? String(x) : sizeToHumanString(x));
    let text = '';
    if (summary !== 'only') {
      const hex = (x: bigint) => `0x${x.toString(16).padStart(16, '0')}`;
      const rows = blocks.map((b) =>
        cols.map((c) => {
          const start = BigInt(b.index) * blockSize;
          const len = BigInt(b.count) * blockSize;
          if (c === 'RANGE') return `${hex(start)}-${hex(start + len - 1n)}`;
          if (c === 'SIZE') return size(len);
          if (c === 'STATE') return b.state;
          if (c === 'REMOVABLE') return b.state === 'online' ? (b.removable ? 'yes' : 'no') : null;
          if (c === 'BLOCK') return b.count === 1 ? String(b.index) : `${b.index}-${b.index + b.count - 1}`;
          if (c === 'NODE') return String(b.node);
          return b.zones.join('/');
        }),
      );
      text += printTable(cols, rows, !!o.noheadings);
      if (summary === 'always') text += '\n';
    }
    if (summary !== 'never') {
      // print_summary: "%-23s %5s" (or %15 with -b)
      const w = o.bytes ? 15 : 5;
      for (const [label, v] of [['Memory block size:', blockSize], ['Total online memory:', online], ['Total offline memory:', offline]] as const) text += `${label.padEnd(23)} ${size(v).padStart(w)}\n`;
    }
    process.stdout.write(text);
    return 0;
  } finally {
    await s.close();
  }
}
