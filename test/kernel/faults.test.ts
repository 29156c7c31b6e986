/**
 * Fault injection at every allocation point (T17, T26 and the reliability issue): for each operation
 * and each kind of allocation, fail the 1st, 2nd, ... allocation until the operation succeeds; after
 * every failure the machine is as before, except what the modelled kernel itself leaves behind.
 */
import { describe, expect, it } from 'vitest';
import { KernelError, type KernelName, type Machine } from '../../src/index.ts';
import { BACKENDS, t10Machine } from '../fixtures.ts';

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
            const log = m.dmesg().length;
            m.injectFault(kind, nth);
            let err: unknown = null;
            try {
              op.run(m);
            } catch (e) {
              err = e;
            }
            m.injectFault(kind, 0);
            if (err === null) {
              m.checkInvariants();
              // a fault that fired without failing the operation: the 4 KiB fallback (T26)
              if (kind === 'dram' && m.dmesg().slice(log).some((l) => /falling back to regular page backing|vmemmap alloc failure: order:9/.test(l))) {
                covered.push(`${kind}#${nth} (fallback)`);
                continue;
              }
              break;
            }
            covered.push(`${kind}#${nth}`);
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
