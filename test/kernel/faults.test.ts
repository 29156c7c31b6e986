/**
 * Fault injection at every allocation point (T17, T26 and the reliability issue): for each operation
 * and each kind of allocation, fail the 1st, 2nd, ... allocation until the operation succeeds; after
 * every failure the machine is as before, except what the modelled kernel itself leaves behind.
 */
import { describe, expect, it } from 'vitest';
import { createMachine, HostMemoryError, KernelError, type KernelName, type Machine, type MachineConfig } from '../../src/index.ts';
import { BACKENDS, T10_E820, t10Machine } from '../fixtures.ts';

type Kind = 'dram' | 'altmap' | 'devres' | 'backing';
const KINDS: Kind[] = ['devres', 'dram', 'altmap', 'backing'];

interface Op {
  name: string;
  run: (m: Machine) => unknown;
  /** The allocation kinds the operation has. */
  kinds: Kind[];
  /** The device range, for the leftover checks. */
  sections: [number, number];
}

const OPS: Op[] = [
  { name: 'memremap 1 section, altmap', run: (m) => m.devmMemremapPages('d', { start: 0x400000000n, end: 0x407ffffffn }, { basePfn: 0x400000, reserve: 2, free: 1022 }), kinds: ['devres', 'dram', 'altmap'], sections: [128, 128] },
  { name: 'memremap 4 sections, altmap', run: (m) => m.devmMemremapPages('d', { start: 0x400000000n, end: 0x41fffffffn }, { basePfn: 0x400000, reserve: 2, free: 2558 }), kinds: ['devres', 'dram', 'altmap'], sections: [128, 131] },
  { name: 'memremap 4 sections, no altmap', run: (m) => m.devmMemremapPages('d', { start: 0x400000000n, end: 0x41fffffffn }), kinds: ['devres', 'dram'], sections: [128, 131] },
  { name: 'createNamespace 512M map=dev', run: (m) => m.createNamespace({ size: '512M', map: 'dev' }), kinds: ['devres', 'dram', 'altmap', 'backing'], sections: [128, 131] },
  { name: 'createNamespace 512M map=mem', run: (m) => m.createNamespace({ size: '512M', map: 'mem' }), kinds: ['devres', 'dram', 'backing'], sections: [128, 131] },
];

/**
 * Run f with the nth allocation of `kind` failing: 'done' when it succeeded (the invariants hold), 'fallback'
 * when the fault fired without failing it (vmemmap_populate's 4 KiB fallback, T26), else what it threw; each
 * fault that fired is noted in `covered`.
 */
function faulted(m: Machine, kind: Kind, nth: number, f: () => unknown, covered: string[]): 'done' | 'fallback' | { err: unknown } {
  const log = m.dmesg().length;
  m.injectFault(kind, nth);
  let err: unknown = null;
  try {
    f();
  } catch (e) {
    err = e;
  }
  m.injectFault(kind, 0);
  if (err !== null) {
    covered.push(`${kind}#${nth}`);
    return { err };
  }
  m.checkInvariants();
  if (kind !== 'dram' || !m.dmesg().slice(log).some((l) => /falling back to regular page backing|vmemmap alloc failure: order:9/.test(l))) return 'done';
  covered.push(`${kind}#${nth} (fallback)`);
  return 'fallback';
}

describe.each(BACKENDS)('fault injection [%s]', (backend) => {
  for (const kernel of ['v4.5', 'v6'] as KernelName[]) {
    for (const op of OPS) {
      it(`${kernel}: ${op.name}: every allocation point fails cleanly (T17, T26)`, async () => {
        const covered: string[] = [];
        for (const kind of KINDS) {
          for (let nth = 1; nth < 100; nth++) {
            const m = await t10Machine(backend, { kernel });
            m.createDevice('d');
            const before = m.snapshot();
            const r = faulted(m, kind, nth, () => op.run(m), covered);
            if (r === 'done') break;
            if (r === 'fallback') continue;
            const err = r.err;
            expect(err).toBeInstanceOf(KernelError);
            if (m.poisoned) {
              // a page-table page for the direct map: init_memory_mapping dereferences the NULL it got
              expect(kind === 'dram' || kind === 'backing').toBe(true);
              expect(m.dmesg().join('\n')).toContain('BUG: unable to handle kernel NULL pointer dereference');
              continue;
            }
            expect((err as KernelError).code).toBe('ENOMEM');
            const after = m.snapshot();
            expect(() => m.checkInvariants(), `${kind}#${nth}: ${(err as Error).message}`).not.toThrow();
            expect(after.lookup).toEqual(before.lookup);
            expect(after.devices).toEqual(before.devices);
            expect(after.iomem).toEqual(before.iomem);
            expect(after.namespaces).toEqual(before.namespaces);
            expect(after.dram.slabPages).toBe(before.dram.slabPages);
            if (JSON.stringify(after.presentSections) === JSON.stringify(before.presentSections)) {
              // failed before any section was added: only page tables may remain (the direct map, T22)
              expect(after.dram.memmapPages).toBe(before.dram.memmapPages);
            } else {
              // no rollback of added sections: exactly a prefix of the device's sections stays
              const added = after.presentSections.filter((r) => !before.presentSections.some((b) => b[0] === r[0] && b[1] === r[1]));
              expect(added).toHaveLength(1);
              expect(added[0][0]).toBe(op.sections[0]);
              expect(added[0][1]).toBeLessThan(op.sections[1]);
              // the WARN_ON_ONCE of the failed add: arch_add_memory's on v4.x, x86 add_pages' on 6.x (refuse-map-mem-enomem step 04)
              expect(m.dmesg().join('\n')).toMatch(/WARNING: CPU: 0 PID: \d+ at arch\/x86\/mm\/init_64\.c:\d+ (arch_add_memory|add_pages)\+/);
            }
          }
        }
        // every kind was exercised at least once
        for (const kind of op.kinds) expect(covered.some((c) => c.startsWith(kind)), `${kind} in ${covered.join(' ')}`).toBe(true);
      }, 120_000);
    }
  }
});

