/** ndctl's create-namespace (with --explain); list and destroy-namespace live in list.ts and destroy.ts. */
import { Command } from 'commander';
import { type Machine, type MachineStats, type AltmapCounters, type NamespaceSize, KernelError, STRERROR, ERRNO, destroyNotForced, libndctlOrder, decodeInfoBlock, PFN_SB_SIZE, NdctlError, ndctlJsonString, namespaceSizeFor, quoteSize } from '../index.ts';
import { out, err, hex, iec, table, bare, killed, usage } from './output.ts';
import { type MachineOpts, openSession, replicaOf, saveFailedStep, saveStep, stateKey } from './session.ts';

export const MODE_ALIASES: Record<string, string> = { memory: 'fsdax', dax: 'devdax' };

export interface CreateOpts extends MachineOpts {
  size?: string;
  /** --usable: the usable size to reach; the raw size is searched for. */
  usable?: string;
  mode?: string;
  map?: string;
  align?: string;
  human?: boolean;
  json?: boolean;
  explain?: boolean;
  sectorSize?: string;
  /** -r: regionN, N, or all. */
  region?: string;
  /** -e: the namespace to reconfigure. */
  reconfig?: string;
  force?: boolean;
  /** -n: alt_name. */
  name?: string;
  /** -c/--continue: one namespace per region while the criteria are met. */
  continue?: boolean;
  /** --altmap: add the altmap the device got (kernel field names); without it the output is ndctl's alone. */
  altmap?: boolean;
}

/**
 * --continue (do_xaction_namespace's greedy create, ndctl v76.1): one namespace per region, in libndctl's region
 * order; a region without room is passed over (-EAGAIN); another failure stops it, or with -f is remembered and
 * passed over. "created N namespace(s)"; then, when nothing was created or the last failure stands and nothing
 * err()ed, "failed to create namespace: <strerror>", exit 256 - ENODEV.
 */
async function createGreedy(
  m: Machine,
  req: Record<string, string | number>,
  force: boolean,
  createOne: (req: Record<string, string | number>, quiet: boolean) => Promise<number | 'eagain'>,
): Promise<number> {
  let created = 0;
  let failed: number | null = null;
  let saved: number | null = null;
  let eagain = false;
  for (const r of libndctlOrder(m.listRegions(), (x) => x.dev)) {
    if (typeof req.region === 'number' && r.id !== req.region) continue;
    const rc = await createOne({ ...req, region: r.id }, true);
    eagain = rc === 'eagain';
    if (rc === 'eagain') continue;
    if (rc === 0) {
      created++;
      continue;
    }
    if (force) {
      saved = rc;
      continue;
    }
    failed = rc;
    break;
  }
  err(`created ${created} namespace${created === 1 ? '' : 's'}`);
  if (failed !== null) return failed;
  if (saved !== null) return saved;
  // every region said -EAGAIN: -ENOSPC, unless --continue already created some
  if (eagain && created === 0) {
    err(`failed to create namespace: ${STRERROR.ENOSPC}`);
    return 256 + ERRNO.ENODEV;
  }
  return 0;
}

