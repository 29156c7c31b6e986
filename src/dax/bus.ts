/**
 * The dax bus (drivers/dax/bus.c): device-dax instances and the driver each is bound to, device_dax
 * (the character device, through devm_memremap_pages) or kmem (System RAM). `daxctl
 * reconfigure-device` moves a device between the two.
 */
import type { Device } from '../kernel/devres.ts';
import { KernelError } from '../kernel/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { Resource } from '../kernel/resource.ts';
import type { MemmapOnMemory } from './kmem.ts';

/** struct dev_dax: one device-dax instance over one range. */
export interface DevDax {
  /** daxX.Y */
  readonly name: string;
  readonly regionId: number;
  /** The iomem resource kmem's "System RAM (kmem)" goes under: the device's own (v5.x+), else its namespace's claim. */
  readonly parent: Resource;
  /** The data range [start, end): what the device exposes. */
  readonly start: bigint;
  readonly end: bigint;
  /** What the device reports as its size (the pfn layout's npfns, in bytes). */
  readonly size: bigint;
  readonly align: bigint;
  /** The device_dax binding (its devres device), or null while kmem holds the device. */
  dev: Device | null;
  /** dev_dax_probe: bind device_dax (devm_memremap_pages of the range); returns the new binding. */
  readonly bindDeviceDax: () => Device;
  /** The character device's minor (252:minor). */
  minor: number;
  /** dev_dax->memmap_on_memory (6.8+; 0 at creation for pmem and hmem devices). */
  memmapOnMemory: boolean;
  /** The device's place under /sys/devices (the target of its /sys/bus/dax/devices link), less the leading "devices/". */
  readonly devpath?: string;
  /** A dynamic dax region (hmem's; not IORESOURCE_DAX_STATIC): its dax_region shows available_size, create and seed. */
  readonly dynamicRegion?: boolean;
}

export class DaxBus {
  private readonly devices = new Map<string, DevDax>();

  constructor(private readonly k: Kernel) {}

  /** Register a device-dax instance; its chardev minor is the lowest free one. */
  add(d: Omit<DevDax, 'minor' | 'memmapOnMemory'>): DevDax {
    if (this.devices.has(d.name)) throw new KernelError('EEXIST', `a dax device ${d.name} exists already`);
    const used = new Set([...this.devices.values()].map((x) => x.minor));
    let minor = 0;
    while (used.has(minor)) minor++;
    const dd: DevDax = { ...d, minor, memmapOnMemory: false };
    this.devices.set(d.name, dd);
    return dd;
  }

  remove(name: string): void {
    this.devices.delete(name);
  }

  get(name: string): DevDax | undefined {
    return this.devices.get(name);
  }

  all(): DevDax[] {
    return [...this.devices.values()];
  }

  /** Bound to kmem (System RAM). */
  isSystemRam(name: string): boolean {
    return this.k.kmem.devices.has(name);
  }

  /**
   * dev_dax_kmem_remove as the device goes (destroy-namespace): remove_memory of its blocks, which every
   * block must be offline for: EBUSY otherwise (kmem-destroy-online on 6.12.117; all offline, 6.1.192's
   * kmem-destroy-offline-kmem destroys it).
   */
  removeKmem(name: string): void {
    const d = this.devices.get(name);
    const kd = this.k.kmem.devices.get(name);
    if (!d || !kd) return;
    const online = kd.blocks.filter((b) => b.zone !== null).length;
    if (online) throw new KernelError('EBUSY', `${name} is in system-ram mode with ${online} memory block${online === 1 ? '' : 's'} online: offline them or reconfigure it to devdax first`);
    this.k.kmem.remove(kd, d.parent);
  }

  /** dev_dax_probe requests the whole range again under the device's name. */
  private restoreResource(d: DevDax): void {
    if (d.parent.name !== d.name) return;
    d.parent.start = d.start;
    d.parent.end = d.end - 1n;
  }

  /** daxctl reconfigure-device: unbind one driver, bind the other. */
  reconfigure(d: DevDax, mode: 'system-ram' | 'devdax', memmapOnMemory: MemmapOnMemory): void {
    const k = this.k;
    const kd = k.kmem.devices.get(d.name);
    if (mode === 'system-ram') {
      if (kd) throw new KernelError('EBUSY', `${d.name} is already in system-ram mode`);
      if (d.dev) k.devices.unbind(d.dev);
      d.dev = null;
      try {
        k.kmem.probe(d.name, d.parent, d.start, d.end, memmapOnMemory);
      } catch (e) {
        // kmem failed to probe: bind device_dax back
        if (!k.kmem.devices.has(d.name) && !k.poisoned) {
          this.restoreResource(d);
          d.dev = d.bindDeviceDax();
        }
        throw e;
      }
      return;
    }
    if (!kd) throw new KernelError('EINVAL', `${d.name} is not in system-ram mode`);
    k.kmem.remove(kd, d.parent);
    this.restoreResource(d);
    d.dev = d.bindDeviceDax();
  }
}
