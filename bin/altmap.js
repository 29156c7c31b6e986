#!/usr/bin/env node
// The `altmap` command: loads src/cli/index.ts through tsx's ESM loader (registered in this process,
// so there is one Node start) and forwards the exit code. Works from any cwd: every path is
// resolved from this file, not from process.cwd().
import { register } from 'tsx/esm/api';

register();
const cli = await import(new URL('../src/cli/index.ts', import.meta.url).href);
try {
  process.exitCode = await cli.main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`altmap: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
