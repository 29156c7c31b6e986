/**
 * The kernel's own files as a tree (what kernfs and procfs expose): directories list their
 * entries, files read as the kernel formats them, and writable files take a write the way
 * `echo x > file` (or `>>`) hands it to the store() method, refusing with the kernel's errno.
 */
import { KernelError, invalid, show } from './errno.ts';

export interface VfsFile {
  kind: 'file';
  read(): string;
  /** The attribute's store(); absent for read-only files (EACCES, as for mode 0444). */
  write?(text: string, append: boolean): void;
}

export interface VfsDir {
  kind: 'dir';
  /** What ".." leads to when it is not the directory the path came through (sysfs's device tree behind a bus link). */
  parent?: VfsDir;
  /** For a directory reached through a symlink (a bus's devices/X): the link's target, as readlink(2) returns it. */
  link?: string;
  /** Entry names, sorted as ls sorts them. */
  list(): string[];
  child(name: string): VfsNode | null;
}

export type VfsNode = VfsFile | VfsDir;

export const file = (read: () => string, write?: VfsFile['write']): VfsFile => ({ kind: 'file', read, ...(write ? { write } : {}) });

/** A directory of fixed entries (each made when looked up, so it shows the state of that moment). */
export function dir(entries: () => Record<string, () => VfsNode>): VfsDir {
  return {
    kind: 'dir',
    list: () => Object.keys(entries()).sort(),
    child: (name) => {
      const e = entries();
      return Object.hasOwn(e, name) ? e[name]() : null;
    },
  };
}

/** Resolve an absolute path. */
export function lookup(root: VfsDir, path: unknown): VfsNode {
  if (typeof path !== 'string' || !path.startsWith('/')) invalid(`path ${show(path)} is not an absolute path`);
  let node: VfsNode = root;
  const up: VfsDir[] = [];
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  for (const [i, part] of parts.entries()) {
    if (node.kind !== 'dir') throw new KernelError('ENOTDIR', `${'/' + parts.slice(0, i).join('/')}: not a directory`);
    if (part === '..') {
      node = node.parent ?? up.pop() ?? root;
      continue;
    }
    up.push(node);
    const next: VfsNode | null = node.child(part);
    if (!next) throw new KernelError('ENOENT', `${path}: no such file or directory`);
    node = next;
  }
  return node;
}

export function readFile(root: VfsDir, path: string): string {
  const n = lookup(root, path);
  if (n.kind === 'dir') throw new KernelError('EISDIR', `${path}: is a directory`);
  return n.read();
}

/** readlink(2): EINVAL for what is not a symlink. */
export function readLink(root: VfsDir, path: string): string {
  const n = lookup(root, path);
  if (n.kind !== 'dir' || n.link === undefined) throw new KernelError('EINVAL', `${path}: not a symbolic link`);
  return n.link;
}

export function listDir(root: VfsDir, path: string): string[] {
  const n = lookup(root, path);
  if (n.kind !== 'dir') throw new KernelError('ENOTDIR', `${path}: not a directory`);
  return n.list();
}

export function writeFile(root: VfsDir, path: string, text: string, append: boolean): void {
  const n = lookup(root, path);
  if (n.kind === 'dir') throw new KernelError('EISDIR', `${path}: is a directory`);
  if (!n.write) throw new KernelError('EACCES', `${path}: permission denied (read-only)`);
  n.write(text, append);
}
