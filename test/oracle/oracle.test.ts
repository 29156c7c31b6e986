/**
 * The oracle's own machinery, without QEMU: the guest report's framing, the fixture layout (written,
 * read back, shared boot logs), the comparison's normalisation, the command translation, the layout
 * taken from a recorded boot, and the case set's rules.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CASES, selectCases, stepsFor } from '../../src/oracle/cases.ts';
import { alignLines, compareRuns, dmesgDebug, dmesgMessages, iomemSystemRam, iomemView, meminfoDelta, traceTree } from '../../src/oracle/compare.ts';
import { buildFixture, fixtureCases, fixtureFromRun, fixtureKernels, FIXTURES_DIR, readFixture, splitSysfs, writeFixture } from '../../src/oracle/fixtures.ts';
import { GUEST_INIT, parseGuestOutput, realSteps, shQuote } from '../../src/oracle/guest.ts';
import { layoutFrom, machineFor, translate, type ModelRun } from '../../src/oracle/model.ts';
import { classify, findPending, pendingSource, type PendingTable } from '../../src/oracle/pending.ts';
import { bootSteps, qemuArgs, setupSteps } from '../../src/oracle/qemu.ts';
import type { OracleCase, RealRun } from '../../src/oracle/types.ts';
import { realStep } from '../fixtures.ts';

const TMP = mkdtempSync(join(tmpdir(), 'altmap-oracle-test-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const T = 'abc123';
function frame(step: number, key: string, content: string): string {
  return `@@ALTMAP-BEGIN ${T} ${step} ${key}\n${content}\n@@ALTMAP-END ${T} ${step} ${key} ${Buffer.byteLength(content)}\n`;
}

describe('the guest report (ttyS1 framing)', () => {
  it('parses values and blocks, keeps content byte for byte (markers inside content, no trailing newline)', () => {
    const text =
      'noise from the console\n' +
      `@@ALTMAP-VAL ${T} 0 t1 3.41\n` +
      frame(0, 'dmesg', '<6>[    0.1] hello\n<7>[    0.2] @@ALTMAP-END not a marker\n') +
      `@@ALTMAP-VAL ${T} 1 exit 237\n` +
      frame(1, 'stderr', '  Error: align must be a power-of-2 greater than 4096') +
      frame(1, 'iomem', '100000000-2ffdfffff : Persistent Memory\n') +
      `@@ALTMAP-DONE ${T}\n`;
    const r = parseGuestOutput(text, T);
    expect(r.done).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.steps.get(0)!.vals.t1).toBe('3.41');
    expect(r.steps.get(0)!.blobs.dmesg).toBe('<6>[    0.1] hello\n<7>[    0.2] @@ALTMAP-END not a marker\n');
    expect(r.steps.get(1)!.blobs.stderr).toBe('  Error: align must be a power-of-2 greater than 4096');
    const steps = realSteps(r, [{ run: 'ndctl create-namespace -a 3M' }]);
    expect(steps.map((s) => [s.index, s.exit, s.run])).toEqual([
      [0, 0, '(boot)'],
      [1, 237, 'ndctl create-namespace -a 3M'],
    ]);
    expect(steps[1]!.state.iomem).toBe('100000000-2ffdfffff : Persistent Memory\n');
  });

  it('reports a cut-short block and a length mismatch, and a timed-out step has exit null', () => {
    const cut = parseGuestOutput(`@@ALTMAP-VAL ${T} 1 exit timeout\n@@ALTMAP-BEGIN ${T} 1 dmesg\nBUG: unable to handle page fault`, T);
    expect(cut.done).toBe(false);
    expect(cut.problems[0]).toMatch(/no end marker/);
    expect(realSteps(cut, [{ run: 'x' }])).toHaveLength(0); // no step 0: nothing to say
    const bad = parseGuestOutput(`@@ALTMAP-BEGIN ${T} 0 stdout\nabc\n@@ALTMAP-END ${T} 0 stdout 99\n@@ALTMAP-VAL ${T} 1 exit timeout\n`, T);
    expect(bad.problems[0]).toMatch(/99/);
    expect(realSteps(bad, [{ run: 'x' }])[1]).toMatchObject({ exit: null, timedOut: true });
  });

  it('quotes commands for sh and keeps the init free of template leftovers', () => {
    expect(shQuote("echo 'a' > /x")).toBe(`'echo '\\''a'\\'' > /x'`);
    expect(GUEST_INIT).toContain('driver=${dr##*/}');
    expect(GUEST_INIT).not.toContain('\\${');
    expect(GUEST_INIT.startsWith('#!/bin/busybox sh\n')).toBe(true);
  });
});

