export type Scenario = unknown; export type StepResult = unknown; export function runScenario() {}
