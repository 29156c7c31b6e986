/**
 * Memory blocks (drivers/base/memory.c): the System RAM the kernel manages, in blocks of
 * memory_block_size_bytes(), as /sys/devices/system/memory shows them, boot RAM and hot-plugged
 * (dax kmem) alike; and memory_hotplug's module parameters.
 */
import type { KmemBlock, OnlineType } from '../dax/kmem.ts';
import { KernelError } from './errno.ts';
import type { Kernel } from './kernel.ts';
import type { MemoryBlockProbe } from './profile.ts';
import { dir, file, type VfsDir, type VfsNode } from './vfs.ts';

/** One memory block as memory_dev_attrs show it. */
export interface MemoryBlock {
  id: number;
  online: boolean;
  /** The zone(s) valid_zones prints: the block's zone when online; "none" when it spans zones. */
  validZones: string;
  /** The hot-plugged block behind it (dax kmem); absent for boot RAM. */
  kmem?: KmemBlock;
  /** Boot RAM that does not fill the block (offline_pages refuses it: "memory holes"). */
  holes?: boolean;
}

/** MIN_MEMORY_BLOCK_SIZE (1 << SECTION_SIZE_BITS) and x86-64's MAX_BLOCK_SIZE. */
const MIN_MEMORY_BLOCK_SIZE = 128n << 20n;
const MAX_BLOCK_SIZE = 2n << 30n;
/** MEM_SIZE_FOR_LARGE_BLOCK: from 64 GiB of boot memory on, blocks may be larger. */
const MEM_SIZE_FOR_LARGE_BLOCK = 64n << 30n;

/**
 * probe_memory_block_size() in arch/x86/mm/init_64.c, by era (UV systems, always 2 GiB, are not modelled):
 * - 'ram-end' (v4.3 to v4.16, so v4.5): 2 GiB once max_pfn reaches 64 GiB, else 128 MiB;
 * - 'aligned-end' (078eb6aa50dc, v4.17 to v5.7, so v4.18): from 64 GiB on, the largest size up to 2 GiB that
 *   the end of boot memory (max_pfn, the end of the last System RAM) is aligned to;
 * - 'bare-metal' (v5.8+, so 6.1 and 6.12): the same in a guest (X86_FEATURE_HYPERVISOR), 2 GiB on bare metal.
 */
export function probeMemoryBlockSize(bootMemEnd: bigint, hypervisor: boolean, rule: MemoryBlockProbe = 'bare-metal'): bigint {
  if (bootMemEnd < MEM_SIZE_FOR_LARGE_BLOCK) return MIN_MEMORY_BLOCK_SIZE;
  if (rule === 'ram-end' || (rule === 'bare-metal' && !hypervisor)) return MAX_BLOCK_SIZE;
  let bz = MAX_BLOCK_SIZE;
  while (bz > MIN_MEMORY_BLOCK_SIZE && bootMemEnd % bz !== 0n) bz >>= 1n;
  return bz;
}

/** The zone of a boot RAM block from its pfns (x86-64: DMA below 16 MiB, DMA32 below 4 GiB). */
function bootZones(startPfn: number, endPfn: number): string {
  const zones = new Set<string>();
  if (startPfn < 0x1000) zones.add('DMA');
  if (startPfn < 0x100000 && endPfn > 0x1000) zones.add('DMA32');
  if (endPfn > 0x100000) zones.add('Normal');
  return zones.size === 1 ? [...zones][0]! : 'none';
}

/** Every memory block, by id: the blocks boot RAM touches, then kmem's. */
export function memoryBlocks(k: Kernel): MemoryBlock[] {
  const pagesPerBlock = Number(k.cfg.memoryBlockSize >> 12n);
  const blocks = new Map<number, MemoryBlock & { ramPages?: number }>();
  for (const [s, e] of k.ramRanges) {
    for (let id = Math.floor(s / pagesPerBlock); id <= Math.floor((e - 1) / pagesPerBlock); id++) {
      const first = Math.max(s, id * pagesPerBlock);
      const prev = blocks.get(id);
      const last = Math.min(e, (id + 1) * pagesPerBlock);
      const zones = bootZones(first, last);
      const ram = (prev?.ramPages ?? 0) + last - first;
      blocks.set(id, { id, online: true, validZones: prev && prev.validZones !== zones ? 'none' : zones, ramPages: ram, holes: ram < pagesPerBlock });
    }
  }
  for (const b of blocks.values()) delete b.ramPages;
  for (const kd of k.kmem.devices.values()) {
    for (const b of k.kmem.blocksOf(kd)) {
      const id = Number(b.start / k.cfg.memoryBlockSize);
      blocks.set(id, { id, online: b.zone !== null, validZones: validZonesShow(k, b), kmem: b });
    }
  }
  return [...blocks.values()].sort((a, b) => a.id - b.id);
}