describe('the QEMU command line and the setup steps', () => {
  const kernel = { profile: 'v6' as const, pkg: 'linux-image-x', version: '1', upstream: '6.12.117', release: 'r', root: '/k', vmlinuz: '/k/vmlinuz' };
  it('one nvdimm per DIMM (label area unless label-less, addr when given), TCG, la57 off', () => {
    const a = qemuArgs(kernel, '/i', { ram: '2G', dimms: [{ size: '1030M', labels: false }, { size: '8G', addr: '0x200000000' }], cmdline: ['memmap=2G%0x140000000+0xefffffff'] }, '/run');
    const s = a.join(' ');
    expect(s).toContain('-machine pc,nvdimm=on');
    expect(s).toContain('-cpu max,la57=off');
    expect(s).toContain('-m 2048M,slots=2,');
    expect(s).toContain('memory-backend-file,id=mem0,share=on,mem-path=/run/dimm0.img,size=1030M,align=2M');
    expect(s).toContain('-device nvdimm,id=nv0,memdev=mem0 ');
    expect(s).toContain('-device nvdimm,id=nv1,memdev=mem1,label-size=128K,addr=0x200000000');
    expect(a[a.indexOf('-append') + 1]).toMatch(/^console=ttyS0 nokaslr no_hash_pointers .* memmap=2G%0x140000000\+0xefffffff$/);
  });
  it('numa-boot: NUMA2 gives each node a RAM backend and -numa node (the CPU on node 0), the NVDIMM node=1', () => {
    const c = CASES.find((x) => x.id === 'numa-boot')!;
    const s = qemuArgs(kernel, '/i', c.machine, '/run').join(' ');
    expect(s).toContain('-m 2048M,');
    expect(s).toContain('-object memory-backend-ram,id=ram0,size=1024M -numa node,nodeid=0,memdev=ram0,cpus=0 -object memory-backend-ram,id=ram1,size=1024M -numa node,nodeid=1,memdev=ram1 ');
    expect(s).toContain('-device nvdimm,id=nv0,memdev=mem0,label-size=128K,node=1');
    // the recorded run was booted with exactly these (paths aside)
    const run = readFixture(`${FIXTURES_DIR}6.12.117/numa-boot`);
    expect(run.qemuArgs.filter((x: string) => /numa|memory-backend-ram|nvdimm,/.test(x))).toEqual(qemuArgs(kernel, '/i', c.machine, '/run').filter((x) => /numa|memory-backend-ram|nvdimm,/.test(x)));
  });
  it('labelled DIMMs get their label area initialised first; label-less ones do not', () => {
    expect(setupSteps({ ram: '2G', dimms: [{ size: '4G', labels: false }] })).toEqual([]);
    expect(setupSteps({ ram: '2G', dimms: [{ size: '4G', labels: false }, { size: '8G' }] }).map((s) => s.run)).toEqual(['ndctl disable-region all', 'ndctl init-labels nmem1', 'ndctl enable-region all']);
    const c = CASES.find((x) => x.id === 'softres-to-devdax')!;
    expect(bootSteps(c, 'v6.1').map((s) => s.run)).toEqual(stepsFor(c, 'v6.1').map((s) => s.run));
  });
});

describe('the case set', () => {
  it('has at least 150 cases with unique, stable ids, each with steps and tags', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    for (const c of CASES) {
      expect(c.steps.length, c.id).toBeGreaterThan(0);
      expect(c.tags.length, c.id).toBeGreaterThan(0);
    }
  });
  it('covers every topic of issue 12 and traces for issue 16', () => {
    const tags = new Set(CASES.flatMap((c) => c.tags));
    for (const t of ['sizes', 'fsdax', 'devdax', 'raw', 'sector', 'map-dev', 'map-mem', 'aligns', 'refusals', 'seeds', 'labelless', 'misaligned', 'kmem', 'memmap-on-memory', 'softreserved', 'trace', 'compound']) expect(tags, t).toContain(t);
    for (const id of ['ns-fsdax-dev-16G', 'refuse-align-3M', 'refuse-align-16M', 'refuse-raw-align-2M', 'refuse-oversize-64G', 'align1G-misaligned-fsdax-dev-1G', 'kmem-destroy-online', 'softres-boot']) expect(selectCases(id)[0]!.id).toBe(id);
    expect(CASES.filter((c) => c.steps.some((s) => s.trace)).length).toBeGreaterThanOrEqual(12);
  });
  it('selects by id, glob and tag', () => {
    expect(selectCases('ns-fsdax-dev-1G,ns-fsdax-dev-1G').map((c) => c.id)).toEqual(['ns-fsdax-dev-1G']);
    expect(selectCases('refuse-align-*').every((c) => c.id.startsWith('refuse-align-'))).toBe(true);
    expect(selectCases('tag:softreserved').length).toBeGreaterThan(3);
    expect(() => selectCases('no-such-case')).toThrow(/no oracle case/);
  });
});

