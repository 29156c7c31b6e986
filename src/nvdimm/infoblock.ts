/**
 * `struct nd_pfn_sb`: the 4 KiB info block at namespace offset 4 KiB, little-endian, as each era
 * writes it, with the nd_fletcher64 checksum in its last 8 bytes; and `nd_pfn_validate()`.
 *
 * Layout (drivers/nvdimm/pfn.h): signature[16] @0, uuid[16] @16, parent_uuid[16] @32, flags le32 @48,
 * version_major le16 @52, version_minor le16 @54, dataoff le64 @56, npfns le64 @64, mode le32 @72,
 * v1.1: start_pad le32 @76, end_trunc le32 @80; v1.2: align le32 @84; v1.3: padding and flags
 * guaranteed zero; v1.4: page_size le32 @88, page_struct_size le16 @92; padding; checksum le64 @4088.
 * Versions written: v4.5 1.0 (version_minor left 0), v4.18 1.2, v6.12 1.4.
 * Modes (enum nd_pfn_mode in nd.h): PFN_MODE_NONE 0, PFN_MODE_RAM 1, PFN_MODE_PMEM 2.
 */

import { KernelError, invalid } from '../kernel/errno.ts';
import type { Era, PfnLayout } from './pfn.ts';
import { ERAS, PAGE_SIZE, SZ_2M, hexAlt } from './pfn.ts';

/** sizeof(struct nd_pfn_sb): the info block is 4096 bytes, SZ_4K into the namespace. */
export const PFN_SB_SIZE = 4096;
export const PFN_SIG_LEN = 16;
export const PFN_SIG = 'NVDIMM_PFN_INFO\0';
export const DAX_SIG = 'NVDIMM_DAX_INFO\0';

export const PFN_MODE_NONE = 0;
export const PFN_MODE_RAM = 1;
export const PFN_MODE_PMEM = 2;

const OFF = {
  signature: 0,
  uuid: 16,
  parentUuid: 32,
  flags: 48,
  versionMajor: 52,
  versionMinor: 54,
  dataoff: 56,
  npfns: 64,
  mode: 72,
  startPad: 76,
  endTrunc: 80,
  align: 84,
  pageSize: 88,
  pageStructSize: 92,
  checksum: 4088,
} as const;

/** The fields of a decoded (or to-be-encoded) `struct nd_pfn_sb`. */
/** struct nd_pfn_sb (drivers/nvdimm/pfn.h), field by field. */
export interface PfnSb {
  /** PFN_SIG "NVDIMM_PFN_INFO" (fsdax) or DAX_SIG "NVDIMM_DAX_INFO" (devdax). */
  signature: 'pfn' | 'dax';
  /** uuid: the pfn/dax device's. */
  uuid: string;
  /** parent_uuid: the namespace's. */
  parentUuid: string;
  /** flags (PFN_SB_FLAG_*). */
  flags: number;
  /** version_major (1). */
  versionMajor: number;
  /** version_minor: 0 (v4.5) up to 4 (page_struct_size). */
  versionMinor: number;
  /** dataoff: bytes from the namespace's start (+ start_pad) to the first data page. */
  dataoff: bigint;
  /** npfns: data pages the device maps. */
  npfns: bigint;
  /** mode: PFN_MODE_RAM (map=mem) or PFN_MODE_PMEM (map=dev, memmap on the device). */
  mode: number;
  /** start_pad (v1.1+): bytes skipped at the start for section alignment. */
  startPad: bigint;
  /** end_trunc (v1.1+): bytes dropped at the end. */
  endTrunc: bigint;
  /** align (v1.2+): the mapping alignment, in bytes. */
  align: bigint;
  /** page_size (v1.3+): PAGE_SIZE when written. */
  pageSize: number;
  /** page_struct_size (v1.4+): sizeof(struct page) when written. */
  pageStructSize: number;
}

/** An nd_pfn_sb read back (decodeInfoBlock), with its stored checksum. */
export interface DecodedPfnSb extends PfnSb {
  /** nd_sb_checksum() as stored: fletcher64 of the block with this field zero. */
  checksum: bigint;
}

/** What the era's nd_pfn_init writes; fields the era's struct lacks must be left out (or zero). */
export interface InfoBlockInput {
  era: Era;
  signature?: 'pfn' | 'dax';
  uuid: string;
  parentUuid: string;
  flags?: number;
  dataoff: bigint;
  npfns: bigint | number;
  mode: number;
  startPad?: bigint;
  endTrunc?: bigint;
  align?: bigint;
  pageSize?: number;
  pageStructSize?: number;
}