// ---------------------------------------------------------------- the newer paths (issue 18 item 5)

const MEM = '/sys/devices/system/memory';
const GiB = 1n << 30n;
/** The memoryN blocks of the machine in the given state. */
const blocksIn = (m: Machine, state: string) => m.listDir(MEM).filter((n) => /^memory\d+$/.test(n) && m.readFile(`${MEM}/${n}/state`) === `${state}\n`);
/** What a failure of the model's own (HostMemoryError) must leave exactly as it was. */
const view = (m: Machine) => ({ snapshot: m.snapshot(), dmesg: m.dmesg(), iomem: m.readFile('/proc/iomem'), meminfo: m.readFile('/proc/meminfo'), offline: blocksIn(m, 'offline'), online: blocksIn(m, 'online') });
/** The softres guest's e820 (test/dax/hmem.test.ts) with 512 MiB at 5 GiB Soft Reserved: fewer allocations to walk. */
const SOFTRES: NonNullable<MachineConfig['e820']> = [
  { start: 0x1000n, size: 0x9f000n, type: 'System RAM' },
  { start: 0x100000n, size: 0xbffdf000n - 0x100000n, type: 'System RAM' },
  { start: 4n * GiB, size: GiB, type: 'System RAM' },
  { start: 5n * GiB, size: GiB / 2n, type: 'Soft Reserved' },
  { start: 5n * GiB + GiB / 2n, size: 4n * GiB - GiB / 2n, type: 'System RAM' },
];

interface NewOp {
  name: string;
  kernel: KernelName;
  e820?: MachineConfig['e820'];
  cmdline?: string;
  /** More of the machine's configuration (interleaveWays). */
  config?: Partial<MachineConfig>;
  /** Run without faults first; what it returns is passed to run. */
  setup: (m: Machine) => unknown;
  run: (m: Machine, s: unknown) => unknown;
  kinds: Kind[];
  /** The kernel's own failures leave nothing behind either (a failed HugeTLB allocation or free). */
  kernelUndoes?: true;
}

