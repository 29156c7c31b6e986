/**
 * memmap_on_memory's hot-add of 128 MiB memory blocks, 512 at once (as assembly/hotplug.ts; docs/core.md
 * "Memory blocks"): per block the direct map and a vmemmap PMD leaf that maps the block's own head.
 */
import { Purpose } from '../core.ts';
import { PAT_HEADROOM, PAT_MAX } from './patterns.ts';
import { kernelPhysicalMappingInit, LARGE_FLAGS, NO_TABLE, TABLE_FLAGS, type PageTable } from './pgtable.ts';

/** Pages of a 128 MiB block: its 32768 struct pages are 2 MiB of vmemmap, one PMD leaf. */
export const BLOCK_PAGES = 2 ** 15;
/** Blocks a vmemmap PMD table maps (a chunk: 64 GiB of memory). */
const CHUNK_BLOCKS = 512;
/** Blocks a direct-map PMD table maps (1 GiB). */
const WINDOW_BLOCKS = 8;
const WINDOW_PAGES = BLOCK_PAGES * WINDOW_BLOCKS;

export class MemoryBlocks {
  constructor(
    private readonly pt: PageTable,
    /** VMEMMAP_START, low 57 bits. */
    private readonly vmemmapBase: number,
    private readonly debug: boolean,
  ) {}

  /** The chunk from pfn may go at once: on a 64 GiB boundary, nothing under its PUD entries, room for what it may back (assembly: chunkOk). */
  private chunkOk(pfn: number): boolean {
    const pt = this.pt;
    if (pfn % (BLOCK_PAGES * CHUNK_BLOCKS) !== 0) return false;
    const vmVa = this.vmemmapBase + pfn * 64;
    const vmPud = pt.findTable(vmVa, pt.pud);
    if (vmPud !== NO_TABLE && pt.readLo(vmPud, pt.index(vmVa, pt.pud)) !== 0) return false;
    const dm0 = pt.cfg.pageOffset + pfn * 4096;
    const dmPud = pt.findTable(dm0, pt.pud);
    if (dmPud !== NO_TABLE) for (let w = 0; w < CHUNK_BLOCKS / WINDOW_BLOCKS; w++) if (pt.readLo(dmPud, pt.index(dm0 + w * 2 ** 30, pt.pud)) !== 0) return false;
    return pt.mem.hostRoom(8) && pt.mem.patterns.list.length + 256 <= PAT_MAX - PAT_HEADROOM;
  }

  /** `count` blocks from startPfn as each block's arch_add_memory with its own altmap adds it, whole chunks at once: the blocks added (assembly: addMemoryBlocks). */
  addMemoryBlocks(startPfn: number, count: number, memmapPages: number): number {
    if (!this.pt.cfg.pse || this.debug || this.pt.mem.faultsArmed() || memmapPages < 512) return 0;
    let done = 0;
    while (count - done >= CHUNK_BLOCKS) {
      const pfn = startPfn + done * BLOCK_PAGES;
      if (!this.chunkOk(pfn)) break;
      const n = this.addChunk(pfn);
      done += n;
      if (n < CHUNK_BLOCKS) break;
    }
    return done;
  }

  /** n windows of 1 GiB from pfn wp, their PMD tables the n frames from `table`: one run pattern, else their entries; the windows mapped (assembly: dmWindows). */
  private dmWindows(table: number, wp: number, n: number): number {
    const pt = this.pt;
    if (pt.setRunTable(table, wp, 21, n)) return n;
    for (let k = 0; k < n; k++) if (kernelPhysicalMappingInit(pt, pt.cfg.pageOffset + (wp + k * WINDOW_PAGES) * 4096, WINDOW_PAGES * 4096, wp + k * WINDOW_PAGES, pt.pmd) < 0) return k;
    return n;
  }

  /** One chunk of 512 blocks from pfn: the blocks added (assembly: addChunk). */
  private addChunk(pfn: number): number {
    const pt = this.pt;
    let vm = 0;
    let windows = 0;
    let done = 0;
    let runTable = 0;
    let runLen = 0;
    for (; windows < CHUNK_BLOCKS / WINDOW_BLOCKS; windows++) {
      const wp = pfn + windows * WINDOW_PAGES;
      const dm = pt.populateTo(pt.cfg.pageOffset + wp * 4096, pt.pmd, Purpose.DirectMap);
      if (dm < 0) break;
      if (windows === 0) {
        vm = pt.populateTo(this.vmemmapBase + pfn * 64, pt.pmd, Purpose.PageTable);
        if (vm < 0) {
          kernelPhysicalMappingInit(pt, pt.cfg.pageOffset + pfn * 4096, BLOCK_PAGES * 4096, pfn, pt.pmd);
          return 0;
        }
      }
      if (runLen !== 0 && dm === runTable + runLen) {
        runLen++;
        continue;
      }
      if (runLen !== 0) {
        const d = this.dmWindows(runTable, pfn + done * WINDOW_PAGES, runLen);
        done += d;
        if (d < runLen) {
          runLen = 0;
          break;
        }
      }
      runTable = dm;
      runLen = 1;
      if (windows === 0) {
        // windows 1..63 share window 0's PUD table: their 63 PMD tables as one allocPagesRun (assembly: addChunk)
        const rest = CHUNK_BLOCKS / WINDOW_BLOCKS - 1;
        const first = pt.alloc.allocPagesRun(0, rest, Purpose.DirectMap);
        if (first < 0) continue;
        const pud = pt.findTable(pt.cfg.pageOffset + pfn * 4096, pt.pud);
        for (let w = 1; w <= rest; w++) {
          const page = first + w - 1;
          pt.write(pud, pt.index(pt.cfg.pageOffset + (pfn + w * WINDOW_PAGES) * 4096, pt.pud), ((page % 1048576) * 4096 + TABLE_FLAGS) >>> 0, Math.floor(page / 1048576));
        }
        if (first === dm + 1) runLen += rest;
        else {
          done += this.dmWindows(dm, pfn, 1);
          runTable = first;
          runLen = rest;
        }
        windows = rest + 1;
        break;
      }
    }
    if (runLen !== 0) done += this.dmWindows(runTable, pfn + done * WINDOW_PAGES, runLen);
    const blocks = done * WINDOW_BLOCKS;
    if (blocks === CHUNK_BLOCKS && pt.setRunTable(vm, pfn, 27)) return blocks;
    for (let i = 0; i < blocks; i++) if (!pt.writeLeaf(vm, i, pfn + i * BLOCK_PAGES, LARGE_FLAGS)) return i;
    return blocks;
  }
}
