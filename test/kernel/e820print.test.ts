/**
 * parseE820 (src/kernel/e820print.ts): the BIOS-e820 lines of every recorded real boot (6.12.117 and
 * 6.1.192) read back into the e820 the oracle gives the case's machine (machineFor: the RAM and
 * reserved ranges, Soft Reserved and legacy pmem from the user-defined table after memmap=); the
 * types e820_print_type prints that the model has not; the errors, each naming its line; a fuzz.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMachine, E820ParseError, KernelError, parseE820, parseE820Table } from '../../src/index.ts';
import { FIXTURES_DIR, fixtureCases, readFixture } from '../../src/oracle/fixtures.ts';
import { layoutFrom, machineFor } from '../../src/oracle/model.ts';

const KERNELS = ['6.12.117', '6.1.192'] as const;
const CASES = KERNELS.flatMap((k) => fixtureCases(k).map((id) => [`${k}/${id}`, k, id] as const));
const boot = (k: string, id: string) => readFixture(`${FIXTURES_DIR}${k}/${id}`);

describe('parseE820: the recorded boots read back', () => {
  it('every recorded case of both kernels is here (229 each)', () => {
    expect(CASES.length).toBe(458);
  });

  it.each(CASES)('%s: the boot log gives the e820 the oracle gives the case (less the NFIT regions, which are not in e820)', (_name, k, id) => {
    const f = boot(k, id);
    const setup = [...f.steps].reverse().find((s) => s.setup) ?? f.steps[0]!;
    const want = (machineFor(layoutFrom(f.earlyBoot, setup.state.nd, f.steps[0]!.state.memory), 'v6').e820 as Array<{ type: string }>).filter((e) => e.type !== 'Persistent Memory');
    expect(parseE820(f.earlyBoot)).toEqual(want);
  });

  it('ns-fsdax-dev-1G (6.12.117): QEMU pc with 2 GiB: page 0 reserved (trim_bios_range), 0x9fc00 rounded out to its page, RAM to 0x7ffdf000', () => {
    const t = parseE820Table(boot('6.12.117', 'ns-fsdax-dev-1G').earlyBoot);
    expect(t.table).toBe('BIOS-e820');
    expect(t.keptAsReserved).toEqual([]);
    expect(t.entries).toEqual([
      { start: '0x0', size: '0x1000', type: 'Reserved' },
      { start: '0x1000', size: '0x9e000', type: 'System RAM', node: 0 },
      { start: '0x9f000', size: '0x1000', type: 'Reserved' },
      { start: '0xf0000', size: '0x10000', type: 'Reserved' },
      { start: '0x100000', size: '0x7fedf000', type: 'System RAM', node: 0 },
      { start: '0x7ffdf000', size: '0x21000', type: 'Reserved' },
      { start: '0xfffc0000', size: '0x40000', type: 'Reserved' },
      { start: '0xfd00000000', size: '0x300000000', type: 'Reserved' },
    ]);
  });

  it.each(KERNELS)('legacy-list (%s): memmap=2G!0x140000000: the user-defined table is read, its persistent (type 12) range legacy pmem', (k) => {
    const t = parseE820Table(boot(k, 'legacy-list').earlyBoot);
    expect(t.table).toBe('user');
    expect(t.entries.filter((e) => e.type !== 'Reserved')).toEqual([
      { start: '0x1000', size: '0x9e000', type: 'System RAM', node: 0 },
      { start: '0x100000', size: '0xbfedf000', type: 'System RAM', node: 0 },
      { start: '0x100000000', size: '0x40000000', type: 'System RAM', node: 0 },
      { start: '0x140000000', size: '0x80000000', type: 'Persistent Memory (legacy)', node: 0 },
      { start: '0x1c0000000', size: '0x80000000', type: 'System RAM', node: 0 },
    ]);
  });

  it.each(KERNELS)('softres-with-pmem (%s): memmap=2G%%0x140000000+0xefffffff: the soft reserved range', (k) => {
    const e = parseE820(boot(k, 'softres-with-pmem').earlyBoot);
    expect(e.filter((x) => x.type === 'Soft Reserved')).toEqual([{ start: '0x140000000', size: '0x80000000', type: 'Soft Reserved', node: 0 }]);
  });

  it('kmem-8G-block-trim (6.12.117): the parsed map boots a machine with the real 2 GiB less the holes of System RAM', async () => {
    const e820 = parseE820(boot('6.12.117', 'kmem-8G-block-trim').earlyBoot);
    const m = await createMachine({ kernel: 'v6', backend: 'ts', e820: [...e820, { start: '0x100000000', size: '0x800000000', type: 'Persistent Memory' }] });
    try {
      expect(m.readFile('/proc/iomem').split('\n').filter((l) => /^\S.*System RAM/.test(l))).toEqual(['00001000-0009efff : System RAM', '00100000-7ffdefff : System RAM']);
    } finally {
      m.dispose();
    }
  });
});

/** A bare-metal style map in e820_print_type's words (every type it prints), timestamps as dmesg has them. */
const SERVER = [
  '[    0.000000] BIOS-provided physical RAM map:',
  '[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable',
  '[    0.000000] BIOS-e820: [mem 0x00000000000a0000-0x00000000000fffff] reserved',
  '[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000006b8b2fff] usable',
  '[    0.000000] BIOS-e820: [mem 0x000000006b8b3000-0x000000006dbb2fff] reserved',
  '[    0.000000] BIOS-e820: [mem 0x000000006dbb3000-0x000000006f8d2fff] ACPI NVS',
  '[    0.000000] BIOS-e820: [mem 0x000000006f8d3000-0x000000006fb26fff] ACPI data',
  '[    0.000000] BIOS-e820: [mem 0x000000006fb27000-0x000000006fffffff] unusable',
  '[    0.000000] BIOS-e820: [mem 0x0000000070000000-0x000000008fffffff] type 20',
  '[    0.000000] BIOS-e820: [mem 0x0000000100000000-0x000000407fffffff] usable',
  '[    0.000000] BIOS-e820: [mem 0x0000004080000000-0x000001007fffffff] persistent (type 7)',
  '[    0.000000] BIOS-e820: [mem 0x0000010080000000-0x000001107fffffff] soft reserved',
].join('\n');

