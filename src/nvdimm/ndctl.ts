/**
 * What ndctl v76 prints for a namespace and what it refuses before the kernel sees anything.
 *
 * Sources (semantics only, ndctl v76): ndctl/json.c `util_namespace_to_json` (key order; `map` only
 * for fsdax/devdax; `sector_size` not for devdax; `align` only when non-zero, always in bytes;
 * `daxregion` when create-namespace asks for UTIL_JSON_DAX, else a bare `chardev`), daxctl/json.c
 * `util_daxctl_region_to_json` / `util_daxctl_dev_to_json`, ndctl/namespace.c
 * `parse_namespace_options`, `validate_available_capacity` and `validate_namespace_options`.
 */

import { ERRNO, KernelError, STRERROR, invalid, show } from '../kernel/errno.ts';
import type { ErrnoCode } from '../kernel/errno.ts';
import { formatSize, parseSizeWithUnits } from './units.ts';

/**
 * An ndctl refusal: `message` carries ndctl's text, `stderr` every line ndctl writes to stderr, and
 * `exitCode` what ndctl exits with (main() returns the command's rc; the shell sees it mod 256, so
 * -EINVAL is 234, -ENODEV 237, -ENXIO 250; usage errors from parse_options() exit 129).
 */
export class NdctlError extends KernelError {
  /** What ndctl writes to stderr, byte for byte ("  Error: ..."). */
  readonly stderr: string;
  /** ndctl's exit status (129 for option errors, 256 + rc for err() refusals, 237 when enabling fails). */
  readonly exitCode: number;

  constructor(code: ErrnoCode, text: string, stderr: string, exitCode?: number) {
    super(code, text);
    this.name = 'NdctlError';
    this.stderr = stderr;
    this.exitCode = exitCode ?? 256 - Math.abs(this.errno);
  }
}

/**
 * ndctl's error() (util/log.h): "  Error: " and the message, which carries its own "\n"; the log
 * function adds one more, so every error() line is followed by a blank line.
 */
function errorLine(msg: string): string {
  return `  Error: ${msg}\n\n`;
}

/** The usage text parse_options() prints (usage_with_options) after a refused option: ndctl v76.1's create_options table. */
export const CREATE_NAMESPACE_USAGE = `
 usage: ndctl create-namespace [<options>]

    -b, --bus <bus-id>    limit namespace to a bus with an id or provider of <bus-id>
    -r, --region <region-id>
                          limit namespace to a region with an id or name of <region-id>
    -v, --verbose         emit extra debug messages to stderr
    -e, --reconfig <reconfig namespace>
                          reconfigure existing namespace
    -u, --uuid <uuid>     specify the uuid for the namespace (default: autogenerate)
    -n, --name <name>     specify an optional free form name for the namespace
    -s, --size <size>     specify the namespace size in bytes (default: available capacity)
    -m, --mode <operation-mode>
                          specify a mode for the namespace, 'sector', 'fsdax', 'devdax' or 'raw'
    -M, --map <memmap-location>
                          specify 'mem' or 'dev' for the location of the memmap
    -l, --sector-size <lba-size>
                          specify the logical sector size in bytes
    -t, --type <type>     specify the type of namespace to create 'pmem' or 'blk'
    -a, --align <align>   specify the namespace alignment in bytes (default: 2M)
    -f, --force           reconfigure namespace even if currently active
    -L, --autolabel       automatically initialize labels
    -c, --continue        continue creating namespaces as long as the filter criteria are met
    -R, --autorecover     automatically cleanup on failure

`;

/** cmd_create_namespace(): with no err() counted, "failed to create namespace: <strerror>" and rc = -ENODEV (exit 237). */
function createFailed(code: ErrnoCode, before = ''): never {
  const text = `failed to create namespace: ${STRERROR[code] ?? code}`;
  throw new NdctlError(code, before ? `${before.replace(/^ {2}Error: /, '').trim()}: ${text}` : text, `${before}${text}\n`, 237);
}

