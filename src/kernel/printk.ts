/** The kernel log (dmesg): printk levels, dev_* prefixes, WARN splats and the *_ONCE rules. */

export type Level = 'emerg' | 'err' | 'warn' | 'info' | 'debug';

export interface LogLine {
  /** Seconds since boot on the machine's virtual clock. */
  time: number;
  level: Level;
  text: string;
}

/** A point in the log (Printk.mark). */
export interface LogMark {
  lines: number;
  once: string[];
  clockUs: number;
  traceId: number;
}

export class Printk {
  readonly lines: LogLine[] = [];
  /** Call sites whose *_ONCE message has fired (one static flag per site, per boot). */
  private readonly once = new Set<string>();
  /** Virtual clock in microseconds; advances a little with every message. */
  private clockUs = 0;
  private traceId = 0x5a17;
  debug = false;

  constructor(private readonly realTime = false) {}

  now(): number {
    return this.realTime ? performance.now() / 1000 : this.clockUs / 1e6;
  }

  /** Advance the virtual clock (simulated work). */
  tick(us: number): void {
    this.clockUs += us;
  }

  printk(level: Level, text: string): void {
    if (level === 'debug' && !this.debug) return;
    this.clockUs += 1;
    for (const line of text.split('\n')) this.lines.push({ time: this.now(), level, text: line });
  }

  /** True the first time a call site asks: the *_ONCE rule. */
  firstTime(site: string): boolean {
    if (this.once.has(site)) return false;
    this.once.add(site);
    return true;
  }

  /** pr_*_once */
  printOnce(site: string, level: Level, text: string): boolean {
    if (!this.firstTime(site)) return false;
    this.printk(level, text);
    return true;
  }

  /** WARN(): the cut-here splat with an optional message; `where` is "file:line func". */
  warn(where: string, message?: string): void {
    this.printk('warn', '------------[ cut here ]------------');
    this.printk('warn', `WARNING: CPU: 0 PID: 1 at ${where}`);
    if (message) this.printk('warn', message);
    this.traceId += 0x1111;
    this.printk('warn', `---[ end trace ${this.traceId.toString(16).padStart(16, '0')} ]---`);
  }

  /** WARN_ONCE / WARN_ON_ONCE */
  warnOnce(site: string, where: string, message?: string): void {
    if (this.firstTime(site)) this.warn(where, message);
  }

  /** Where the log is now, for {@link rewind}. */
  mark(): LogMark {
    return { lines: this.lines.length, once: [...this.once], clockUs: this.clockUs, traceId: this.traceId };
  }

  /** Back to a mark: for the model's own failures (HostMemoryError), which the kernel never logs. */
  rewind(m: LogMark): void {
    this.lines.length = m.lines;
    this.once.clear();
    for (const site of m.once) this.once.add(site);
    this.clockUs = m.clockUs;
    this.traceId = m.traceId;
  }

  /** The log as dmesg prints it. */
  render(): string[] {
    return this.lines.map((l) => `[${l.time.toFixed(6).padStart(12, ' ')}] ${l.text}`);
  }
}

/** `%pa`-style hex: 0x%016llx */
export function pa(x: bigint): string {
  return `0x${x.toString(16).padStart(16, '0')}`;
}

/** `%#lx` */
export function hex(x: bigint | number): string {
  return `0x${x.toString(16)}`;
}

/** `%pr` of a memory resource: [mem 0x<start>-0x<end> flags 0x<flags>], hex fields at least 10 wide with 0x. */
export function pr(start: bigint, end: bigint, flags = 0x200): string {
  const w = (x: bigint) => `0x${x.toString(16).padStart(8, '0')}`;
  return `[mem ${w(start)}-${w(end)} flags ${hex(flags)}]`;
}
