/**
 * The core's ABI is defined once, in src/core/core.ts, and mirrored in assembly/abi.ts. This test reads
 * the values the built module exports as globals (build/core.wasm; assembly/index.ts re-exports abi.ts
 * and the struct page constants of assembly/memmap.ts) and holds them to core.ts, found by parsing it:
 * every enum member, numeric constant and altmap field there must be in the module with the same value,
 * and every global the module exports must be one of them or a constant of src/core/structPage.ts.
 *
 * Names: a constant keeps its name; an enum member is the enum's prefix (ENUM_PREFIX) and the member in
 * capitals (Purpose.PageTable -> PURPOSE_PAGE_TABLE); ALTMAP_FIELDS[i] is ALTMAP_FIELD_<NAME> = i, and
 * ALTMAP_FIELD_COUNT their number.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as core from '../../src/core/core.ts';
import * as structPage from '../../src/core/structPage.ts';
import { ERRNO } from '../../src/kernel/errno.ts';

/** The Wasm prefix of each enum of core.ts; an enum missing here fails the test. */
const ENUM_PREFIX: Record<string, string> = {
  Purpose: 'PURPOSE',
  EventType: 'EVENT',
  FaultKind: 'FAULT',
  PopulateFlags: 'POPULATE',
};

const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** A numeric literal, possibly negated, or undefined. */
function numberOf(e: ts.Expression | undefined): number | undefined {
  if (e === undefined) return undefined;
  if (ts.isNumericLiteral(e)) return Number(e.text);
  if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(e.operand)) return -Number(e.operand.text);
  return undefined;
}

const isExported = (n: ts.Node) => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

interface CoreAbi {
  /** Wasm global name -> value, as core.ts defines it. */
  values: Map<string, number>;
  /** Enum name -> member -> value. */
  enums: Map<string, Map<string, number>>;
  /** Numeric constants of core.ts by their own name. */
  consts: Map<string, number>;
  altmapFields: string[];
}

/** Everything core.ts defines that crosses the boundary as a number. */
function parseCoreTs(): CoreAbi {
  const file = new URL('../../src/core/core.ts', import.meta.url);
  const sf = ts.createSourceFile('core.ts', readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const abi: CoreAbi = { values: new Map(), enums: new Map(), consts: new Map(), altmapFields: [] };
  const add = (name: string, value: number) => {
    expect(abi.values.has(name), `${name} defined twice`).toBe(false);
    abi.values.set(name, value);
  };
  for (const st of sf.statements) {
    if (!isExported(st)) continue;
    if (ts.isEnumDeclaration(st)) {
      const name = st.name.text;
      const prefix = ENUM_PREFIX[name];
      expect(prefix, `enum ${name} of core.ts has no Wasm prefix in this test (and no mirror in assembly/abi.ts?)`).toBeDefined();
      const members = new Map<string, number>();
      for (const m of st.members) {
        const member = (m.name as ts.Identifier).text;
        const value = numberOf(m.initializer);
        expect(value, `${name}.${member} needs an explicit numeric value`).toBeTypeOf('number');
        members.set(member, value!);
        add(`${prefix}_${snake(member)}`, value!);
      }
      abi.enums.set(name, members);
    } else if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        const name = (d.name as ts.Identifier).text;
        const value = numberOf(d.initializer);
        if (value !== undefined) {
          abi.consts.set(name, value);
          add(name, value);
        } else if (name === 'ALTMAP_FIELDS') {
          let init = d.initializer!;
          while (ts.isAsExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
          expect(ts.isArrayLiteralExpression(init)).toBe(true);
          abi.altmapFields = (init as ts.ArrayLiteralExpression).elements.map((e) => (e as ts.StringLiteral).text);
          abi.altmapFields.forEach((f, i) => add(`ALTMAP_FIELD_${snake(f)}`, i));
          add('ALTMAP_FIELD_COUNT', abi.altmapFields.length);
        }
      }
    }
  }
  return abi;
}

/** The globals build/core.wasm exports, as bigints (i64 globals arrive as signed BigInt). */
async function moduleGlobals(): Promise<Map<string, bigint>> {
  const bytes = readFileSync(new URL('../../build/core.wasm', import.meta.url));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const { instance } = await WebAssembly.instantiate(bytes, {
    env: {
      memory,
      abort() {
        throw new Error('abort');
      },
    },
  });
  const out = new Map<string, bigint>();
  for (const [name, v] of Object.entries(instance.exports)) {
    if (v instanceof WebAssembly.Global) out.set(name, BigInt(v.value as number | bigint));
  }
  return out;
}

describe('the core ABI: assembly/abi.ts against src/core/core.ts', () => {
  it('parsing core.ts finds what it exports at run time', () => {
    const abi = parseCoreTs();
    const runtime = core as unknown as Record<string, unknown>;
    for (const [name, members] of abi.enums) {
      const obj = runtime[name] as Record<string, unknown>;
      const named = Object.entries(obj).filter(([, v]) => typeof v === 'number');
      expect(new Map(named), name).toEqual(members);
    }
    for (const [name, value] of abi.consts) expect(runtime[name], name).toBe(value);
    expect(abi.altmapFields).toEqual(core.ALTMAP_FIELDS);
    // the enums and constants the core's callers use are all there
    expect([...abi.enums.keys()].sort()).toEqual(Object.keys(ENUM_PREFIX).sort());
    for (const c of ['ENOMEM', 'EFAULT', 'EBUSY', 'EINVAL', 'PURPOSES', 'FAULT_KINDS', 'LOOKUP_ALTMAP', 'NO_ALTMAP']) expect(abi.consts.has(c), c).toBe(true);
    expect(abi.consts.get('PURPOSES')).toBe(abi.enums.get('Purpose')!.size);
    expect(abi.consts.get('FAULT_KINDS')).toBe(abi.enums.get('FaultKind')!.size);
  });

  it('every value of core.ts is a global of build/core.wasm with the same value', async () => {
    const abi = parseCoreTs();
    const globals = await moduleGlobals();
    const missing = [...abi.values.keys()].filter((n) => !globals.has(n));
    expect(missing, 'not exported by build/core.wasm (assembly/abi.ts)').toEqual([]);
    for (const [name, value] of abi.values) expect(globals.get(name), name).toBe(BigInt(value));
  });

  it('every global of build/core.wasm is in core.ts or structPage.ts, with the same value', async () => {
    const abi = parseCoreTs();
    const globals = await moduleGlobals();
    const layout = structPage as unknown as Record<string, unknown>;
    const structPageNames: string[] = [];
    for (const [name, value] of globals) {
      if (abi.values.has(name)) continue;
      const mirror = layout[name];
      expect(typeof mirror === 'number' || typeof mirror === 'bigint', `${name}: neither in core.ts nor in structPage.ts`).toBe(true);
      // i64 globals read back signed; structPage.ts writes u64 words as unsigned bigints
      expect(typeof mirror === 'bigint' ? BigInt.asUintN(64, value) : value, name).toBe(BigInt(mirror as number | bigint));
      structPageNames.push(name);
    }
    // the struct page layout the core writes is the one the host decodes
    expect(structPageNames.sort()).toEqual(['LIST_POISON2', 'NODES_PGSHIFT', 'PG_RESERVED', 'STRUCT_PAGE_SIZE', 'ZONES_PGSHIFT']);
  });

  it("the core's errnos are the kernel's (the host names them by value)", () => {
    for (const name of ['ENOMEM', 'EFAULT', 'EBUSY', 'EINVAL'] as const) expect(core[name], name).toBe(ERRNO[name]);
  });
});