/** ndctl/namespace.c err(): error() with the command name and err_count++; no "failed to" line, exit 256 + rc. */
function refuse(code: ErrnoCode, text: string): never {
  throw new NdctlError(code, `create namespace: ${text}`, errorLine(`create namespace: ${text}`));
}

/** validate_namespace_options: -n must fit the label's name, NSLABEL_NAME_LEN (64 bytes) with its NUL; err(), exit 234. */
export function checkAltName(name: string): void {
  if (new TextEncoder().encode(name).length >= 64) refuse('EINVAL', 'validate_namespace_options: alt name overflow');
}

/** validate_available_capacity() found no room in any region (-EAGAIN everywhere): ndctl prints ENOSPC's text, exits 237. */
function noSpace(): never {
  createFailed('ENOSPC');
}

/**
 * setup_namespace(): the kernel refused to enable the pfn/dax/btt device (its probe failed).
 * libndctl's ndctl_{pfn,dax,btt}_enable() logs "failed to enable" for the device, setup_namespace()
 * error()s for the namespace, and cmd_create_namespace() prints ENXIO's text (exit 237).
 */
export function enableFailed(kind: 'pfn' | 'dax' | 'btt' | 'namespace', device: string, namespace: string): never {
  const lib = `libndctl: ndctl_${kind}_enable: ${device}: failed to enable\n`;
  createFailed('ENXIO', lib + errorLine(`${namespace}: failed to enable`));
}

/**
 * parse_namespace_options() (ndctl/namespace.c): every refused option is error()ed (the checks go on),
 * then usage_with_options() prints the usage and ndctl exits 129.
 */
export function checkNamespaceOptions(o: { mode?: string; map?: string; size?: string; align?: string }): void {
  const errs: string[] = [];
  const modes = ['fsdax', 'devdax', 'raw', 'sector', 'memory', 'dax', 'safe'];
  if (o.mode !== undefined && !modes.includes(o.mode)) errs.push(`invalid mode '${o.mode}'`);
  const mode = o.mode === undefined ? 'fsdax' : o.mode === 'memory' ? 'fsdax' : o.mode === 'dax' ? 'devdax' : o.mode === 'safe' ? 'sector' : o.mode;
  if (o.map !== undefined) {
    if (o.map !== 'mem' && o.map !== 'dev') errs.push(`invalid map location '${o.map}'`);
    // util_nsmode() names: the check compares the -m string with "fsdax"/"devdax" as given
    if (o.mode !== undefined && o.mode !== 'fsdax' && o.mode !== 'devdax') errs.push('--map only valid for an devdax mode pmem namespace');
  }
  void mode;
  const parses = (v: string): boolean => {
    try {
      parseSizeWithUnits(v, 'size');
      return true;
    } catch {
      return false;
    }
  };
  // the size is parsed twice (once after -s, once after --align), and refused twice
  const badSize = o.size !== undefined && !parses(o.size);
  if (badSize) errs.push(`failed to parse namespace size '${o.size}'`);
  if (o.align !== undefined) {
    if (!parses(o.align)) errs.push(`failed to parse namespace alignment '${o.align}'`);
    else {
      const a = parseSizeWithUnits(o.align, 'align').bytes;
      if ((a & (a - 1n)) !== 0n || a < 4096n) errs.push('align must be a power-of-2 greater than 4096');
    }
  }
  if (badSize) errs.push(`failed to parse namespace size '${o.size}'`);
  if (errs.length === 0) return;
  throw new NdctlError('EINVAL', errs[0]!, errs.map(errorLine).join('') + CREATE_NAMESPACE_USAGE, 129);
}

export type NamespaceMode = 'fsdax' | 'devdax' | 'raw' | 'sector';

export interface DaxRegionInfo {
  id: number;
  size: bigint;
  /** The region's align attribute, printed in bytes. */
  align: bigint;
  /** available_size, printed only when non-zero. */
  availableSize?: bigint;
  devices: Array<{
    chardev: string;
    size: bigint;
    /** target_node, printed when >= 0. */
    targetNode?: number;
    /** the dax device's align attribute (newer kernels), printed as a size when > 0. */
    align?: bigint;
    /** "devdax" (default) or "system-ram". */
    mode?: 'devdax' | 'system-ram';
  }>;
}