/** The info-block version each era's nd_pfn_init writes. */
export function infoBlockVersion(era: Era): { major: number; minor: number } {
  switch (era) {
    case 'v4.5-rc1':
    case 'v4.5':
      return { major: 1, minor: 0 };
    case 'v4.18':
      return { major: 1, minor: 2 };
    case 'v6':
      return { major: 1, minor: 4 };
  }
}

/** Models `nd_fletcher64(addr, len, le=true)` (drivers/nvdimm/core.c): 32-bit words, lo32 wraps, hi32 sums lo32. */
export function ndFletcher64(bytes: Uint8Array): bigint {
  if (bytes.length % 4 !== 0) invalid(`nd_fletcher64 wants whole 32-bit words, got ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lo32 = 0;
  let hi32 = 0n;
  for (let i = 0; i < bytes.length; i += 4) {
    lo32 = (lo32 + view.getUint32(i, true)) >>> 0;
    hi32 += BigInt(lo32);
  }
  return BigInt.asUintN(64, (hi32 << 32n) | BigInt(lo32));
}

/** Models `nd_sb_checksum()`: fletcher64 of the 4 KiB block with its checksum field read as zero. */
export function ndSbChecksum(block: Uint8Array): bigint {
  if (block.length !== PFN_SB_SIZE) invalid(`an info block is ${PFN_SB_SIZE} bytes, not ${block.length}`);
  const copy = block.slice();
  copy.fill(0, OFF.checksum, OFF.checksum + 8);
  return ndFletcher64(copy);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** uuid_parse(): the 16 bytes of a uuid string, in string order (uuid_t). */
export function uuidToBytes(uuid: string): Uint8Array {
  if (!UUID_RE.test(uuid)) invalid(`'${uuid}' is not a uuid`);
  const hex = uuid.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** uuid_unparse(): the lower-case string of 16 uuid bytes. */
export function uuidFromBytes(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function u32(v: bigint | number, what: string): number {
  const n = BigInt(v);
  if (n < 0n || n > 0xffffffffn) invalid(`${what} ${n} does not fit the info block's __le32`);
  return Number(n);
}

function u16(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) invalid(`${what} ${v} does not fit the info block's __le16`);
  return v;
}

/** Models the info-block write at the end of the era's `nd_pfn_init()`: 4096 bytes, checksum last. */
export function encodeInfoBlock(sb: InfoBlockInput): Uint8Array {
  if (!ERAS.includes(sb.era)) invalid(`unknown era '${String(sb.era)}'`);
  const { major, minor } = infoBlockVersion(sb.era);
  const signature = sb.signature ?? 'pfn';
  if (signature === 'dax' && minor === 0) {
    invalid(`${sb.era} has no device-dax info block (NVDIMM_DAX_INFO arrived with device-dax in v4.7)`);
  }
  const startPad = sb.startPad ?? 0n;
  const endTrunc = sb.endTrunc ?? 0n;
  const align = sb.align ?? 0n;
  const pageSize = sb.pageSize ?? (minor >= 4 ? Number(PAGE_SIZE) : 0);
  const pageStructSize = sb.pageStructSize ?? (minor >= 4 ? 64 : 0);
  if (minor < 1 && (startPad !== 0n || endTrunc !== 0n)) invalid(`a v1.${minor} info block has no start_pad/end_trunc`);
  if (minor < 2 && align !== 0n) invalid(`a v1.${minor} info block has no align`);
  if (minor < 4 && (pageSize !== 0 || pageStructSize !== 0)) {
    invalid(`a v1.${minor} info block has no page_size/page_struct_size`);
  }

  const block = new Uint8Array(PFN_SB_SIZE);
  const view = new DataView(block.buffer);
  const sig = signature === 'dax' ? DAX_SIG : PFN_SIG;
  for (let i = 0; i < PFN_SIG_LEN; i++) block[OFF.signature + i] = sig.charCodeAt(i);
  block.set(uuidToBytes(sb.uuid), OFF.uuid);
  block.set(uuidToBytes(sb.parentUuid), OFF.parentUuid);
  view.setUint32(OFF.flags, u32(sb.flags ?? 0, 'flags'), true);
  view.setUint16(OFF.versionMajor, major, true);
  view.setUint16(OFF.versionMinor, minor, true);
  view.setBigUint64(OFF.dataoff, BigInt.asUintN(64, sb.dataoff), true);
  view.setBigUint64(OFF.npfns, BigInt.asUintN(64, BigInt(sb.npfns)), true);
  view.setUint32(OFF.mode, u32(sb.mode, 'mode'), true);
  view.setUint32(OFF.startPad, u32(startPad, 'start_pad'), true);
  view.setUint32(OFF.endTrunc, u32(endTrunc, 'end_trunc'), true);
  view.setUint32(OFF.align, u32(align, 'align'), true);
  view.setUint32(OFF.pageSize, u32(pageSize, 'page_size'), true);
  view.setUint16(OFF.pageStructSize, u16(pageStructSize, 'page_struct_size'), true);
  view.setBigUint64(OFF.checksum, ndSbChecksum(block), true);
  return block;
}

