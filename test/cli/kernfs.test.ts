/** altmap cat, ls and write: the kernel's files from the command line (issue 13), against the 6.12 fixture ns-devdax-dev-1G's iomem shape. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { realStep, runAltmap } from '../fixtures.ts';

const TMP = mkdtempSync(join(tmpdir(), 'altmap-kernfs-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const altmap = (...args: string[]) => runAltmap(TMP, [...args, '--backend', 'ts']);

describe('altmap cat / ls / write', () => {
  it('cat /proc/iomem after a 1G devdax namespace on v6: namespace0.0 keeps its metadata, dax0.0 the data (as 6.12 prints it)', async () => {
    expect((await altmap('create-namespace', '-s', '1G', '-m', 'devdax', '--kernel', 'v6', '--state', 'dax.json')).code).toBe(0);
    const r = await altmap('cat', '/proc/iomem', '--state', 'dax.json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      ['00100000-10000fffff : System RAM', '1040000000-1103fffffff : Persistent Memory', '  1040000000-10411fffff : namespace0.0', '  1041200000-107fffffff : dax0.0', ''].join('\n'),
    );
  });

  it('ls /proc lists the files; an unknown path is ENOENT as busybox cat prints it (exit 1)', async () => {
    expect((await altmap('ls', '/proc')).stdout).toBe('iomem\nmeminfo\n');
    const r = await altmap('cat', '/proc/nope');
    expect(r.code).toBe(1);
    // as the guest's busybox cat words it (kmem-mom-busy step 7 on 6.1.192)
    expect(r.stderr).toBe("cat: can't open '/proc/nope': No such file or directory\n");
  });

  it('write to a read-only file is EACCES at open, as busybox sh reports it, and is not kept in the state file', async () => {
    const r = await altmap('write', '/proc/iomem', 'x', '--kernel', 'v6', '--state', 'ro.json');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("sh: can't create /proc/iomem: Permission denied\n");
    expect(existsSync(join(TMP, 'ro.json'))).toBe(false);
  });

  it("softres-mom (6.1.192) step 3: a sysfs file the kernel does not have cannot be created (EACCES); a refused store() is sh's write error", async () => {
    const r = await altmap('write', '/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1', '--kernel', 'v6.1', '--state', 'nofile.json');
    expect(r.code).toBe(1);
    // the default machine has no dax device: its directory is missing too
    expect(r.stderr).toBe("sh: can't create /sys/bus/dax/devices/dax0.0/memmap_on_memory: No such file or directory\n");
    const w = await altmap('write', '/sys/devices/system/memory/auto_online_blocks', 'bogus', '--kernel', 'v6', '--state', 'bad.json');
    expect(w.code).toBe(1);
    expect(w.stderr).toBe('sh: write error: Invalid argument\n');
  });
});

describe('altmap --cmdline', () => {
  it("softres-with-pmem (6.12.117) step 05: --cmdline 'memmap=2G%0x140000000+0xefffffff' beside an NVDIMM gives daxctl list -RDMi's hmem.1 / dax1.0 byte for byte", async () => {
    const r = await altmap('daxctl-list', '-RDMi', '--kernel', 'v6', '--dram-size', '8G', '--cmdline', 'memmap=2G%0x140000000+0xefffffff');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(realStep('6.12.117', 'softres-with-pmem', 5).stdout);
  });

  it('a --cmdline that differs from the one --state was booted with is a usage error', async () => {
    expect((await altmap('write', '/sys/devices/system/memory/auto_online_blocks', 'offline', '--kernel', 'v6', '--dram-size', '8G', '--cmdline', 'memmap=2G%0x140000000+0xefffffff', '--state', 'sr.json')).code).toBe(0);
    // the same line (or none) replays the machine
    expect((await altmap('daxctl-list', '--state', 'sr.json')).stdout).toMatch(/"chardev":"dax1.0"/);
    const r = await altmap('daxctl-list', '--cmdline', 'memmap=1G%0x140000000+0xefffffff', '--state', 'sr.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cmdline conflicts with the command line --state/);
  });
});
