// Standalone source: a file or directory of YAML manifests, followed live.
// Changes are debounced into one rescan (never more than a max wait late, so
// files that keep changing are still read); unchanged files are not re-read, and
// files are parsed in a worker thread (manifest-reader.ts), never on the loop
// that serves requests. Nothing valid is lost to a mistake: a file that
// breaks, empties or grows over the size limit keeps its last good objects, a
// broken document keeps the last good version of the object it describes, and
// a namespace/name stays with the file read first. Errors name file and document.
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, relative } from 'node:path';
import { failuresText } from '../api/failure.ts';
import { objectKey, type Snapshot, type SourceError } from '../api/snapshot.ts';
import type { LambdaRouteObject, SecretObject } from '../api/types.ts';
import { validateSpec } from '../api/validate.ts';
import { Debounce } from '../util/debounce.ts';
import { ManifestReader, type ReadError } from './manifest-reader.ts';
import { listManifests, type TreeLimits } from './manifest-tree.ts';
import type { ParsedManifests } from './manifests.ts';

export interface FileSourceOptions extends TreeLimits {
  /** Quiet time after a change before rescanning (default 100 ms). */
  debounceMs?: number;
  /** Longest delay of a rescan while files keep changing (default 1 s). */
  maxWaitMs?: number;
  /** Rescan period, for file systems whose change events are unreliable (default 10 s). */
  pollIntervalMs?: number;
  /** Larger files are reported and not read (default 8 MiB, documented in the README). */
  maxFileBytes?: number;
}

const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;

interface FileState {
  /** inode, mtime and size: a file is re-read only when this changes. */
  stamp: string;
  routes: LambdaRouteObject[];
  secrets: SecretObject[];
  errors: SourceError[];
  /** Keys of the routes in `routes` whose spec is valid: the ones worth keeping when a later edit breaks them. */
  validRoutes: Set<string>;
  /** When each object ("LambdaRoute default/a") was first read from this file, as a rank: lower was read earlier. */
  firstRead: Map<string, number>;
}

export class FileSource {
  readonly #root: string;
  readonly #pollIntervalMs: number;
  readonly #limits: TreeLimits;
  readonly #maxFileBytes: number;
  readonly #reader = new ManifestReader();
  /** The next first-read rank: files are read in path order, documents in order, so ties go to the first path. */
  #nextRank = 0;
  #files = new Map<string, FileState>();
  #rootError: SourceError | undefined;
  /** What the last listing skipped or could not read (symlink loops, bounds). */
  #treeErrors: SourceError[] = [];
  /** The directories the last listing read: each is watched on its own. */
  #directories: string[] = [];
  /** Watchers by directory; one non-recursive watch each, so a link loop is never followed by fs.watch. */
  readonly #watchers = new Map<string, FSWatcher>();
  #onEvent: (() => void) | undefined;
  #poll: NodeJS.Timeout | undefined;
  readonly #debounce: Debounce;
  #onChange: ((snapshot: Snapshot) => void) | undefined;
  #scanning: Promise<boolean> | undefined;

