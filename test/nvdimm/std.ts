/** The oracle's standard guest as the nvdimm suites boot it (fixtures' STD machine). */
import { createMachine } from '../../src/index.ts';
import type { BACKENDS } from '../fixtures.ts';

/** QEMU pc's e820 RAM with 2 GiB, and region0 of 32 GiB - 2 MiB (a labelled NVDIMM) at 4 GiB. */
export const STD_E820 = [
  { start: 0x1000n, size: 0x9f000n, type: 'System RAM' as const },
  { start: 0x100000n, size: 0x7ffdf000n - 0x100000n, type: 'System RAM' as const },
  { start: 0x100000000n, size: 0x7ffe00000n, type: 'Persistent Memory' as const },
];

/** The standard guest on profile v6, with the real region's align (16 MiB). */
export const stdMachine = (backend: (typeof BACKENDS)[number]) => createMachine({ backend, kernel: 'v6', e820: STD_E820, regionAlign: 0x1000000n });
