/**
 * Issue 18 item 6: fuzzing the inputs added since the first fuzz pass: kernel command lines, sysfs writes
 * (memory blocks, auto_online_blocks, a dax device's memmap_on_memory) and tracefs writes. Every input
 * either is taken or fails with a KernelError; a refused write leaves the machine as it was
 * (snapshot() and the files the writes aim at); nothing traps or poisons the machine.
 * The machine is the oracle's standard guest (test/dax/guest.ts: 2 GiB of RAM, a 32 GiB NVDIMM).
 * Seeds are fixed so that CI is repeatable; runs are modest (the suite runs on 2 shared cores).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMachine, KernelError, type Machine } from '../../src/index.ts';
import { GUEST_E820 } from '../dax/guest.ts';

const SEED = 20261218;
const MEM = '/sys/devices/system/memory';
const DAX = '/sys/bus/dax/devices/dax0.0';
const TRACING = '/sys/kernel/tracing';

/** The error of fn, or null when it was taken; anything but a KernelError fails the test. */
function outcome(fn: () => unknown): KernelError | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
}

/** Text the kernel's parsers see: their keywords, numbers, whitespace, quotes and arbitrary strings. */
const word = (keywords: readonly string[]) =>
  fc.oneof(
    fc.constantFrom(...keywords),
    fc.constantFrom('', ' ', '\n', '\t', '"', '=', '0', '1', '-1', 'y', 'N', 'on', 'off', 'force', '0x10', '99999999999999999999', '\u00e9', '\0'),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: 'binary', maxLength: 6 }),
  );
const text = (keywords: readonly string[]) => fc.array(word(keywords), { maxLength: 5 }).map((w) => w.join(''));

const CMDLINE_WORDS = [
  'memory_hotplug.memmap_on_memory=',
  'memory_hotplug.memmap_on_memory',
  'memhp_default_state=',
  'memhp_default_state',
  'online',
  'offline',
  'online_kernel',
  'online_movable',
  'true',
  'force',
  'quiet',
  'init=/bin/sh',
  '--',
];

describe('issue 18 item 6: kernel command line fuzz', () => {
  it('any command line boots or is EINVAL (over COMMAND_LINE_SIZE 2048); a booted machine logs it as given', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 6, arbitrary: fc.array(text(CMDLINE_WORDS), { maxLength: 8 }).map((w) => w.join(' ')) },
          { weight: 1, arbitrary: fc.integer({ min: 2040, max: 2060 }).map((n) => 'x'.repeat(n)) },
        ),
        async (cmdline) => {
          let m: Machine | null = null;
          const e = await createMachine({ backend: 'wasm', kernel: 'v6', e820: GUEST_E820, cmdline }).then(
            (x) => ((m = x), null),
            (x: unknown) => x,
          );
          if (e !== null) {
            expect(e).toBeInstanceOf(KernelError);
            expect((e as KernelError).code).toBe('EINVAL');
            expect(cmdline.length).toBeGreaterThan(2048);
            return;
          }
          expect(cmdline.length).toBeLessThanOrEqual(2048);
          // printk gives each line of the message its own timestamp
          const log = m!.dmesg().map((l) => l.replace(/^\[ *\d+\.\d{6}\] /, '')).join('\n');
          expect(log).toContain(`Kernel command line: ${cmdline}`);
          expect(m!.checkInvariants().problems).toEqual([]);
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
  });
});

/** A guest with a 2 GiB devdax namespace, its memory handed to kmem (offline) or not. */
async function guest(kmem: boolean): Promise<Machine> {
  const m = await createMachine({ backend: 'wasm', kernel: 'v6', e820: GUEST_E820 });
  m.createNamespace({ size: '2G', mode: 'devdax', map: 'mem' });
  if (kmem) m.reconfigureDevice('dax0.0', { mode: 'system-ram', online: false });
  return m;
}

/** What a refused write must leave as it was: the snapshot and every file the writes aim at. */
function state(m: Machine, files: readonly string[]): unknown {
  const read = files.map((f) => {
    const e = outcome(() => m.readFile(f));
    return e === null ? m.readFile(f) : e.code;
  });
  return { snapshot: m.snapshot(), read };
}

/** Each write (to files[file % n]) is taken or a KernelError; a refused one leaves the `watched` files as they were. */
function fuzzWrites(m: Machine, files: string[], watched: string[], writes: Array<{ file: number; text: string; append: boolean }>): void {
  for (const w of writes) {
    const path = files[w.file % files.length]!;
    const before = state(m, watched);
    const e = outcome(() => m.writeFile(path, w.text, { append: w.append }));
    if (e !== null) expect(state(m, watched), `${path} <- ${JSON.stringify(w.text)}: ${e.message}`).toEqual(before);
  }
}

const SYSFS_WORDS = ['online', 'offline', 'online_kernel', 'online_movable', '1', '0', 'true', 'false', 'yes', 'no', 'y', 'n', 'force', '\n'];
const blockFiles = (m: Machine) =>
  m
    .listDir(MEM)
    .filter((d) => d.startsWith('memory'))
    .flatMap((d) => ['state', 'online'].map((f) => `${MEM}/${d}/${f}`));