export async function cmdCreateNamespace(cmd: Command): Promise<number> {
  const o = cmd.optsWithGlobals<CreateOpts>();
  const s = await openSession(cmd, true);
  const m = s.m;
  try {
    const req: Record<string, string | number> = {};
    if (o.region !== undefined && o.region !== 'all') {
      // ndctl's util_region_filter: "regionN" or "N"; a region that matches none leaves nothing to create in
      const id = /^(?:region)?(\d+)$/.exec(o.region);
      if (!id || !m.listDir('/sys/bus/nd/devices').includes(`region${Number(id[1])}`)) {
        err('failed to create namespace: No such device or address');
        return 237;
      }
      req.region = Number(id[1]);
    }
    if (o.size !== undefined) req.size = o.size;
    let sized: NamespaceSize | undefined;
    if (o.usable !== undefined) {
      // the raw size for a usable target: searched on copies of this machine, each creating the namespace
      if (o.reconfig !== undefined) usage('--usable sizes a new namespace; -e keeps the size of the one it reconfigures');
      const mode = o.mode === undefined ? 'fsdax' : (MODE_ALIASES[o.mode] ?? o.mode);
      if (mode !== 'fsdax' && mode !== 'devdax') usage(`--usable sizes fsdax and devdax namespaces, not ${mode}`);
      if (o.map !== undefined && o.map !== 'dev' && o.map !== 'mem') usage(`--map ${o.map} is not dev or mem`);
      try {
        sized = await namespaceSizeFor({
          usable: o.usable,
          mode: mode as 'fsdax' | 'devdax',
          ...(o.map !== undefined ? { map: o.map as 'dev' | 'mem' } : {}),
          ...(o.align !== undefined ? { align: o.align } : {}),
          ...(typeof req.region === 'number' ? { region: req.region } : {}),
          machine: replicaOf(s, o.backend),
        });
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        if (e.code === 'EINVAL') usage(`--usable: ${bare(e)}`);
        err(`  Error: create namespace: --usable ${o.usable}: ${bare(e)}`);
        return 256 + e.errno;
      }
      req.size = String(sized.raw);
    }
    if (o.mode !== undefined) req.mode = Object.hasOwn(MODE_ALIASES, o.mode) ? MODE_ALIASES[o.mode] : o.mode;
    if (o.map !== undefined) req.map = o.map;
    if (o.align !== undefined) req.align = o.align;
    if (o.sectorSize !== undefined) req.sectorSize = o.sectorSize;
    if (o.reconfig !== undefined) req.reconfig = o.reconfig;
    if (o.name !== undefined) req.name = o.name;
    /** One namespace_create(): ndctl's checks, the kernel's create, the JSON; its exit code, or 'eagain' (no room, with quiet). */
    const createOne = async (req: Record<string, string | number>, quiet: boolean): Promise<number | 'eagain'> => {
      // ndctl's own checks first (nothing changes): a refusal here is ndctl's, with its text and exit code
      // (ndctl/namespace.c: 129 for parse_namespace_options, 256 + rc after err(), 237 otherwise).
      try {
        m.planNamespace(req);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        if (e instanceof NdctlError) {
          // validate_available_capacity's -EAGAIN: --continue passes over a region without room, silently
          if (quiet && e.code === 'ENOSPC' && e.exitCode === 237) return 'eagain';
          err(e.stderr);
          return e.exitCode;
        }
        err(`  Error: create namespace: ${bare(e)}`);
        return 256 + e.errno;
      }
      // namespace_reconfig: after validate_namespace_options, namespace_prep_reconfig refuses an active namespace
      // without -f (error(), not err(): cmd_create_namespace then reports the errno itself, exit 256 - EBUSY)
      if (o.reconfig !== undefined && !o.force && m.listNamespaces().some((n) => n.dev === o.reconfig)) {
        err(destroyNotForced(o.reconfig).stderr + `failed to reconfigure namespace: ${STRERROR.EBUSY}\n`);
        return 256 + ERRNO.EBUSY;
      }
      const before = m.stats();
      const state = stateKey(s);
      let created: Record<string, unknown>;
      const wasPoisoned = m.poisoned !== null;
      try {
        created = m.createNamespace(req);
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        if (!wasPoisoned && m.poisoned !== null) {
          // the old device's teardown oopsed in ndctl's write (6.1: a zero-sized pfn device, -e)
          saveFailedStep(s, { op: 'createNamespace', ...req }, state, e.code);
          return killed();
        }
        if (e instanceof NdctlError) {
          // the kernel refused to enable the device (its probe failed): ndctl's report of it
          saveFailedStep(s, { op: 'createNamespace', ...req }, state, e.code);
          // cmd_reconfig_namespace reports its own failure, exiting with the errno (cmd_create's is 237)
          if (o.reconfig !== undefined && e.exitCode === 237) {
            err(e.stderr.replace('failed to create namespace:', 'failed to reconfigure namespace:'));
            return 256 - Math.abs(e.errno);
          }
          err(e.stderr);
          return e.exitCode;
        }
        // what the kernel left behind stays: the step is kept, expected to fail the same way
        saveFailedStep(s, { op: 'createNamespace', ...req }, state, e.code);
        err(`failed to create namespace: ${STRERROR[e.code] ?? e.code} (${e.message})`);
        return 237;
      }
      const after = m.stats();
      saveStep(s, { op: 'createNamespace', ...req });
      if (!wasPoisoned && m.poisoned !== null) return killed();
      const human = o.json ? false : o.human ? true : !!process.stdout.isTTY;
      const shown = { ...(m.listNamespaces({ human, daxRegion: true }).find((n) => n.dev === created.dev) ?? created) };
      if (!o.altmap) delete shown.altmap;
      out(ndctlJsonString(shown));
      if (o.explain && sized) err(explainUsable(o.usable!, sized).join('\n'));
      if (o.explain) err(explainNamespace(m, created, before, after).join('\n'));
      return 0;
    };
    if (!o.continue || o.reconfig !== undefined) {
      const rc = await createOne(req, false);
      if (o.continue) err(`created ${rc === 0 ? 1 : 0} namespace${rc === 0 ? '' : 's'}`);
      return rc === 'eagain' ? 237 : rc;
    }
    return await createGreedy(m, req, o.force === true, createOne);
  } finally {
    await s.close();
  }
}