export interface NamespaceInfo {
  dev: string;
  mode: NamespaceMode;
  /** fsdax/devdax only. */
  map?: 'dev' | 'mem';
  size: bigint;
  /** The pfn/dax/btt uuid; for raw, the label uuid (absent on label-less nd_namespace_io). */
  uuid?: string;
  /** Namespace sector size; ndctl prints 512 when the kernel reports none (not printed for devdax). */
  sectorSize?: number;
  /** nd_pfn/nd_dax align; printed only when non-zero, never for raw/sector. */
  align?: bigint;
  /** pmem0, pmem0s, ... (fsdax, raw, sector). */
  blockdev?: string;
  /** devdax: the region and its devices (create-namespace, `ndctl list -X`). */
  daxRegion?: DaxRegionInfo;
  /** "disabled" when the namespace is not active. */
  state?: 'disabled';
  /** alt name (--name). */
  name?: string;
}

export interface NamespaceJsonOptions {
  /** -u, or create-namespace writing to a terminal. */
  human: boolean;
  /** UTIL_JSON_DAX (create-namespace, list -X): a daxregion object instead of a bare chardev. Default true. */
  daxRegion?: boolean;
}

function u64Json(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) invalid(`${v} does not fit a JSON number exactly`);
  return Number(v);
}

/** Models daxctl's `util_daxctl_region_to_json()` with UTIL_JSON_DAX | UTIL_JSON_DAX_DEVS. */
function daxRegionJson(r: DaxRegionInfo, human: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { id: r.id, size: formatSize(r.size, human) };
  if (r.availableSize !== undefined && r.availableSize !== 0n) out.available_size = formatSize(r.availableSize, human);
  out.align = u64Json(r.align);
  // util_daxctl_devs_to_list: a device of size 0 is idle, listed only with -i (6.1's zero-sized region, a1G-ll-devdax-dev)
  const devices = r.devices.filter((d) => d.size !== 0n);
  if (devices.length > 0) {
    out.devices = devices.map((d) => {
      const dev: Record<string, unknown> = { chardev: d.chardev, size: formatSize(d.size, human) };
      if (d.targetNode !== undefined && d.targetNode >= 0) dev.target_node = d.targetNode;
      if (d.align !== undefined && d.align > 0n) dev.align = formatSize(d.align, human);
      dev.mode = d.mode ?? 'devdax';
      return dev;
    });
  }
  return out;
}

/** Models ndctl's `util_namespace_to_json()`: key names and order as ndctl v76 emits them. */
export function namespaceJson(ns: NamespaceInfo, opts: NamespaceJsonOptions): Record<string, unknown> {
  const human = opts.human;
  const out: Record<string, unknown> = { dev: ns.dev, mode: ns.mode };
  const pfnLike = ns.mode === 'fsdax' || ns.mode === 'devdax';
  if (pfnLike) {
    if (ns.map === undefined) invalid(`${ns.dev}: mode ${ns.mode} needs a map (dev or mem)`);
    out.map = ns.map;
  }
  out.size = formatSize(ns.size, human);
  if (ns.uuid !== undefined) out.uuid = ns.uuid;

  if (ns.mode === 'devdax') {
    if (opts.daxRegion ?? true) {
      if (ns.daxRegion) out.daxregion = daxRegionJson(ns.daxRegion, human);
    } else if (ns.daxRegion && ns.daxRegion.devices.length > 0) {
      out.chardev = ns.daxRegion.devices[0]!.chardev;
    }
  } else {
    // btt reports its own sector size; everything else falls back to 512.
    const sector = ns.sectorSize && ns.sectorSize > 0 ? ns.sectorSize : 512;
    out.sector_size = sector;
  }
  if (pfnLike && ns.align !== undefined && ns.align !== 0n) out.align = u64Json(ns.align);
  if (ns.mode !== 'devdax' && ns.blockdev) out.blockdev = ns.blockdev;
  if (ns.state === 'disabled') out.state = 'disabled';
  if (ns.name) out.name = ns.name;
  return out;
}