/** The info block the era's `nd_pfn_init()` writes for a layout computed by `pfnLayout()`. */
export function infoBlockForLayout(
  era: Era,
  layout: PfnLayout,
  p: { mode: 'fsdax' | 'devdax'; map: 'dev' | 'mem'; align: bigint; uuid: string; parentUuid: string },
): InfoBlockInput {
  const { minor } = infoBlockVersion(era);
  return {
    era,
    signature: p.mode === 'devdax' ? 'dax' : 'pfn',
    uuid: p.uuid,
    parentUuid: p.parentUuid,
    dataoff: layout.offset,
    npfns: BigInt(layout.npfns),
    mode: p.map === 'dev' ? PFN_MODE_PMEM : PFN_MODE_RAM,
    ...(minor >= 1 ? { startPad: layout.startPad, endTrunc: layout.endTrunc } : {}),
    ...(minor >= 2 ? { align: p.align } : {}),
  };
}

/** Reads an info block back; null when the signature is neither PFN nor DAX or the checksum is wrong. */
export function decodeInfoBlock(bytes: Uint8Array): DecodedPfnSb | null {
  if (bytes.length !== PFN_SB_SIZE) return null;
  const sigText = String.fromCharCode(...bytes.subarray(0, PFN_SIG_LEN));
  const signature = sigText === PFN_SIG ? 'pfn' : sigText === DAX_SIG ? 'dax' : null;
  if (signature === null) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const checksum = view.getBigUint64(OFF.checksum, true);
  if (checksum !== ndSbChecksum(bytes)) return null;
  return {
    signature,
    uuid: uuidFromBytes(bytes.subarray(OFF.uuid, OFF.uuid + 16)),
    parentUuid: uuidFromBytes(bytes.subarray(OFF.parentUuid, OFF.parentUuid + 16)),
    flags: view.getUint32(OFF.flags, true),
    versionMajor: view.getUint16(OFF.versionMajor, true),
    versionMinor: view.getUint16(OFF.versionMinor, true),
    dataoff: view.getBigUint64(OFF.dataoff, true),
    npfns: view.getBigUint64(OFF.npfns, true),
    mode: view.getUint32(OFF.mode, true),
    startPad: BigInt(view.getUint32(OFF.startPad, true)),
    endTrunc: BigInt(view.getUint32(OFF.endTrunc, true)),
    align: BigInt(view.getUint32(OFF.align, true)),
    pageSize: view.getUint32(OFF.pageSize, true),
    pageStructSize: view.getUint16(OFF.pageStructSize, true),
    checksum,
  };
}

/** The live nd_pfn settings nd_pfn_validate compares the block against. */
export interface ValidateContext {
  /** Signature the caller looks for (PFN_SIG from nd_pfn_probe, DAX_SIG for a dax device); default 'pfn'. */
  sig?: 'pfn' | 'dax';
  /** nd_dev_to_uuid(&ndns->dev); not compared when omitted. */
  parentUuid?: string;
  /** nd_pfn->uuid: null/omitted on the probe path (adopted from the block), set on the init path (compared). */
  uuid?: string | null;
  /** nd_pfn->align before validation (default PFN_DEFAULT_ALIGNMENT, 2 MiB). */
  align?: bigint;
  /** nd_pfn->mode on the init path (v4.18 compares it). */
  mode?: number;
  /** nsio->res.start (v4.18 checks start + offset + start_pad against align); default 0. */
  start?: bigint;
  /** dev_name of the namespace, for messages; default "namespace0.0". */
  ndns?: string;
}

export interface ValidateResult {
  /** nd_pfn->align after validation. */
  align: bigint;
  mode: number;
  uuid: string;
  startPad: bigint;
  endTrunc: bigint;
}

function ilog2(v: bigint): number {
  return v.toString(2).length - 1;
}

function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

/** The kernel's "%lx"/"%llx": hex without a prefix. */
function hexPlain(v: bigint): string {
  return v.toString(16);
}

