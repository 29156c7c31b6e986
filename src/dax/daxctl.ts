/** What daxctl prints for a device-dax instance (daxctl/lib, util/json.c: util_daxctl_dev_to_json). */
import type { Kernel } from '../kernel/kernel.ts';
import type { DevDax } from './bus.ts';

export function daxctlDeviceJson(k: Kernel, d: DevDax): Record<string, unknown> {
  const kd = k.kmem.devices.get(d.name);
  const out: Record<string, unknown> = { chardev: d.name, size: Number(d.size), target_node: k.numa.targetNode(d.start), align: Number(d.align), mode: kd ? 'system-ram' : 'devdax' };
  if (kd) {
    const sum = k.kmem.summary(kd);
    out.online_memblocks = sum.onlineBlocks;
    out.total_memblocks = sum.blocks;
    if (sum.movable !== null) out.movable = sum.movable;
  }
  return out;
}

/** The model's own figures beside daxctl's (the library's reconfigureDevice result; never printed as daxctl's). */
export function kmemFigures(k: Kernel, d: DevDax): Record<string, unknown> {
  const kd = k.kmem.devices.get(d.name);
  if (!kd) return {};
  const sum = k.kmem.summary(kd);
  return { memmap_on_memory: sum.memmapOnMemoryPages > 0, online_pages: sum.onlinePages, memmap_on_memory_pages: sum.memmapOnMemoryPages, memmap_dram_pages: sum.dramMemmapPages };
}