/** json-c's JSON_C_TO_STRING_PRETTY rendering (two-space indent, no space after ':'), as ndctl prints it. */
export function ndctlJsonString(value: unknown, indent = 0): string {
  const pad = (n: number) => ' '.repeat(n);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[\n' + pad(indent) + ']';
    const items = value.map((v) => pad(indent + 2) + ndctlJsonString(v, indent + 2));
    return '[\n' + items.join(',\n') + '\n' + pad(indent) + ']';
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return '{\n' + pad(indent) + '}';
    const items = entries.map(([k, v]) => `${pad(indent + 2)}${JSON.stringify(k)}:${ndctlJsonString(v, indent + 2)}`);
    return '{\n' + items.join(',\n') + '\n' + pad(indent) + '}';
  }
  // json-c prints a 64-bit integer in full: a bigint carries one beyond 2^53
  if (typeof value === 'bigint') return value.toString();
  return JSON.stringify(value);
}

export interface CreateNamespaceParams {
  /** --size: a bigint of bytes, or ndctl's size syntax (its suffix picks the unit of the hint). Omitted: all available. */
  size?: bigint | string;
  /** --align (or the mode's default), in bytes. */
  align: bigint;
  /** --align as the user wrote it (its text is quoted in "unsupported align"); absent: the mode's default. */
  alignParam?: string;
  /** The pfn/dax seed's supported_alignments; absent: any power of two is accepted. */
  supportedAlignments?: readonly bigint[];
  /** The region's largest free extent (or its size for a label-less region). */
  available: bigint;
  /** The region's align attribute (ndctl v5.7+ kernels); null when the kernel has none. */
  regionAlign: bigint | null;
  /** A label-less (ND_DEVICE_NAMESPACE_IO) region: ndctl takes its whole size as available, untrimmed. */
  labelLess?: boolean;
  /** ndctl_region_get_interleave_ways(); default 1. */
  interleaveWidth?: number;
  /** -m; default fsdax. Only raw escapes the 16 MiB minimum. */
  mode?: NamespaceMode;
  /** -l: the sector size asked for (btt's supported_sector_sizes for sector mode, the namespace's otherwise). */
  sectorSize?: bigint;
  /** The region's device name; default "region0". */
  region?: string;
}

/** btt_lbasize_supported[] (drivers/nvdimm/btt_devs.c), what btt0.0/supported_sector_sizes lists. */
export const BTT_SECTOR_SIZES: readonly bigint[] = [512n, 520n, 528n, 4096n, 4104n, 4160n, 4224n];
/** pmem_sector_size[] (drivers/nvdimm/namespace_devs.c): a pmem namespace's sector_size choices. */
export const PMEM_SECTOR_SIZES: readonly bigint[] = [512n, 4096n];

/**
 * Models ndctl v76.1's own checks for `create-namespace` (ndctl/namespace.c validate_namespace_options,
 * with validate_available_capacity), in ndctl's order; returns the size ndctl will ask the kernel
 * for, or throws NdctlError with ndctl's text and exit code. parse_namespace_options' checks are
 * checkNamespaceOptions().
 */
