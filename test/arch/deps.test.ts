/**
 * The architecture's rules (.dependency-cruiser.cjs) hold on the whole tree: no runtime import
 * cycles, clients through the public API only, a kernel that knows no clients, drivers that reach
 * the core only through the kernel. A rule broken later fails here, naming the import.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const config = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as { forbidden: Array<{ name: string; from: { path?: string } }>; options: object };

let result: ICruiseResult;
beforeAll(async () => {
  process.chdir(ROOT);
  const r = await cruise(['src', 'web', 'bench'], { ...config.options, ruleSet: { forbidden: config.forbidden }, validate: true } as never);
  result = r.output as ICruiseResult;
}, 60_000);

describe('dependency rules (.dependency-cruiser.cjs)', () => {
  it.each(config.forbidden.map((r) => r.name))('%s: no violations', (name) => {
    const broken = result.summary.violations.filter((v) => v.rule.name === name).map((v) => `${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`);
    expect(broken).toEqual([]);
  });

  it.each(config.forbidden.filter((r) => r.from.path).map((r) => [r.name, r.from.path!]))('%s: the rule covers modules that exist (%s)', (_name, from) => {
    const covered = result.modules.filter((m) => new RegExp(from).test(m.source) && m.dependencies.length > 0);
    expect(covered.length).toBeGreaterThan(0);
  });

  it('the cruise saw the whole tree: the CLI, the kernel, the drivers, the cores', () => {
    const sources = result.modules.map((m) => m.source);
    for (const f of ['src/cli/index.ts', 'src/kernel/hotplug.ts', 'src/nvdimm/pmem.ts', 'src/dax/kmem.ts', 'src/core/core.ts', 'web/worker.ts', 'bench/bench.ts']) expect(sources).toContain(f);
  });
});
