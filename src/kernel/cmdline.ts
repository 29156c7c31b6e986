/**
 * The kernel command line, as far as this model's subjects go (kernel/params.c parse_args, the
 * __setup/early_param handlers): memory_hotplug.memmap_on_memory=, memhp_default_state=, memmap=, efi=nosoftreserve
 * and hugetlb_free_vmemmap=. The
 * kernel ignores what it does not know and hands it to init; a bad value is reported and ignored.
 */

export type OnlineType = 'online' | 'offline' | 'online_kernel' | 'online_movable';

export interface Cmdline {
  /** memory_hotplug.memmap_on_memory (mhp_memmap_on_memory_set: a boolean, or "force"). */
  memmapOnMemory: boolean | 'force' | undefined;
  /** memhp_default_state= (setup_memhp_default_state). */
  memhpDefaultState: OnlineType | undefined;
  /** Messages the kernel prints about it, at boot. */
  messages: string[];
  /** What init gets: parameters the kernel did not know. */
  unknown: string[];
  /** memmap= edits of the firmware's e820, in command-line order (parse_memmap_one). */
  memmap: MemmapOp[];
  /** Parameters the kernel takes that the model does not model (memmap=exactmap, memmap=nn as a limit). */
  unmodelled: string[];
  /** efi=nosoftreserve (parse_efi_cmdline): the firmware's EFI_MEMORY_SP ranges are plain System RAM. */
  efiNoSoftReserve: boolean;
  /** hugetlb_free_vmemmap= (hugetlb_vmemmap_optimize_param, kstrtobool), when given and valid. */
  hugetlbFreeVmemmap: boolean | undefined;
}

/**
 * One memmap= option (arch/x86/kernel/e820.c parse_memmap_one): `nn!ss` adds legacy pmem (E820_TYPE_PRAM),
 * `nn%ss-old+new` retypes what is of type old (default RAM) in the range, `nn$ss` reserves, `nn@ss` adds RAM.
 */
export type MemmapOp =
  | { op: 'add'; start: bigint; size: bigint; type: number }
  | { op: 'update'; start: bigint; size: bigint; oldType: number; newType: number };

/** memparse: a number (0x, 0 octal, decimal) with an optional K/M/G/T/P/E suffix; the rest of the string after it. */
export function memparse(s: string): { value: bigint; rest: string } | null {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([KkMmGgTtPpEe]?)(.*)$/s.exec(s);
  if (!m) return null;
  const shift = { '': 0n, k: 10n, m: 20n, g: 30n, t: 40n, p: 50n, e: 60n }[m[2]!.toLowerCase() as ''] ?? 0n;
  return { value: BigInt(m[1]!.length > 1 && m[1]!.startsWith('0') && !/^0[xX]/.test(m[1]!) ? `0o${m[1]!.slice(1)}` : m[1]!) << shift, rest: m[3]! };
}

/** simple_strtoull(p, &p, 0): the number and the rest (0 and the whole string when there is none). */
function strtoull(s: string): { value: number; rest: string } {
  const m = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(.*)$/s.exec(s);
  if (!m) return { value: 0, rest: s };
  return { value: Number(m[1]!.length > 1 && m[1]!.startsWith('0') && !/^0[xX]/.test(m[1]!) ? parseInt(m[1]!.slice(1), 8) : Number(m[1]!)), rest: m[2]! };
}

const E820_TYPE_RAM = 1;
const E820_TYPE_RESERVED = 2;
const E820_TYPE_PRAM = 12;

/** parse_memmap_one: null when the option is malformed (parse_memmap_opt then fails: "Malformed early option"). */
export function parseMemmapOne(val: string): MemmapOp | null {
  const size = memparse(val);
  if (!size || size.value === 0n) return null;
  const p = size.rest;
  const at = memparse(p.slice(1));
  if (!at) return null;
  if (p[0] === '@') return at.rest === '' ? { op: 'add', start: at.value, size: size.value, type: E820_TYPE_RAM } : null;
  if (p[0] === '$') return at.rest === '' ? { op: 'add', start: at.value, size: size.value, type: E820_TYPE_RESERVED } : null;
  if (p[0] === '!') return at.rest === '' ? { op: 'add', start: at.value, size: size.value, type: E820_TYPE_PRAM } : null;
  if (p[0] === '%') {
    let rest = at.rest;
    let oldType = E820_TYPE_RAM;
    let newType = E820_TYPE_RAM;
    if (rest[0] === '-') ({ value: oldType, rest } = strtoull(rest.slice(1)));
    if (rest[0] === '+') ({ value: newType, rest } = strtoull(rest.slice(1)));
    return rest === '' ? { op: 'update', start: at.value, size: size.value, oldType, newType } : null;
  }
  return null;
}

