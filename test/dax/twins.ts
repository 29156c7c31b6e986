/**
 * Two machines side by side, one with the model's batches and one block by block (kmemBlockByBlock: each
 * memory block its own allocator range and its own arch_add_memory): the same steps on both, and the same
 * machine after each (kmemruns, kmemblocks).
 */
import { expect } from 'vitest';
import { createMachine, type Machine } from '../../src/index.ts';
import type { BACKENDS } from '../fixtures.ts';
import { GUEST_E820 } from './guest.ts';

export const MEM = '/sys/devices/system/memory';

/** What the kernel shows of memory: every block's sysfs files (lsmem's and daxctl's input), the node links, meminfo, iomem, buddyinfo, the allocator's and the machine's state (not the host memory the model spends on it). */
export function view(m: Machine) {
  const blocks = m
    .listDir(MEM)
    .filter((n) => /^memory\d+$/.test(n))
    .map((n) => [n, ...['state', 'online', 'valid_zones', 'phys_index', 'removable'].map((f) => m.readFile(`${MEM}/${n}/${f}`))].join(' '));
  const nodes = m
    .listDir('/sys/devices/system/node')
    .filter((n) => /^node\d+$/.test(n))
    .map((n) => `${n}: ${m.listDir(`/sys/devices/system/node/${n}`).filter((x) => x.startsWith('memory')).join(',')}`);
  return { blocks, nodes, meminfo: m.readFile('/proc/meminfo'), iomem: m.readFile('/proc/iomem'), stats: { ...m.stats(), host: null }, snapshot: m.snapshot(), daxctl: m.listNamespaces() };
}

/** Run each step on both twins (the second block by block) and compare what they show after it (and `extra` of each); the steps' results and errors too. */
export async function twins(backend: (typeof BACKENDS)[number], setup: (m: Machine) => void, steps: Array<[string, (m: Machine) => unknown]>, config: Parameters<typeof createMachine>[0] = { kernel: 'v6', e820: GUEST_E820 }, extra: (m: Machine) => unknown = () => null) {
  const runs = await createMachine({ ...config, backend });
  const each = await createMachine({ ...config, backend, kmemBlockByBlock: true });
  try {
    setup(runs);
    setup(each);
    const outcome = (m: Machine, f: (m: Machine) => unknown) => {
      try {
        return { ok: f(m) };
      } catch (e) {
        // the code and the message: the block an offline names
        return { error: `${(e as { code?: string }).code}: ${(e as Error).message}` };
      }
    };
    for (const [what, f] of steps) {
      expect(outcome(runs, f), what).toEqual(outcome(each, f));
      expect(view(runs), what).toEqual(view(each));
      expect(extra(runs), `${what}: more`).toEqual(extra(each));
    }
    return { ...view(runs), backedBytes: { runs: runs.stats().host.backedBytes, each: each.stats().host.backedBytes } };
  } finally {
    runs.dispose();
    each.dispose();
  }
}

export const block = (m: Machine, id: number, state: string) => m.writeFile(`${MEM}/memory${id}/state`, state);

