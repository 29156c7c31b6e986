/** Kernel errnos and the typed error the public API throws (shaped like Node's own system errors). */

/** The negative errno values (include/uapi/asm-generic/errno-base.h, errno.h) of the errnos the model raises, as the kernel returns them. */
export const ERRNO = {
  /** Operation not permitted */
  EPERM: -1,
  /** No such file or directory */
  ENOENT: -2,
  /** Permission denied */
  EACCES: -13,
  /** Not a directory */
  ENOTDIR: -20,
  /** Is a directory */
  EISDIR: -21,
  /** Operation not supported */
  EOPNOTSUPP: -95,
  /** No such device */
  ENODEV: -19,
  /** No such device or address */
  ENXIO: -6,
  /** Cannot allocate memory */
  ENOMEM: -12,
  /** Device or resource busy */
  EBUSY: -16,
  /** File exists */
  EEXIST: -17,
  /** Invalid argument */
  EINVAL: -22,
  /** No space left on device */
  ENOSPC: -28,
  /** Bad address */
  EFAULT: -14,
} as const;

/** An errno name ("EINVAL"): the `code` of a KernelError. */
export type ErrnoCode = keyof typeof ERRNO;

/** strerror() of the errnos the model raises. */
export const STRERROR: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EOPNOTSUPP: 'Operation not supported',
  ENODEV: 'No such device',
  ENXIO: 'No such device or address',
  ENOMEM: 'Cannot allocate memory',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device',
  EFAULT: 'Bad address',
};

const BY_VALUE = new Map<number, ErrnoCode>(Object.entries(ERRNO).map(([k, v]) => [v, k as ErrnoCode]));

/** The errno name of a negative errno value ("ENOMEM" for -12). */
export function errnoName(errno: number): ErrnoCode {
  const name = BY_VALUE.get(errno);
  if (!name) throw new RangeError(`unknown errno ${errno}`);
  return name;
}

/** A kernel error: `code` "ENOMEM", `errno` -12, a message naming the problem. */
export class KernelError extends Error {
  /** The errno name, as Node's system errors have it ("ENOMEM"). */
  readonly code: ErrnoCode;
  /** The negative errno value the kernel function returns (-12 for ENOMEM). */
  readonly errno: number;

  constructor(code: ErrnoCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'KernelError';
    this.code = code;
    this.errno = ERRNO[code];
  }

  /**
   * The KernelError of a negative errno value (ERR_PTR/PTR_ERR style returns): fromErrno(-12, ...) is ENOMEM.
   * @throws RangeError for a value that is not one of {@link ERRNO}'s.
   */
  static fromErrno(errno: number, message: string): KernelError {
    return new KernelError(errnoName(errno), message);
  }
}

/** A value as an error message shows it; never throws, whatever the value (bigint, null prototype, cycles). */
export function show(x: unknown): string {
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x === 'number' || typeof x === 'boolean' || x === null || x === undefined) return String(x);
  if (typeof x === 'symbol') return x.toString();
  if (typeof x === 'function') return 'a function';
  try {
    return JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? Object.prototype.toString.call(x);
  } catch {
    return Object.prototype.toString.call(x);
  }
}

/** Throw EINVAL for input the kernel would never see (the public API's own validation). */
export function invalid(message: string): never {
  throw new KernelError('EINVAL', message);
}

/** The machine is unusable after a modelled kernel BUG or a core trap. */
export class MachinePoisonedError extends KernelError {
  constructor(why: string) {
    super('EFAULT', `machine is poisoned (${why}); create a fresh machine`);
    this.name = 'MachinePoisonedError';
  }
}

/** The simulator's own host-memory budget ran out (not a kernel condition). */
export class HostMemoryError extends KernelError {
  /** `detail`: what ran out, naming the budget (default: the backed frames' hostMemoryLimit). */
  constructor(detail = 'host-memory budget exhausted (raise hostMemoryLimit)') {
    super('ENOMEM', detail);
    this.name = 'HostMemoryError';
  }
}