describe('parseE820: the types e820_print_type prints', () => {
  it('ACPI NVS, ACPI data, unusable and an unknown type N are kept as Reserved (never RAM for the kernel either) and said so; persistent (type 7) is NFIT pmem; soft reserved is Soft Reserved', () => {
    const t = parseE820Table(SERVER);
    expect(t.entries).toEqual([
      { start: '0x0', size: '0x1000', type: 'Reserved' },
      { start: '0x1000', size: '0x9f000', type: 'System RAM' },
      { start: '0xa0000', size: '0x60000', type: 'Reserved' },
      { start: '0x100000', size: '0x6b7b3000', type: 'System RAM' },
      { start: '0x6b8b3000', size: '0x2474d000', type: 'Reserved' },
      { start: '0x100000000', size: '0x3f80000000', type: 'System RAM' },
      { start: '0x4080000000', size: '0xc000000000', type: 'Persistent Memory' },
      { start: '0x10080000000', size: '0x1000000000', type: 'Soft Reserved' },
    ]);
    expect(t.keptAsReserved).toEqual(['ACPI NVS [mem 0x6dbb3000-0x6f8d2fff]', 'ACPI data [mem 0x6f8d3000-0x6fb26fff]', 'unusable [mem 0x6fb27000-0x6fffffff]', 'type 20 [mem 0x70000000-0x8fffffff]']);
  });

  it('the format before 3.8 ("BIOS-e820: start - end (type)", the end exclusive) reads as the [mem] one', () => {
    const old = ['BIOS-e820: 0000000000000000 - 000000000009fc00 (usable)', 'BIOS-e820: 000000000009fc00 - 00000000000a0000 (reserved)', 'BIOS-e820: 0000000000100000 - 000000007ffdf000 (usable)', 'BIOS-e820: 000000007ffdf000 - 0000000080000000 (ACPI data)'].join('\n');
    const now = ['BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable', 'BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved', 'BIOS-e820: [mem 0x0000000000100000-0x000000007ffdefff] usable', 'BIOS-e820: [mem 0x000000007ffdf000-0x000000007fffffff] ACPI data'].join('\n');
    expect(parseE820Table(old)).toEqual(parseE820Table(now));
    expect(parseE820(old).at(-1)).toEqual({ start: '0x7ffdf000', size: '0x21000', type: 'Reserved' });
  });

  it('journalctl -k lines and the lines alone read the same; a logged "e820: update ... usable ==> reserved" is applied', () => {
    const bare = 'BIOS-e820: [mem 0x0000000000100000-0x000000007fffffff] usable\ne820: update [mem 0x7f000000-0x7fffffff] usable ==> reserved\n';
    const journal = 'Dec 01 10:00:00 host kernel: BIOS-e820: [mem 0x0000000000100000-0x000000007fffffff] usable\nDec 01 10:00:00 host kernel: e820: update [mem 0x7f000000-0x7fffffff] usable ==> reserved\n';
    const want = [
      { start: '0x100000', size: '0x7ef00000', type: 'System RAM' },
      { start: '0x7f000000', size: '0x1000000', type: 'Reserved' },
    ];
    expect(parseE820(bare)).toEqual(want);
    expect(parseE820(journal)).toEqual(want);
  });
});

