// What a V8 heap snapshot holds, by constructor (objects) and by the start of
// their text (strings): self sizes, largest first. For the snapshots
// bench/control-plane.ts --heap-snapshot writes.
//
//   node --max-old-space-size=4096 bench/heap-summary.ts <file.heapsnapshot> [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '25' } },
  allowPositionals: true,
});
const file = positionals[0];
if (!file) throw new Error('usage: node bench/heap-summary.ts <file.heapsnapshot> [--top 25]');
const top = Number(values.top);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const width = fields.length;
const [TYPE, NAME, SIZE] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
  number,
  number,
  number,
];

const byKind = new Map<string, { count: number; bytes: number }>();
const byText = new Map<string, { count: number; bytes: number }>();
const add = (map: typeof byKind, key: string, bytes: number) => {
  const entry = map.get(key) ?? { count: 0, bytes: 0 };
  entry.count++;
  entry.bytes += bytes;
  map.set(key, entry);
};
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + TYPE]!]!;
  const name = snap.strings[snap.nodes[i + NAME]!]!;
  const bytes = snap.nodes[i + SIZE]!;
  total += bytes;
  const text = type === 'string' || type === 'concatenated string' || type === 'sliced string';
  add(byKind, text ? `(${type})` : `${type}: ${name.slice(0, 60)}`, bytes);
  if (text) add(byText, JSON.stringify(name.slice(0, 50)), bytes);
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
const print = (title: string, map: typeof byKind) => {
  process.stdout.write(`\n${title}\n| bytes | count | what |\n| ---: | ---: | --- |\n`);
  for (const [key, { count, bytes }] of [...map].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top))
    process.stdout.write(
      `| ${mb(bytes)} | ${count.toLocaleString('en-US')} | ${key.replaceAll('|', '\\|')} |\n`,
    );
};
process.stdout.write(
  `${file}: ${mb(total)} in ${(snap.nodes.length / width).toLocaleString('en-US')} nodes\n`,
);
print('By type and constructor (self size)', byKind);
print('Strings by their first 50 characters', byText);
