// The last line of `.ci/run`: "N passed, N failed" over the vitest JSON
// reports given (unit and integration, then end to end), so one line says how
// the whole run went. A report vitest did not get to write, and a test file
// that failed with no failed test in it (it did not load), count as one
// failure each. Exits 1 when anything failed.
//
//   node hack/test-summary.ts <report.json>...
import { existsSync, readFileSync } from 'node:fs';

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { status: string; assertionResults: { status: string }[] }[];
}

export function summarize(reports: readonly (VitestReport | undefined)[]): {
  passed: number;
  failed: number;
} {
  let passed = 0;
  let failed = 0;
  for (const report of reports) {
    if (!report) {
      failed += 1;
      continue;
    }
    passed += report.numPassedTests;
    failed += report.numFailedTests;
    failed += report.testResults.filter(
      (file) => file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed'),
    ).length;
  }
  return { passed, failed };
}

if (import.meta.main) {
  const reports = process.argv
    .slice(2)
    .map((path) => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as VitestReport) : undefined));
  const { passed, failed } = summarize(reports);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}
