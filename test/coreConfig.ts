/** Shared fixtures of the core-level suites: a 64 GiB core configuration and both backends. */
import { expect } from 'vitest';
import type { Core, CoreConfig } from '../src/core/core.ts';
import { createTsCore } from '../src/core/ts/index.ts';
import { createWasmCore } from '../src/core/wasm.ts';

export const VMEMMAP_START = 0xffffea0000000000n;

/** 64 GiB of RAM from 1 MiB, 4-level paging, the 6.x direct-map base; override what a test needs. */
export function coreConfig(over: Partial<CoreConfig> = {}): CoreConfig {
  return {
    ramRanges: [[0x100, 0x1000100]],
    levels: 4,
    vmemmapStart: VMEMMAP_START,
    pageOffset: 0xffff888000000000n,
    pse: true,
    gbpages: true,
    hostMemoryLimit: 1 << 30,
    eagerMemmap: false,
    debug: false,
    ...over,
  };
}

/** Both cores, by name. */
export const CORE_BACKENDS: Array<[string, () => Promise<Core>]> = [
  ['wasm', () => createWasmCore()],
  ['ts', async () => createTsCore()],
];

/** The two cores side by side: run an operation on both, expect the same result and the same events. */
export class CorePair {
  constructor(
    readonly w: Core,
    readonly t: Core,
  ) {}

  /** Run f on both; same result, same events. */
  same<T>(what: string, f: (c: Core) => T): T {
    const a = f(this.w);
    const b = f(this.t);
    expect(a, what).toEqual(b);
    expect(this.w.takeEvents(), `${what}: events`).toEqual(this.t.takeEvents());
    return a;
  }
}