export function checkCreateNamespace(p: CreateNamespaceParams): bigint {
  const region = p.region ?? 'region0';
  const ways = BigInt(p.interleaveWidth ?? 1);
  if (ways < 1n) invalid(`interleave width ${p.interleaveWidth} must be >= 1`);
  const mode = p.mode ?? 'fsdax';

  // parse_namespace_options
  let size: bigint | undefined;
  let units = 1n;
  if (typeof p.size === 'string') {
    try {
      ({ bytes: size, units } = parseSizeWithUnits(p.size, 'namespace size'));
    } catch {
      const text = `failed to parse namespace size '${p.size}'`;
      throw new NdctlError('EINVAL', text, errorLine(text) + errorLine(text) + CREATE_NAMESPACE_USAGE, 129);
    }
  } else if (p.size !== undefined) {
    if (p.size < 0n) invalid(`size ${p.size} is negative`);
    size = p.size;
  }
  if ((p.align & (p.align - 1n)) !== 0n || p.align < 4096n) {
    const text = 'align must be a power-of-2 greater than 4096';
    throw new NdctlError('EINVAL', text, errorLine(text) + CREATE_NAMESPACE_USAGE, 129);
  }

  // validate_namespace_options: validate_available_capacity first; -EAGAIN from every region becomes -ENOSPC.
  // ndctl reads max_available_extent, which the kernel trims to the region's align (nd_pmem_max_contiguous_dpa); a
  // label-less region's is its size
  const available = !p.labelLess && p.regionAlign !== null && p.regionAlign > 0n ? p.available - (p.available % p.regionAlign) : p.available;
  if (available === 0n || (size !== undefined && size > available)) noSpace();
  const defaultSize = size === undefined;
  if (size === undefined || size === 0n) size = available;

  // "if (param.align)": raw and sector take none ("%s mode does not support setting an alignment", -ENXIO);
  // fsdax/devdax must name one of the seed's supported_alignments ("unsupported align: %s", -ENXIO).
  if (p.alignParam !== undefined) {
    if (mode === 'raw' || mode === 'sector') createFailed('ENXIO', errorLine(`${mode} mode does not support setting an alignment`));
    if (p.supportedAlignments && !p.supportedAlignments.includes(p.align)) createFailed('ENXIO', errorLine(`unsupported align: ${p.alignParam}`));
  }
  // size_align is p->align: the page size for raw and sector
  const align = mode === 'raw' || mode === 'sector' ? 4096n : p.align;

  if (p.regionAlign !== null && p.regionAlign > 0n && size % p.regionAlign !== 0n) {
    refuse('EINVAL', `${region}: align setting is 0x${p.regionAlign.toString(16)} size 0x${size.toString(16)} is misaligned`);
  }

  if (size % (align * ways) !== 0n) {
    const suffix = units === 1n << 10n ? 'K' : units === 1n << 20n ? 'M' : units === 1n << 30n ? 'G' : units === 1n << 40n ? 'T' : '';
    const sizeAlign = (units > align ? units : align) * ways;
    const suggestion = ((size / sizeAlign + 1n) * sizeAlign) / units;
    refuse(
      'EINVAL',
      `'--size=' must align to interleave-width: ${ways} and alignment: ${align}\ndid you intend --size=${suggestion}${suffix}?`,
    );
  }

  if (size < 16n << 20n && mode !== 'raw') {
    if (defaultSize) noSpace();
    // error(), not err(): err_count stays 0, so cmd_create_namespace() adds its line and exits 237
    createFailed('EINVAL', errorLine(`'--size=' must be >= 16MiB for '${mode}' mode`));
  }

  // "if (param.sector_size)": btt's supported sizes for sector mode, the seed namespace's otherwise (err(), -EINVAL)
  if (p.sectorSize !== undefined) {
    if (mode === 'sector') {
      if (!BTT_SECTOR_SIZES.includes(p.sectorSize)) refuse('EINVAL', `${region}: does not support btt sector_size ${p.sectorSize}`);
    } else if (!PMEM_SECTOR_SIZES.includes(p.sectorSize)) refuse('EINVAL', `${region}: does not support namespace sector_size ${p.sectorSize}`);
  }
  return size;
}

/** A deterministic RFC-4122 version-4-looking uuid (ndctl would call uuid_generate()); same seed, same uuid. */
export function uuidFromSeed(seed: number): string {
  if (!Number.isInteger(seed)) invalid(`uuid seed ${seed} must be an integer`);
  // splitmix64 over the seed: well mixed, and reproducible on every platform.
  let state = BigInt.asUintN(64, BigInt(seed));
  const next = (): bigint => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
  const hex = (next().toString(16).padStart(16, '0') + next().toString(16).padStart(16, '0')).split('');
  hex[12] = '4'; // version 4
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16); // variant 10xx
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

// ---------------------------------------------------------------- ndctl list (ndctl/list.c)