describe('normalisation', () => {
  it('dmesg: levels, timestamps, pr_cont leftovers, the splat registers and the call trace go; messages stay', () => {
    const real = [
      '<7>[    8.2] nd_bus ndbus0: START: nd_pmem.probe(pfn0.0)',
      '<3>[    8.3] nd_pmem pfn0.1: namespace0.0 unable to satisfy requested alignment',
      '<7>[    8.3] ',
      '<4>[    9.0] ------------[ cut here ]------------',
      '<4>[    9.0] WARNING: CPU: 0 PID: 283 at mm/memremap.c:187 memremap_pages+0x3c0/0x6e0',
      '<4>[    9.0] Modules linked in: kmem device_dax',
      '<4>[    9.0] CPU: 0 UID: 0 PID: 283 Comm: ndctl Not tainted 6.12.117+deb12-amd64 #1  Debian 6.12.117-1~deb12u1',
      '<4>[    9.0] RIP: 0010:memremap_pages+0x3c0/0x6e0',
      '<4>[    9.0] RAX: 0000000000000000 RBX: ffff888100000000 RCX: 0000000000000000',
      '<4>[    9.0] Call Trace:',
      '<4>[    9.0]  <TASK>',
      '<4>[    9.0]  ? __warn+0x81/0x130',
      '<4>[    9.0]  devm_memremap_pages+0x23/0x70',
      '<4>[    9.0]  pmem_attach_disk+0x3a4/0x5e0 [nd_pmem]',
      '<4>[    9.0]  </TASK>',
      '<4>[    9.0] ---[ end trace 0000000000000000 ]---',
      '<4>[    9.1] clocksource: Long readout interval, skipping watchdog check',
    ].join('\n');
    expect(dmesgMessages(real).split('\n')).toEqual([
      'nd_pmem pfn0.1: namespace0.0 unable to satisfy requested alignment',
      '------------[ cut here ]------------',
      'WARNING: CPU: 0 PID: N at mm/memremap.c:187 memremap_pages+0x3c0/0x6e0',
      'RIP: 0010:memremap_pages+0x3c0/0x6e0',
      '---[ end trace 0000000000000000 ]---',
    ]);
    const model = '[    0.000010] altmap_alloc_block_buf: pfn: 0x100200 alloc: 512 align: 510 nr: 0x200\n[    0.000011] memmap_init_zone_device initialised 262144 pages in 2ms\n[    0.000012] nd_pmem pfn0.0: probe failed\n';
    expect(dmesgMessages(model)).toBe('nd_pmem pfn0.0: probe failed');
    expect(dmesgDebug(model)).toBe('altmap_alloc_block_buf: pfn: 0x100200 alloc: 512 align: 510 nr: 0x200\nmemmap_init_zone_device initialised 262144 pages in Nms');
    expect(dmesgDebug('<7>[ 1.0] memmap_init_zone_device initialised 262144 pages in 0ms\n<7>[ 1.0] nd_region region0: x\n')).toBe('memmap_init_zone_device initialised 262144 pages in Nms');
  });

  it('ns-fsdax-mem-64G step 4: DRAM-backed PMD runs compare as <dram>, joined where DRAM split them; device-backed runs stay whole', async () => {
    const real = realStep('6.12.117', 'ns-fsdax-mem-64G', 4);
    const ram = iomemSystemRam(real.state.iomem);
    expect(ram).toEqual([[0x1000n, 0x9fbffn], [0x100000n, 0xbffdefffn], [0x100000000n, 0x13fffffffn]]); // a 4 GiB guest: RAM below and above the PCI hole
    // the real kernel's buddy allocator gave two physical runs; the model's gives one elsewhere
    expect(dmesgDebug(real.dmesg, ram).split('\n').filter((l) => l.includes('PMD'))).toEqual([' [ffffea0005000000-ffffea0044ffffff] PMD -> [<dram>] on node 0']);
    expect(dmesgDebug('[ 0.1]  [ffffea0005000000-ffffea0044ffffff] PMD -> [ffff888002200000-ffff8880421fffff] on node 0\n', ram)).toBe(' [ffffea0005000000-ffffea0044ffffff] PMD -> [<dram>] on node 0');
    // ns-fsdax-dev-1G: the memmap in the device (0x100200000..) is compared as printed
    const dev = ' [ffffea0004000000-ffffea0004ffffff] PMD -> [ffff888100200000-ffff8881011fffff] on node 0';
    const devRam = iomemSystemRam(realStep('6.12.117', 'ns-fsdax-dev-1G', 4).state.iomem);
    expect(dmesgDebug(realStep('6.12.117', 'ns-fsdax-dev-1G', 4).dmesg, devRam).split('\n')).toContain(dev);
    expect(dmesgDebug(`[ 0.1] ${dev}\n`, devRam)).toBe(dev);
  });

  it('iomem keeps the entries the model knows, with their nesting, from 1 MiB up', () => {
    const io = ['00001000-0009fbff : System RAM', '000a0000-000bffff : PCI Bus 0000:00', '00100000-7ffdefff : System RAM', '  01000000-01ffffff : Kernel code', '100000000-2ffdfffff : Persistent Memory', '  100000000-1001fffff : namespace0.0', '  100200000-13fffffff : dax0.0', '    108000000-13fffffff : System RAM (kmem)', 'fd00000000-ffffffffff : Reserved'].join('\n');
    expect(iomemView(io).split('\n')).toEqual(['00100000-7ffdefff : System RAM', '100000000-2ffdfffff : Persistent Memory', '  100000000-1001fffff : namespace0.0', '  100200000-13fffffff : dax0.0', '    108000000-13fffffff : System RAM (kmem)', 'fd00000000-ffffffffff : Reserved']);
  });

  it('meminfo is compared as the change of MemTotal and the direct map', () => {
    const a = 'MemTotal:        1874364 kB\nMemFree:         1817364 kB\nDirectMap4k:      100000 kB\nDirectMap2M:     2000000 kB\nDirectMap1G:           0 kB\n';
    const b = 'MemTotal:        3971516 kB\nMemFree:            1234 kB\nDirectMap4k:      100000 kB\nDirectMap2M:     2000000 kB\nDirectMap1G:     2097152 kB\n';
    expect(meminfoDelta(a, b)).toBe('MemTotal +2097152 kB\nDirectMap4k +0 kB\nDirectMap2M +0 kB\nDirectMap1G +2097152 kB');
  });

  it('function_graph becomes a call tree (durations, CPUs and tails ignored)', () => {
    const t = ['# tracer: function_graph', '#', ' 0)               |  pmem_attach_disk [nd_pmem]() {', ' 0) + 11.617 us   |    region_intersects();', ' 0)               |    devm_memremap_pages() {', ' 1)   1.642 us    |      get_dev_pagemap();', ' 1) ! 116.384 us  |    } /* devm_memremap_pages */', ' 0) # 2172.419 us |  } /* pmem_attach_disk [nd_pmem] */', ''].join('\n');
    expect(traceTree(t)).toBe('pmem_attach_disk [nd_pmem] {\n  region_intersects\n  devm_memremap_pages {\n    get_dev_pagemap');
  });

  it('aligns lines as a diff does', () => {
    expect(alignLines(['a', 'b', 'c'], ['a', 'x', 'c'])).toEqual([
      ['a', 'a'],
      [null, 'x'],
      ['b', null],
      ['c', 'c'],
    ]);
  });
});

