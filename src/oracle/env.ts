/**
 * The oracle's host side: the Debian packages it needs, the kernel package (downloaded with
 * `apt-get download`, unpacked with `dpkg-deb -x`, never installed) and the initramfs (busybox,
 * ndctl, daxctl with their shared libraries, the nvdimm/dax modules with their dependencies from
 * `modprobe --show-depends` against the unpacked tree). Everything is cached under the work
 * directory (default ~/.cache/altmap-oracle).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { GUEST_INIT } from './guest.ts';
import { ensureKpagesModule, KPAGES_SCRIPT } from './kpages.ts';
import type { OracleProfile } from './types.ts';

/** The kernel package each profile boots by default (Debian 12 bookworm, as of the recording). */
export const DEFAULT_IMAGES: Record<OracleProfile, string> = {
  v6: 'linux-image-6.12.117+deb12-amd64',
  'v6.1': 'linux-image-6.1.0-56-amd64',
};

/** The modules the guest loads (with their dependencies, in dependency order), and which get dyndbg=+p. */
export const GUEST_MODULES = ['libnvdimm', 'nfit', 'nd_btt', 'nd_pmem', 'nd_e820', 'dax_pmem', 'device_dax', 'kmem', 'dax_hmem'] as const;

/** The modules loaded with dyndbg=+p: not nfit (its pr_debug is the ACPI DSM traffic with hex dumps of the label area). */
export const DYNDBG_MODULES: readonly string[] = ['libnvdimm', 'nd_btt', 'nd_pmem', 'nd_e820', 'dax_pmem', 'device_dax', 'kmem', 'dax_hmem'];

/** Host packages and the commands that show they are there. */
export const HOST_PACKAGES: Array<{ pkg: string; probe: string }> = [
  { pkg: 'qemu-system-x86', probe: '/usr/bin/qemu-system-x86_64' },
  { pkg: 'ndctl', probe: '/usr/bin/ndctl' },
  { pkg: 'daxctl', probe: '/usr/bin/daxctl' },
  { pkg: 'busybox-static', probe: '/bin/busybox' },
  { pkg: 'cpio', probe: '/usr/bin/cpio' },
  { pkg: 'kmod', probe: '/usr/bin/kmod' },
  { pkg: 'xz-utils', probe: '/usr/bin/xz' },
];

export type Log = (line: string) => void;

export function defaultWorkdir(): string {
  return process.env.ALTMAP_ORACLE_WORKDIR ?? join(homedir(), '.cache', 'altmap-oracle');
}

function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function tryRun(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

const APT = ['-o', 'APT::Sandbox::User=root'];

/** An error for the CLI: the message says what to do. */
export class OracleSetupError extends Error {}

let aptUpdated = false;
function aptUpdate(log: Log): void {
  if (aptUpdated) return;
  log('apt-get update');
  const r = tryRun('apt-get', [...APT, 'update']);
  if (!r.ok) throw new OracleSetupError(`apt-get update failed:\n${r.err.trim()}`);
  aptUpdated = true;
}

/** Check for (and, as root on a Debian/Ubuntu host, install) the host packages. */
export function ensureHostPackages(log: Log, install = true): void {
  const missing = HOST_PACKAGES.filter((p) => !existsSync(p.probe));
  if (!missing.length) return;
  const names = missing.map((p) => p.pkg);
  const canApt = existsSync('/usr/bin/apt-get') && process.getuid?.() === 0;
  if (!install || !canApt) {
    throw new OracleSetupError(`the oracle needs these packages: ${names.join(' ')}\n  install them with: sudo apt-get install -y ${names.join(' ')}`);
  }
  aptUpdate(log);
  log(`apt-get install -y ${names.join(' ')}`);
  const r = tryRun('apt-get', [...APT, 'install', '-y', '--no-install-recommends', ...names]);
  if (!r.ok) throw new OracleSetupError(`apt-get install ${names.join(' ')} failed:\n${r.err.trim().split('\n').slice(-5).join('\n')}`);
  const still = HOST_PACKAGES.filter((p) => !existsSync(p.probe));
  if (still.length) throw new OracleSetupError(`still missing after apt-get install: ${still.map((p) => p.probe).join(' ')}`);
}

export interface KernelImage {
  profile: OracleProfile;
  /** Debian package name (linux-image-6.12.117+deb12-amd64). */
  pkg: string;
  /** Debian version (6.12.117-1~deb12u1). */
  version: string;
  /** Upstream version (6.12.117): the fixture directory's name. */
  upstream: string;
  /** uname -r */
  release: string;
  /** The unpacked package. */
  root: string;
  vmlinuz: string;
}

function debField(deb: string, field: string): string {
  return run('dpkg-deb', ['-f', deb, field]).trim();
}

/** "6.12.117-1~deb12u1" -> "6.12.117", "6.1.192-2" -> "6.1.192". */
export function upstreamVersion(debVersion: string): string {
  return debVersion.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
}

/** The package names apt offers for a profile, newest first (6.1.0-N-amd64, 6.12.*+deb12-amd64). */
export function availableImages(profile: OracleProfile): string[] {
  const re = profile === 'v6.1' ? /^linux-image-6\.1\.0-\d+-amd64$/ : /^linux-image-6\.12\.\d+\+deb\d+-amd64$/;
  const names = tryRun('apt-cache', ['search', '--names-only', '^linux-image-6\\.']).out.split('\n').map((l) => l.split(' ')[0]!).filter((n) => re.test(n));
  const key = (n: string) => (n.match(/\d+/g) ?? []).map(Number);
  return names.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
    return 0;
  });
}