/** The UTIL_JSON_* flags cmd_list() passes on (listopts_to_flags, ndctl/list.c). */
export interface ListFlags {
  /** UTIL_JSON_HUMAN (-u) */
  human: boolean;
  /** UTIL_JSON_VERBOSE (-v) */
  verbose: boolean;
  /** UTIL_JSON_DAX (-X): devdax namespaces with their daxregion */
  dax: boolean;
  /** UTIL_JSON_IDLE (-i) */
  idle: boolean;
}

/** What region_to_json() reads of a region. */
export interface RegionInfo {
  dev: string;
  size: bigint;
  /** The align attribute; null when the kernel has none (ndctl_region_get_align() is ULLONG_MAX: no key). */
  align: bigint | null;
  availableSize: bigint;
  maxAvailableExtent: bigint;
  numaNode?: number | null;
  targetNode?: number | null;
  /** The interleave set cookie (ndctl_interleave_set_get_cookie); absent for a region without one (e820). */
  isetId?: bigint;
  /** persistence_domain; "unknown" when the region has no attribute value ndctl knows. */
  persistenceDomain?: 'cpu_cache' | 'memory_controller' | 'none' | 'unknown';
  /** False for a disabled region ("state":"disabled"). */
  enabled?: boolean;
  /** Under -D: the DIMMs the region maps, in the order ndctl prints them. */
  mappings?: MappingInfo[];
}

/** What util_mapping_to_json() reads of a region's mappingN attribute. */
export interface MappingInfo {
  dimm: string;
  offset: bigint;
  length: bigint;
  /** position; -1 (no key) when the kernel has none. */
  position: number;
}

/** What util_dimm_to_json() reads of an nmemN (the keys before health, security and flags). */
export interface DimmInfo {
  dev: string;
  /** unique_id: "vvvv-ssssssss" (nfit id_show), absent when the DIMM has none. */
  id?: string;
  handle?: number;
  physId?: number;
  enabled?: boolean;
}

/** What util_bus_to_json() reads of an ndbusN. */
export interface BusInfo {
  provider: string;
  dev: string;
  /** scrub_state: absent (no key) when the bus has no ARS. */
  scrubActive?: boolean;
}

/** util_mapping_to_json (ndctl/json.c v76.1). */
export function mappingJson(m: MappingInfo, human: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { dimm: m.dimm, offset: hexJson(m.offset, human), length: hexJson(m.length, human) };
  if (m.position >= 0) out.position = m.position;
  return out;
}

/** util_dimm_to_json (ndctl/json.c v76.1): dev, id, handle and phys_id (hex under -u), state when disabled. */
export function dimmJson(d: DimmInfo, human: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { dev: d.dev };
  if (d.id !== undefined) out.id = d.id;
  if (d.handle !== undefined) out.handle = hexJson(BigInt(d.handle), human);
  if (d.physId !== undefined) out.phys_id = hexJson(BigInt(d.physId), human);
  if (d.enabled === false) out.state = 'disabled';
  return out;
}

/** util_bus_to_json (ndctl/json.c v76.1): provider and dev, scrub_state when the bus has one. */
export function busJson(b: BusInfo): Record<string, unknown> {
  const out: Record<string, unknown> = { provider: b.provider, dev: b.dev };
  if (b.scrubActive !== undefined) out.scrub_state = b.scrubActive ? 'active' : 'idle';
  return out;
}

/** util_json_object_hex (util/json.c): "0x..." under UTIL_JSON_HUMAN, else the number (v81's display_hex reads it as a u64; same text below 2^63). */
function hexJson(v: bigint, human: boolean): string | bigint | number {
  if (human) return `0x${v.toString(16)}`;
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? v : Number(v);
}