describe('the model side', () => {
  it('translates guest commands to altmap commands (and shell it cannot model to null)', () => {
    expect(translate('ndctl create-namespace -s 1G -m fsdax -M dev')).toEqual(['create-namespace', '-s', '1G', '-m', 'fsdax', '-M', 'dev']);
    expect(translate('ndctl destroy-namespace -f all')).toEqual(['destroy-namespace', '-f', 'all']);
    expect(translate('daxctl reconfigure-device dax0.0 -m system-ram -f')).toEqual(['reconfigure-device', 'dax0.0', '-m', 'system-ram', '-f']);
    expect(translate('daxctl list -RDMi')).toEqual(['daxctl-list', '-RDMi']);
    expect(translate('echo 1 > /sys/bus/dax/devices/dax0.0/memmap_on_memory')).toEqual(['write', '/sys/bus/dax/devices/dax0.0/memmap_on_memory', '1']);
    expect(translate('echo offline >> /sys/x')).toEqual(['write', '--append', '/sys/x', 'offline']);
    expect(translate('cat /proc/iomem')).toEqual(['cat', '/proc/iomem']);
    expect(translate('for d in /sys/bus/dax/devices/*; do echo $d; done')).toBeNull();
  });

  it('takes the layout from the boot log and the boot sysfs (usable RAM page-trimmed, regions, block size)', () => {
    const boot = ['<6>[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable', '<6>[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved', '<6>[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000007ffdefff] usable'].join('\n');
    const nd = '/sys/bus/nd/devices/region1/resource:0x140600000\n/sys/bus/nd/devices/region1/size:8587837440\n/sys/bus/nd/devices/region1/align:0x1000000\n/sys/bus/nd/devices/region0/resource:0x100000000\n/sys/bus/nd/devices/region0/size:1080033280\n';
    const l = layoutFrom(boot, nd, '/sys/devices/system/memory/block_size_bytes:8000000\n');
    expect(l.ram).toEqual([
      { start: 0x1000n, end: 0x9efffn },
      { start: 0x100000n, end: 0x7ffdefffn },
    ]);
    expect(l.regions.map((r) => [r.name, r.start])).toEqual([
      ['region0', 0x100000000n],
      ['region1', 0x140600000n],
    ]);
    expect(l.memoryBlockSize).toBe(0x8000000n);
    const soft = layoutFrom('<6>[ 0.0] user: [mem 0x0000000100000000-0x000000013fffffff] usable\n<6>[ 0.0] user: [mem 0x0000000140000000-0x00000001bfffffff] soft reserved\n', '', '');
    expect(soft.softReserved).toEqual([{ start: 0x140000000n, end: 0x1bfffffffn }]);
    expect(machineFor(l, 'v6')).toMatchObject({ kernel: 'v6', memoryBlockSize: '0x8000000', e820: [{ start: '0x1000', type: 'System RAM' }, { start: '0x9f000', size: '0x1000', type: 'Reserved' }, { start: '0x100000', type: 'System RAM' }, { start: '0x100000000', size: '0x40600000', type: 'Persistent Memory' }, { start: '0x140600000', type: 'Persistent Memory' }] });
    const p0 = layoutFrom('<6>[ 0.0] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n<7>[ 0.01] e820: update [mem 0x00000000-0x00000fff] usable ==> reserved\n', '', '');
    expect(p0.ram).toEqual([{ start: 0x1000n, end: 0x9efffn }]);
    expect(p0.reserved).toEqual([{ start: 0n, end: 0xfffn }]);
  });

  it('numa-boot: the SRAT lines give RAM and the region their nodes; the e820 entry spanning both nodes is cut at 1 GiB', () => {
    for (const k of ['6.12.117', '6.1.192']) {
      const f = readFixture(`${FIXTURES_DIR}${k}/numa-boot`);
      const boot = f.steps.find((x) => x.index === 0)!;
      const l = layoutFrom(f.earlyBoot, boot.state.nd ?? '', boot.state.memory ?? '');
      expect(l.ram).toEqual([
        { start: 0x1000n, end: 0x9efffn, node: 0 },
        { start: 0x100000n, end: 0x3fffffffn, node: 0 },
        { start: 0x40000000n, end: 0x7ffdefffn, node: 1 },
      ]);
      // "SRAT: Node 1 PXM 1 [mem 0x100000000-0x2ffdfffff] non-volatile"
      expect(l.regions.map((r) => [r.name, r.node])).toEqual([['region0', 1]]);
      expect((machineFor(l, 'v6').e820 as Array<{ node?: number }>).map((e) => e.node)).toContain(1);
    }
    // a one-node guest (QEMU still writes an SRAT for its hot-plug window): everything node 0, RAM not cut
    const one = layoutFrom(readFixture(`${FIXTURES_DIR}6.12.117/ns-fsdax-dev-1G`).earlyBoot, '', '');
    expect(one.ram).toEqual([
      { start: 0x1000n, end: 0x9efffn, node: 0 },
      { start: 0x100000n, end: 0x7ffdefffn, node: 0 },
    ]);
  });

  it('kmem-memhp-offline-cmdline, kmem-mom-param: the boot command line\'s memory-hotplug parameters reach the model, the rest stays behind', () => {
    for (const [id, want] of [['kmem-memhp-offline-cmdline', 'memhp_default_state=offline'], ['kmem-mom-param', 'memory_hotplug.memmap_on_memory=1']] as const) {
      const f = readFixture(`${FIXTURES_DIR}6.12.117/${id}`);
      const l = layoutFrom(f.earlyBoot, '', '');
      expect(l.cmdline).toBe(want);
      expect(machineFor(l, 'v6').cmdline).toBe(want);
    }
    expect(layoutFrom(readFixture(`${FIXTURES_DIR}6.12.117/ns-fsdax-dev-1G`).earlyBoot, '', '').cmdline).toBeUndefined();
  });
});

