/** Physical memory as the CPU reads and writes it (the media of pmem included), over the core. */
import type { Core } from '../core/core.ts';

export class Physmem {
  constructor(private readonly core: Core) {}

  /** Bytes at phys: backed frames, fill patterns, or zero. */
  read(phys: bigint, length: number): Uint8Array {
    return this.core.readPhys(phys, length);
  }

  /** 0, or -ENOMEM when the host budget cannot back the frames (nothing written then). */
  write(phys: bigint, data: Uint8Array): number {
    return this.core.writePhys(phys, data);
  }

  /** Host bytes holding backed frames. */
  backedBytes(): number {
    return this.core.backedBytes();
  }
}