describe('issue 18 item 6: sysfs write fuzz', () => {
  it('memory block state/online, auto_online_blocks and dax memmap_on_memory writes: taken or a KernelError, a refused one changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.record({ file: fc.nat(), text: text(SYSFS_WORDS), append: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        async (kmem, writes) => {
          const m = await guest(kmem);
          const files = [`${MEM}/auto_online_blocks`, `${DAX}/memmap_on_memory`, `${MEM}/memory999/state`, ...blockFiles(m)];
          fuzzWrites(m, files, files, writes);
          expect(m.poisoned).toBeFalsy();
          expect(m.checkInvariants().problems).toEqual([]);
        },
      ),
      { seed: SEED, numRuns: 20 },
    );
  });
});

const TRACE_WORDS = ['function_graph', 'nop', 'function', 'vmemmap_populate', 'memremap_pages', '!vmemmap_populate', '*', 'add_memory*', '0', '1', '\n'];

describe('issue 18 item 6: tracefs write fuzz', () => {
  it('writes to every tracefs file: taken or a KernelError, a refused one changes nothing, and tracing still works after', async () => {
    const m = await guest(false);
    const files = [
      ...m
        .listDir(TRACING)
        .filter((f) => f !== 'options')
        .map((f) => `${TRACING}/${f}`),
      ...m.listDir(`${TRACING}/options`).map((f) => `${TRACING}/options/${f}`),
      `${TRACING}/no_such_file`,
    ];
    const settings = files.filter((f) => !/\/(trace|available_filter_functions|no_such_file)$/.test(f));
    await fc.assert(
      fc.property(fc.array(fc.record({ file: fc.nat(), text: text(TRACE_WORDS), append: fc.boolean() }), { minLength: 1, maxLength: 6 }), (writes) => {
        fuzzWrites(m, files, settings, writes);
        expect(m.poisoned).toBeFalsy();
        // whatever the writes left, a trace of a real operation still runs and restores the settings
        const saved = settings.map((f) => m.readFile(f));
        expect(m.trace((x) => x.readFile(`${MEM}/block_size_bytes`), ['vmemmap_populate'])).toContain('# tracer: function_graph');
        expect(settings.map((f) => m.readFile(f))).toEqual(saved);
      }),
      { seed: SEED, numRuns: 80 },
    );
  });
});

describe('issue 18 item 6: e820 fuzz', () => {
  const TYPES = ['System RAM', 'Persistent Memory', 'Reserved', 'Soft Reserved', 'Persistent Memory (legacy)'] as const;
  const GiB = 1n << 30n;
  /** An address or size as a caller may give it: aligned or not, bigint, number, size text, or junk. */
  const value = fc.oneof(
    { weight: 8, arbitrary: fc.bigInt({ min: 4n, max: 64n }).map((n) => n * GiB) },
    { weight: 2, arbitrary: fc.bigInt({ min: 0n, max: 1n << 20n }).map((n) => n << 12n) },
    { weight: 1, arbitrary: fc.bigInt({ min: -1n, max: 1n << 47n }) },
    { weight: 1, arbitrary: fc.constantFrom(0x100000n, 1n << 46n, 1n << 52n, (1n << 64n) - 1n, 1n << 64n) },
    { weight: 1, arbitrary: fc.integer({ min: -1, max: 2 ** 36 }).map((n) => n * 4096) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('1G', '0x100000', '2T', '1M', '', 'x', '-1', '1.5G', 1.5, NaN, Infinity, null, undefined, {}, [], true) },
  );
  const entry = fc.oneof(
    { weight: 8, arbitrary: fc.record({ start: value, size: value, type: fc.oneof(fc.constantFrom(...TYPES), fc.constantFrom<unknown>('RAM', '', null, 7)) }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'x', 5, [], { start: 0 }) },
  );
  // a sane base the fuzzed entries are added to, so that many cases boot
  const BASE = [{ start: 0x100000n, size: 4n * GiB - 0x100000n, type: 'System RAM' as const }];

  it('any e820 array boots or is a KernelError (EINVAL, or HostMemoryError for the model\'s room); a booted machine is consistent and shows its RAM in iomem', async () => {
    let booted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(entry, { maxLength: 4 }), async (withBase, extra) => {
        const e820 = (withBase ? [...BASE, ...extra] : extra) as never;
        let m: Machine;
        try {
          m = await createMachine({ backend: 'wasm', kernel: 'v6', e820 });
        } catch (e) {
          if (!(e instanceof KernelError)) throw e;
          expect(['EINVAL', 'ENOMEM']).toContain(e.code);
          refused++;
          return;
        }
        booted++;
        m.checkInvariants();
        const ram = m.snapshot().dram.totalPages;
        expect(ram).toBeGreaterThan(0);
        expect(m.readFile('/proc/iomem')).toMatch(/ : System RAM$/m);
      }),
      { seed: SEED, numRuns: 200 },
    );
    // both sides are exercised
    expect(booted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(10);
  }, 120_000);
});
