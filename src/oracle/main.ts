/**
 * `tsx src/oracle/main.ts oracle ...`: the oracle command on its own (the CLI's global --kernel and
 * --backend, and the model's side through the CLI's main), for use before `altmap oracle` is wired
 * into src/cli/index.ts, and for package scripts.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { main as cliMain } from '../cli/index.ts';
import { registerOracleCommand } from '../cli/oracle.ts';

export async function oracleMain(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('altmap')
    .exitOverride()
    .addOption(new Option('--kernel <version>', 'kernel profile').choices(['v6', 'v6.1']).default('v6'))
    .addOption(new Option('--backend <backend>', 'core implementation').choices(['wasm', 'ts']).default('wasm'));
  registerOracleCommand(program, (c) => (code = c), cliMain);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    throw e;
  }
}

const arg = process.argv[1];
let entry = false;
try {
  entry = !!arg && realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
} catch {
  entry = false;
}
if (entry) {
  const argv = process.argv.slice(2);
  oracleMain(argv[0] === 'oracle' ? argv : ['oracle', ...argv]).then(
    (c) => (process.exitCode = c),
    (e) => {
      process.stderr.write(`altmap oracle: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
