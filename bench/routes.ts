// npm run bench:routes: route lookups per second with 10 and with 10,000
// routes, and compile time for 10,000 routes. Targets (foundation issue):
// lookup rate at 10,000 routes within 20% of the rate at 10; compile of
// 10,000 routes under 300 ms.
//
// The comparison row keeps the traffic the same (requests spread over 10
// distinct routes) so it measures the table, not the CPU cache; the extra
// rows spread requests over 1,000 and 10,000 distinct routes, where cache
// misses on a larger working set show up.

import type { Snapshot } from '../src/api/snapshot.ts';
import { compile } from '../src/compile/compile.ts';
import { fmt, measure } from './measure.ts';
import { syntheticRequests, syntheticSnapshot } from './synthetic.ts';

async function lookupRate(routes: number, distinct: number) {
  const { table } = compile(syntheticSnapshot(routes), 1);
  const requests = syntheticRequests(routes, distinct);
  let i = 0;
  let hits = 0;
  const result = await measure(
    `lookup, ${fmt(routes)} routes, traffic over ${fmt(Math.min(distinct, routes))} routes`,
    () => {
      const [host, method, path] = requests[i++ % requests.length]!;
      if (table.match(host, method, path)) hits++;
    },
    2000,
  );
  if (hits < i * 0.85) throw new Error(`only ${hits} of ${i} lookups matched: the benchmark is broken`);
  return result;
}

const small = await lookupRate(10, 10);
const large = await lookupRate(10_000, 10);
const spread = [await lookupRate(10_000, 1000), await lookupRate(10_000, 10_000)];

/** 10 timed compiles, sorted, each of a snapshot `prepare` makes untimed. */
function timeCompiles(prepare: (i: number) => Snapshot): number[] {
  compile(prepare(-1), 1); // warm-up
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const snapshot = prepare(i);
    const started = performance.now();
    compile(snapshot, i + 2);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

// Cold: every route is new to the compiler (startup, or a full resync).
const cold = timeCompiles(() => syntheticSnapshot(10_000));
// One route changed: the sources hand over the same objects for the other 9,999.
const base = syntheticSnapshot(10_000);
const oneChanged = timeCompiles((i) => ({
  ...base,
  routes: base.routes.map((r, j) =>
    j === 0 ? { ...r, spec: { ...(r.spec as object), timeout: `${i + 5}s` } } : r,
  ),
}));

console.log(`node ${process.version}`);
console.log('| measurement | result |');
console.log('| --- | --- |');
for (const m of [small, large, ...spread])
  console.log(`| ${m.name} | ${fmt(m.opsPerSec)} lookups/s (${fmt(m.nsPerOp)} ns) |`);
console.log(
  `| lookup rate, 10,000 vs 10 routes, same traffic | ${fmt((large.opsPerSec / small.opsPerSec) * 100, 1)}% (target ≥ 80%) |`,
);
for (const [name, times] of [
  ['compile 10,000 new routes (cold), median of 10', cold],
  ['compile 10,000 routes after one changed, median of 10', oneChanged],
] as const) {
  console.log(
    `| ${name} | ${fmt(times[5]!, 1)} ms (target < 300 ms; min ${fmt(times[0]!, 1)}, max ${fmt(times[9]!, 1)}) |`,
  );
}
