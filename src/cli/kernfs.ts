/** The kernel's files from the command line: altmap cat, ls and write (echo VALUE > PATH). */
import { Command } from 'commander';
import { KernelError, STRERROR } from '../index.ts';
import { err, out } from './output.ts';
import { type MachineOpts, openSession, saveStep } from './session.ts';

/** A refused read or write, as the shell tools print it ("cat: PATH: No such file or directory"). */
function refused(tool: string, path: string, e: KernelError): number {
  err(`${tool}: ${path}: ${STRERROR[e.code] ?? e.code}`);
  return 1;
}

/** Errors of the open(2) of a redirection, not of the attribute's store(). */
const OPEN_ERRORS = new Set(['ENOENT', 'EACCES', 'EISDIR', 'ENOTDIR']);

/**
 * A refused `echo V > PATH`, as the guest's busybox sh reports it: the open fails ("can't create"), or
 * the store() does ("write error"). In sysfs a file that is not there cannot be created: EACCES, when
 * its directory exists (fixture softres-mom on 6.1.192, which has no per-device memmap_on_memory).
 */
function shellWriteRefused(m: { listDir(path: string): string[] }, path: string, e: KernelError): number {
  if (!OPEN_ERRORS.has(e.code)) {
    err(`sh: write error: ${STRERROR[e.code] ?? e.code}`);
    return 1;
  }
  let code = e.code;
  if (code === 'ENOENT') {
    try {
      m.listDir(path.replace(/\/[^/]*$/, '') || '/');
      code = 'EACCES';
    } catch {
      // the directory is not there either
    }
  }
  err(`sh: can't create ${path}: ${STRERROR[code] ?? code}`);
  return 1;
}

export async function cmdCat(paths: string[], cmd: Command): Promise<number> {
  const s = await openSession(cmd);
  try {
    let code = 0;
    for (const p of paths) {
      try {
        process.stdout.write(s.m.readFile(p));
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        // busybox cat (the guest's): "cat: can't open 'PATH': <strerror>"
        err(`cat: can't open '${p}': ${STRERROR[e.code] ?? e.code}`);
        code = 1;
      }
    }
    return code;
  } finally {
    await s.close();
  }
}

export async function cmdLs(path: string, cmd: Command): Promise<number> {
  const s = await openSession(cmd);
  try {
    try {
      const names = s.m.listDir(path);
      if (names.length) out(names.join('\n'));
      return 0;
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      return refused('ls', path, e);
    }
  } finally {
    await s.close();
  }
}

export async function cmdWrite(path: string, value: string, cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<MachineOpts & { append?: boolean }>();
  const s = await openSession(cmd, true);
  try {
    // echo adds the newline; store() methods take "1\n" as the kernel hands it to them
    const text = `${value}\n`;
    const logged = s.m.dmesg().length;
    try {
      s.m.writeFile(path, text, { append: !!o.append });
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      // a refusal the kernel logged is kept in --state, expected to fail the same way
      if (s.m.dmesg().length !== logged) saveStep(s, { op: 'writeFile', path, text, ...(o.append ? { append: true } : {}), expectError: { code: e.code } });
      return shellWriteRefused(s.m, path, e);
    }
    saveStep(s, { op: 'writeFile', path, text, ...(o.append ? { append: true } : {}) });
    return 0;
  } finally {
    await s.close();
  }
}

/** altmap trace: available_filter_functions of the profile's kernel, among the modelled functions. */
export async function cmdTraceFunctions(cmd: Command): Promise<number> {
  const s = await openSession(cmd);
  try {
    process.stdout.write(s.m.readFile('/sys/kernel/tracing/available_filter_functions'));
    return 0;
  } finally {
    await s.close();
  }
}
