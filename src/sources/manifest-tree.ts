// Lists the manifest files under a --manifests directory. Symbolic links are
// followed (ConfigMap mounts are made of them), but each directory is read
// once, known by device and inode, so `ln -s . current` cannot make the walk
// endless; depth and size are bounded. Every skipped entry is reported.
import type { Dirent, Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { SourceError } from '../api/snapshot.ts';

export interface TreeLimits {
  /** Directory levels below the root that are read (default 16, documented in the README). */
  maxDepth?: number | undefined;
  /** Manifest files and directories read, the root included (default 10,000, documented in the README). */
  maxEntries?: number | undefined;
}

const MANIFEST = /\.(ya?ml|json)$/;

export interface ManifestTree {
  /** Manifest files, by path, in a stable order. */
  files: string[];
  /** The directories read, by path (the root first): the ones to watch. */
  directories: string[];
  errors: SourceError[];
  /** False when a bound was hit or a directory could not be read: files not listed may still exist. */
  complete: boolean;
}

export async function listManifests(root: string, limits: TreeLimits = {}): Promise<ManifestTree> {
  const { maxDepth = 16, maxEntries = 10_000 } = limits;
  const rootInfo = await stat(root);
  const tree: ManifestTree = { files: [], directories: [], errors: [], complete: true };
  if (!rootInfo.isDirectory()) {
    tree.files.push(root);
    return tree;
  }
  /** Directories read so far, by device and inode, with the path they were read at. */
  const seen = new Map<string, string>();
  const report = (origin: string, message: string) => tree.errors.push({ origin, message });
  let full = false;

  const walk = async (dir: string, rel: string, info: Stats, depth: number): Promise<void> => {
    seen.set(`${info.dev}:${info.ino}`, rel || '.');
    tree.directories.push(dir);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      tree.complete = false;
      report(rel || root, `cannot read this directory: ${(error as Error).message}`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      // Hidden entries are skipped, such as the ..data directory of a ConfigMap mount (its files are linked from the top).
      if (entry.name.startsWith('.')) continue;
      const maybeManifest = MANIFEST.test(entry.name);
      if (!entry.isDirectory() && !entry.isSymbolicLink() && !maybeManifest) continue;
      const path = join(dir, entry.name);
      const relPath = join(rel, entry.name);
      if (full) return;
      if (tree.files.length + tree.directories.length >= maxEntries) {
        tree.complete = false;
        full = true;
        report(
          relPath,
          `not read, nor what follows: more than ${maxEntries} files and directories under ${root}`,
        );
        return;
      }
      let target: Stats | undefined;
      if (entry.isDirectory() || entry.isSymbolicLink()) {
        try {
          target = await stat(path);
        } catch (error) {
          // A dangling link, a link loop (ELOOP), or removed while listing: nothing to read, but say so.
          report(relPath, `cannot read: ${(error as Error).message}`);
          continue;
        }
      }
      if (target?.isDirectory()) {
        const first = seen.get(`${target.dev}:${target.ino}`);
        if (first !== undefined) {
          report(relPath, `the same directory as ${first}, already read: not followed (a symlink loop?)`);
        } else if (depth >= maxDepth) {
          tree.complete = false;
          report(relPath, `not read: more than ${maxDepth} directory levels below ${root}`);
        } else {
          await walk(path, relPath, target, depth + 1);
        }
      } else if (maybeManifest && (target ? target.isFile() : entry.isFile())) {
        tree.files.push(path);
      }
    }
  };
  await walk(root, '', rootInfo, 0);
  return tree;
}
