/** Devices and device-managed resources (drivers/base/devres.c): LIFO release on unbind. */
import { KernelError } from './errno.ts';

export interface Devres {
  /** What the entry is, for inspection ("page_map"). */
  kind: string;
  release: () => void;
}

export class Device {
  bound = true;
  readonly devres: Devres[] = [];
  constructor(
    readonly name: string,
    /** The driver name printed before the device name in dev_* messages. */
    readonly driver: string,
  ) {}

  /** "<driver> <device>: " */
  prefix(): string {
    return `${this.driver} ${this.name}: `;
  }
}

export class DeviceRegistry {
  private readonly devices = new Map<string, Device>();

  create(name: string, driver: string): Device {
    const have = this.devices.get(name);
    if (have && have.bound) throw new KernelError('EBUSY', `device ${name} already exists`);
    const dev = new Device(name, driver);
    this.devices.set(name, dev);
    return dev;
  }

  get(name: string): Device | undefined {
    return this.devices.get(name);
  }

  bound(): Device[] {
    return [...this.devices.values()].filter((d) => d.bound);
  }

  /** devres_add */
  add(dev: Device, res: Devres): void {
    dev.devres.push(res);
  }

  /** devres_release_all on driver detach: entries released in reverse order of addition. */
  unbind(dev: Device): void {
    while (dev.devres.length > 0) dev.devres.pop()!.release();
    dev.bound = false;
  }
}
