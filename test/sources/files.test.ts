import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/api/snapshot.ts';
import { FileSource, type FileSourceOptions } from '../../src/sources/files.ts';

const route = (name: string, path: string) => `apiVersion: lambda-ingress.io/v1alpha1
kind: LambdaRoute
metadata: {name: ${name}}
spec:
  match: {path: ${path}}
  target: {url: "http://upstream.internal"}
`;
const secret = (name: string, value: string) => `apiVersion: v1
kind: Secret
metadata: {name: ${name}}
data: {apiKey: ${Buffer.from(value).toString('base64')}}
`;

/** Ten lines that expand to 9^4 nodes: the "billion laughs" of YAML. */
const aliasBomb = `apiVersion: v1
kind: Secret
metadata: {name: bomb}
stringData:
  a: &a ["x","x","x","x","x","x","x","x","x"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
`;

const routePaths = (s: Snapshot) =>
  Object.fromEntries(
    s.routes.map((r) => [r.metadata.name, (r.spec as { match: { path: string } }).match.path]),
  );

describe('FileSource', () => {
  let dir: string;
  let source: FileSource;
  let snapshots: Snapshot[];

  /** Resolves with the first snapshot (after the ones already seen) that satisfies `predicate`. */
  const nextSnapshot = (predicate: (s: Snapshot) => boolean) =>
    new Promise<Snapshot>((resolve, reject) => {
      const seen = snapshots.length;
      const deadline = Date.now() + 5000;
      const check = () => {
        const found = snapshots.slice(seen).find(predicate);
        if (found) resolve(found);
        else if (Date.now() > deadline)
          reject(new Error(`no matching snapshot; last: ${JSON.stringify(snapshots.at(-1)?.errors)}`));
        else setTimeout(check, 20);
      };
      check();
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lambda-ingress-files-'));
    snapshots = [];
  });
  afterEach(() => {
    source?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(path = dir, options: FileSourceOptions = {}) {
    source = new FileSource(path, { debounceMs: 30, pollIntervalMs: 60_000, ...options });
    const first = await source.load();
    await source.watch((s) => snapshots.push(s));
    return first;
  }

  it('reads multi-document files recursively, with base64 data and stringData', async () => {
    mkdirSync(join(dir, 'nested'));
    writeFileSync(join(dir, 'a.yaml'), `${route('a', '/a')}---\n${secret('k', 'value-1')}`);
    writeFileSync(join(dir, 'nested', 'b.yml'), route('b', '/b'));
    writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
    const first = await start();
    expect(routePaths(first)).toEqual({ a: '/a', b: '/b' });
    expect(first.secrets.get('default/k')?.data['apiKey']?.toString()).toBe('value-1');
    expect(first.errors).toEqual([]);
    expect(first.routes.find((r) => r.metadata.name === 'b')?.origin).toBe('nested/b.yml#0');
  });

  it('follows edits, additions and deletions', async () => {
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
    await start();
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a-edited'));
    expect(routePaths(await nextSnapshot((s) => routePaths(s)['a'] === '/a-edited'))).toEqual({
      a: '/a-edited',
    });
    writeFileSync(join(dir, 'b.yaml'), route('b', '/b'));
    await nextSnapshot((s) => 'b' in routePaths(s));
    rmSync(join(dir, 'a.yaml'));
    expect(routePaths(await nextSnapshot((s) => !('a' in routePaths(s))))).toEqual({ b: '/b' });
  });

  it('rescans within the max wait while a file keeps changing', async () => {
    const file = join(dir, 'a.yaml');
    writeFileSync(file, route('a', '/a-0'));
    await start(dir, { debounceMs: 100, maxWaitMs: 300 });
    // A write every 40 ms never leaves 100 ms of quiet: only the max wait rescans.
    for (let i = 1; i <= 25; i++) {
      writeFileSync(file, route('a', `/a-${i}`));
      await new Promise((r) => setTimeout(r, 40));
    }
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    await nextSnapshot((s) => routePaths(s)['a'] === '/a-25');
  });

  it('follows files replaced by rename, as editors and ConfigMap mounts do', async () => {
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
    await start();
    writeFileSync(join(dir, '.a.yaml.tmp'), route('a', '/renamed'));
    renameSync(join(dir, '.a.yaml.tmp'), join(dir, 'a.yaml'));
    await nextSnapshot((s) => routePaths(s)['a'] === '/renamed');
  });

  it('keeps the last good objects of a file whose YAML breaks, and names the file and document', async () => {
    writeFileSync(join(dir, 'a.yaml'), `${route('a', '/a')}---\n${secret('k', 'v')}`);
    writeFileSync(join(dir, 'other.yaml'), route('other', '/other'));
    await start();
    writeFileSync(join(dir, 'a.yaml'), `${route('a', '/a2')}---\nkind: [unclosed\n`);
    const broken = await nextSnapshot((s) => s.errors.length > 0);
    expect(routePaths(broken)).toEqual({ a: '/a', other: '/other' });
    expect(broken.secrets.has('default/k')).toBe(true);
    expect(broken.errors).toEqual([
      {
        origin: 'a.yaml#1',
        message: expect.stringMatching(
          /^invalid YAML: .*; keeping the 2 object\(s\) last read from this file until it is fixed or deleted$/,
        ),
      },
    ]);
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a3'));
    const fixed = await nextSnapshot((s) => s.errors.length === 0);
    expect(routePaths(fixed)).toEqual({ a: '/a3', other: '/other' });
    expect(fixed.secrets.has('default/k')).toBe(false);
  });

  it('keeps the previous version of a route whose new spec is invalid', async () => {
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
    await start();
    writeFileSync(join(dir, 'a.yaml'), route('a', 'no-slash'));
    const s = await nextSnapshot((x) => x.errors.length > 0);
    expect(routePaths(s)).toEqual({ a: '/a' });
    expect(s.errors[0]).toEqual({
      origin: 'a.yaml#0',
      message: expect.stringMatching(
        /^LambdaRoute default\/a is invalid \(spec\.match\.path: .*\); still serving the previous version$/,
      ),
    });
  });

  it('keeps the previous version of a Secret whose data breaks', async () => {
    writeFileSync(join(dir, 's.yaml'), secret('k', 'good'));
    await start();
    writeFileSync(
      join(dir, 's.yaml'),
      'apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ndata: {apiKey: "%%%"}\n',
    );
    const s = await nextSnapshot((x) => x.errors.length > 0);
    expect(s.secrets.get('default/k')?.data['apiKey']?.toString()).toBe('good');
    expect(s.errors[0]?.message).toMatch(/data.apiKey is not valid base64.*still using the previous version/);
  });

  it('reports an object defined in two files and keeps the first', async () => {
    writeFileSync(join(dir, 'a.yaml'), route('dup', '/from-a'));
    writeFileSync(join(dir, 'b.yaml'), route('dup', '/from-b'));
    const first = await start();
    expect(routePaths(first)).toEqual({ dup: '/from-a' });
    expect(first.errors).toEqual([
      {
        origin: 'b.yaml#0',
        message: 'LambdaRoute default/dup is already defined in a.yaml#0 (loaded first); ignoring this one',
      },
    ]);
  });

  it('keeps an object with the file that defined it first: a file added later cannot take its name', async () => {
    writeFileSync(join(dir, 'b.yaml'), `${route('dup', '/from-b')}---\n${secret('k', 'from-b')}`);
    await start();
    writeFileSync(join(dir, 'a.yaml'), `${route('dup', '/from-a')}---\n${secret('k', 'from-a')}`);
    const s = await nextSnapshot((x) => x.errors.length > 0);
    expect(routePaths(s)).toEqual({ dup: '/from-b' });
    expect(s.secrets.get('default/k')?.data['apiKey']?.toString()).toBe('from-b');
    expect(s.errors).toEqual([
      {
        origin: 'a.yaml#0',
        message: 'LambdaRoute default/dup is already defined in b.yaml#0 (loaded first); ignoring this one',
      },
      {
        origin: 'a.yaml#1',
        message: 'Secret default/k is already defined in b.yaml#1 (loaded first); ignoring this one',
      },
    ]);
    // Editing the holder keeps it the holder; deleting it hands the name over.
    writeFileSync(join(dir, 'b.yaml'), route('dup', '/from-b2'));
    await nextSnapshot((x) => routePaths(x)['dup'] === '/from-b2');
    rmSync(join(dir, 'b.yaml'));
    const after = await nextSnapshot((x) => routePaths(x)['dup'] === '/from-a');
    expect(after.errors).toEqual([]);
  });

  it('ranks objects by when they were first read: at start-up by file path and document index, later ones after', async () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'c.yaml'), route('c', '/c'));
    writeFileSync(join(dir, 'b.yaml'), `${route('b1', '/b1')}---\n${route('b0', '/b0')}`);
    const order = (s: Snapshot) => Object.fromEntries(s.routes.map((r) => [r.metadata.name, r.readOrder]));
    const first = await start();
    expect(order(first)).toEqual({ b1: 0, b0: 1, c: 2 });
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
    writeFileSync(join(dir, 'b.yaml'), `${route('b1', '/b1-edited')}---\n${route('b0', '/b0')}`);
    const later = await nextSnapshot((s) => 'a' in routePaths(s) && routePaths(s)['b1'] === '/b1-edited');
    expect(order(later)).toEqual({ a: 3, b1: 0, b0: 1, c: 2 });
  });

  it('watches a single file', async () => {
    const file = join(dir, 'routes.yaml');
    writeFileSync(file, route('a', '/a'));
    writeFileSync(join(dir, 'ignored.yaml'), route('ignored', '/ignored'));
    expect(routePaths(await start(file))).toEqual({ a: '/a' });
    writeFileSync(file, route('a', '/b'));
    await nextSnapshot((s) => routePaths(s)['a'] === '/b');
  });

  it('fails to load a path that does not exist', async () => {
    await expect(new FileSource(join(dir, 'missing')).load()).rejects.toThrow(/ENOENT/);
  });

  it('keeps everything when the directory disappears, and says so', async () => {
    const sub = join(dir, 'manifests');
    mkdirSync(sub);
    writeFileSync(join(sub, 'a.yaml'), route('a', '/a'));
    await start(sub);
    rmSync(sub, { recursive: true });
    const s = await nextSnapshot((x) => x.errors.length > 0);
    expect(routePaths(s)).toEqual({ a: '/a' });
    expect(s.errors[0]?.message).toMatch(/cannot read .*keeping the last good configuration/);
  });

  describe('a YAML alias bomb', () => {
    const bombError = {
      origin: 'bomb.yaml#0',
      message: expect.stringMatching(/^invalid YAML: Excessive alias count/),
    };

    it('at start-up is reported with file and document, and the other files still load', async () => {
      writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
      writeFileSync(join(dir, 'bomb.yaml'), `${route('in-bomb-file', '/x')}---\n${aliasBomb}`);
      writeFileSync(join(dir, 'c.yaml'), route('c', '/c'));
      const first = await start();
      expect(routePaths(first)).toEqual({ a: '/a', c: '/c', 'in-bomb-file': '/x' });
      expect(first.errors).toEqual([{ ...bombError, origin: 'bomb.yaml#1' }]);
    });

    it('added while serving does not stop reloads: new files load, deleted ones go', async () => {
      writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
      writeFileSync(join(dir, 'old.yaml'), route('old', '/old'));
      await start();
      writeFileSync(join(dir, 'bomb.yaml'), aliasBomb);
      await nextSnapshot((s) => s.errors.length > 0);
      writeFileSync(join(dir, 'new.yaml'), route('new', '/new'));
      rmSync(join(dir, 'old.yaml'));
      const s = await nextSnapshot((x) => 'new' in routePaths(x) && !('old' in routePaths(x)));
      expect(routePaths(s)).toEqual({ a: '/a', new: '/new' });
      expect(s.errors).toEqual([bombError]);
    });

    it("written over a good file keeps that file's objects", async () => {
      writeFileSync(join(dir, 'bomb.yaml'), route('a', '/a'));
      await start();
      writeFileSync(join(dir, 'bomb.yaml'), aliasBomb);
      const s = await nextSnapshot((x) => x.errors.length > 0);
      expect(routePaths(s)).toEqual({ a: '/a' });
      expect(s.errors[0]?.message).toMatch(/Excessive alias count.*keeping the 1 object\(s\) last read/);
    });
  });

  it('keeps the objects of a file rewritten in place (truncated, then written slowly) until it reads again', async () => {
    const file = join(dir, 'routes.yaml');
    writeFileSync(file, `${route('a', '/a')}---\n${secret('k', 'v')}`);
    await start();
    const kept = /keeping the 2 object\(s\) last read from this file until it is fixed or deleted$/;
    const expectKept = (s: Snapshot, problem: RegExp) => {
      expect(routePaths(s)).toEqual({ a: '/a' });
      expect(s.secrets.has('default/k')).toBe(true);
      expect(s.errors).toEqual([
        { origin: expect.stringMatching(/^routes\.yaml/), message: expect.stringMatching(kept) },
      ]);
      expect(s.errors[0]!.message).toMatch(problem);
    };
    writeFileSync(file, ''); // `generator > routes.yaml` truncates first
    expectKept(await nextSnapshot((s) => s.errors.length > 0), /^the file is empty;/);
    const next = route('a', '/a-next');
    const cuts = [next.indexOf('kind:') + 3, next.indexOf('metadata:'), next.length];
    appendFileSync(file, next.slice(0, cuts[0])); // "...\nkin": broken YAML
    expectKept(await nextSnapshot((s) => /invalid YAML/.test(s.errors[0]?.message ?? '')), /^invalid YAML/);
    appendFileSync(file, next.slice(cuts[0], cuts[1])); // no metadata yet: not an object
    expectKept(
      await nextSnapshot((s) => /metadata/.test(s.errors[0]?.message ?? '')),
      /^metadata is required/,
    );
    appendFileSync(file, next.slice(cuts[1]));
    const done = await nextSnapshot((s) => s.errors.length === 0);
    expect(routePaths(done)).toEqual({ a: '/a-next' });
    expect(done.secrets.has('default/k')).toBe(false);
  });

  it('forgets the objects of a file that is deleted, even while it was unreadable', async () => {
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
    writeFileSync(join(dir, 'b.yaml'), route('b', '/b'));
    await start();
    writeFileSync(join(dir, 'a.yaml'), '');
    await nextSnapshot((s) => s.errors.length > 0);
    rmSync(join(dir, 'a.yaml'));
    const s = await nextSnapshot((x) => !('a' in routePaths(x)));
    expect(routePaths(s)).toEqual({ b: '/b' });
    expect(s.errors).toEqual([]);
  });

  describe('symbolic links', () => {
    it('reads each directory once: links back to a read directory are reported, not followed', async () => {
      writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'sub', 'b.yaml'), route('b', '/b'));
      symlinkSync('.', join(dir, 'current'));
      symlinkSync('.', join(dir, 'latest'));
      symlinkSync('..', join(dir, 'sub', 'up'));
      const first = await start();
      expect(routePaths(first)).toEqual({ a: '/a', b: '/b' });
      const notFollowed = (origin: string) => ({
        origin,
        message: 'the same directory as ., already read: not followed (a symlink loop?)',
      });
      expect(first.errors).toEqual([notFollowed('current'), notFollowed('latest'), notFollowed('sub/up')]);
      // Reloads keep working, through the watch of each directory.
      writeFileSync(join(dir, 'sub', 'b.yaml'), route('b', '/b2'));
      await nextSnapshot((s) => routePaths(s)['b'] === '/b2');
    });

    it('follows a link to a directory elsewhere, as ConfigMap mounts and release layouts have', async () => {
      const elsewhere = mkdtempSync(join(tmpdir(), 'lambda-ingress-linked-'));
      try {
        writeFileSync(join(elsewhere, 'r.yaml'), route('r', '/r'));
        symlinkSync(elsewhere, join(dir, 'release'));
        expect(routePaths(await start())).toEqual({ r: '/r' });
        writeFileSync(join(elsewhere, 'r.yaml'), route('r', '/r2'));
        await nextSnapshot((s) => routePaths(s)['r'] === '/r2');
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });

    it('reports a file link loop, at start-up and when it appears while watching', async () => {
      writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
      symlinkSync('x.yaml', join(dir, 'y.yaml'));
      symlinkSync('y.yaml', join(dir, 'x.yaml'));
      const first = await start();
      expect(routePaths(first)).toEqual({ a: '/a' });
      expect(first.errors).toEqual([
        { origin: 'x.yaml', message: expect.stringMatching(/^cannot read: ELOOP/) },
        { origin: 'y.yaml', message: expect.stringMatching(/^cannot read: ELOOP/) },
      ]);
      mkdirSync(join(dir, 'sub'));
      symlinkSync('q.yaml', join(dir, 'sub', 'p.yaml'));
      symlinkSync('p.yaml', join(dir, 'sub', 'q.yaml'));
      writeFileSync(join(dir, 'sub', 'b.yaml'), route('b', '/b'));
      const s = await nextSnapshot((x) => 'b' in routePaths(x) && x.errors.length === 4);
      expect(s.errors.map((e) => e.origin)).toEqual(['sub/p.yaml', 'sub/q.yaml', 'x.yaml', 'y.yaml']);
      writeFileSync(join(dir, 'a.yaml'), route('a', '/a2'));
      await nextSnapshot((x) => routePaths(x)['a'] === '/a2');
    });
  });

  it('watches a directory removed and re-created under the same path', async () => {
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'b.yaml'), route('b', '/b'));
    await start();
    rmSync(join(dir, 'sub'), { recursive: true });
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'b.yaml'), route('b', '/b2'));
    await nextSnapshot((s) => routePaths(s)['b'] === '/b2');
    writeFileSync(join(dir, 'sub', 'b.yaml'), route('b', '/b3'));
    await nextSnapshot((s) => routePaths(s)['b'] === '/b3');
  });

  it('reads at most maxDepth directory levels, and says where it stopped', async () => {
    let deep = dir;
    for (const level of ['1', '2', '3']) {
      deep = join(deep, level);
      mkdirSync(deep);
      writeFileSync(join(deep, `r${level}.yaml`), route(`r${level}`, `/${level}`));
    }
    const first = await start(dir, { maxDepth: 2 });
    expect(routePaths(first)).toEqual({ r1: '/1', r2: '/2' });
    expect(first.errors).toEqual([
      { origin: '1/2/3', message: `not read: more than 2 directory levels below ${dir}` },
    ]);
  });

  it('reads at most maxEntries files and directories; the files it no longer reaches keep their objects', async () => {
    writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
    writeFileSync(join(dir, 'b.yaml'), route('b', '/b'));
    // The root, a.yaml and b.yaml: three entries.
    expect(routePaths(await start(dir, { maxEntries: 3 }))).toEqual({ a: '/a', b: '/b' });
    writeFileSync(join(dir, '0.yaml'), route('zero', '/0'));
    const s = await nextSnapshot((x) => 'zero' in routePaths(x));
    expect(routePaths(s)).toEqual({ zero: '/0', a: '/a', b: '/b' });
    expect(s.errors).toEqual([
      {
        origin: 'b.yaml',
        message: `not read, nor what follows: more than 3 files and directories under ${dir}`,
      },
    ]);
  });

  describe('file size', () => {
    it('does not read a file over maxFileBytes: it is reported with its size and the limit, and keeps its last objects', async () => {
      writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
      writeFileSync(join(dir, 'b.yaml'), route('b', '/b'));
      const first = await start(dir, { maxFileBytes: 2048 });
      expect(routePaths(first)).toEqual({ a: '/a', b: '/b' });
      const grown = `${route('a', '/a-grown')}# ${'x'.repeat(3000)}\n`;
      writeFileSync(join(dir, 'a.yaml'), grown);
      const added = `${route('new', '/new')}# ${'x'.repeat(3000)}\n`;
      writeFileSync(join(dir, 'new.yaml'), added);
      const s = await nextSnapshot((x) => x.errors.length === 2);
      expect(routePaths(s)).toEqual({ a: '/a', b: '/b' });
      const over = (bytes: number) =>
        `${bytes.toLocaleString('en')} bytes is over the 2,048 bytes limit for one manifest file: not read`;
      expect(s.errors).toEqual([
        {
          origin: 'a.yaml',
          message: `${over(grown.length)}; keeping the 1 object(s) last read from this file until it is fixed or deleted`,
        },
        { origin: 'new.yaml', message: over(added.length) },
      ]);
    });

    it('reads files up to 8 MiB by default', async () => {
      writeFileSync(join(dir, 'a.yaml'), route('a', '/a'));
      writeFileSync(join(dir, 'huge.yaml'), `# ${'x'.repeat(9 * 2 ** 20)}\n`);
      const first = await start(dir);
      expect(routePaths(first)).toEqual({ a: '/a' });
      expect(first.errors).toEqual([
        {
          origin: 'huge.yaml',
          message:
            '9,437,187 bytes (9.0 MiB) is over the 8,388,608 bytes (8.0 MiB) limit for one manifest file: not read',
        },
      ]);
    });
  });
});
