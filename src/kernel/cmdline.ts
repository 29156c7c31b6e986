/**
 * The kernel command line, as far as this model's subjects go (kernel/params.c parse_args, the
 * __setup/early_param handlers): memory_hotplug.memmap_on_memory= and memhp_default_state=. The
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
  const c: Cmdline = { memmapOnMemory: undefined, memhpDefaultState: undefined, messages: [], unknown: [] };
  for (const w of words(line)) {
    const eq = w.indexOf('=');
    const param = eq < 0 ? w : w.slice(0, eq);
    const val = eq < 0 ? '' : w.slice(eq + 1);
    if (param === 'memory_hotplug.memmap_on_memory') {
      const b = era.memmapOnMemoryForce && val === 'force' ? 'force' : kstrtobool(val);
      if (b === null) c.messages.push(`Booting kernel: \`${val}' invalid for parameter \`memory_hotplug.memmap_on_memory'`);
      else c.memmapOnMemory = b;
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