describe('fixtures', () => {
  const c: OracleCase = { id: 'unit-case', title: 'unit', tags: ['unit'], machine: { ram: '2G', dimms: [{ size: '4G' }] }, steps: [{ run: 'ndctl list -N' }, { run: 'ndctl list -N' }] };
  const sysfs = '/sys/bus/nd/devices/region0/size:4292870144\n/sys/bus/nd/devices/region0/power/control:auto\n/sys/devices/system/memory/block_size_bytes:8000000\n/sys/bus/nd/devices/region0/resource:0x100000000\n/sys/bus/nd/devices/region0/size:4292870144\n';
  const run: RealRun = {
    caseId: c.id,
    profile: 'v6',
    kernel: '6.12.117',
    release: 'r',
    package: 'linux-image-x',
    packageVersion: '1',
    cmdline: 'console=ttyS0',
    qemuArgs: [],
    complete: true,
    wallSeconds: 7.5,
    steps: [
      { index: 0, run: '(boot)', exit: 0, stdout: '', stderr: '', dmesg: '<6>[0.0] BIOS-e820: x\n<6>[2.7] Run /init as init process\n<6>[3.0] after\n', state: { iomem: 'a\n', meminfo: 'm0\n', sysfs, drivers: 'd\n' } },
      { index: 1, run: 'ndctl list -N', exit: 0, stdout: '[]\n', stderr: '', dmesg: '', state: { iomem: 'a\n', meminfo: 'm1\n', sysfs, drivers: 'd\n' } },
      { index: 2, run: 'ndctl list -N', exit: 1, stdout: '', stderr: 'oops\n', dmesg: '<3>[4.0] x\n', state: { iomem: 'b\n', meminfo: 'm1\n', sysfs, drivers: 'd\n' } },
    ],
  };

  it('splits sysfs by subsystem, sorted, without power/ files or duplicates', () => {
    const s = splitSysfs(sysfs);
    expect(s.nd).toBe('/sys/bus/nd/devices/region0/resource:0x100000000\n/sys/bus/nd/devices/region0/size:4292870144\n');
    expect(s.memory).toBe('/sys/devices/system/memory/block_size_bytes:8000000\n');
    expect(s.dax).toBe('');
    expect(splitSysfs('/sys/devices/system/node/node0/meminfo:Node 0 MemTotal:  1881400 kB\n/sys/devices/system/node/node0/meminfo:Node 0 MemFree:  1 kB\n/sys/devices/system/node/online:0\n').node).toBe('/sys/devices/system/node/node0/meminfo:Node 0 MemTotal:  1881400 kB\n/sys/devices/system/node/online:0\n');
  });

  it('write and read back: files only where a step printed or the state changed; the early boot log shared', () => {
    const root = join(TMP, 'real');
    writeFixture(c, run, root);
    const dir = join(root, '6.12.117', 'unit-case');
    expect(readdirSync(dir).sort()).toEqual(['00.dmesg', '00.drivers', '00.iomem', '00.meminfo', '00.memory', '00.nd', '00.node', '00.dax', '01.meminfo', '01.stdout', '02.dmesg', '02.iomem', '02.stderr', 'run.json'].sort());
    expect(readdirSync(join(root, '6.12.117', '_boot'))).toHaveLength(1);
    const f = readFixture(dir);
    expect(f.earlyBoot).toBe('<6>[0.0] BIOS-e820: x\n');
    expect(f.steps[0]!.dmesg).toMatch(/^<6>\[2\.7\] Run \/init/);
    expect(f.steps[2]).toMatchObject({ exit: 1, stderr: 'oops\n', changed: ['iomem'] });
    expect(f.steps[2]!.state.meminfo).toBe('m1\n');
    expect(f.steps[2]!.state.nd).toContain('region0/size');
    expect(fixtureFromRun(c, run).steps).toEqual(f.steps.map((s) => ({ ...s })));
    expect(buildFixture(c, run).record.bootLog).toBe(f.bootLog);
    expect(fixtureCases('6.12.117', root)).toEqual(['unit-case']);
    expect(fixtureKernels(root)).toEqual(['6.12.117']);
  });

  it('compares a run with itself as agreeing, and names what differs', () => {
    const f = fixtureFromRun(c, run);
    const model: ModelRun = { profile: 'v6', machine: {}, steps: f.steps.map((s) => ({ index: s.index, run: s.run, argv: [], exit: s.exit, stdout: s.stdout, stderr: s.stderr, dmesg: s.dmesg, state: { ...s.state }, stateMissing: {} })) };
    expect(compareRuns({ caseId: c.id, kernel: '6.12.117', profile: 'v6' }, f.steps, model).agree).toBe(true);
    model.steps[2]!.exit = 0;
    model.steps[1]!.stateMissing.iomem = 'no readFile';
    const cmp = compareRuns({ caseId: c.id, kernel: '6.12.117', profile: 'v6' }, f.steps, model);
    expect(cmp.aspects.find((a) => a.aspect === 'exit')).toMatchObject({ status: 'differ', diffs: [{ index: 2, real: '1', model: '0' }] });
    expect(cmp.aspects.find((a) => a.aspect === 'iomem')).toMatchObject({ status: 'not-modelled', why: 'no readFile' });
  });
});

