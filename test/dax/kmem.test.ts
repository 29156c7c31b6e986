/**
 * dax kmem through the public API on the oracle's standard guest (2 GiB of RAM, a 32 GiB NVDIMM at
 * 4 GiB), against the 6.12 fixtures: the memory blocks' state files (kmem-sysfs-state,
 * kmem-offline-online) and destroy-namespace of a namespace whose memory is System RAM
 * (kmem-destroy-online, kmem-destroy-offline-kmem).
 */
import { describe, expect, it } from 'vitest';
import { createMachine, ERRNO, KernelError, STRERROR } from '../../src/index.ts';
import { BACKENDS, kernelErrorOf, realStep } from '../fixtures.ts';
import { GUEST_E820 } from './guest.ts';

const real = (c: string, i: number) => realStep('6.12.117', c, i);
const MEM = '/sys/devices/system/memory';

/** The shell's "sh: write error: <strerror>" of a recorded echo into sysfs, as an errno name. */
function shellErrno(stderr: string): string {
  const text = /^sh: write error: (.*)$/m.exec(stderr)?.[1];
  return Object.entries(STRERROR).find(([, v]) => v === text)?.[0] ?? `no errno in ${JSON.stringify(stderr)}`;
}

async function kmemMachine(backend: (typeof BACKENDS)[number]) {
  const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
  m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
  // daxctl reconfigure-device -f: the kernel's policy (online) has put the 15 blocks in ZONE_NORMAL
  m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: false });
  return m;
}


