/** The oracle's standard guest for the dax/kmem tests: the e820 RAM of QEMU's pc machine with 2 GiB, one 32 GiB NVDIMM at 4 GiB. */
export const GUEST_E820 = [
  { start: 0x1000n, size: 0x9f000n, type: 'System RAM' as const },
  { start: 0x100000n, size: 0x7ffdf000n - 0x100000n, type: 'System RAM' as const },
  { start: 0x100000000n, size: 0x7ffe00000n, type: 'Persistent Memory' as const },
];
