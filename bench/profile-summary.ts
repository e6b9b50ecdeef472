// Summarise a V8 .cpuprofile (from `node --cpu-prof`): the top N by self time,
// grouped by function + file, with each group's total (inclusive) time, and a
// roll-up by package (src/ file, node_modules package, node internals, GC).
//
//   node bench/profile-summary.ts <file.cpuprofile> [--top 30] [--json]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  functionName: string;
  /** file (shortened) and line of the group's heaviest member */
  location: string;
  package: string;
  selfMs: number;
  /** % of the busy (not idle) time */
  selfPercent: number;
  totalMs: number;
  totalPercent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** time not in (idle) */
  busyMs: number;
  samples: number;
  functions: ProfileEntry[];
  packages: { package: string; selfMs: number; selfPercent: number }[];
}

const REPO_URL = new URL('..', import.meta.url).href;

function shortFile(url: string): string {
  if (url === '') return '';
  let path = url.startsWith(REPO_URL) ? url.slice(REPO_URL.length) : url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm !== -1) path = path.slice(nm);
  return path;
}

function packageOf(frame: CallFrame): string {
  const name = frame.functionName;
  if (frame.url === '') {
    if (name === '(garbage collector)' || name === '(idle)' || name === '(program)') return name;
    return '(native / V8 builtins)';
  }
  const file = shortFile(frame.url);
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (m) return m[1]!;
  if (file.startsWith('node:')) return 'node: internals';
  return file;
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  // Self time of sample i = time until the next sample (the last one gets the mean interval).
  const { samples, timeDeltas } = profile;
  const totalUs = profile.endTime - profile.startTime;
  const meanUs = samples.length > 0 ? totalUs / samples.length : 0;
  const durationOf = (i: number) => (i + 1 < timeDeltas.length ? Math.max(0, timeDeltas[i + 1]!) : meanUs);

  const keyOf = (frame: CallFrame) => `${frame.functionName || '(anonymous)'}\u0000${frame.url}`;
  interface Group {
    frame: CallFrame;
    selfUs: number;
    totalUs: number;
    lines: Map<number, number>;
  }
  const groups = new Map<string, Group>();
  const group = (frame: CallFrame): Group => {
    const key = keyOf(frame);
    let g = groups.get(key);
    if (!g) {
      g = { frame, selfUs: 0, totalUs: 0, lines: new Map() };
      groups.set(key, g);
    }
    return g;
  };
  let idleUs = 0;
  let sampledUs = 0;
  const seen = new Set<string>();
  for (let i = 0; i < samples.length; i++) {
    const us = durationOf(i);
    sampledUs += us;
    const leaf = byId.get(samples[i]!);
    if (!leaf) continue;
    if (leaf.callFrame.functionName === '(idle)') idleUs += us;
    const g = group(leaf.callFrame);
    g.selfUs += us;
    g.lines.set(leaf.callFrame.lineNumber, (g.lines.get(leaf.callFrame.lineNumber) ?? 0) + us);
    // Inclusive time: each function once per sample, however deep the recursion.
    seen.clear();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.functionName === '(root)') continue;
      const key = keyOf(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      group(frame).totalUs += us;
    }
  }
  // Percentages are of the busy (not idle) time: what the process spent its CPU on.
  const busyUs = sampledUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? (us / busyUs) * 100 : 0);
  const functions: ProfileEntry[] = [...groups.values()]
    .filter((g) => (g.selfUs > 0 || g.totalUs > 0) && g.frame.functionName !== '(idle)')
    .map((g) => {
      const line = [...g.lines.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? g.frame.lineNumber;
      const file = shortFile(g.frame.url);
      return {
        functionName: g.frame.functionName || '(anonymous)',
        location: file === '' ? '' : `${file}:${line + 1}`,
        package: packageOf(g.frame),
        selfMs: g.selfUs / 1000,
        selfPercent: pct(g.selfUs),
        totalMs: g.totalUs / 1000,
        totalPercent: pct(g.totalUs),
      };
    })
    .sort((a, b) => b.selfMs - a.selfMs);
  const packages = new Map<string, number>();
  for (const f of functions) packages.set(f.package, (packages.get(f.package) ?? 0) + f.selfMs);
  return {
    totalMs: sampledUs / 1000,
    busyMs: busyUs / 1000,
    samples: samples.length,
    functions,
    packages: [...packages.entries()]
      .map(([name, selfMs]) => ({ package: name, selfMs, selfPercent: pct(selfMs * 1000) }))
      .sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function loadProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

const f = (x: number, d = 1) =>
  x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export function renderSummary(summary: ProfileSummary, top: number): string {
  const out = [
    `${f(summary.totalMs / 1000, 2)} s sampled (${summary.samples} samples), ${f(summary.busyMs / 1000, 2)} s not idle; percentages are of the not-idle time`,
    '',
    `Top ${top} by self time (function + file):`,
    '',
    '| self % | self ms | total % | function | file:line |',
    '| ---: | ---: | ---: | --- | --- |',
    ...summary.functions
      .slice(0, top)
      .map(
        (e) =>
          `| ${f(e.selfPercent)} | ${f(e.selfMs, 0)} | ${f(e.totalPercent)} | ${e.functionName} | ${e.location} |`,
      ),
    '',
    'Self time by package:',
    '',
    '| self % | self ms | package / file |',
    '| ---: | ---: | --- |',
    ...summary.packages
      .slice(0, top)
      .map((p) => `| ${f(p.selfPercent)} | ${f(p.selfMs, 0)} | ${p.package} |`),
  ];
  return out.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [--top N] [--json]\n');
    process.exit(2);
  }
  const summary = summarize(loadProfile(positionals[0]!));
  const top = Number(values.top);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ ...summary, functions: summary.functions.slice(0, top), packages: summary.packages.slice(0, top) }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`${renderSummary(summary, top)}\n`);
  }
}
