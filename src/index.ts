/** altmap-sim: the public API. */
export { createMachine, checkMachineConfig, Machine, Altmap, defaultE820, type AltmapCounters, type MachineConfig, type E820Entry, type AltmapInput, type PhysRange, type WalkResult, type MachineStats, type AddressIdentity, type MachineSnapshot, type SizeInput } from './machine.ts';
export { KernelError, MachinePoisonedError, ERRNO, STRERROR, type ErrnoCode } from './kernel/errno.ts';
export { runScenario, runPreparedSteps, validateScenario, toJsonValue, type Scenario, type ScenarioStep, type StepResult } from './scenario.ts';
export { parseInteger } from './args.ts';
export { hex } from './kernel/printk.ts';
export { PAGES_PER_SECTION, SECTION_SIZE } from './kernel/sparse.ts';
export { decodeInfoBlock, PFN_SB_SIZE } from './nvdimm/infoblock.ts';
export { NdctlError, ndctlJsonString } from './nvdimm/ndctl.ts';
export { parseSize } from './nvdimm/units.ts';
export { PTE_FLAGS, decodeEntry, pageTables, type Entry, type Level, type TableVisit } from './kernel/pgtable.ts';
export type { StructPage } from './core/structPage.ts';
export type { CreateNamespaceOptions } from './nvdimm/pmem.ts';
export { KERNELS, type KernelName } from './kernel/profile.ts';
export { planCapacity, planConfigs, planTable, planSvg, type Plan, type PlanRow } from './planner.ts';
