#!/usr/bin/env node
// The `altmap` command: runs the compiled CLI (dist/cli/index.js, built from src/cli/ by `npm run build`,
// shipped in the package) with plain node, and forwards its exit code. Works from any cwd: the CLI is
// found relative to this file, and the CLI finds build/core.wasm relative to itself.
import module from 'node:module';

// Node >= 22.1 keeps V8's compiled code for the CLI's modules on disk between runs (a no-op elsewhere).
module.enableCompileCache?.();

let cli;
try {
  cli = await import('../dist/cli/index.js');
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist/cli/index.js')) {
    process.stderr.write('altmap: the compiled CLI (dist/cli/index.js) is missing: run `npm run build` in the package\n');
    process.exit(1);
  }
  throw e;
}
try {
  process.exitCode = await cli.main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`altmap: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
