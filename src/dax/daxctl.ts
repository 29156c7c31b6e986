/** What daxctl prints for a device-dax instance (daxctl/lib, util/json.c: util_daxctl_dev_to_json). */
import type { Kernel } from '../kernel/kernel.ts';
import type { DevDax } from './bus.ts';

export function daxctlDeviceJson(k: Kernel, d: DevDax): Record<string, unknown> {
  const kd = k.kmem.devices.get(d.name);
  const out: Record<string, unknown> = { chardev: d.name, size: Number(d.size), target_node: 0, align: Number(d.align), mode: kd ? 'system-ram' : 'devdax' };
  if (kd) {
    const sum = k.kmem.summary(kd);
    out.online_memblocks = sum.blocks;
    out.total_memblocks = sum.blocks;
    out.movable = kd.movable;
    out.memmap_on_memory = sum.memmapOnMemoryPages > 0;
    out.online_pages = sum.onlinePages;
    out.memmap_on_memory_pages = sum.memmapOnMemoryPages;
    out.memmap_dram_pages = sum.dramMemmapPages;
  }
  return out;
}