/** --usable under --explain: the raw size the search settled on, and the run one granule smaller that fell short. */
function explainUsable(target: string, z: NamespaceSize): string[] {
  const b = z.below;
  const short = b === null ? `${z.raw - z.granule} bytes is below the 16 MiB minimum` : `${b.raw} bytes gives ${b.ok ? `${b.usable} bytes (${quoteSize(Number(b.usable))})` : `nothing (${b.error})`}`;
  return [
    `--usable ${target}: raw size ${z.raw} bytes (${quoteSize(Number(z.raw))}) gives ${z.usable} bytes (${quoteSize(Number(z.usable))}); ` +
      `one granule (${z.granule} bytes) smaller, ${short}; ${z.probes} machine runs`,
  ];
}

/** "namespace0.3" -> "pfn0.3": the pfn device the pmem driver creates for it. */
export type AltmapView = AltmapCounters;

/** Where every byte of a new namespace went, for --explain: the info block on the media says where the data starts. */
export function explainNamespace(m: Machine, ns: Record<string, unknown>, before: MachineStats, after: MachineStats): string[] {
  const dev = String(ns.dev);
  const size = BigInt(ns.size as number);
  const device = m.namespaceInfo(dev).device;
  const d = device === null ? undefined : after.devices[device];
  const lines: string[] = [];
  if (!d) {
    lines.push(`${dev}: mode ${ns.mode}: no pfn device, no memmap; all ${size} bytes (${iec(size)}) are data`);
    return lines;
  }
  const raw = d.end - d.start + 1n;
  const sb = decodeInfoBlock(m.readPhys(d.start + 4096n, PFN_SB_SIZE));
  // data offset from the namespace start, and the tail the kernel trimmed (v4.18+ end_trunc)
  const dataOff = sb ? sb.startPad + sb.dataoff : raw - size;
  const tail = raw - dataOff - size;
  const a = ns.altmap as AltmapView | null;
  const B = (n: bigint): [string, string] => [String(n), iec(n)];
  lines.push(`${dev} (${ns.mode}, map=${ns.map}, align ${iec(BigInt(ns.align as number))}, ${device}): where the ${raw} bytes (${iec(raw)}) at [${hex(d.start)}-${hex(d.end)}] went`);
  const rows: string[][] = [['offset', 'bytes', '', 'what']];
  rows.push(['0x0', ...B(4096n), 'left alone (the first 4 KiB)']);
  rows.push(['0x1000', ...B(4096n), `pfn info block${sb ? ` (dataoff ${hex(sb.dataoff)}, npfns ${sb.npfns}${sb.startPad || sb.endTrunc ? `, start_pad ${sb.startPad}, end_trunc ${sb.endTrunc}` : ''})` : ''}`]);
  let at = 8192n;
  if (a) {
    const poolStart = BigInt(a.basePfn + a.reserve) * 4096n - d.start;
    const pool = BigInt(a.free) * 4096n;
    if (poolStart > at) rows.push([hex(at), ...B(poolStart - at), 'before the altmap pool']);
    rows.push([hex(poolStart), ...B(pool), `memmap pool: altmap free ${a.free} pfns x 4 KiB`]);
    rows.push(['', ...B(BigInt(a.alloc) * 4096n), `  struct pages (altmap alloc ${a.alloc} pfns)`]);
    rows.push(['', ...B(BigInt(a.align) * 4096n), `  alignment padding the altmap wasted (align ${a.align} pfns)`]);
    rows.push(['', ...B(BigInt(a.nrFree) * 4096n), `  never used (nr_free ${a.nrFree} pfns)`]);
    at = poolStart + pool;
  }
  if (dataOff > at) rows.push([hex(at), ...B(dataOff - at), `padding to the data offset ${hex(dataOff)} (align ${iec(BigInt(ns.align as number))})`]);
  rows.push([hex(dataOff), ...B(size), `data: ${size / 4096n} pfns from pfn ${hex((d.start + dataOff) >> 12n)} (the reported size)`]);
  if (tail > 0n) rows.push([hex(dataOff + size), ...B(tail), 'trimmed off the end (end_trunc)']);
  rows.push(['total', ...B(raw), tail >= 0n && dataOff >= at ? '= raw size' : '(does not add up: MISMATCH)']);
  lines.push(...table(rows, [1, 2], '  '));
  const memmapDram = BigInt(d.dramMemmapPages) * 4096n;
  const pt = after.dram.pageTablePages - before.dram.pageTablePages + (after.dram.directMapPages - before.dram.directMapPages);
  lines.push(
    `  DRAM: memmap ${memmapDram} bytes (${iec(memmapDram)}, ${d.dramMemmapPages} pages)${d.dramMemmapPages ? ' - the struct pages live in System RAM' : ''}; ` +
      `page-table pages added ${pt} (${iec(BigInt(pt) * 4096n)}); slab pages ${after.dram.slabPages - before.dram.slabPages}`,
  );
  return lines;
}
