/**
 * The `altmap` command: ndctl's vocabulary over a simulated Linux v4.5 machine.
 *
 *   altmap                      the default report (two 256 GiB fsdax namespaces, map=dev and map=mem)
 *   altmap create-namespace     ndctl create-namespace: prints the namespace JSON (with its altmap)
 *   altmap destroy-namespace    ndctl destroy-namespace (-f for an active namespace, as ndctl asks)
 *   altmap list                 ndctl list: -N (the default), -B, -R, -X, -i, -u, -v, -r/-n/-m filters
 *   altmap walk <vaddr>         the page-table walk of a virtual address
 *   altmap run <scenario.json>  runs a scenario file
 *   altmap dmesg                the kernel log
 *
 * Exit codes: 0 ok; 1 a failure (a walk that found nothing mapped, a scenario step that failed
 * unexpectedly, a counter that did not come back); 2 a usage error (unknown command or flag, a bad
 * flag value, a malformed scenario); create-namespace exits as ndctl v76 does: 256 + errno for
 * ndctl's own refusals (234 EINVAL, 228 ENOSPC) and 237 when the namespace fails to enable;
 * destroy-namespace 240 (EBUSY: active without -f, or the kernel refused) and 250 (ENXIO: no such namespace).
 *
 * The machine lasts across commands with `--state FILE`: the file is a scenario (machine options +
 * the steps that built it), replayed on load and written back after a command that changed it.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { KernelError, KERNELS } from '../index.ts';
import { Exit, usage, err, GiB } from './output.ts';
import { sizeOption, addMachineOptions, addMachineInputOptions } from './session.ts';
// the command families load when their command runs: `altmap --version` and `--help` start light
import { registerOracleCommand } from './oracle.ts';

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('altmap');
  program
    .description('An executable model of how Linux v4.5 places the memmap of persistent memory (struct vmem_altmap).\nWith no command: the default report on the default machine (64 GiB System RAM + 1 TiB Persistent Memory).')
    .version('0.1.0')
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      // one line per usage error: commander's "(Did you mean ...?)" joins the first line
      outputError: (str, write) => write(str.replace(/\n(?=.)/g, ' ')),
    })
    .addOption(new Option('--kernel <version>', 'kernel profile').choices([...KERNELS]).default('v4.5'))
    .addOption(new Option('--backend <backend>', 'core implementation').choices(['wasm', 'ts']).default('wasm'))
    .option('--debug', 'log pr_debug lines (altmap_alloc_block_buf, vmemmap PMDs) in dmesg');

  const act = (fn: (...a: any[]) => Promise<number>) => async (...a: any[]) => setExit(await fn(...a));

  const reportCmd = addMachineOptions(
    program
      .command('report')
      .description('the default report: two 256 GiB fsdax namespaces (map=dev, map=mem), where their memmap lives, and every counter back after destroying them'),
    false,
  )
    .addOption(sizeOption('--ns-size <size>', 'size of each of the two namespaces', 256n * GiB, '256G'))
    .option('--json', 'print the report as JSON')
    .action(act(async (_o: unknown, cmd: Command) => (await import('./report.ts')).cmdReport(cmd)));

  // No command: the report with its defaults (machine flags go after `report`).
  program.allowExcessArguments(true).action(
    act(async (_o: unknown, cmd: Command) => {
      if (cmd.args.length) usage(`unknown command '${cmd.args[0]}' (see altmap --help)`);
      return (await import('./report.ts')).cmdReport(reportCmd);
    }),
  );

  addMachineOptions(
    program
      .command('create-namespace')
      .description('ndctl create-namespace: create a namespace and print it as ndctl does, with the altmap it got')
      .option('-s, --size <size>', 'namespace size (default: all available)')
      .addOption(new Option('--usable <size>', 'the usable size to reach: the smallest raw size that gives it, found on copies of the machine (raw size under --explain; not an ndctl flag)').conflicts('size'))
      .option('-m, --mode <mode>', 'fsdax | devdax | raw | sector (default fsdax)')
      .option('-M, --map <map>', 'where the memmap lives: dev (the altmap) | mem (DRAM) (default dev)')
      .option('-a, --align <align>', 'data alignment: 4K | 2M | 1G (default 2M)')
      .option('-l, --sector-size <lba-size>', 'sector mode: the btt sector size (default 4096)')
      .option('-r, --region <region>', 'the region to create it in: regionN, N or all (default: the first with room)')
      .option('-e, --reconfig <namespace>', 'reconfigure this namespace in place (a label-less region\'s namespaceN.0 is only ever reconfigured)')
      .option('-f, --force', 'with -e: reconfigure the namespace even if it is active (without it an active one is refused, exit 240)')
      .option('-n, --name <name>', "the namespace's name (alt_name, kept in its label; -e keeps the old one)")
      .option('-c, --continue', 'create one namespace per region, as long as the criteria are met (ndctl --continue)')
      .option('--altmap', 'add the altmap the device got to the JSON (not an ndctl key)')
      .addOption(new Option('-u, --human', 'human sizes (the default when stdout is a terminal)').conflicts('json'))
      .option('--json', 'sizes in bytes')
      .option('--explain', 'on stderr: where every byte of the namespace went'),
  ).action(act(async (_o: unknown, cmd: Command) => (await import('./namespace.ts')).cmdCreateNamespace(cmd)));

  addMachineOptions(
    program
      .command('destroy-namespace')
      .description('ndctl destroy-namespace: tear a namespace down (devm_memremap_pages release)')
      .argument('<dev>', 'namespace0.0, ... or all')
      .option('-r, --region <region-id>', 'limit to a region with an id or name of <region-id>')
      .option('-f, --force', 'destroy namespace even if currently active (without it an active namespace is refused, exit 240)'),
  ).action(act(async (dev: string, _o: unknown, cmd: Command) => (await import('./destroy.ts')).cmdDestroyNamespace(dev, cmd)));

  addMachineOptions(
    program
      .command('list')
      .description('ndctl list: regions (-R) and namespaces (-N, the default) as ndctl 76.1 prints them')
      .option('-r, --region <region-id>', 'filter by region')
      .option('-n, --namespace <namespace-id>', 'filter by namespace id')
      .option('-m, --mode <namespace-mode>', 'filter by namespace mode')
      .option('-B, --buses', 'include bus info')
      .option('-D, --dimms', 'include dimm info (the model has no DIMMs: none listed)')
      .option('-R, --regions', 'include region info')
      .option('-N, --namespaces', 'include namespace info (default)')
      .option('-X, --device-dax', 'include device-dax info')
      .option('-i, --idle', 'include idle devices')
      .option('-c, --configured', 'include configured namespaces, disabled or not')
      .option('-u, --human', 'use human friendly number formats')
      .option('-v, --verbose', 'increase output detail', (_v: string, n: number) => n + 1, 0)
      .option('--altmap', 'add each device\'s altmap (not an ndctl key)'),
  ).action(act(async (_o: unknown, cmd: Command) => (await import('./list.ts')).cmdList(cmd)));

  addMachineOptions(
    program
      .command('walk')
      .description('the page-table walk of a virtual address, one line per level; exit 1 when not mapped')
      .argument('[vaddr]', 'canonical virtual address (0x hex or decimal)')
      .option('--pfn <pfn>', "walk the struct page of this pfn instead (pfn_to_page)")
      .option('--json', 'print the walk as JSON'),
  ).action(act(async (vaddr: string | undefined, _o: unknown, cmd: Command) => (await import('./inspect.ts')).cmdWalk(vaddr, cmd)));

  program
    .command('run')
    .description('run a scenario file and print every step; exit 1 when a step failed unexpectedly, 2 when the scenario is malformed')
    .argument('<scenario>', 'scenario JSON file')
    .option('--json', 'print the step results as one JSON array')
    .option('--stop-on-error', 'stop at the first step that failed unexpectedly')
    .action(act(async (file: string, _o: unknown, cmd: Command) => (await import('./run.ts')).cmdRun(file, cmd)));

  addMachineOptions(program.command('dmesg').description('the kernel log since boot')).action(act(async (_o: unknown, cmd: Command) => (await import('./inspect.ts')).cmdDmesg(cmd)));

  addMachineOptions(
    program
      .command('reconfigure-device')
      .description('daxctl reconfigure-device: a devdax device to System RAM (dax kmem) and back; v6 profile')
      .argument('<dev>', 'dax0.0, ...')
      .requiredOption('-m, --mode <mode>', 'system-ram | devdax')
      .option('-f, --force', 'reconfigure even when the kernel\'s policy will online the memory itself')
      .option('-N, --no-online', 'leave the memory blocks as the kernel left them')
      .option('--no-movable', 'online to ZONE_NORMAL instead of ZONE_MOVABLE')
      .option('-r, --region <region-id>', 'filter by region')
      .option('-v, --verbose', 'emit more debug messages'),
  ).action(act(async (dev: string, _o: unknown, cmd: Command) => (await import('./daxctl.ts')).cmdReconfigure(dev, cmd)));

  addMachineOptions(
    program
      .command('online-memory')
      .description('daxctl online-memory: online a system-ram device\'s offline memory blocks (ZONE_MOVABLE unless --no-movable); v6 profile')
      .argument('<dev>', 'dax0.0, ... or all')
      .option('--no-movable', 'online to ZONE_NORMAL instead of ZONE_MOVABLE')
      .option('-r, --region <region-id>', 'filter by region')
      .option('-v, --verbose', 'emit more debug messages'),
  ).action(act(async (dev: string, _o: unknown, cmd: Command) => (await import('./daxctl.ts')).cmdOnlineMemory(dev, cmd)));

  addMachineOptions(
    program
      .command('offline-memory')
      .description('daxctl offline-memory: offline a system-ram device\'s memory blocks; v6 profile')
      .argument('<dev>', 'dax0.0, ... or all')
      .option('-r, --region <region-id>', 'filter by region')
      .option('-v, --verbose', 'emit more debug messages'),
  ).action(act(async (dev: string, _o: unknown, cmd: Command) => (await import('./daxctl.ts')).cmdOfflineMemory(dev, cmd)));

  addMachineOptions(
    program
      .command('daxctl-list')
      .description('daxctl list: dax devices (-D, the default), regions (-R), mappings (-M) as JSON')
      .option('-R, --regions', 'include dax region info')
      .option('-D, --devices', 'include dax device info')
      .option('-M, --mappings', 'include dax mappings info')
      .option('-i, --idle', 'include idle devices')
      .option('-r, --region <region-id>', 'filter by region')
      .option('-d, --dev <dev-id>', 'filter by dax device instance name')
      .option('-u, --human', 'use human friendly number formats'),
  ).action(act(async (_o: unknown, cmd: Command) => (await import('./daxctl.ts')).cmdDaxctlList(cmd)));

  addMachineOptions(
    program
      .command('lsmem')
      .description('util-linux lsmem: the memory blocks as ranges (merged by the shown columns), then the summary')
      .option('-o, --output <list>', 'output columns (RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES; +LIST adds to the default)')
      .option('-a, --all', 'list each individual memory block')
      .option('-b, --bytes', 'print SIZE in bytes rather than in human readable format')
      .option('-n, --noheadings', "don't print headings")
      .option('--summary [when]', 'print summary information (never, always or only)'),
  ).action(act(async (_o: unknown, cmd: Command) => (await import('./lsmem.ts')).cmdLsmem(cmd)));

  addMachineOptions(program.command('cat').description('print kernel files as the profile\'s kernel formats them (/proc/iomem, /proc/meminfo, /sys/...)').argument('<path...>', 'absolute paths')).action(
    act(async (paths: string[], _o: unknown, cmd: Command) => (await import('./kernfs.ts')).cmdCat(paths, cmd)),
  );
  addMachineOptions(program.command('ls').description('list a kernel directory (/proc, /sys/bus/nd/devices, ...)').argument('<path>', 'absolute path')).action(
    act(async (path: string, _o: unknown, cmd: Command) => (await import('./kernfs.ts')).cmdLs(path, cmd)),
  );
  addMachineOptions(
    program
      .command('write')
      .description('echo VALUE > PATH: a kernel attribute\'s store() (kept in --state)')
      .argument('<path>', 'absolute path of a writable attribute')
      .argument('<value>', 'what to write (echo adds the newline)')
      .option('--append', 'echo VALUE >> PATH'),
  ).action(act(async (path: string, value: string, _o: unknown, cmd: Command) => (await import('./kernfs.ts')).cmdWrite(path, value, cmd)));

  addMachineOptions(
    program.command('ticket').description('one paste-able block for a ticket: the machine, the kernel, each namespace\'s raw and usable size, % given up, DRAM memmap, and the ndctl/daxctl JSON of the current state'),
  ).action(act(async (_o: unknown, cmd: Command) => (await import('./ticket.ts')).cmdTicket(cmd)));

  addMachineOptions(program.command('trace').description("the functions --trace and set_ftrace_filter take on this kernel profile (tracefs available_filter_functions: the modelled ones)"), false).action(
    act(async (_o: unknown, cmd: Command) => (await import('./kernfs.ts')).cmdTraceFunctions(cmd)),
  );
  registerOracleCommand(program, setExit, main);

  addMachineInputOptions(program.command('plan'))
    .description('the capacity planner: every way to expose a device of this size (or the raw size each needs for a usable target), side by side, on fresh simulated machines')
    .option('--size <size>', 'device size (ndctl size syntax, plain bytes, or 1.5T, 2P)')
    .option('--usable <size>', 'reverse sizing: the usable capacity to reach; each row gets the smallest raw size that reaches it')
    .addOption(new Option('-m, --mode <mode>', 'only this mode\'s rows').choices(['fsdax', 'devdax', 'system-ram']))
    .addOption(new Option('-M, --map <map>', 'only this map\'s rows').choices(['dev', 'mem']))
    .addOption(new Option('-a, --align <align>', 'only this align\'s rows').choices(['2M', '1G']))
    .option('--dram-size <size>', 'the node\'s DRAM (default 64G, or 1/32 of the device when more)')
    .option('--json', 'print the plan as JSON')
    .option('--csv', 'print the plan as CSV')
    .option('--svg <file>', 'also draw the comparison as an SVG chart')
    .action(act(async (_o: unknown, cmd: Command) => (await import('./plan.ts')).cmdPlan(cmd)));

  return program;
}

let pipeGuard = false;
/** `altmap dmesg | head`: a reader that went away ends the command quietly. */
function quietOnClosedPipe(): void {
  if (pipeGuard) return;
  pipeGuard = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/** Run the CLI on `argv` (without node and the script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version') return 0;
      return 2; // commander has printed its one-line reason
    }
    if (e instanceof Exit) {
      err(e.message);
      return e.code;
    }
    if (e instanceof KernelError) {
      err(`error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

function isEntry(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`altmap: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
