/**
 * The CLI's files: bounded, typed reads of what users hand it (state files, scenarios, dmesg and
 * ndctl dumps), and state files that lose nothing: an advisory lock (proper-lockfile) over the whole
 * read-modify-write, atomic writes (write-file-atomic) into the real file behind a symlink, unknown
 * keys and permissions kept.
 */
import { closeSync, existsSync, lstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Exit, usage } from './output.ts';

/** The largest input file the CLI reads: 16 MiB, or ALTMAP_MAX_INPUT bytes (ndctl size syntax not needed: a byte count). */
export const MAX_INPUT_BYTES = Number(process.env.ALTMAP_MAX_INPUT ?? 16 << 20);
/** The deepest nesting of JSON the CLI parses. */
export const MAX_JSON_DEPTH = 64;

/** Read a user's file: a regular file, at most MAX_INPUT_BYTES; anything else is a usage error (exit 2). */
export function readInput(path: string, what: string): string {
  // stat before open: opening a FIFO would wait for a writer
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    return usage(`${what} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!st.isFile()) usage(`${what} ${path}: not a regular file (${st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isDirectory() ? 'a directory' : 'a special file'})`);
  if (st.size > MAX_INPUT_BYTES) usage(`${what} ${path}: ${st.size} bytes is over the input cap of ${MAX_INPUT_BYTES} bytes (ALTMAP_MAX_INPUT raises it)`);
  const fd = openSync(path, 'r');
  try {
    // read at most one byte past the cap: a file that grew since the stat is refused too
    const buf = Buffer.alloc(Math.min(MAX_INPUT_BYTES + 1, st.size + 1));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
    }
    if (got > MAX_INPUT_BYTES) usage(`${what} ${path}: over the input cap of ${MAX_INPUT_BYTES} bytes (ALTMAP_MAX_INPUT raises it)`);
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** JSON.parse after checking the nesting depth (a 5000-deep document would overflow the stack later). */
export function parseJsonBounded(text: string, what: string): unknown {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) usage(`${what}: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    return usage(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The file a path names, through symlinks (a new file's path when it does not exist yet). */
export function realTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** A --state file held for the whole read-modify-write. */
export class StateFile {
  private release: (() => Promise<void>) | null = null;

  private constructor(
    /** The path as given. */
    readonly path: string,
    /** The real file written (a symlink's target). */
    readonly target: string,
    private readonly writeAtomic: (typeof import('write-file-atomic'))['sync'],
  ) {}

  /** Check the path (can be written, for a command that changes the machine), then take the lock, waiting for other processes (with retries). */
  static async open(path: string, forWrite: boolean): Promise<StateFile> {
    const target = realTarget(path);
    if (forWrite) checkWritable(target, '--state', path);
    // loaded here, not at start-up: only a --state command needs them
    const [{ default: lockfile }, { default: writeFileAtomic }] = await Promise.all([import('proper-lockfile'), import('write-file-atomic')]);
    const f = new StateFile(path, target, writeFileAtomic.sync);
    try {
      f.release = await lockfile.lock(target, { realpath: false, stale: 30_000, retries: { retries: 600, factor: 1.2, minTimeout: 20, maxTimeout: 250 } });
    } catch (e) {
      throw new Exit(1, `error: --state ${path}: cannot lock it (${(e as Error).message})`);
    }
    return f;
  }

  exists(): boolean {
    return existsSync(this.target);
  }

  /** Write atomically into the real file's directory; its mode is kept. */
  write(text: string): void {
    try {
      this.writeAtomic(this.target, text);
    } catch (e) {
      throw new Exit(1, `error: --state ${this.path}: cannot write it (${(e as Error).message})`);
    }
  }

  async close(): Promise<void> {
    const r = this.release;
    this.release = null;
    // a lock already released or compromised leaves nothing to undo
    if (r) await r().catch(() => undefined);
  }
}

/** An output path can be written: its directory exists and is writable, and it is not a directory or a read-only file. */
export function checkWritable(path: string, what: string, shown = path): void {
  if (path === '') usage(`${what}: the path is empty`);
  let st;
  try {
    st = lstatSync(path);
  } catch {
    st = null;
  }
  if (st) {
    const s = statSync(path);
    if (s.isDirectory()) usage(`${what} ${shown}: is a directory`);
    if (!s.isFile()) usage(`${what} ${shown}: not a regular file`);
    // root can write anything: the mode bits say what the owner meant
    if ((s.mode & 0o222) === 0) usage(`${what} ${shown}: is read-only`);
    return;
  }
  const dir = dirname(path);
  let d;
  try {
    d = statSync(dir);
  } catch {
    return usage(`${what} ${shown}: the directory ${dir} does not exist`);
  }
  if (!d.isDirectory()) usage(`${what} ${shown}: ${dir} is not a directory`);
  if ((d.mode & 0o222) === 0) usage(`${what} ${shown}: the directory ${dir} is read-only`);
}