describe('parseE820: bad or partial input names the line', () => {
  const err = (text: string): E820ParseError => {
    try {
      parseE820(text);
    } catch (e) {
      expect(e).toBeInstanceOf(E820ParseError);
      expect(e).toBeInstanceOf(KernelError);
      expect((e as KernelError).code).toBe('EINVAL');
      return e as E820ParseError;
    }
    throw new Error('parsed');
  };
  const real = boot('6.12.117', 'ns-fsdax-dev-1G').earlyBoot.split('\n');
  const at = real.findIndex((l) => l.includes('BIOS-e820:')) + 1;

  it('a line cut short (a paste that lost its end): its number and its text', () => {
    const cut = [...real];
    cut[at] = cut[at]!.slice(0, 40);
    const e = err(cut.join('\n'));
    expect(e.line).toBe(at + 1);
    expect(e.text).toBe('<6>[    0.000000] BIOS-e820: [mem 0x0000');
    expect(e.message).toBe(`EINVAL: e820 line ${at + 1}: not an e820 table line ("BIOS-e820: [mem 0x...-0x...] type"), truncated?: "<6>[    0.000000] BIOS-e820: [mem 0x0000"`);
  });

  it('a type e820_print_type never prints', () => {
    const e = err('BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\nBIOS-e820: [mem 0x0000000000100000-0x000000007ffdefff] usabel\n');
    expect([e.line, e.text]).toEqual([2, 'BIOS-e820: [mem 0x0000000000100000-0x000000007ffdefff] usabel']);
    expect(e.message).toMatch(/^EINVAL: e820 line 2: unknown e820 type "usabel"/);
  });

  it('two boots in one log, overlapping entries, an end before the start, no table at all', () => {
    const one = real.filter((l) => l.includes('BIOS-e820:')).join('\n');
    expect(err(`${one}\n${one}`).message).toMatch(/: a second BIOS-e820 table \(another boot in the same log\?\): give one boot's lines: /);
    expect(err('BIOS-e820: [mem 0x0000000000000000-0x00000000000fffff] usable\nBIOS-e820: [mem 0x0000000000080000-0x000000000009ffff] reserved').message).toMatch(/^EINVAL: e820 line 2: overlaps or is below the entry before it \(line 1\)/);
    expect(err('BIOS-e820: [mem 0x0000000000100000-0x00000000000fffff] usable').line).toBe(1);
    const none = err(real.slice(at + 20).filter((l) => !l.includes('e820')).join('\n'));
    expect([none.line, none.message]).toEqual([0, 'EINVAL: e820: no "BIOS-e820: [mem ...]" lines (dmesg prints them first thing at boot; a log that starts later lacks them)']);
  });

  it('fuzz: any text, and the real lines cut or changed anywhere, parse or fail with E820ParseError only', () => {
    const lines = real.slice(0, 40);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.tuple(fc.nat(lines.length - 1), fc.nat(120), fc.string({ maxLength: 12 })).map(([i, cut, junk]) => lines.map((l, j) => (j === i ? l.slice(0, cut) + junk + l.slice(cut + junk.length) : l)).join('\n')),
          fc.array(fc.tuple(fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 40n }), fc.constantFrom('usable', 'reserved', 'soft reserved', 'ACPI data', 'persistent (type 12)', 'type 9', 'bogus')), { maxLength: 8 }).map((es) => es.map(([s, n, t]) => `BIOS-e820: [mem 0x${s.toString(16).padStart(16, '0')}-0x${(s + n).toString(16).padStart(16, '0')}] ${t}`).join('\n')),
        ),
        (text) => {
          try {
            const e = parseE820(text);
            for (const x of e) expect(BigInt(x.size) > 0n && BigInt(x.start) % 4096n === 0n && BigInt(x.size) % 4096n === 0n).toBe(true);
          } catch (e) {
            if (!(e instanceof E820ParseError)) throw e;
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
