/**
 * The oracle's data: a case (a machine and the shell steps run on it), and what a real kernel said
 * for each step. The same case runs on the model (src/oracle/model.ts) and the two are compared
 * (src/oracle/compare.ts).
 */

/** The model's kernel profiles the oracle knows real kernels for. */
export type OracleProfile = 'v6' | 'v6.1';
export const ORACLE_PROFILES: readonly OracleProfile[] = ['v6', 'v6.1'];

/** One QEMU NVDIMM: a sparse file behind `-object memory-backend-file` and `-device nvdimm`. */
export interface OracleDimm {
  /** Backend size (ndctl size syntax: "4G", "1030M"); a multiple of 2 MiB. */
  size: string;
  /** Label area: true (label-size=128K, `ndctl init-labels` at boot), false (label-less: one raw namespace). Default true. */
  labels?: boolean;
  /** Guest-physical address (`-device nvdimm,addr=`), 2 MiB aligned; default: QEMU's next free address. */
  addr?: string;
  /** NUMA node of the DIMM (`-device nvdimm,node=`): its NFIT range's proximity domain. Default: QEMU's (0). */
  node?: number;
}

export interface OracleMachine {
  /** Guest RAM (`-m`), e.g. "2G". */
  ram: string;
  dimms: OracleDimm[];
  /** Extra kernel command line parameters (memmap=2G%0x140000000+0xefffffff, memory_hotplug.memmap_on_memory=1, ...). */
  cmdline?: string[];
  /**
   * NUMA nodes: each node's share of `ram` (sizes summing to it), one `-object memory-backend-ram` and
   * `-numa node` each; the one CPU is node 0's. Default: no -numa (one node).
   */
  nodes?: string[];
}

/** One step: a shell command line run in the guest by /bin/sh -c. */
export interface OracleStep {
  run: string;
  /** The command on a kernel where it differs (a device another kernel names differently). */
  runOn?: Partial<Record<OracleProfile, string>>;
  /** Record a function_graph trace of this step (filter: TRACE_FUNCTIONS, limited to what the kernel can trace). */
  trace?: boolean;
  /** Machine preparation (ndctl init-labels): recorded, not compared. */
  setup?: boolean;
  /** Seconds before the guest gives up waiting for the step (default 60). */
  timeout?: number;
  note?: string;
}

export interface OracleCase {
  /** Stable id ("ns-fsdax-dev-16G", "refuse-align-3M"): tests and pending tables name it. */
  id: string;
  title: string;
  /** Topic tags (sizes, modes, refusals, seeds, labelless, kmem, softreserved, trace, ...). */
  tags: string[];
  machine: OracleMachine;
  steps: OracleStep[];
  /** Kernels to record it on (default both). */
  profiles?: OracleProfile[];
}

/** An oracle scenario file (`altmap oracle scenario.json`): a case without the id requirement. */
export type OracleScenario = Omit<OracleCase, 'id' | 'tags'> & { id?: string; tags?: string[]; description?: string };

/** The guest state captured after a step: file name -> content. */
export type StateFiles = Partial<Record<StateKey, string>>;
export const STATE_KEYS = ['iomem', 'meminfo', 'sysfs', 'drivers'] as const;
export type StateKey = (typeof STATE_KEYS)[number];

/** What every recorded step says of itself: which command, how it ended. */
export interface StepHeader {
  index: number;
  run: string;
  setup?: boolean;
  /** Exit status of `sh -c run`; null when the guest gave up waiting (timeout) or the run ended first. */
  exit: number | null;
  timedOut?: boolean;
  /** Not run: an earlier step hung the guest (or left the kernel holding locks). */
  skipped?: boolean;
  /** What hung after the command ("settle", "snapshot"): the kernel held a lock an oops left behind. */
  hung?: string;
}

/** What the real kernel said for one step (index 0 is the boot: no command, its dmesg is the boot log). */
export interface RealStep extends StepHeader {
  stdout: string;
  stderr: string;
  /** The step's new dmesg lines as `dmesg -r` prints them: "<level>[seconds] text". */
  dmesg: string;
  /** Guest uptime before and after, in seconds. */
  t0?: number;
  t1?: number;
  /** The state after the step (every key on step 0; later steps only where it changed, see stateAt). */
  state: StateFiles;
  /** function_graph output, when the step was traced. */
  trace?: string;
  /** set_ftrace_filter as the kernel took it. */
  traceFilter?: string;
}

/** One recorded boot of one case on one real kernel. */
export interface RealRun {
  caseId: string;
  profile: OracleProfile;
  /** Upstream kernel version (6.12.117). */
  kernel: string;
  /** `uname -r` (6.12.117+deb12-amd64). */
  release: string;
  /** Debian package and version. */
  package: string;
  packageVersion: string;
  cmdline: string;
  qemuArgs: string[];
  steps: RealStep[];
  /** Trace filter functions the kernel offers (available_filter_functions limited to TRACE_FUNCTIONS), when traced. */
  traceable?: string;
  /** Complete: the guest reached the end marker. */
  complete: boolean;
  /** Why not complete (hung step, oops in init, QEMU error). */
  incomplete?: string;
  /** Wall-clock seconds of the QEMU run, and guest uptime at the first step. */
  wallSeconds: number;
  bootSeconds?: number;
}
