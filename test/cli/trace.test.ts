/** altmap <command> --trace and altmap trace (issue 16), against the 6.12.117 recording trace-raw (04.trace: create-namespace -s 1G -m raw). */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { traceTree } from '../../src/oracle/compare.ts';
import { runAltmap } from '../fixtures.ts';

const TMP = mkdtempSync(join(tmpdir(), 'altmap-trace-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const altmap = (...args: string[]) => runAltmap(TMP, [...args, '--backend', 'ts']);
const REAL = join(import.meta.dirname, '..', 'fixtures', 'real', '6.12.117', 'trace-raw');

describe('altmap --trace', () => {
  it('trace-raw: create-namespace --trace prints the JSON, then the function_graph of its kernel work, call for call as 6.12.117 traced it', async () => {
    const filter = readFileSync(join(REAL, '04.filter'), 'utf8').split('\n').map((l) => l.replace(/\s*\[.*\]$/, '')).filter(Boolean);
    const r = await altmap('create-namespace', '-s', '1G', '-m', 'raw', '--kernel', 'v6', '--trace', filter.join(','));
    expect(r.code, r.stderr).toBe(0);
    const at = r.stdout.indexOf('# tracer: function_graph');
    expect(JSON.parse(r.stdout.slice(0, at)).mode).toBe('raw');
    expect(traceTree(r.stdout.slice(at))).toBe(traceTree(readFileSync(join(REAL, '04.trace'), 'utf8')));
  });

  it('--trace with a name the kernel cannot trace is a usage error (exit 2); altmap trace lists what it can', async () => {
    const r = await altmap('create-namespace', '-s', '1G', '--kernel', 'v6.1', '--trace', 'sparse_add_section');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sparse_add_section.*available_filter_functions/);
    const l = await altmap('trace', '--kernel', 'v6.1');
    expect(l.code).toBe(0);
    expect(l.stdout).toContain('vmem_altmap_offset\n');
    expect(l.stdout).toContain('nd_pmem_probe [nd_pmem]\n');
    expect(l.stdout).not.toContain('sparse_add_section');
  });

  it('the trace is not kept in --state: the next command on the state traces nothing unless asked', async () => {
    expect((await altmap('create-namespace', '-s', '1G', '--kernel', 'v6', '--trace', '--state', 's.json')).code).toBe(0);
    const r = await altmap('cat', '/sys/kernel/tracing/current_tracer', '--state', 's.json');
    expect(r.stdout).toBe('nop\n');
  });
});