const devdax = (m: Machine) => m.createNamespace({ size: '512M', mode: 'devdax', map: 'mem' });
/** The memory blocks f brings into `state` (the device's, not boot RAM's). */
const blocksOf = (m: Machine, state: string, f: () => unknown): string[] => {
  const had = new Set(m.listDir(MEM));
  f();
  return blocksIn(m, state).filter((b) => !had.has(b));
};
/** Two nodes, each with 2 GiB of DRAM and a 2-way interleaved 2 GiB region (examples/two-socket.json in small). */
const TWO_NODES: NonNullable<MachineConfig['e820']> = [
  { start: 0x100000n, size: 2n * GiB - 0x100000n, type: 'System RAM', node: 0 },
  { start: 4n * GiB, size: 2n * GiB, type: 'Persistent Memory', node: 0 },
  { start: 8n * GiB, size: 2n * GiB, type: 'System RAM', node: 1 },
  { start: 12n * GiB, size: 2n * GiB, type: 'Persistent Memory', node: 1 },
];
const NEW_OPS: NewOp[] = [
  { name: 'two nodes, 2-way regions: createNamespace map=mem on region1 (node 1\'s DRAM)', kernel: 'v6', e820: TWO_NODES, config: { interleaveWays: [2, 2] }, setup: (m) => m.createNamespace({ region: 0, size: '512M', map: 'dev' }), run: (m) => m.createNamespace({ region: 1, size: '512M', map: 'mem' }), kinds: ['devres', 'dram', 'backing'] },
  { name: 'two nodes, 2-way regions: createNamespace devdax map=dev on region0 beside a map=mem one on region1', kernel: 'v6', e820: TWO_NODES, config: { interleaveWays: [2, 2] }, setup: (m) => m.createNamespace({ region: 1, size: '512M', map: 'mem' }), run: (m) => m.createNamespace({ region: 0, size: '1G', mode: 'devdax', map: 'dev' }), kinds: ['devres', 'dram', 'altmap', 'backing'] },
  { name: 'kmem reconfigure-device --mode=system-ram', kernel: 'v6', setup: devdax, run: (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }), kinds: ['dram', 'backing'] },
  { name: 'kmem reconfigure-device --mode=system-ram, memmap_on_memory', kernel: 'v6', setup: devdax, run: (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: true }), kinds: ['altmap', 'backing'] },
  {
    name: 'kmem online-memory (memoryN/state online_movable for each block)',
    kernel: 'v6',
    setup: (m) => (devdax(m), blocksOf(m, 'offline', () => m.reconfigureDevice('dax0.0', { mode: 'system-ram', memmapOnMemory: true, online: false }))),
    run: (m, blocks) => {
      for (const b of blocks as string[]) m.writeFile(`${MEM}/${b}/state`, 'online_movable');
    },
    kinds: [],
  },
  {
    name: 'kmem offline-memory (memoryN/state offline for each block)',
    kernel: 'v6',
    setup: (m) => (devdax(m), blocksOf(m, 'online', () => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }))),
    run: (m, blocks) => {
      for (const b of blocks as string[]) m.writeFile(`${MEM}/${b}/state`, 'offline');
    },
    kinds: [],
  },
  {
    name: 'kmem reconfigure-device --mode=devdax (offline blocks removed, device_dax bound again)',
    kernel: 'v6',
    setup: (m) => {
      devdax(m);
      for (const b of blocksOf(m, 'online', () => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }))) m.writeFile(`${MEM}/${b}/state`, 'offline');
    },
    run: (m) => m.reconfigureDevice('dax0.0', { mode: 'devdax' }),
    kinds: ['devres', 'dram', 'backing'],
  },
  { name: 'dax0.0/memmap_on_memory write, then reconfigure-device --mode=system-ram', kernel: 'v6', cmdline: 'memory_hotplug.memmap_on_memory=1', setup: devdax, run: (m) => (m.writeFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1\n'), m.reconfigureDevice('dax0.0', { mode: 'system-ram' })), kinds: ['altmap', 'backing'] },
  { name: 'hugetlbAlloc 2M (HVO)', kernel: 'v6', setup: () => null, run: (m) => m.hugetlbAlloc('2M'), kinds: ['dram', 'backing'], kernelUndoes: true },
  { name: 'hugetlbAlloc 1G (HVO)', kernel: 'v6', setup: () => null, run: (m) => m.hugetlbAlloc('1G'), kinds: ['dram', 'backing'], kernelUndoes: true },
  { name: 'hugetlbFree 2M (vmemmap restored)', kernel: 'v6', setup: (m) => m.hugetlbAlloc('2M').pfn, run: (m, pfn) => m.hugetlbFree(pfn as number), kinds: ['dram', 'backing'], kernelUndoes: true },
  { name: 'hmem (6.12, kmem at boot): Soft Reserved dax0.0 to devdax', kernel: 'v6', e820: SOFTRES, setup: () => null, run: (m) => m.reconfigureDevice('dax0.0', { mode: 'devdax' }), kinds: ['dram', 'devres', 'backing'] },
  { name: 'hmem (6.1, device_dax at boot): Soft Reserved dax0.0 to system-ram', kernel: 'v6.1', e820: SOFTRES, setup: () => null, run: (m) => m.reconfigureDevice('dax0.0', { mode: 'system-ram' }), kinds: ['dram'] },
];

describe.each(BACKENDS)('fault injection on the newer paths (issue 18 item 5) [%s]', (backend) => {
  for (const op of NEW_OPS) {
    it(`${op.kernel}: ${op.name}: each allocation failing in turn is a typed error; a host failure leaves the machine exactly as before`, async () => {
      const boot = () => createMachine({ backend, kernel: op.kernel, e820: op.e820 ?? T10_E820, ...(op.cmdline ? { cmdline: op.cmdline } : {}), ...op.config });
      // without a fault the operation goes through
      const ok = await boot();
      op.run(ok, op.setup(ok));
      const covered: string[] = [];
      for (const kind of KINDS) {
        for (let nth = 1; nth < 200; nth++) {
          const m = await boot();
          const s = op.setup(m);
          const before = view(m);
          const r = faulted(m, kind, nth, () => op.run(m, s), covered);
          if (r === 'done') break;
          if (r === 'fallback') continue;
          const err = r.err;
          expect(err, `${kind}#${nth}: ${String(err)}`).toBeInstanceOf(KernelError);
          if (m.poisoned) continue;
          expect(() => m.checkInvariants(), `${kind}#${nth}: ${(err as Error).message}`).not.toThrow();
          // a backing fault is the model's room running out: HostMemoryError, never a kernel error; the others are the kernel's
          expect(err instanceof HostMemoryError, `${kind}#${nth}: ${(err as Error).message}`).toBe(kind === 'backing');
          if (err instanceof HostMemoryError || op.kernelUndoes) expect(view(m), `${kind}#${nth}: ${(err as Error).message}`).toEqual(before);
        }
      }
      if (process.env.FAULTS_DEBUG) console.log(op.name, covered.join(' '));
      for (const kind of op.kinds) expect(covered.some((c) => c.startsWith(kind)), `${kind} in ${covered.join(' ')}`).toBe(true);
    }, 300_000);
  }
});
