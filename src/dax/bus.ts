/**
 * The dax bus (drivers/dax/bus.c): device-dax instances and the driver each is bound to, device_dax
 * (the character device, through devm_memremap_pages) or kmem (System RAM). `daxctl
 * reconfigure-device` moves a device between the two.
 */
import type { Device } from '../kernel/devres.ts';
import { HostMemoryError, KernelError } from '../kernel/errno.ts';
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
  /** dax_minor_ida's other users: the fs-dax dax_device of each live pmem disk (pmem_attach_disk's alloc_dax). */
  private readonly diskMinors = new Map<string, number>();

  constructor(private readonly k: Kernel) {}

  /** ida_alloc_max(&dax_minor_ida) in alloc_dax() (drivers/dax/super.c): the lowest minor no dax_device holds. */
  private allocMinor(): number {
    const used = new Set([...[...this.devices.values()].map((x) => x.minor), ...this.diskMinors.values()]);
    let minor = 0;
    while (used.has(minor)) minor++;
    return minor;
  }

  /** alloc_dax() for a pmem block device (fsdax or raw): it takes a minor from the same ida as device-dax. */
  attachDisk(disk: string): void {
    if (!this.diskMinors.has(disk)) this.diskMinors.set(disk, this.allocMinor());
  }

  /** kill_dax()/put_dax() when the pmem disk goes: dax_free_inode() gives its minor back. */
  detachDisk(disk: string): void {
    this.diskMinors.delete(disk);
  }

  /** Register a device-dax instance; its chardev minor is the lowest free one. */
  add(d: Omit<DevDax, 'minor' | 'memmapOnMemory'>): DevDax {
    if (this.devices.has(d.name)) throw new KernelError('EEXIST', `a dax device ${d.name} exists already`);
    const dd: DevDax = { ...d, minor: this.allocMinor(), memmapOnMemory: false };
    this.devices.set(d.name, dd);
    return dd;
  }

  /** unregister_dev_dax: a device kmem holds goes through dev_dax_kmem_remove() (remove_memory of its offline blocks). */
  remove(name: string): void {
    const d = this.devices.get(name);
    const kd = this.k.kmem.devices.get(name);
    if (d && kd) this.k.kmem.remove(kd, d.parent);
    this.devices.delete(name);
  }

  /** daxctl_memory_is_online(), as ndctl_dax_has_active_memory() asks it: a block of the device is online. */
  hasActiveMemory(name: string): boolean {
    const kd = this.k.kmem.devices.get(name);
    return !!kd && kd.runs.some((r) => r.zone !== null);
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

  /** Where a driverless device's own resource ("daxX.Y") went back into iomem from: its container, by device. */
  private readonly released = new Map<string, Resource>();

  /** dev_dax_probe requests the whole range again under the device's name. */
  private restoreResource(d: DevDax): void {
    if (d.parent.name !== d.name) return;
    d.parent.start = d.start;
    d.parent.end = d.end - 1n;
    const container = this.released.get(d.name);
    if (container && this.k.iomem.reinsert(container, d.parent)) this.released.delete(d.name);
  }

  /**
   * A failed kmem probe leaves the device driverless (daxctl v76.1's reconfig_mode_system_ram binds nothing
   * back): device_dax's devm_request_mem_region went when it unbound, and dev_dax_kmem_probe's remove_resource
   * took kmem's "daxX.Y" (drivers/dax/kmem.c), so /proc/iomem has no entry of the device until a driver binds.
   */
  private releaseOwnResource(d: DevDax): void {
    if (d.parent.name !== d.name || this.released.has(d.name)) return;
    const container = this.k.iomem.containerOf(d.parent);
    if (!container) return;
    this.k.iomem.release(container, d.parent);
    this.released.set(d.name, container);
  }

  /** daxctl reconfigure-device: unbind one driver, bind the other. */
  reconfigure(d: DevDax, mode: 'system-ram' | 'devdax', memmapOnMemory: MemmapOnMemory): void {
    const k = this.k;
    const kd = k.kmem.devices.get(d.name);
    if (mode === 'system-ram') {
      if (kd) throw new KernelError('EBUSY', `${d.name} is already in system-ram mode`);
      // device_dax unbinds: its dev_dax_kill devres action (kill_dev_dax), then the memremap's release
      if (d.dev && k.ftrace.on) k.ftrace.leaf('kill_dev_dax');
      const initialised = k.memmap.pagesInitialised;
      if (d.dev) k.devices.unbind(d.dev);
      d.dev = null;
      try {
        k.kmem.probe(d.name, d.parent, d.start, d.end, memmapOnMemory);
      } catch (e) {
        if (!k.kmem.devices.has(d.name) && !k.poisoned) {
          if (e instanceof HostMemoryError) {
            // the model's own failure (kmem took its part back): device_dax as before, not even the memmap count moves
            this.restoreResource(d);
            d.dev = d.bindDeviceDax();
            k.memmap.pagesInitialised = initialised;
          } else {
            // the kernel's: nothing binds the device again (daxctl v76.1 stops at "failed to enable")
            this.releaseOwnResource(d);
          }
        }
        throw e;
      }
      return;
    }
    if (!kd && !d.dev) {
      // left driverless by a failed kmem probe: daxctl binds device_dax (whose memremap meets any sections a
      // failed hot-add left behind)
      this.restoreResource(d);
      d.dev = d.bindDeviceDax();
      return;
    }
    if (!kd) throw new KernelError('EINVAL', `${d.name} is not in system-ram mode`);
    const saved = k.kmem.saved(kd);
    const initialised = k.memmap.pagesInitialised;
    k.kmem.remove(kd, d.parent);
    this.restoreResource(d);
    try {
      d.dev = d.bindDeviceDax();
    } catch (e) {
      // device_dax ran out of the model's budget (its memremap took its part back): kmem goes back as it was
      if (!(e instanceof HostMemoryError) || k.poisoned) throw e;
      // the instance device_dax made for the probe goes unbound, as the one before it was
      const made = k.devices.get(d.name);
      if (made?.bound) k.devices.unbind(made);
      k.kmem.reinstate(d.name, d.parent, d.start, d.end, saved);
      k.memmap.pagesInitialised = initialised;
      throw e;
    }
  }
}