/**
 * Models `nd_pfn_validate()`: v4.5-rc1/v4.5 (the v4.5/4.6 text with the power-of-two "bad offset"
 * rule) and v4.18 (align recorded in the block, start + offset + start_pad alignment). Throws
 * ENODEV for "no valid info block" (nd_pfn_init then writes a fresh one), else the era's errno.
 */
export function ndPfnValidate(era: Era, sb: DecodedPfnSb | PfnSb | Uint8Array | null, nsSize: bigint, ctx: ValidateContext = {}): ValidateResult {
  if (era === 'v6') {
    invalid('ndPfnValidate models v4.5-rc1, v4.5 and v4.18; v6.12 answers with -EOPNOTSUPP, which errno.ts lacks');
  }
  if (!ERAS.includes(era)) invalid(`unknown era '${String(era)}'`);
  const ndns = ctx.ndns ?? 'namespace0.0';
  const block = sb instanceof Uint8Array ? decodeInfoBlock(sb) : sb;
  if (block === null) throw new KernelError('ENODEV', 'no info block: bad signature or checksum');
  const wantSig = ctx.sig ?? 'pfn';
  if (block.signature !== wantSig || (wantSig === 'dax' && (era === 'v4.5' || era === 'v4.5-rc1'))) {
    throw new KernelError('ENODEV', `no info block: signature is not ${wantSig === 'dax' ? 'NVDIMM_DAX_INFO' : 'NVDIMM_PFN_INFO'}`);
  }
  if (ctx.parentUuid !== undefined && block.parentUuid !== ctx.parentUuid.toLowerCase()) {
    throw new KernelError('ENODEV', 'no info block: parent uuid mismatch');
  }

  const legacy = era === 'v4.5' || era === 'v4.5-rc1';
  // v4.5 does not know start_pad/end_trunc/align; later eras zero what an older block lacks.
  const startPad = legacy || block.versionMinor < 1 ? 0n : block.startPad;
  const endTrunc = legacy || block.versionMinor < 1 ? 0n : block.endTrunc;
  const sbAlign = legacy || block.versionMinor < 2 ? 0n : block.align;

  const modeOk = block.mode === PFN_MODE_RAM || (block.mode === PFN_MODE_PMEM && era !== 'v4.5-rc1');
  if (!modeOk) {
    throw new KernelError('ENXIO', `info block mode ${block.mode} not accepted on ${era}`);
  }
  const offset = block.dataoff;

  if (legacy) {
    if (ctx.uuid != null && ctx.uuid.toLowerCase() !== block.uuid) {
      throw new KernelError('ENODEV', 'no info block: uuid mismatch');
    }
    const align = ctx.align ?? SZ_2M;
    if (align > nsSize) {
      throw new KernelError('EINVAL', `alignment: ${hexPlain(align)} exceeds capacity ${hexPlain(nsSize)}`);
    }
    if (offset >= nsSize) {
      throw new KernelError('EBUSY', `pfn array size exceeds capacity of ${ndns}`);
    }
    if (!isPowerOfTwo(offset) || offset < PAGE_SIZE) {
      throw new KernelError('ENXIO', `bad offset: ${hexAlt(offset)} dax disabled`);
    }
    return { align: 1n << BigInt(ilog2(offset)), mode: block.mode, uuid: block.uuid, startPad, endTrunc };
  }

  // v4.18
  const align = sbAlign !== 0n ? sbAlign : offset > 0n ? 1n << BigInt(ilog2(offset)) : 0n;
  if (ctx.uuid != null) {
    if (ctx.uuid.toLowerCase() !== block.uuid) throw new KernelError('ENODEV', 'no info block: uuid mismatch');
    const liveAlign = ctx.align ?? SZ_2M;
    if (liveAlign !== align || (ctx.mode !== undefined && ctx.mode !== block.mode)) {
      throw new KernelError('EINVAL', 'init failed, settings mismatch');
    }
  }
  if (align > nsSize) {
    throw new KernelError('EINVAL', `alignment: ${hexPlain(align)} exceeds capacity ${hexPlain(nsSize)}`);
  }
  if (offset >= nsSize) {
    throw new KernelError('EBUSY', `pfn array size exceeds capacity of ${ndns}`);
  }
  const start = ctx.start ?? 0n;
  if ((align !== 0n && (start + offset + startPad) % align !== 0n) || offset % PAGE_SIZE !== 0n) {
    throw new KernelError('ENXIO', `bad offset: ${hexAlt(offset)} dax disabled align: ${hexAlt(align)}`);
  }
  return { align, mode: block.mode, uuid: block.uuid, startPad, endTrunc };
}