describe.each(BACKENDS)('memory block state writes [%s]', (backend) => {
  it('kmem-sysfs-state steps 06-09: offline of memory33 is EBUSY (the kernel\'s pages are in it), online_movable of it and online_kernel of memory34 are EINVAL (already online); nothing changes', async () => {
    const C = 'kmem-sysfs-state';
    const m = await kmemMachine(backend);
    const before = m.snapshot();
    const steps: Array<[number, string, string]> = [
      [6, `${MEM}/memory33/state`, 'offline\n'],
      [8, `${MEM}/memory33/state`, 'online_movable\n'],
      [9, `${MEM}/memory34/state`, 'online_kernel\n'],
    ];
    for (const [i, path, text] of steps) {
      expect(real(C, i).exit).toBe(1);
      expect(kernelErrorOf(() => m.writeFile(path, text)).code, `step ${i}`).toBe(shellErrno(real(C, i).stderr));
    }
    expect(m.readFile(`${MEM}/memory33/state`)).toBe(real(C, 7).stdout);
    expect(m.snapshot()).toEqual(before);
  });

  it('kmem-offline-online steps 06 and 08: a ZONE_NORMAL block other than the first offlines (valid_zones "Normal Movable"), and online_movable puts it in ZONE_MOVABLE', async () => {
    const C = 'kmem-offline-online';
    const m = await kmemMachine(backend);
    const line = (state: string, f: string) => state.split('\n').find((l) => l.startsWith(`${MEM}/memory35/${f}:`))!.split(':')[1] + '\n';
    const total = () => Number(/MemTotal:\s+(\d+)/.exec(m.readFile('/proc/meminfo'))![1]);
    const t0 = total();
    m.writeFile(`${MEM}/memory35/state`, 'offline');
    for (const f of ['state', 'online', 'valid_zones']) expect(m.readFile(`${MEM}/memory35/${f}`)).toBe(line(real(C, 6).state.memory, f));
    // one 128 MiB block less: 7 blocks went in the real step, 917504 kB
    const realDrop = (n: number) => Number(/MemTotal:\s+(\d+)/.exec(realStep('6.12.117', C, n).state.meminfo)![1]);
    expect((t0 - total()) * 7).toBe(realDrop(5) - realDrop(6));
    // the same file through the node (daxctl's path)
    m.writeFile('/sys/devices/system/node/node0/memory35/state', 'online_movable');
    for (const f of ['state', 'online', 'valid_zones']) expect(m.readFile(`${MEM}/memory35/${f}`)).toBe(line(real(C, 8).state.memory, f));
    expect(() => m.writeFile(`${MEM}/memory35/state`, 'sideways')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('kmem-auto-online-off step 05: auto_online_blocks takes "offline" (and refuses what is not an online type)', async () => {
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.writeFile(`${MEM}/auto_online_blocks`, 'offline\n');
    const line = real('kmem-auto-online-off', 5).state.memory.split('\n').find((l) => l.startsWith(`${MEM}/auto_online_blocks:`))!;
    expect(`${MEM}/auto_online_blocks:${m.readFile(`${MEM}/auto_online_blocks`).trim()}`).toBe(line);
    expect(() => m.writeFile(`${MEM}/auto_online_blocks`, 'maybe\n')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe.each(BACKENDS)('destroy-namespace of System RAM [%s]', (backend) => {
  it.each([
    ['kmem-destroy-online', 6, false],
    ['kmem-destroy-offline-kmem', 7, true],
  ])('%s step %i: destroyNamespace is EBUSY while kmem holds the dax device (ndctl exit 240), the machine unchanged', async (c, i, offline) => {
    const m = await kmemMachine(backend);
    // offline-memory: memory33 refuses, the blocks before it in readdir order go offline
    if (offline) for (const id of [40, 39, 47, 37, 45, 35, 43]) m.writeFile(`${MEM}/memory${id}/state`, 'offline');
    const before = m.snapshot();
    const e = kernelErrorOf(() => m.destroyNamespace('namespace0.0'));
    expect(e.code).toBe('EBUSY');
    expect(256 + e.errno).toBe(real(c, i).exit);
    expect(e.errno).toBe(ERRNO.EBUSY);
    expect(m.snapshot()).toEqual(before);
    expect(m.listNamespaces().map((n) => n.dev)).toEqual(['namespace0.0']);
  });
});

describe.each(BACKENDS)('destroy once every block is offline [%s]', (backend) => {
  it('kmem-destroy-offline-kmem (6.1.192) steps 5-8: 6.1 hot-adds offline; with no block online ndctl disables the namespace, kmem removes the memory, destroyed 1 (exit 0)', async () => {
    const real61 = (i: number) => realStep('6.1.192', 'kmem-destroy-offline-kmem', i);
    const m = await createMachine({ backend, kernel: 'v6.1', e820: GUEST_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: false });
    const blocks = () => m.listDir(MEM).filter((d) => /^memory\d+$/.test(d)).length;
    const withKmem = blocks();
    expect(real61(7).exit).toBe(0);
    m.destroyNamespace('namespace0.0');
    // the 15 hot-added blocks (0x108000000-0x17fffffff) are gone, and so is System RAM (kmem)
    expect(withKmem - blocks()).toBe(15);
    // what 6.1 left under the region: nothing (no namespace0.0, no dax0.0, no System RAM (kmem))
    const pmem = (iomem: string) => iomem.split('\n').filter((l) => /^100000000-|^  1[0-7]/.test(l));
    expect(pmem(m.readFile('/proc/iomem'))).toEqual(pmem(real61(7).state.iomem));
    expect(pmem(real61(7).state.iomem)).toHaveLength(1);
    expect(m.listNamespaces()).toEqual([]);
  });
});

describe.each(BACKENDS)('kmem and the direct map [%s]', (backend) => {
  it('kmem-system-ram-mem-2G step 05: the hot-add maps 0x108000000-0x13fffffff in 2M pages and 0x140000000-0x17fffffff in one 1G page (one arch_add_memory)', async () => {
    const C = 'kmem-system-ram-mem-2G';
    const dm = (text: string) => Object.fromEntries([...text.matchAll(/^(DirectMap\w+):\s+(\d+) kB/gm)].map((x) => [x[1]!, Number(x[2])]));
    const delta = (a: string, b: string) => {
      const x = dm(a);
      const y = dm(b);
      return Object.fromEntries(Object.keys(y).map((k) => [k, y[k]! - x[k]!]));
    };
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    const before = m.readFile('/proc/meminfo');
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: false });
    const expected = delta(real(C, 4).state.meminfo, real(C, 5).state.meminfo);
    expect(expected.DirectMap1G).toBe(-1048576);
    expect(delta(before, m.readFile('/proc/meminfo'))).toEqual(expected);
  });
});

describe.each(BACKENDS)('the block the kernel\'s own pages go to [%s]', (backend) => {
  it('kmem-no-movable (6.1.192) step 07: the blocks come online (ZONE_NORMAL) as daxctl writes them, memory40 first: it populated ZONE_NORMAL and refuses offline, dumping pfn 0x140400', async () => {
    const C = 'kmem-no-movable';
    const m = await createMachine({ backend, kernel: 'v6.1', e820: GUEST_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    // 6.1's auto_online_blocks is offline: kmem leaves the 15 blocks to daxctl
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: false });
    expect(m.stats().systemRam['dax0.0']).toMatchObject({ blocks: 15, onlineBlocks: 0 });
    const order = [40, ...Array.from({ length: 15 }, (_, i) => 33 + i).filter((x) => x !== 40)];
    for (const id of order) m.writeFile(`${MEM}/memory${id}/state`, 'online\n');
    const logged = m.dmesg().length;
    expect(kernelErrorOf(() => m.writeFile(`${MEM}/memory40/state`, 'offline\n')).code).toBe('EBUSY');
    const realDump = realStep('6.1.192', C, 7).dmesg.split('\n').filter((l) => / pfn:0x|page dumped because/.test(l)).map((l) => l.replace(/^<\d>\[\s*[\d.]+\] /, ''));
    const modelDump = m.dmesg().slice(logged).filter((l) => / pfn:0x|page dumped because/.test(l)).map((l) => l.replace(/^\[\s*[\d.]+\] /, ''));
    // the pfn, the struct page's address and the reason are the kernel's; the words are the allocator's
    const head = (l: string) => l.replace(/ refcount:.* (pfn:0x[0-9a-f]+)$/, ' $1');
    expect(modelDump.map(head)).toEqual(realDump.map(head));
    expect(modelDump[0]).toMatch(/^page:ffffea0005010000 .* pfn:0x140400$/);
    // the others go offline
    expect(() => m.writeFile(`${MEM}/memory33/state`, 'offline\n')).not.toThrow();
  });

  it('kmem-destroy-offline-kmem (6.1.192) steps 05-07: onlined to ZONE_MOVABLE nothing is pinned, every block offlines, and destroy-namespace then removes the memory with the namespace', async () => {
    const C = 'kmem-destroy-offline-kmem';
    const m = await createMachine({ backend, kernel: 'v6.1', e820: GUEST_E820 });
    m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
    m.reconfigureDevice('dax0.0', { mode: 'system-ram' });
    expect(m.stats().systemRam['dax0.0']).toMatchObject({ blocks: 15, onlineBlocks: 15, movable: true });
    for (let id = 33; id <= 47; id++) m.writeFile(`${MEM}/memory${id}/state`, 'offline\n');
    expect(realStep('6.1.192', C, 7).exit).toBe(0);
    m.destroyNamespace('namespace0.0');
    expect(m.stats().systemRam).toEqual({});
    expect(m.listNamespaces()).toEqual([]);
    const kmemLines = (t: string) => t.split('\n').filter((l) => /namespace|dax|kmem/.test(l));
    expect(kmemLines(m.readFile('/proc/iomem'))).toEqual(kmemLines(realStep('6.1.192', C, 7).state.iomem));
    m.checkInvariants();
  });
});

describe.each(BACKENDS)('kmem trims a device to memory blocks [%s]', (backend) => {
  it.each([
    ['kmem-8G-block-trim', false, 128],
    ['kmem-mom-8G-block-trim', true, 126],
  ] as const)('%s (6.12.117) steps 04-06: 8G - 2M of devdax map=mem comes up as 63 blocks (108000000-2ffffffff), MemTotal + 63 x 128 MiB, or 63 x 126 MiB with memmap_on_memory', async (c, mom, mib) => {
    const k = '6.12.117';
    const m = await createMachine({ backend, kernel: 'v6', e820: GUEST_E820, ...(mom ? { cmdline: 'memory_hotplug.memmap_on_memory=1' } : {}) });
    m.createNamespace({ size: '8G', mode: 'devdax', map: 'mem' });
    if (mom) m.writeFile('/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1\n');
    const before = Number(/MemTotal:\s+(\d+)/.exec(m.readFile('/proc/meminfo'))![1]);
    m.reconfigureDevice('dax0.0', { mode: 'system-ram', movable: false });
    const after = Number(/MemTotal:\s+(\d+)/.exec(m.readFile('/proc/meminfo'))![1]);
    const step = mom ? 6 : 5;
    const realTotal = (i: number) => Number(/MemTotal:\s+(\d+)/.exec(realStep(k, c, i).state.meminfo)![1]);
    expect(after - before).toBe(realTotal(step) - realTotal(step - 1));
    expect(after - before).toBe(63 * mib * 1024);
    const kmemLines = (t: string) => t.split('\n').filter((l) => / : (dax0\.0|System RAM \(kmem\))$/.test(l));
    expect(kmemLines(m.readFile('/proc/iomem'))).toEqual(kmemLines(realStep(k, c, step).state.iomem));
    expect(kmemLines(m.readFile('/proc/iomem'))).toEqual(['  108000000-2ffffffff : dax0.0', '    108000000-2ffffffff : System RAM (kmem)']);
    const list = JSON.parse(realStep(k, c, step + 1).stdout) as Array<{ devices: Array<{ total_memblocks: number }> }>;
    expect(m.stats().systemRam['dax0.0']!.blocks).toBe(list[0]!.devices[0]!.total_memblocks);
    // what alignment cost: the device's data from 0x100200000 (less the info block) to the first whole block, and the 126 MiB tail
    const dax = m.readFile('/sys/bus/dax/devices/dax0.0/resource').trim();
    const size = BigInt(m.readFile('/sys/bus/dax/devices/dax0.0/size').trim());
    expect(m.stats().systemRam['dax0.0']!.trimmedBytes).toEqual({ head: 0x108000000n - BigInt(dax), tail: BigInt(dax) + size - 0x300000000n });
  });
});
