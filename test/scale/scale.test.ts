/** npm run test:scale: PiB-class runs in fresh processes, resident memory measured (kernel.md §1.1, the bounds). */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BACKENDS } from '../fixtures.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/scale/run.ts', ...args], { cwd: root, encoding: 'utf8' });
  const result = JSON.parse(out.trim().split('\n').at(-1)!);
  console.log(JSON.stringify(result));
  return result;
}

describe.each(BACKENDS)('scale [%s]', (backend) => {
  it('48 TiB of Persistent Memory memremapped with an altmap in a fresh process under 512 MiB resident', () => {
    const r = run(['--backend', backend, '--pmem', '48T', '--walks', '10000']);
    // 48 TiB - 48 TiB/64 - 2 MiB (namespaces.md: offset = S/64 + 2 MiB)
    expect(r.size).toBe(48 * 2 ** 40 - (48 * 2 ** 40) / 64 - 2 ** 21);
    expect(r.altmap).toMatchObject({ reserve: 2, free: (48 * 2 ** 40) / 2 ** 18 + 510, align: 510, nrFree: 0 });
    expect(r.badWalks).toBe(0);
    expect(r.lastPage).toEqual({ zone: 'Device', pgmapSet: true });
    expect(r.restored).toBe(true);
    expect(r.maxRssMiB as number).toBeLessThan(512);
  }, 600_000);

  it('2 PiB on a 5-level v6 machine memremapped with an altmap in a fresh process under 1 GiB resident', () => {
    const r = run(['--backend', backend, '--pmem', '2048T', '--kernel', 'v6', '--paging', '5', '--walks', '10000']);
    expect(r.size).toBe(2 ** 51 - 2 ** 51 / 64 - 2 ** 21);
    expect(r.altmap).toMatchObject({ reserve: 2, free: 2 ** 51 / 2 ** 18 + 510, align: 510, nrFree: 0 });
    expect(r.badWalks).toBe(0);
    expect(r.restored).toBe(true);
    expect(r.maxRssMiB as number).toBeLessThan(1024);
  }, 600_000);
});