/**
 * kstrtobool (lib/kstrtox.c): decided by the first characters only: y/Y/1, n/N/0, on/of(f), and
 * t/T, f/F (v6.0+, ef8c7f6ec2e5) — so 6.1 reads memmap_on_memory=force as false, without a word.
 */
export function kstrtobool(s: string): boolean | null {
  const c = s.toLowerCase();
  if (c[0] === 'y' || c[0] === '1' || c[0] === 't') return true;
  if (c[0] === 'n' || c[0] === '0' || c[0] === 'f') return false;
  if (c[0] === 'o' && c[1] === 'n') return true;
  if (c[0] === 'o' && c[1] === 'f') return false;
  return null;
}

/** What the profile's kernel accepts on the command line. */
export interface CmdlineEra {
  /** memory_hotplug.memmap_on_memory=force (v6.6+, mhp_memmap_on_memory_set); before, the parameter is a bool. */
  memmapOnMemoryForce: boolean;
}

/** next_arg: words split on spaces, double quotes keep spaces inside a value. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let any = false;
  for (const ch of line) {
    if (ch === '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && /\s/.test(ch)) {
      if (any) out.push(cur);
      cur = '';
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (any) out.push(cur);
  return out;
}

export function parseCmdline(line: string, era: CmdlineEra = { memmapOnMemoryForce: true }): Cmdline {
  const c: Cmdline = { memmapOnMemory: undefined, memhpDefaultState: undefined, messages: [], unknown: [], memmap: [], unmodelled: [], efiNoSoftReserve: false, hugetlbFreeVmemmap: undefined };
  for (const w of words(line)) {
    const eq = w.indexOf('=');
    const param = eq < 0 ? w : w.slice(0, eq);
    const val = eq < 0 ? '' : w.slice(eq + 1);
    if (param === 'memory_hotplug.memmap_on_memory') {
      const b = era.memmapOnMemoryForce && val === 'force' ? 'force' : kstrtobool(val);
      if (b === null) c.messages.push(`Booting kernel: \`${val}' invalid for parameter \`memory_hotplug.memmap_on_memory'`);
      else c.memmapOnMemory = b;
    } else if (param === 'memmap') {
      // parse_memmap_opt: comma-separated options; "exactmap" and a bare size (a memory limit) are not modelled
      for (const one of val.split(',')) {
        if (one === 'exactmap' || memparse(one)?.rest === '') {
          c.unmodelled.push(`memmap=${one}`);
          continue;
        }
        const op = parseMemmapOne(one);
        if (op) c.memmap.push(op);
        else {
          c.messages.push("Malformed early option 'memmap'");
          break;
        }
      }
    } else if (param === 'efi') {
      // parse_option_str: one of the comma-separated options; the others are not the model's business
      if (val.split(',').includes('nosoftreserve')) c.efiNoSoftReserve = true;
    } else if (param === 'hugetlb_free_vmemmap') {
      // an early_param: a value kstrtobool refuses makes it "Malformed"
      const b = kstrtobool(val);
      if (b === null) c.messages.push("Malformed early option 'hugetlb_free_vmemmap'");
      else c.hugetlbFreeVmemmap = b;
    } else if (param === 'memhp_default_state') {
      // setup_memhp_default_state: mhp_online_type_from_str, an unknown value is ignored
      if (val === 'online' || val === 'offline' || val === 'online_kernel' || val === 'online_movable') c.memhpDefaultState = val;
    } else if (!KNOWN.has(param.split('.')[0]!) && !KNOWN.has(param)) c.unknown.push(w);
  }
  if (c.unknown.length) c.messages.push(`Unknown kernel command line parameters "${c.unknown.join(' ')}", will be passed to user space.`);
  return c;
}

/** Parameters a real kernel takes that this model has no use for (not "unknown" to the kernel). */
const KNOWN = new Set(['console', 'nokaslr', 'no_hash_pointers', 'log_buf_len', 'loglevel', 'panic', 'dyndbg', 'memmap', 'efi', 'hugetlb_free_vmemmap', 'root', 'ro', 'rw', 'quiet', 'init', 'rdinit', 'mem', 'movable_node', 'memory_hotplug', 'nd_pmem', 'libnvdimm', 'dax', 'kmem', 'ignore_loglevel', 'earlyprintk', 'ftrace', 'trace_buf_size', 'tp_printk']);