describe('the pending table printer', () => {
  it('keys every divergence by kernel, case id and aspect, with a reason and its issue', () => {
    const src = pendingSource([
      { kernel: '6.12.117', caseId: 'b', aspect: 'iomem', status: 'not-modelled', why: 'no readFile' },
      { kernel: '6.12.117', caseId: 'a', aspect: 'iomem', status: 'not-modelled', why: 'no readFile' },
      { kernel: '6.12.117', caseId: 'k', aspect: 'exit', status: 'differ', why: '', tags: ['kmem'], runs: ['daxctl reconfigure-device dax0.0 -m system-ram -f'] },
    ]);
    const t = JSON.parse(src) as PendingTable;
    expect(Object.keys(t.kernels['6.12.117']!)).toEqual(['a', 'b', 'k']);
    expect(t.kernels['6.12.117']!.a).toEqual({ iomem: 'no-files' });
    expect(t.reasons['no-files']).toEqual({ issue: 13, reason: 'no readFile' });
    expect(t.reasons[t.kernels['6.12.117']!.k!.exit!]!.issue).toBe(14);
    expect(src.split('\n').filter((l) => l.includes('"a":'))).toHaveLength(1);
    expect(classify({ kernel: 'k', caseId: 'k', aspect: 'exit', status: 'differ', why: '', tags: ['kmem'], runs: ['daxctl list'] }).issue).toBe(14);
    expect(classify({ kernel: 'k', caseId: 'k', aspect: 'trace', status: 'not-modelled', why: '' }).issue).toBe(16);
    expect(findPending(t, '6.12.117', 'a', 'iomem')).toMatchObject({ key: 'no-files', issue: 13 });
    expect(findPending(t, '6.1.192', 'a', 'iomem')).toBeUndefined();
    expect(() => findPending({ reasons: {}, kernels: { k: { c: { exit: 'nope' } } } }, 'k', 'c', 'exit')).toThrow(/unknown reason/);
  });
});

