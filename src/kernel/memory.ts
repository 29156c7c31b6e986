/**
 * Memory blocks (drivers/base/memory.c): the System RAM the kernel manages, in blocks of
 * memory_block_size_bytes(), as /sys/devices/system/memory shows them, boot RAM and hot-plugged
 * (dax kmem) alike; and memory_hotplug's module parameters.
 */
import type { Kernel } from './kernel.ts';
import { dir, file, type VfsDir, type VfsNode } from './vfs.ts';

/** One memory block as memory_dev_attrs show it. */
export interface MemoryBlock {
  id: number;
  online: boolean;
  /** The zone(s) valid_zones prints: the block's zone when online; "none" when it spans zones. */
  validZones: string;
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
  const blocks = new Map<number, MemoryBlock>();
  for (const [s, e] of k.ramRanges) {
    for (let id = Math.floor(s / pagesPerBlock); id <= Math.floor((e - 1) / pagesPerBlock); id++) {
      const first = Math.max(s, id * pagesPerBlock);
      const prev = blocks.get(id);
      const zones = bootZones(first, Math.min(e, (id + 1) * pagesPerBlock));
      blocks.set(id, { id, online: true, validZones: prev && prev.validZones !== zones ? 'none' : zones });
    }
  }
  for (const kd of k.kmem.devices.values()) {
    for (const b of kd.blocks) {
      const id = Number(b.start / k.cfg.memoryBlockSize);
      // an offline block could go to either zone
      blocks.set(id, { id, online: b.zone !== null, validZones: b.zone ?? 'Normal Movable' });
    }
  }
  return [...blocks.values()].sort((a, b) => a.id - b.id);
}

/** /sys/devices/system/memory */
export function memoryDir(k: Kernel): VfsDir {
  return dir(() => {
    const entries: Record<string, () => VfsNode> = {
      block_size_bytes: () => file(() => `${k.cfg.memoryBlockSize.toString(16)}\n`),
      auto_online_blocks: () => file(() => `${k.cfg.autoOnlineBlocks}\n`),
    };
    if (k.profile.crashHotplug) entries.crash_hotplug = () => file(() => '0\n');
    for (const b of memoryBlocks(k)) {
      entries[`memory${b.id}`] = () =>
        dir(() => ({
          online: () => file(() => `${b.online ? 1 : 0}\n`),
          phys_device: () => file(() => '0\n'),
          phys_index: () => file(() => `${b.id.toString(16).padStart(8, '0')}\n`),
          removable: () => file(() => '1\n'),
          state: () => file(() => `${b.online ? 'online' : 'offline'}\n`),
          valid_zones: () => file(() => `${b.validZones}\n`),
        }));
    }
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
