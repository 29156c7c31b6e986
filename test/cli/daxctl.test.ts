/**
 * daxctl reconfigure-device as 76.1 prints it on the oracle's standard machine (2 GiB of RAM, a
 * 32 GiB NVDIMM at 4 GiB), against the 6.12 fixtures kmem-policy-refusal and kmem-system-ram-mem-1G.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { realStep, runAltmap } from '../fixtures.ts';

const TMP = mkdtempSync(join(tmpdir(), 'altmap-daxctl-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const MACHINE = ['--kernel', 'v6', '--dram-size', '0x7fedf000', '--pmem-start', '0x100000000', '--pmem-size', '0x7ffe00000', '--backend', 'ts'];
const altmap = (state: string, ...args: string[]) => runAltmap(TMP, [...args, '--state', state, ...MACHINE]);
const fixture = (c: string, f: 'stdout' | 'stderr') => realStep('6.12.117', c, 5)[f];

describe('daxctl reconfigure-device (6.12)', () => {
  it('kmem-policy-refusal step 05: without -f, the kernel policy that onlines memory itself is a refusal (exit 240)', async () => {
    expect((await altmap('p.json', 'create-namespace', '-s', '2G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const r = await altmap('p.json', 'reconfigure-device', 'dax0.0', '-m', 'system-ram');
    expect(r.code).toBe(240);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(fixture('kmem-policy-refusal', 'stderr'));
  });

  it('kmem-system-ram-mem-1G step 05: -f reconfigures; the kernel has onlined the 7 blocks to ZONE_NORMAL, daxctl finds them online', async () => {
    expect((await altmap('k.json', 'create-namespace', '-s', '1G', '-m', 'devdax', '-M', 'mem')).code).toBe(0);
    const r = await altmap('k.json', 'reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(fixture('kmem-system-ram-mem-1G', 'stdout'));
    expect(r.stderr).toBe(fixture('kmem-system-ram-mem-1G', 'stderr'));
    const iomem = (await altmap('k.json', 'cat', '/proc/iomem')).stdout;
    expect(iomem).toMatch(/^ {2}108000000-13fffffff : dax0\.0\n {4}108000000-13fffffff : System RAM \(kmem\)$/m);
  });
});
