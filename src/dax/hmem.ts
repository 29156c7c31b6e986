/**
 * dax_hmem (drivers/dax/hmem/device.c, hmem.c): Soft Reserved memory (EFI_MEMORY_SP, or the command
 * line's memmap=nn%ss+0xefffffff) as device-dax. hmem_register_device makes a platform device hmem.N
 * per range, N from the memregion IDA; dax_hmem_probe gives it dax region N (align 2 MiB, dynamic)
 * and one device daxN.0 over the whole range. Then a driver binds it: device_dax (6.1), or kmem
 * (6.3+, "dax: Assign RAM regions to memory-hotplug by default"), which onlines it at boot as
 * memhp_default_state says (fixtures softres-boot on 6.12.117 and 6.1.192).
 *
 * Before 6.3 hmem_register_device ran at boot (an initcall of the built-in device.c), before the
 * NVDIMM regions, and added the range as the platform device's resource: "hmem.N" over the
 * "Soft Reserved" entry in /proc/iomem. From 6.3 (7dab174e2e27) the dax_hmem module registers the
 * devices when it loads, after acpi_nfit has numbered its regions, without a resource of their own.
 */
import type { Kernel } from '../kernel/kernel.ts';
import { KernelError } from '../kernel/errno.ts';
import { hex } from '../kernel/printk.ts';
import { IORESOURCE_MEM, type Resource } from '../kernel/resource.ts';

/** HMEM's dax region align: PMD_SIZE (alloc_dax_region in dax_hmem_probe). */
const HMEM_ALIGN = 2n << 20n;

/** One hmem platform device over a Soft Reserved range. */
export interface HmemDevice {
  /** The platform device id: hmem.N, and its dax region's id. */
  readonly id: number;
  /** The e820 "Soft Reserved" resource. */
  readonly softReserved: Resource;
}

/** hmem_register_device: the platform device and its memregion id; on 6.1 its resource "hmem.N" over the range. */
export function hmemRegisterDevice(k: Kernel, softReserved: Resource): HmemDevice {
  const id = k.memregion.memregionAlloc();
  // platform_device_add -> insert_resource: the platform device's own resource takes the e820 entry under it
  if (k.profile.hmemBootRegister) k.iomem.insertResource(`hmem.${id}`, softReserved.start, softReserved.end, IORESOURCE_MEM);
  return { id, softReserved };
}

/**
 * dax_hmem_probe: dax region hmem.N's id, one device daxN.0 over the range, bound to its default driver:
 * kmem on 6.3+ (System RAM, onlined as auto_online_blocks says), device_dax before.
 */
export function daxHmemProbe(k: Kernel, h: HmemDevice): void {
  const name = `dax${h.id}.0`;
  const start = h.softReserved.start;
  const end = h.softReserved.end + 1n;
  // dev_dax_probe / dev_dax_kmem_probe: the range is requested under the device's own name, inside Soft Reserved
  const res = k.iomem.request(h.softReserved, name, start, end - 1n);
  if (!res) throw new KernelError('EBUSY', `${name}: [${hex(start)}-${hex(end - 1n)}] is already claimed`);
  const bindDeviceDax = () => {
    // device_dax: devm_memremap_pages of the range (MEMORY_DEVICE_GENERIC, memmap in DRAM, compound pages of the align)
    const dev = k.devices.create(name, 'device_dax');
    k.memremap.devmMemremapPages(dev, start, end - 1n, null, k.profile.compoundDevmaps ? Math.log2(Number(HMEM_ALIGN >> 12n)) : 0);
    return dev;
  };
  const d = k.dax.add({
    name,
    regionId: h.id,
    parent: res,
    start,
    end,
    size: end - start,
    align: HMEM_ALIGN,
    dev: null,
    bindDeviceDax,
    devpath: `platform/hmem.${h.id}/${name}`,
    dynamicRegion: true,
  });
  if (k.profile.hmemDefaultKmem) {
    // dax_match_type: a Soft Reserved range's device is kmem's; dev_dax->memmap_on_memory starts at 0
    k.kmem.probe(name, res, start, end, false);
  } else d.dev = bindDeviceDax();
}