describe('the recorded fixtures on disk', () => {
  it('read back for every kernel, with the boot log that holds the e820 map', () => {
    for (const k of fixtureKernels()) {
      const ids = fixtureCases(k);
      if (!ids.length) continue;
      const f = readFixture(join(FIXTURES_DIR, k, ids[0]!));
      expect(f.earlyBoot).toMatch(/BIOS-e820: \[mem /);
      expect(f.steps[0]!.index).toBe(0);
    }
  });
});

describe('struct pages (kpages)', () => {
  it('parses the helper module output and makes words comparable (memmap pointers as pages, kernel pointers as <kptr>)', async () => {
    const { parseKpages, pageLine, pageWord } = await import('../../src/oracle/kpages.ts');
    const out = [
      '# sizeof(struct page) 64 vmemmap ffffea0000000000',
      '100200 ffffea0004008000 0027ffffc0002040 ffff888005c57e40 0000000000000000 0000000000000000 0000000000000000 0000000000000000 00000001ffffffff 0000000000000000 flags=0x27ffffc0002040(reserved|head|node=0|zone=4|lastcpupid=0x1fffff)',
      '100201 ffffea0004008040 0027ffffc0002009 ffffea0004008001 ffffffffffffffff 0000000000000000 0000000000000200 0000000000000000 00000000ffffffff 0000000000000000 flags=0x27ffffc0002009(locked|uptodate|reserved|node=0|zone=4|lastcpupid=0x1fffff)',
      '100400 ffffea0004010000 unmapped',
    ].join('\n');
    const pages = parseKpages(out);
    expect(pages.map((p) => p.pfn)).toEqual([0x100200, 0x100201, 0x100400]);
    expect(pages[0]!.flags).toBe('0x27ffffc0002040(reserved|head|node=0|zone=4|lastcpupid=0x1fffff)');
    expect(pageLine(pages[1]!)).toBe('100201: 0x27ffffc0002009 page(100200)|1 0xffffffffffffffff 0 0x200 0 0xffffffff 0');
    expect(pageLine(pages[0]!)).toContain(' <kptr> ');
    expect(pageLine(pages[2]!)).toBe('100400: unmapped');
    expect(pageWord(0xdead000000000400n)).toBe('0xdead000000000400');
  });
});

describe('sysfs state as deltas', () => {
  it('a later step stores only the lines it changed, and reads back whole', async () => {
    const { lineDelta, applyDelta, compactFixture } = await import('../../src/oracle/fixtures.ts');
    const a = '/sys/x/a:1\n/sys/x/b:2\n';
    const b = '/sys/x/a:1\n/sys/x/b:3\n/sys/x/c:\n';
    expect(lineDelta(a, b)).toBe('-/sys/x/b:2\n+/sys/x/b:3\n+/sys/x/c:\n');
    expect(applyDelta(a, lineDelta(a, b))).toBe(b);
    expect(lineDelta(a, a)).toBe('');
    const c: OracleCase = { id: 'delta-case', title: 'd', tags: ['unit'], machine: { ram: '2G', dimms: [{ size: '4G' }] }, steps: [{ run: 'x' }] };
    const nd0 = '/sys/bus/nd/devices/region0/size:1\n/sys/bus/nd/devices/region0/namespace_seed:namespace0.0\n';
    const nd1 = '/sys/bus/nd/devices/region0/size:1\n/sys/bus/nd/devices/region0/namespace_seed:namespace0.1\n/sys/bus/nd/devices/namespace0.0/mode:fsdax\n';
    const run: RealRun = {
      caseId: c.id, profile: 'v6', kernel: '6.12.117', release: 'r', package: 'p', packageVersion: '1', cmdline: '', qemuArgs: [], complete: true, wallSeconds: 1,
      steps: [
        { index: 0, run: '(boot)', exit: 0, stdout: '', stderr: '', dmesg: '', state: { iomem: 'i\n', meminfo: 'm\n', sysfs: nd0, drivers: 'd\n' } },
        { index: 1, run: 'x', exit: 0, stdout: '', stderr: '', dmesg: '', state: { iomem: 'i\n', meminfo: 'm\n', sysfs: nd1, drivers: 'd\n' } },
      ],
    };
    const root = join(TMP, 'delta');
    const dir = writeFixture(c, run, root);
    expect(readdirSync(dir)).toContain('01.nd.diff');
    const f = readFixture(dir);
    expect(f.steps[1]!.state.nd).toBe(nd1.split('\n').filter(Boolean).sort().join('\n') + '\n');
    expect(f.steps[1]!.changed).toEqual(['nd']);
    compactFixture(dir);
    expect(readFixture(dir).steps.map((s) => s.state.nd)).toEqual(f.steps.map((s) => s.state.nd));
  });
});

describe('a live real run against its recording', () => {
  it('agrees with itself, setup steps and all, and names a changed message', async () => {
    const { compareReal } = await import('../../src/oracle/oracle.ts');
    const c: OracleCase = { id: 'verify-case', title: 'v', tags: ['unit'], machine: { ram: '2G', dimms: [{ size: '4G' }] }, steps: [{ run: 'ndctl create-namespace -a 3M' }] };
    const st = (nd: string) => ({ iomem: 'i\n', meminfo: 'MemTotal: 1 kB\n', sysfs: nd, drivers: 'd\n' });
    const run = (stderr: string): RealRun => ({
      caseId: c.id, profile: 'v6', kernel: '6.12.117', release: 'r', package: 'p', packageVersion: '1', cmdline: '', qemuArgs: [], complete: true, wallSeconds: 1,
      steps: [
        { index: 0, run: '(boot)', exit: 0, stdout: '', stderr: '', dmesg: '', state: st('/sys/bus/nd/devices/namespace0.0/mode:raw\n') },
        { index: 1, run: 'ndctl init-labels nmem0', setup: true, exit: 0, stdout: '', stderr: '', dmesg: '', state: st('/sys/bus/nd/devices/namespace0.0/size:0\n') },
        { index: 2, run: c.steps[0]!.run, exit: 129, stdout: '', stderr, dmesg: '', state: st('/sys/bus/nd/devices/namespace0.0/size:0\n') },
      ],
    });
    const a = fixtureFromRun(c, run('  Error: align must be a power-of-2 greater than 4096\n'));
    expect(compareReal(a, fixtureFromRun(c, run('  Error: align must be a power-of-2 greater than 4096\n'))).agree).toBe(true);
    const b = compareReal(a, fixtureFromRun(c, run('  Error: something else\n')));
    expect(b.agree).toBe(false);
    expect(b.aspects.filter((x) => x.status === 'differ').map((x) => x.aspect)).toEqual(['stderr']);
  });
});
