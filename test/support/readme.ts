// The README's tables, read as data, for tests that hold code to what the
// README documents.
import { readFileSync } from 'node:fs';

const README = new URL('../../README.md', import.meta.url);

/**
 * The body rows of the first table after `heading` (a whole heading line,
 * such as "### Error mapping"), each as its cells, trimmed. Pipes inside
 * backticks are not expected: the README's tables have none.
 */
export function readmeTable(heading: string): string[][] {
  const lines = readFileSync(README, 'utf8').split('\n');
  const start = lines.indexOf(heading);
  if (start === -1) throw new Error(`no heading "${heading}" in README.md`);
  const first = lines.findIndex((line, i) => i > start && line.startsWith('|'));
  if (first === -1) throw new Error(`no table after "${heading}" in README.md`);
  const rows: string[][] = [];
  for (let i = first + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    rows.push(
      lines[i]!.slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** The text in backticks in a cell, in order. */
export function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
}
