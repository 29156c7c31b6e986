/**
 * build_all_zonelists on hotplug (src/kernel/zonelist.ts) against the real kernels' messages: once when
 * online_pages populates a zone, once when offline_pages empties it; policy_zone never goes down and
 * ignores ZONE_MOVABLE. Fixture kmem-system-ram-mem-1G (6.1.192: blocks onlined to ZONE_MOVABLE by
 * daxctl; 6.12.117: the kernel onlines them to ZONE_NORMAL itself).
 */
import { describe, expect, it } from 'vitest';
import { createMachine, type KernelName } from '../../src/index.ts';
import { dmesgMessages } from '../../src/oracle/compare.ts';
import { BACKENDS, realStep } from '../fixtures.ts';

const GiB = 1n << 30n;
const std = (backend: 'wasm' | 'ts', kernel: KernelName) =>
  createMachine({ backend, kernel, e820: [{ start: 0x100000n, size: 2n * GiB - 0x121000n, type: 'System RAM' }, { start: 4n * GiB, size: 32n * GiB - (2n << 20n), type: 'Persistent Memory' }] });

/** The zonelist lines of a log, normalised as the oracle compares them. */
const zonelistLines = (log: string) => dmesgMessages(log).split('\n').filter((l) => /^(Fallback order|Built \d+ zonelists|Policy zone)/.test(l));

describe.each(BACKENDS)('zonelists [%s]', (backend) => {
  it.each([['6.1.192', 'v6.1'], ['6.12.117', 'v6']] as const)('%s kmem-system-ram-mem-1G steps 5 and 7: a rebuild when the hot-plugged zone fills and when it empties', async (kernel, profile) => {
    const m = await std(backend, profile);
    m.createNamespace({ size: '1G', mode: 'devdax', map: 'mem' });
    let n = m.dmesg().length;
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    expect(zonelistLines(m.dmesg().slice(n).join('\n'))).toEqual(zonelistLines(realStep(kernel, 'kmem-system-ram-mem-1G', 5).dmesg));
    expect(zonelistLines(m.dmesg().slice(n).join('\n'))).toHaveLength(3);
    if (kernel === '6.1.192') {
      // 6.1: all of it comes back (6.12's first block holds unmovable pages: the real step 7 fails there)
      n = m.dmesg().length;
      m.reconfigureDevice('dax0.0', { mode: 'devdax' });
      expect(zonelistLines(m.dmesg().slice(n).join('\n'))).toEqual(zonelistLines(realStep(kernel, 'kmem-system-ram-mem-1G', 7).dmesg));
    }
  });
});
