/** altmap-sim: the public API. */
export { createMachine, Machine, Altmap, defaultE820, type AltmapCounters, type MachineConfig, type E820Entry, type AltmapInput, type PhysRange, type WalkResult, type MachineStats } from './machine.ts';
export { KernelError, MachinePoisonedError, ERRNO, STRERROR, type ErrnoCode } from './kernel/errno.ts';
export { runScenario, type Scenario, type StepResult } from './scenario.ts';
export type { StructPage } from './core/structPage.ts';
export type { CreateNamespaceOptions } from './nvdimm/pmem.ts';
export { KERNELS, type KernelName } from './kernel/profile.ts';
export { planCapacity, planConfigs, planTable, planSvg, type Plan, type PlanRow } from './planner.ts';
