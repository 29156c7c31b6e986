/** Pick a backend: the Wasm core (default) or the TypeScript twin. */
import type { Core } from './core.ts';
import { createTsCore } from './ts/index.ts';

export type Backend = 'wasm' | 'ts';

export async function loadCore(backend: Backend): Promise<Core> {
  if (backend === 'ts') return createTsCore();
  const { createWasmCore } = await import('./wasm.ts');
  return createWasmCore();
}