/** region_to_json (ndctl/list.c v76.1): key names and order; mappings and badblocks are not modelled. */
export function regionJson(r: RegionInfo, f: ListFlags): Record<string, unknown> {
  const out: Record<string, unknown> = { dev: r.dev, size: formatSize(r.size, f.human) };
  if (r.align !== null) out.align = formatSize(r.align, f.human);
  out.available_size = formatSize(r.availableSize, f.human);
  out.max_available_extent = formatSize(r.maxAvailableExtent, f.human);
  out.type = 'pmem';
  if (f.verbose && r.numaNode !== undefined && r.numaNode !== null && r.numaNode >= 0) out.numa_node = r.numaNode;
  if (f.verbose && r.targetNode !== undefined && r.targetNode !== null && r.targetNode >= 0) out.target_node = r.targetNode;
  if (r.isetId !== undefined) out.iset_id = hexJson(r.isetId, f.human);
  // list -D: the region's mappings (ndctl_mapping_foreach: libndctl list_add()ed them, the last first)
  if (r.mappings && r.mappings.length > 0) out.mappings = r.mappings.map((m) => mappingJson(m, f.human));
  if (r.enabled === false) out.state = 'disabled';
  out.persistence_domain = r.persistenceDomain ?? 'unknown';
  return out;
}

/** util_namespace_to_json under UTIL_JSON_VERBOSE (ndctl/json.c): raw_uuid after uuid, numa_node and target_node last. */
export function namespaceVerbose(ns: Record<string, unknown>, v: { rawUuid?: string; numaNode?: number | null; targetNode?: number | null }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(ns)) {
    out[k] = val;
    if (k === 'uuid' && v.rawUuid !== undefined && ns.mode !== 'raw') out.raw_uuid = v.rawUuid;
  }
  if (v.numaNode !== undefined && v.numaNode !== null && v.numaNode >= 0) out.numa_node = v.numaNode;
  if (v.targetNode !== undefined && v.targetNode !== null && v.targetNode >= 0) out.target_node = v.targetNode;
  return out;
}

/** util_display_json_array (util/json.c): a lone object bare under UTIL_JSON_HUMAN, an array otherwise. */
export function displayJsonArray(list: readonly unknown[], human: boolean): string {
  if (list.length === 1 && human) return ndctlJsonString(list[0]);
  return ndctlJsonString(list);
}

/** What the walk of cmd_list() collected: each array exists only once something was added to it. */
export interface ListCollected {
  /** -B: each bus object holds its own dimms and regions (filter_bus). */
  buses?: unknown[];
  dimms?: unknown[];
  regions?: unknown[];
  namespaces?: unknown[];
}

/** list_display (ndctl/list.c v76.1): buses as their array; several kinds in one platform object, one kind as a JSON array; null: nothing printed. */
export function listDisplay(c: ListCollected, human: boolean): string | null {
  if (c.buses) return displayJsonArray(c.buses, human);
  const kinds = [c.dimms, c.regions, c.namespaces].filter((x) => x !== undefined).length;
  if (kinds > 1) {
    const platform: Record<string, unknown> = {};
    if (c.dimms) platform.dimms = c.dimms;
    if (c.regions) platform.regions = c.regions;
    if (c.namespaces && !c.regions) platform.namespaces = c.namespaces;
    return ndctlJsonString(platform);
  }
  const one = c.dimms ?? c.regions ?? c.namespaces;
  return one ? displayJsonArray(one, human) : null;
}

/**
 * kernfs_name_hash (fs/kernfs/dir.c, v6.12): the order of a sysfs directory's readdir. Over
 * partial_name_hash() and end_name_hash() (hash_long(hash, 32) with GOLDEN_RATIO_64), no namespace tag.
 */
export function kernfsNameHash(name: string): number {
  if (typeof name !== 'string') invalid(`kernfs name ${show(name)} is not a string`);
  const M = (1n << 64n) - 1n;
  let hash = 0n;
  for (const byte of new TextEncoder().encode(name)) {
    const c = BigInt(byte);
    hash = ((hash + (c << 4n) + (c >> 4n)) * 11n) & M;
  }
  let h = ((hash * 0x61c8864680b583ebn) & M) >> 32n;
  h &= 0x7fffffffn;
  if (h < 2n) h += 2n;
  if (h >= 0x7fffffffn) h = 0x7fffffffn - 1n;
  return Number(h);
}