  constructor(root: string, options: FileSourceOptions = {}) {
    this.#root = root;
    this.#pollIntervalMs = options.pollIntervalMs ?? 10_000;
    this.#debounce = new Debounce(() => void this.#reload(), {
      quietMs: options.debounceMs ?? 100,
      maxWaitMs: options.maxWaitMs ?? 1000,
    });
    this.#limits = { maxDepth: options.maxDepth, maxEntries: options.maxEntries };
    this.#maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  /** Reads everything once. Fails only when the path does not exist at all. */
  async load(): Promise<Snapshot> {
    await stat(this.#root);
    await this.#rescan();
    return this.snapshot();
  }

  /**
   * Calls `onChange` with a new snapshot after every change that alters what
   * was read. Resolves once the watch is in place; changes made since load()
   * are picked up too.
   */
  async watch(onChange: (snapshot: Snapshot) => void): Promise<void> {
    this.#onChange = onChange;
    const schedule = () => this.#debounce.trigger();
    const isDirectory = await stat(this.#root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (isDirectory) {
      this.#onEvent = schedule;
      this.#syncWatchers();
    } else {
      // A single file is watched through its directory: editors and ConfigMap
      // mounts replace files by rename, which a watch on the file would miss.
      // Only its own name counts, and the "..data" swaps of a ConfigMap mount.
      const name = basename(this.#root);
      this.#watch(
        dirname(this.#root),
        (changed) => changed === null || changed === name || changed.startsWith('..'),
        schedule,
      );
    }
    this.#poll = setInterval(schedule, this.#pollIntervalMs);
    this.#poll.unref();
    schedule();
  }

  close(): void {
    this.#onEvent = undefined;
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    clearInterval(this.#poll);
    this.#debounce.cancel();
    this.#reader.close();
  }

  snapshot(): Snapshot {
    const routes = new Map<string, { object: LambdaRouteObject; rank: number }>();
    const secrets = new Map<string, { object: SecretObject; rank: number }>();
    const errors: SourceError[] = this.#rootError ? [this.#rootError] : [...this.#treeErrors];
    for (const [, file] of [...this.#files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      errors.push(...file.errors);
      for (const [kind, map, objects] of [
        ['LambdaRoute', routes, file.routes],
        ['Secret', secrets, file.secrets],
      ] as const) {
        for (const object of objects) {
          const key = objectKey(object.metadata);
          const rank = file.firstRead.get(`${kind} ${key}`) ?? Infinity;
          const held = map.get(key);
          // The object read first keeps the name: a file added later cannot take it over.
          const [kept, ignored] =
            !held || rank < held.rank ? [{ object, rank }, held?.object] : [held, object];
          (map as Map<string, typeof kept>).set(key, kept);
          if (ignored) {
            errors.push({
              origin: ignored.origin!,
              message: `${kind} ${key} is already defined in ${kept.object.origin} (loaded first); ignoring this one`,
            });
          }
        }
      }
    }
    return {
      routes: [...routes.values()].map((r) => r.object),
      secrets: new Map([...secrets].map(([key, s]) => [key, s.object])),
      errors,
    };
  }

  /** Rescans after a change (debounced), and passes on the snapshot if anything changed. */
  async #reload(): Promise<void> {
    if ((await this.#rescan()) && this.#onChange) this.#onChange(this.snapshot());
  }

  /** Rescans (one scan at a time); resolves true when anything changed. */
  #rescan(): Promise<boolean> {
    const run = (this.#scanning ?? Promise.resolve(false)).then(() => this.#scan());
    this.#scanning = run.catch(() => false);
    return run;
  }

  async #scan(): Promise<boolean> {
    let tree: Awaited<ReturnType<typeof listManifests>>;
    try {
      tree = await listManifests(this.#root, this.#limits);
    } catch (error) {
      // The directory vanished or is unreadable: keep serving what was read before.
      const message = `cannot read ${this.#root}: ${(error as Error).message}; keeping the last good configuration`;
      const changed = this.#rootError?.message !== message;
      this.#rootError = { origin: this.#root, message };
      return changed;
    }
    const errorsText = (errors: SourceError[]) => errors.map((e) => `${e.origin}: ${e.message}`).join('\n');
    let changed = this.#rootError !== undefined || errorsText(this.#treeErrors) !== errorsText(tree.errors);
    this.#rootError = undefined;
    this.#treeErrors = tree.errors;
    this.#directories = tree.directories;
    this.#syncWatchers();
    const next = new Map<string, FileState>();
    for (const path of tree.files) {
      const previous = this.#files.get(path);
      const state = await this.#read(path, previous);
      if (state) next.set(path, state);
      if (state !== previous) changed = true;
    }
    // A listing cut short by a bound or an unreadable directory does not delete the files it did not reach.
    if (!tree.complete) for (const [path, state] of this.#files) if (!next.has(path)) next.set(path, state);
    if (next.size !== this.#files.size) changed = true;
    this.#files = next;
    return changed;
  }

  /** Watches each directory read (once watching), and stops watching those no longer read. */
  #syncWatchers(): void {
    const onEvent = this.#onEvent;
    if (!onEvent) return;
    const wanted = new Set(this.#directories);
    for (const [dir, watcher] of this.#watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of wanted) if (!this.#watchers.has(dir)) this.#watch(dir, () => true, onEvent);
  }

  /** A non-recursive watch on `dir`; a watch that fails later (the directory went away) is dropped and a rescan follows. */
  #watch(dir: string, relevant: (changed: string | null) => boolean, onEvent: () => void): void {
    let watcher: FSWatcher;
    const drop = () => {
      watcher.close();
      if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
    };
    const self = basename(dir);
    try {
      watcher = watch(dir, (event, changed) => {
        // A watch on a directory that is removed reports its own name, then nothing more: drop it,
        // and the rescan watches the path afresh (a re-created directory may even reuse the inode).
        if (event === 'rename' && changed === self && this.#onEvent) drop();
        if (relevant(changed)) onEvent();
      });
    } catch {
      return; // gone since it was listed, or out of inotify watches: the periodic rescan still sees changes
    }
    watcher.on('error', () => {
      drop();
      onEvent();
    });
    this.#watchers.set(dir, watcher);
  }

  /** The file's state, `previous` itself when unchanged, or undefined when it is gone. */
  async #read(path: string, previous: FileState | undefined): Promise<FileState | undefined> {
    const name = this.#root === path ? path : relative(this.#root, path);
    let stamp: string;
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      stamp = `${info.ino}:${info.mtimeMs}:${info.size}`;
      if (previous?.stamp === stamp) return previous;
      if (info.size > this.#maxFileBytes) {
        const message = `${sizeOf(info.size)} is over the ${sizeOf(this.#maxFileBytes)} limit for one manifest file: not read`;
        return keepPrevious(stamp, previous, [{ origin: name, message }]);
      }
    } catch {
      return undefined; // deleted between listing and reading
    }
    try {
      const parsed = await this.#reader.read(path, name);
      return keepLastGood(stamp, parsed, previous, name, () => this.#nextRank++);
    } catch (error) {
      const { code, message } = error as ReadError;
      if (code === 'ENOENT') return undefined;
      return keepPrevious(stamp, previous, [
        { origin: name, message: code ? `cannot read: ${message}` : message },
      ]);
    }
  }
}

/** "52,428,800 bytes (50.0 MiB)", "3,156 bytes". */
const sizeOf = (bytes: number) =>
  `${bytes.toLocaleString('en')} bytes${bytes >= 2 ** 20 ? ` (${(bytes / 2 ** 20).toFixed(1)} MiB)` : ''}`;

function keepLastGood(
  stamp: string,
  parsed: ParsedManifests,
  previous: FileState | undefined,
  name: string,
  nextRank: () => number,
): FileState {
  // A file that breaks or empties (a generator truncating it, a slow writer) keeps its last objects.
  if (hasObjects(previous)) {
    if (parsed.unreadable) return keepPrevious(stamp, previous, parsed.errors);
    if (parsed.routes.length + parsed.secrets.length + parsed.errors.length === 0) {
      return keepPrevious(stamp, previous, [{ origin: name, message: 'the file is empty' }]);
    }
  }
  const errors: SourceError[] = [];
  const validRoutes = new Set<string>();
  const routes = parsed.routes.map((route) => {
    const key = objectKey(route.metadata);
    const result = validateSpec(route.spec);
    if (result.ok) {
      validRoutes.add(key);
      return route;
    }
    const last = previous?.validRoutes.has(key) && previous.routes.find((r) => objectKey(r.metadata) === key);
    if (!last) return route; // new and invalid: compile() reports it on the route itself
    errors.push({
      origin: route.origin!,
      message: `LambdaRoute ${key} is invalid (${failuresText(result.failures)}); still serving the previous version`,
    });
    validRoutes.add(key);
    return last;
  });
  // A Secret whose data breaks keeps its last good version; a new one is passed on, so that routes say what is wrong.
  const secrets = parsed.secrets.filter((s) => !s.invalidKeys);
  for (const error of parsed.errors) {
    const named = (s: SecretObject) => objectKey(s.metadata) === error.secret;
    const last = error.secret && previous?.secrets.find((s) => named(s) && !s.invalidKeys);
    const kept = last || parsed.secrets.find((s) => named(s) && s.invalidKeys);
    if (kept) secrets.push(kept);
    errors.push(
      last
        ? { origin: error.origin, message: `${error.message}; still using the previous version` }
        : { origin: error.origin, message: error.message },
    );
  }
  const firstRead = new Map<string, number>();
  for (const [kind, objects] of [
    ['LambdaRoute', routes],
    ['Secret', secrets],
  ] as const) {
    for (const object of objects) {
      const id = `${kind} ${objectKey(object.metadata)}`;
      firstRead.set(id, previous?.firstRead.get(id) ?? firstRead.get(id) ?? nextRank());
    }
  }
  for (const route of routes) {
    const rank = firstRead.get(`LambdaRoute ${objectKey(route.metadata)}`);
    if (!route.metadata.creationTimestamp && rank !== undefined) route.readOrder = rank;
  }
  return { stamp, routes, secrets, errors, validRoutes, firstRead };
}

const hasObjects = (state: FileState | undefined): state is FileState =>
  state !== undefined && state.routes.length + state.secrets.length > 0;

/** The previous objects of a file that cannot be read now, with why; no objects when there were none. */
function keepPrevious(
  stamp: string,
  previous: FileState | undefined,
  problems: readonly SourceError[],
): FileState {
  if (!hasObjects(previous)) {
    const errors = problems.map(({ origin, message }) => ({ origin, message }));
    return { stamp, routes: [], secrets: [], errors, validRoutes: new Set(), firstRead: new Map() };
  }
  const kept = previous.routes.length + previous.secrets.length;
  const errors = problems.map((e) => ({
    origin: e.origin,
    message: `${e.message}; keeping the ${kept} object(s) last read from this file until it is fixed or deleted`,
  }));
  return { ...previous, stamp, errors };
}
