/** The CLI's shared plumbing and formatting: exit codes, stdout/stderr, hex and IEC sizes, tables, the progress bar. */
import { createRequire } from 'node:module';
import { KernelError } from '../index.ts';

/** A failure with its exit code and the text for stderr (already formatted, newline-terminated or not). */
export class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const usage = (msg: string): never => {
  throw new Exit(2, `error: ${msg}`);
};

export function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}
export function err(s: string): void {
  process.stderr.write(s.endsWith('\n') ? s : s + '\n');
}

export const GiB = 1n << 30n;

export { hex } from '../index.ts';

/** IEC size with two decimals: "256.00 GiB", "4.00 KiB", "0 B". */
export function iec(bytes: bigint | number): string {
  const b = BigInt(bytes);
  if (b < 1024n) return `${b} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  let div = 1024n;
  while (u < units.length - 1 && b >= div * 1024n) {
    div *= 1024n;
    u++;
  }
  const centi = (b * 100n + div / 2n) / div;
  return `${centi / 100n}.${(centi % 100n).toString().padStart(2, '0')} ${units[u]}`;
}

/** Columns padded to their widest cell; `right` lists the right-aligned columns. */
export function table(rows: string[][], right: number[] = [], indent = ''): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => (indent + r.map((c, i) => (i === r.length - 1 && !right.includes(i) ? c : right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).trimEnd());
}

/** The message of a KernelError without its "EINVAL: " prefix. */
export function bare(e: KernelError): string {
  return e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message;
}


// ------------------------------------------------------------------------------------ progress

export interface BarLike {
  start(total: number, value: number, payload?: Record<string, unknown>): void;
  update(value: number, payload?: Record<string, unknown>): void;
  stop(): void;
}

/** A cli-progress bar on stderr, only on a terminal and only once a run has taken a while. */
export class Progress {
  private bar: BarLike | null = null;
  private readonly t0 = performance.now();
  private readonly tty = !!process.stderr.isTTY;

  constructor(
    private readonly total: number,
    private readonly afterMs = 300,
  ) {}

  tick(done: number, what: string): void {
    if (!this.tty) return;
    if (!this.bar) {
      if (performance.now() - this.t0 < this.afterMs || done >= this.total) return;
      const require = createRequire(import.meta.url);
      const cp = require('cli-progress') as { SingleBar: new (o: object, preset: object) => BarLike; Presets: Record<string, object> };
      this.bar = new cp.SingleBar(
        { stream: process.stderr, format: ' {bar} {value}/{total} {what}', clearOnComplete: true, hideCursor: true, barsize: 30 },
        cp.Presets.shades_classic!,
      );
      this.bar.start(this.total, done, { what });
    } else this.bar.update(done, { what });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** A command the kernel's oops SIGKILLed (make_task_dead): the shell says "Killed" on stderr and the status is 128 + 9. */
export function killed(): number {
  err('Killed');
  return 137;
}
