/**
 * /sys/bus/dax/devices (drivers/dax/bus.c's dev_dax attributes and the dax_region group), as 6.12
 * shows them (fixture ns-devdax-dev-1G, step 04): size, align, mapping0, memmap_on_memory (6.8+,
 * writable) and the device's dax_region beside it.
 */
import { kstrtobool } from '../kernel/cmdline.ts';
import { ERRNO, KernelError } from '../kernel/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { hex } from '../kernel/printk.ts';
import { dir, file, type VfsDir, type VfsNode } from '../kernel/vfs.ts';
import type { DevDax } from './bus.ts';

/** kstrtobool, as memmap_on_memory_store() parses its input (the newline echo adds is past what it reads). */
const strtobool = (text: string): boolean | null => kstrtobool(text.trim());

/** memmap_on_memory_store(): EOPNOTSUPP when the module parameter is off, EBUSY while kmem holds the device. */
function memmapOnMemoryStore(k: Kernel, d: DevDax, text: string): void {
  const val = strtobool(text);
  if (val === null) throw KernelError.fromErrno(ERRNO.EINVAL, `memmap_on_memory: ${JSON.stringify(text)} is not a boolean`);
  if (val && !k.cfg.memmapOnMemoryParam) throw KernelError.fromErrno(ERRNO.EOPNOTSUPP, 'memmap_on_memory: the memory_hotplug.memmap_on_memory module parameter is off');
  if (d.memmapOnMemory !== val && k.dax.isSystemRam(d.name)) throw KernelError.fromErrno(ERRNO.EBUSY, `memmap_on_memory: ${d.name} is bound to kmem`);
  d.memmapOnMemory = val;
}

/** The device's path under /sys/devices: its region's device (an nd_dax, or the hmem platform device), then itself. */
export function daxDevpath(d: DevDax): string {
  return d.devpath ?? `LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region${d.regionId}/${d.name}/${d.name}`;
}

function devDaxDir(k: Kernel, d: DevDax): VfsDir & { parent: VfsDir } {
  const regionEntries: Record<string, () => VfsNode> = {
    align: () => file(() => `${d.align}\n`),
    id: () => file(() => `${d.regionId}\n`),
    size: () => file(() => `${d.size}\n`),
  };
  // dax_region_visible: a dynamic region (hmem) also shows what is left to carve, and its create/seed
  // devices; the one device spans the region, so nothing is left and there is no seed
  if (d.dynamicRegion) {
    regionEntries.available_size = () => file(() => '0\n');
    regionEntries.create = () => file(() => '\n');
    regionEntries.seed = () => file(() => '\n');
  }
  const region = dir(() => regionEntries);
  const entries: Record<string, () => VfsNode> = {
    align: () => file(() => `${d.align}\n`),
    dev: () => file(() => `252:${d.minor}\n`),
    modalias: () => file(() => 'dax:t0\n'),
    // dev_dax: the region's numa_node (an hmem device's: numa_map_to_online_node of its target_node)
    numa_node: () => file(() => `${k.numa.numaNode(d.start)}\n`),
    resource: () => file(() => `${hex(d.start)}\n`),
    size: () => file(() => `${d.size}\n`),
    target_node: () => file(() => `${k.numa.targetNode(d.start)}\n`),
  };
  // devm_register_dax_mapping: one mappingN per range; a zero-sized device has none (a1G-offset-devdax-mem-1G on 6.1)
  if (d.size > 0n) {
    entries.mapping0 = () =>
      dir(() => ({
        end: () => file(() => `${hex(d.end - 1n)}\n`),
        page_offset: () => file(() => '0x0\n'),
        start: () => file(() => `${hex(d.start)}\n`),
      }));
  }
  // the driver core's "driver" link while one is bound (daxctl_dev_is_enabled reads it)
  const driver = k.kmem.devices.has(d.name) ? 'kmem' : d.dev ? 'device_dax' : null;
  if (driver) entries.driver = () => ({ ...dir(() => ({})), link: `${'../'.repeat(daxDevpath(d).split('/').length + 1)}bus/dax/drivers/${driver}` });
  if (k.profile.daxMemmapOnMemory) entries.memmap_on_memory = () => file(() => `${d.memmapOnMemory ? 1 : 0}\n`, (text) => memmapOnMemoryStore(k, d, text));
  // "../dax_region": the region's attributes sit beside the device in the device tree
  return { ...dir(() => entries), parent: dir(() => ({ dax_region: () => region })), link: `../../../devices/${daxDevpath(d)}` };
}

/** /sys/bus/dax/devices */
export function daxBusDevices(k: Kernel): VfsDir {
  return dir(() => Object.fromEntries(k.dax.all().map((d) => [d.name, () => devDaxDir(k, d)])));
}
