// Turns a validated spec's target and auth into the data plane's compiled
// form: URLs parsed, AWS region and service defaults decided, Invoke API path
// built. Pure; a target that cannot be compiled is an Invalid failure.
import { parseDuration } from '../api/duration.ts';
import { fail, type Result, succeed } from '../api/failure.ts';
import type { LambdaRouteSpec } from '../api/types.ts';
import type { ConnectionSettings, FunctionTarget, UrlTarget } from '../model/route.ts';

const DEFAULT_REGION = 'us-east-1';

// {api-id}[-{vpce-id}].execute-api.{region}.amazonaws.com[.cn] and {url-id}.lambda-url.{region}.on.aws
const awsHost = /\.(execute-api|lambda-url)\.([a-z]{2}(?:-[a-z]+)+-\d+)\./;

export function compileUrlTarget(url: string, forwardSubpath: boolean): UrlTarget {
  const parsed = new URL(url);
  return {
    kind: 'url',
    origin: parsed.origin,
    host: parsed.host,
    basePath: parsed.pathname.replace(/\/+$/, ''),
    forwardSubpath,
  };
}

/** SigV4 defaults for a url target: region from the host, execute-api for API Gateway hosts, lambda otherwise. */
export function urlSigningDefaults(url: string): { region: string; service: string } {
  const found = awsHost.exec(new URL(url).hostname);
  return {
    region: found?.[2] ?? DEFAULT_REGION,
    service: found?.[1] === 'execute-api' ? 'execute-api' : 'lambda',
  };
}

const functionArn = /^arn:(aws[a-zA-Z-]*):lambda:([a-z0-9-]+):\d{12}:function:/;

export function compileFunctionTarget(
  fn: NonNullable<LambdaRouteSpec['target']['function']>,
  fallbackRegion: string | undefined,
): Result<FunctionTarget, 'Invalid'> {
  const arn = functionArn.exec(fn.name);
  if (arn && fn.region && fn.region !== arn[2]) {
    return fail(
      'Invalid',
      `${fn.region} contradicts the region in the ARN (${arn[2]})`,
      'spec.target.function.region',
    );
  }
  const region = arn?.[2] ?? fn.region ?? fallbackRegion ?? DEFAULT_REGION;
  const endpoint = new URL(fn.endpoint ?? `https://lambda.${region}.${awsDomain(region)}`);
  const query = fn.qualifier ? `?Qualifier=${encodeURIComponent(fn.qualifier)}` : '';
  const name = encodeURIComponent(fn.name);
  const operation =
    fn.invokeMode === 'ResponseStream'
      ? `2021-11-15/functions/${name}/response-streaming-invocations`
      : `2015-03-31/functions/${name}/invocations`;
  return succeed({
    kind: 'function',
    functionName: fn.name,
    origin: endpoint.origin,
    host: endpoint.host,
    invokePath: `${endpoint.pathname.replace(/\/+$/, '')}/${operation}${query}`,
    invocationType: fn.invocationType,
    payloadFormat: fn.payloadFormat,
    invokeMode: fn.invokeMode,
    region,
  });
}

const awsDomain = (region: string): string =>
  region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';

export function compileConnection(spec: LambdaRouteSpec): ConnectionSettings {
  return {
    timeoutMs: parseDuration(spec.timeout),
    insecureSkipVerify: spec.tls.insecureSkipVerify,
    keepalive: spec.keepalive.enabled,
    idleTimeoutMs: parseDuration(spec.keepalive.idleTimeout),
    ...(spec.keepalive.maxConnections !== undefined && { maxConnections: spec.keepalive.maxConnections }),
  };
}