/**
 * The kernel package of a profile: the one asked for, else the default; when the default is no longer
 * in the archive (Debian replaces kernel ABIs), the newest one of the same series apt offers.
 */
export function resolveImage(profile: OracleProfile, asked: string | undefined, workdir: string, log: Log): string {
  if (asked) return asked;
  const pkg = DEFAULT_IMAGES[profile];
  const debs = join(workdir, 'debs');
  if (existsSync(debs) && readdirSync(debs).some((f) => f.startsWith(`${pkg}_`))) return pkg;
  if (tryRun('apt-cache', ['show', pkg]).ok) return pkg;
  aptUpdate(log);
  if (tryRun('apt-cache', ['show', pkg]).ok) return pkg;
  const alt = availableImages(profile)[0];
  if (!alt) throw new OracleSetupError(`${pkg} is not in the archive, and no other ${profile === 'v6.1' ? 'linux-image-6.1.0-N-amd64' : 'linux-image-6.12.*+deb12-amd64'} is`);
  log(`${pkg} is not in the archive: using ${alt} (the fixtures were recorded with ${pkg})`);
  return alt;
}

/** Download (once) and unpack (once) a Debian kernel package. */
export function ensureKernel(profile: OracleProfile, pkg: string, workdir: string, log: Log): KernelImage {
  const debs = join(workdir, 'debs');
  mkdirSync(debs, { recursive: true });
  const find = () => readdirSync(debs).filter((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  let found = find();
  if (!found.length) {
    log(`apt-get download ${pkg}`);
    let r = spawnSync('apt-get', [...APT, 'download', pkg], { cwd: debs, encoding: 'utf8' });
    if (r.status !== 0) {
      aptUpdate(log);
      r = spawnSync('apt-get', [...APT, 'download', pkg], { cwd: debs, encoding: 'utf8' });
    }
    if (r.status !== 0) {
      const avail = tryRun('apt-cache', ['search', '--names-only', '^linux-image-[0-9.]+.*-amd64$']).out.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
      throw new OracleSetupError(`apt-get download ${pkg} failed: ${(r.stderr ?? '').trim()}\n  available: ${avail.slice(-12).join(' ')}`);
    }
    found = find();
  }
  const deb = join(debs, found.sort().at(-1)!);
  const version = debField(deb, 'Version');
  const root = join(workdir, 'root', `${pkg}_${version}`);
  if (!existsSync(join(root, '.unpacked'))) {
    log(`dpkg-deb -x ${found.at(-1)}`);
    const tmp = `${root}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run('dpkg-deb', ['-x', deb, tmp]);
    rmSync(root, { recursive: true, force: true });
    renameSync(tmp, root);
    const rel = readdirSync(join(root, 'lib', 'modules'))[0]!;
    run('depmod', ['-b', root, rel]);
    writeFileSync(join(root, '.unpacked'), `${deb}\n`);
  }
  const release = readdirSync(join(root, 'lib', 'modules'))[0]!;
  const vmlinuz = join(root, 'boot', `vmlinuz-${release}`);
  if (!existsSync(vmlinuz)) throw new OracleSetupError(`${pkg}: no ${vmlinuz} in the package`);
  return { profile, pkg, version, upstream: upstreamVersion(version), release, root, vmlinuz };
}

/** The modules to load, dependencies first, as paths relative to lib/modules/<release>/ (compressed as shipped). */
export function moduleOrder(k: KernelImage): Array<{ name: string; rel: string; dyndbg: boolean }> {
  const base = join(k.root, 'lib', 'modules', k.release);
  const seen = new Set<string>();
  const out: Array<{ name: string; rel: string; dyndbg: boolean }> = [];
  for (const m of GUEST_MODULES) {
    // -C /dev/null: the host's modprobe.d (ndctl's "install libnvdimm ... load-keys") does not apply to the guest
    const r = tryRun('modprobe', ['-C', '/dev/null', '-d', k.root, '-S', k.release, '--show-depends', m]);
    if (!r.ok) throw new OracleSetupError(`modprobe --show-depends ${m} against ${k.root}: ${r.err.trim()}`);
    for (const line of r.out.split('\n')) {
      const f = /^insmod (\S+)/.exec(line);
      if (!f || seen.has(f[1]!)) continue;
      seen.add(f[1]!);
      const rel = f[1]!.slice(base.length + 1);
      const name = rel.split('/').at(-1)!.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '');
      out.push({ name, rel, dyndbg: DYNDBG_MODULES.includes(name.replace(/-/g, '_')) });
    }
  }
  return out;
}

/** Shared libraries of a binary (ldd), including the dynamic loader. */
function sharedLibs(bin: string): string[] {
  const out = run('ldd', [bin]);
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

function sha(parts: Array<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 12);
}

export interface Initramfs {
  path: string;
  modules: Array<{ name: string; rel: string; dyndbg: boolean }>;
}

const TOOLS = ['/usr/bin/ndctl', '/usr/bin/daxctl'];

/** Build (once per kernel, init script and tool binaries) the base initramfs: gzip'd newc cpio. */
export function ensureInitramfs(k: KernelImage, workdir: string, log: Log, kpagesModule: string | null = null): Initramfs {
  const shipped = moduleOrder(k);
  const modules = shipped.map((m) => ({ ...m, rel: m.rel.replace(/\.(xz|zst|gz)$/, '') }));
  const helper = kpagesModule ? readFileSync(kpagesModule) : Buffer.alloc(0);
  const key = sha([GUEST_INIT, KPAGES_SCRIPT, helper, k.release, k.version, JSON.stringify(modules), ...TOOLS.map((t) => readFileSync(t)), readFileSync('/bin/busybox')]);
  const dir = join(workdir, 'initramfs');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${k.release}-${key}.cpio.gz`);
  if (existsSync(path)) return { path, modules };
  log(`building the initramfs for ${k.release}`);
  const tree = join(dir, `tree-${k.release}-${key}`);
  rmSync(tree, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'run', 'case', 'var/run']) mkdirSync(join(tree, d), { recursive: true });
  copyFileSync('/bin/busybox', join(tree, 'bin/busybox'));
  chmodSync(join(tree, 'bin/busybox'), 0o755);
  const libs = new Set<string>();
  for (const t of TOOLS) {
    copyFileSync(t, join(tree, t));
    chmodSync(join(tree, t), 0o755);
    for (const l of sharedLibs(t)) libs.add(l);
  }
  for (const l of libs) {
    mkdirSync(join(tree, dirname(l)), { recursive: true });
    copyFileSync(l, join(tree, l)); // copyFileSync follows symlinks: the library itself under its soname
  }
  // modules, decompressed (busybox insmod takes plain .ko), with the package's module indexes and a depmod over them
  const mbase = join('lib', 'modules', k.release);
  for (const [i, m] of shipped.entries()) {
    const src = join(k.root, mbase, m.rel);
    const dst = join(tree, mbase, modules[i]!.rel);
    mkdirSync(dirname(dst), { recursive: true });
    if (src.endsWith('.xz')) writeFileSync(dst, execFileSync('xz', ['-dc', src], { maxBuffer: 256 << 20 }));
    else if (src.endsWith('.zst')) writeFileSync(dst, execFileSync('zstd', ['-dc', src], { maxBuffer: 256 << 20 }));
    else copyFileSync(src, dst);
  }
  for (const f of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
    if (existsSync(join(k.root, mbase, f))) copyFileSync(join(k.root, mbase, f), join(tree, mbase, f));
  }
  if (kpagesModule) {
    mkdirSync(join(tree, mbase, 'extra'), { recursive: true });
    copyFileSync(kpagesModule, join(tree, mbase, 'extra', 'altmap_pages.ko'));
  }
  writeFileSync(join(tree, 'bin', 'kpages'), KPAGES_SCRIPT);
  chmodSync(join(tree, 'bin', 'kpages'), 0o755);
  run('depmod', ['-b', tree, k.release]);
  writeFileSync(join(tree, 'etc', 'modules.list'), modules.map((m) => `${m.rel} ${m.dyndbg ? 'dyndbg=+p' : ''}`.trim()).join('\n') + '\n');
  writeFileSync(join(tree, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(tree, 'init'), GUEST_INIT);
  chmodSync(join(tree, 'init'), 0o755);
  const tmp = `${path}.tmp`;
  execFileSync('sh', ['-c', `cd "${tree}" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible 2>/dev/null | gzip -1 > "${tmp}"`]);
  if (statSync(tmp).size < 1 << 20) throw new OracleSetupError(`the initramfs ${tmp} came out too small`);
  renameSync(tmp, path);
  rmSync(tree, { recursive: true, force: true });
  return { path, modules };
}

export interface ToolVersions {
  qemu: string;
  ndctl: string;
  daxctl: string;
  busybox: string;
  ndctlPackage: string;
  qemuPackage: string;
  host: { hostname: string; os: string; kernel: string; cpu: string; cores: number };
}

function pkgVersion(p: string): string {
  return tryRun('dpkg-query', ['-W', '-f', '${Version}', p]).out.trim();
}

export function toolVersions(): ToolVersions {
  const osr = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const cpu = existsSync('/proc/cpuinfo') ? (/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '') : '';
  return {
    qemu: tryRun('qemu-system-x86_64', ['--version']).out.split('\n')[0]!.trim(),
    ndctl: tryRun('ndctl', ['--version']).out.trim(),
    daxctl: tryRun('daxctl', ['--version']).out.trim(),
    busybox: tryRun('busybox', []).out.split('\n')[0]!.trim(),
    ndctlPackage: pkgVersion('ndctl'),
    qemuPackage: pkgVersion('qemu-system-x86'),
    host: {
      hostname: hostname(),
      os: /PRETTY_NAME="([^"]*)"/.exec(osr)?.[1] ?? 'unknown',
      kernel: tryRun('uname', ['-r']).out.trim(),
      cpu,
      cores: Number(tryRun('nproc', []).out.trim()) || 1,
    },
  };
}

/** Everything a boot needs, set up (or found in the cache). */
export function prepare(profile: OracleProfile, opts: { pkg?: string; workdir?: string; install?: boolean; log?: Log; structPages?: boolean } = {}): { kernel: KernelImage; initramfs: Initramfs; workdir: string } {
  const log = opts.log ?? (() => {});
  const workdir = opts.workdir ?? defaultWorkdir();
  mkdirSync(workdir, { recursive: true });
  ensureHostPackages(log, opts.install ?? true);
  const kernel = ensureKernel(profile, resolveImage(profile, opts.pkg, workdir, log), workdir, log);
  const initramfs = ensureInitramfs(kernel, workdir, log, opts.structPages ? ensureKpagesModule(kernel, workdir, log) : null);
  return { kernel, initramfs, workdir };
}
