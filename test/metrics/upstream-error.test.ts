// The upstream error kinds are listed once (UPSTREAM_ERROR_KINDS): the README's
// metrics table and the metric's help text name exactly those.
import { expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/metrics.ts';
import { UPSTREAM_ERROR_KINDS } from '../../src/metrics/upstream-error.ts';
import { codeSpans, readmeTable } from '../support/readme.ts';

it("the README's lambda_ingress_upstream_errors_total row lists the kinds, in order", () => {
  const row = readmeTable('### Metrics').find(([name]) => name === '`lambda_ingress_upstream_errors_total`');
  expect(row).toBeDefined();
  const labels = row![2]!;
  // The values follow "`kind`:"; what is in parentheses explains a value.
  const values = labels.slice(labels.indexOf('`kind`:')).replace(/\([^)]*\)/g, '');
  expect(codeSpans(values).slice(1)).toEqual([...UPSTREAM_ERROR_KINDS]);
});

it('the help text of /metrics lists the kinds', async () => {
  const text = await new Metrics({ routeHistograms: false }).registry.metrics();
  expect(text).toContain(
    `# HELP lambda_ingress_upstream_errors_total Upstream failures by kind: ${UPSTREAM_ERROR_KINDS.join(', ')}.`,
  );
});