/** valid_zones_show: an online block's zone; an offline one's default zone first, then the other it may go to. */
function validZonesShow(k: Kernel, b: KmemBlock): string {
  if (b.zone) return b.zone;
  return k.kmem.defaultZoneForPfn(b) === 'Movable' ? 'Movable Normal' : 'Normal Movable';
}

/** mhp_online_type_from_str: sysfs_streq against the four online types (a trailing newline is fine). */
function mhpOnlineTypeFromStr(text: string): OnlineType | 'offline' | null {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  return t === 'offline' || t === 'online' || t === 'online_kernel' || t === 'online_movable' ? t : null;
}

/**
 * state_store (drivers/base/memory.c): device_online / device_offline of the block; EINVAL for an unknown
 * type and for a block already in the state asked for (device_online's 1). Boot RAM does not offline:
 * the kernel's own pages are in every boot block (EBUSY), and a block spanning zones is EINVAL
 * (test_pages_in_a_zone).
 */
function stateStore(k: Kernel, id: number, text: string): void {
  const type = mhpOnlineTypeFromStr(text);
  if (type === null) throw new KernelError('EINVAL', `memory${id}/state: ${JSON.stringify(text)} is not an online type`);
  // a kmem block without listing them all (a 2 PiB device has a million)
  const kb = k.kmem.blockAt(BigInt(id) * k.cfg.memoryBlockSize);
  const b = kb ? { id, kmem: kb, holes: false, validZones: '' } : memoryBlocks(k).find((x) => x.id === id);
  if (!b) throw new KernelError('ENODEV', `memory${id} is gone`);
  let ret: number;
  if (b.kmem) ret = type === 'offline' ? k.kmem.memoryBlockOffline(b.kmem) : k.kmem.memoryBlockOnline(b.kmem, type);
  else if (type !== 'offline') ret = 1;
  // offline_pages: walk_system_ram_range must find the whole block (a boot block a Soft Reserved range cuts: softres-misaligned)
  else if (b.holes) throw new KernelError('EINVAL', `memory${id}: the block has memory holes`);
  else if (b.validZones === 'none') throw new KernelError('EINVAL', `memory${id}: the block spans zones`);
  else throw new KernelError('EBUSY', `memory${id}: boot memory holds the kernel's unmovable pages`);
  if (ret) throw new KernelError('EINVAL', `memory${id} is already ${type === 'offline' ? 'offline' : 'online'}`);
}

/** auto_online_blocks_store (drivers/base/memory.c): mhp_set_default_online_type for the blocks hot-added from now on. */
function autoOnlineBlocksStore(k: Kernel, text: string): void {
  const type = mhpOnlineTypeFromStr(text);
  if (type === null) throw new KernelError('EINVAL', `auto_online_blocks: ${JSON.stringify(text)} is not an online type`);
  k.cfg.autoOnlineBlocks = type;
}

/** /sys/devices/system/memory/memoryN (also reached as /sys/devices/system/node/nodeM/memoryN). */
export function memoryBlockDir(k: Kernel, b: MemoryBlock): VfsDir {
  return dir(() => ({
    online: () => file(() => `${b.online ? 1 : 0}\n`),
    phys_device: () => file(() => '0\n'),
    phys_index: () => file(() => `${b.id.toString(16).padStart(8, '0')}\n`),
    removable: () => file(() => '1\n'),
    state: () => file(() => `${b.online ? 'online' : 'offline'}\n`, (text) => stateStore(k, b.id, text)),
    valid_zones: () => file(() => `${b.validZones}\n`),
  }));
}

/** /sys/devices/system/memory */
export function memoryDir(k: Kernel): VfsDir {
  return dir(() => {
    const entries: Record<string, () => VfsNode> = {
      block_size_bytes: () => file(() => `${k.cfg.memoryBlockSize.toString(16)}\n`),
      auto_online_blocks: () => file(() => `${k.cfg.autoOnlineBlocks}\n`, (text) => autoOnlineBlocksStore(k, text)),
    };
    if (k.profile.crashHotplug) entries.crash_hotplug = () => file(() => '0\n');
    for (const b of memoryBlocks(k)) entries[`memory${b.id}`] = () => memoryBlockDir(k, b);
    return entries;
  });
}

/** /sys/module/memory_hotplug/parameters (mm/memory_hotplug.c module_param()s). */
export function memoryHotplugParams(k: Kernel): VfsDir {
  return dir(() => ({
    auto_movable_numa_aware: () => file(() => 'Y\n'),
    auto_movable_ratio: () => file(() => '301\n'),
    memmap_on_memory: () => file(() => `${k.cfg.memmapOnMemoryParam === 'force' ? 'force' : k.cfg.memmapOnMemoryParam ? 'Y' : 'N'}\n`),
    online_policy: () => file(() => 'contig-zones\n'),
  }));
}
