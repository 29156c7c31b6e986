/**
 * Issue 18 item 4: a configuration the simulator cannot hold is not a kernel failure. measureConfig's row
 * says "beyond this model's memory budget" and names the machine's hostMemoryLimit, on both backends.
 */
import { describe, expect, it } from 'vitest';
import { createMachine } from '../../src/index.ts';
import { measureConfig } from '../../src/planner/run.ts';
import { BACKENDS } from '../fixtures.ts';

describe.each(BACKENDS)('planner row past the host budget [%s]', (backend) => {
  it('fsdax map=dev 2 GiB namespaces on a 1 MiB hostMemoryLimit: the first row the budget stops names the budget, no kernel message', async () => {
    const m = await createMachine({ backend, kernel: 'v6', hostMemoryLimit: 1n << 20n });
    let row = measureConfig(m, { mode: 'fsdax', map: 'dev', align: '2M' }, 2n << 30n);
    let n = 0;
    while (row.ok && n < 400) {
      n++;
      row = measureConfig(m, { mode: 'fsdax', map: 'dev', align: '2M' }, 2n << 30n);
    }
    expect(n).toBeGreaterThan(0);
    expect(row.ok).toBe(false);
    expect(row.error).toBe("beyond this model's memory budget (hostMemoryLimit 1048576 bytes)");
    expect(m.stats().host).toEqual({ backedBytes: 1048576, limitBytes: 1048576 });
  });
});
