/** Inspection commands: dmesg, and walk (a vtop-style page-table walk). */
import { Command } from 'commander';
import { KernelError, PTE_FLAGS, parseInteger, toJsonValue } from '../index.ts';
import { usage, out, hex, table, bare } from './output.ts';
import { type MachineOpts, openSession } from './session.ts';

export async function cmdDmesg(cmd: Command): Promise<number> {
  const s = await openSession(cmd);
  try {
    const lines = s.m.dmesg();
    if (lines.length) out(lines.join('\n'));
    return 0;
  } finally {
    await s.close();
  }
}

/** The x86-64 entry bits a person looks for. */
export function pteFlags(e: bigint): string {
  if ((e & 1n) === 0n) return 'not present';
  return PTE_FLAGS.filter(([bit]) => (e & bit) !== 0n).map(([, name]) => name).join(' ');
}

export function pageSizeName(n: number): string {
  return n === 4096 ? '4 KiB' : n === 2 << 20 ? '2 MiB' : n === 1 << 30 ? '1 GiB' : `${n} bytes`;
}

export async function cmdWalk(vaddrArg: string | undefined, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { pfn?: string; json?: boolean }>();
  if ((vaddrArg === undefined) === (o.pfn === undefined)) usage('walk needs a virtual address or --pfn <pfn> (not both)');
  let va = 0n;
  let pfn: bigint | null = null;
  if (o.pfn !== undefined) {
    const p = parseInteger(o.pfn);
    if (typeof p === 'string') usage(`--pfn: ${p}`);
    pfn = p as bigint;
    if (pfn >= 1n << 40n) usage(`--pfn ${o.pfn} is beyond any physical address space`);
  } else {
    const v = parseInteger(vaddrArg);
    if (typeof v === 'string') usage(`vaddr: ${v}`);
    va = v as bigint;
    if (va >= 1n << 64n) usage(`${vaddrArg} is beyond 64 bits`);
  }
  const s = await openSession(cmd);
  try {
    let title = hex(va);
    if (pfn !== null) {
      try {
        va = s.m.pfnToPage(Number(pfn));
      } catch (e) {
        if (e instanceof KernelError) usage(`--pfn ${o.pfn}: ${bare(e)}`);
        throw e;
      }
      title = `struct page of pfn ${hex(pfn)} at ${hex(va)}`;
    }
    let w;
    try {
      w = s.m.walkVerbose(va);
    } catch (e) {
      if (e instanceof KernelError && e.code === 'EINVAL') usage(bare(e));
      throw e;
    }
    if (o.json) {
      out(JSON.stringify(toJsonValue({ vaddr: va, ...w }), null, 2));
      return w.mapped ? 0 : 1;
    }
    out(`walk ${title}`);
    const rows = [['level', 'index', 'entry', 'table', 'flags']];
    for (const l of w.levels) rows.push([l.level, String(l.index), `0x${l.entry.toString(16).padStart(16, '0')}`, hex(l.table), pteFlags(l.entry) + (w.mapped && l === w.levels[w.levels.length - 1] ? ` (${pageSizeName(w.pageSize)} leaf)` : '')]);
    for (const line of table(rows, [1], '  ')) out(line);
    if (w.mapped) {
      out(`  phys ${hex(w.phys)}, page size ${pageSizeName(w.pageSize)}`);
      return 0;
    }
    const last = w.levels[w.levels.length - 1];
    out(last ? `  not mapped: the walk stopped at the ${last.level} (index ${last.index}): entry ${hex(last.entry)} is not present` : '  not mapped');
    return 1;
  } finally {
    await s.close();
  }
}