/**
 * libndctl's device lists (ndctl/lib/libndctl.c add_region, add_namespace): sysfs_device_parse() reads the
 * directory in kernfs hash order and list_add()s each device at the head, so ndctl walks them by hash, highest first.
 */
export function libndctlOrder<T>(items: readonly T[], name: (t: T) => string): T[] {
  return [...items].sort((a, b) => kernfsNameHash(name(b)) - kernfsNameHash(name(a)));
}

/** util_region_filter (ndctl/filter.c): "all", the region's id or its name; space-separated alternatives. */
export function regionFilter(dev: string, id: number, ident: string | undefined): boolean {
  if (ident === undefined) return true;
  for (const name of ident.split(' ').filter((x) => x !== '')) {
    if (name === 'all') return true;
    // strtoul(ident, ...): ndctl parses the whole ident, not the word
    const n = /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.test(ident) ? Number(ident) : null;
    if (n !== null && n === id) return true;
    if (n === null && name === dev) return true;
  }
  return false;
}

/** util_namespace_filter (ndctl/filter.c): "all", the devname, or "R.N". */
export function namespaceFilter(dev: string, ident: string | undefined): boolean {
  if (ident === undefined) return true;
  const m = /^namespace(\d+)\.(\d+)$/.exec(dev);
  for (const name of ident.split(' ').filter((x) => x !== '')) {
    if (name === 'all' || name === dev) return true;
    const rn = /^(-?\d+)\.(-?\d+)/.exec(name);
    if (rn && m && Number(rn[1]) === Number(m[1]) && Number(rn[2]) === Number(m[2])) return true;
  }
  return false;
}

/** util_nsmode (ndctl/filter.c): a -m filter's name as the mode util_namespace_to_json() prints; null for an unknown one. */
export function nsModeName(mode: string): NamespaceMode | null {
  const m = mode.toLowerCase();
  const names: Record<string, NamespaceMode> = { memory: 'fsdax', fsdax: 'fsdax', sector: 'sector', safe: 'sector', dax: 'devdax', devdax: 'devdax', raw: 'raw' };
  return Object.hasOwn(names, m) ? names[m]! : null;
}

// ---------------------------------------------------------------- destroy-namespace (ndctl/namespace.c)

/** namespace_prep_reconfig (ndctl/namespace.c): an active namespace without --force is error()ed (err_count stays 0) and -EBUSY. */
export function destroyNotForced(dev: string): NdctlError {
  const text = `${dev} is active, specify --force for re-configuration`;
  return new NdctlError('EBUSY', text, errorLine(text));
}

/**
 * cmd_destroy_namespace (ndctl/namespace.c v76.1): do_xaction_namespace()'s rc is the last namespace's
 * (-ENXIO when a named one was not found, 0 for "all"); "error destroying namespaces: <strerror>" when
 * it is negative and nothing was err()ed, then "destroyed N namespace(s)"; the exit status is rc mod 256.
 */
export function destroyReport(rc: ErrnoCode | null, errCount: number, destroyed: number): { stderr: string; exitCode: number } {
  if (!Number.isInteger(destroyed) || destroyed < 0) invalid(`destroyed count ${show(destroyed)} is not a non-negative integer`);
  let stderr = '';
  if (rc !== null && errCount === 0) stderr += `error destroying namespaces: ${STRERROR[rc] ?? rc}\n`;
  stderr += `destroyed ${destroyed} namespace${destroyed === 1 ? '' : 's'}\n`;
  return { stderr, exitCode: rc === null ? 0 : 256 - Math.abs(ERRNO[rc]) };
}

/**
 * zero_info_block (ndctl/namespace.c): a namespace that is not active is enabled in raw mode to zero its info
 * block; when that fails libndctl logs it and ndctl err()s "continuing" (err_count++), and the destroy goes on.
 */
export function destroyZeroingFailed(dev: string): string {
  return `libndctl: ndctl_namespace_enable: ${dev}: failed to enable\n` + errorLine(`destroy namespace: ${dev} failed to enable for zeroing, continuing`);
}
