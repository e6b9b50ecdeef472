// The layers of src/ as the README's Development table states them: every
// relative import of every file under src/ is checked against its folder's
// line, the lines themselves must not make a cycle, and the top files import
// only the top files listed before them.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Folder -> the folders it may import, and the top files in their order, from the README. */
function readLayers(): { folders: Map<string, string[]>; topFiles: string[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Development'));
  const folders = new Map<string, string[]>();
  let topFiles: string[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const [, folder, holds, mayImport] = cells;
    if (cells.length !== 5 || !folder?.startsWith('`src/') || holds === undefined) continue;
    const names = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    if (folder === '`src/*.ts`') topFiles = names(holds);
    else folders.set(folder.slice(5, -2), mayImport === '—' ? [] : names(mayImport!));
  }
  return { folders, topFiles };
}

const IMPORT = /(?:from|import\()\s*'(\.{1,2}\/[^']+)'|new URL\('(\.{1,2}\/[^']+)'/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** "dataplane" for src/dataplane/events/v2.ts; the file name for a top file. */
function layerOf(path: string): string {
  const rel = relative(SRC, path);
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel;
}

const { folders, topFiles } = readLayers();

it('the README names every folder and top file of src/', () => {
  const layers = new Set(sourceFiles(SRC).map(layerOf));
  expect([...layers].sort()).toEqual([...folders.keys(), ...topFiles].sort());
});

it('the layers the README states have no cycle', () => {
  const settled = new Set<string>();
  let progress = true;
  while (progress) {
    progress = false;
    for (const [folder, imports] of folders) {
      if (!settled.has(folder) && imports.every((i) => settled.has(i))) {
        settled.add(folder);
        progress = true;
      }
    }
  }
  expect([...folders.keys()].filter((f) => !settled.has(f))).toEqual([]);
});

it('every import in src/ follows the layers', () => {
  const wrong: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    const allowed = folders.get(from) ?? [...folders.keys(), ...topFiles.slice(0, topFiles.indexOf(from))];
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1] ?? match[2]!);
      const to = layerOf(target);
      if (to !== from && !allowed.includes(to))
        wrong.push(`${relative(ROOT, file)} imports ${relative(ROOT, target)}`);
    }
  }
  expect(wrong).toEqual([]);
});
