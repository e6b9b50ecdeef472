// The AWS emulator used by tests, the demo and benchmarks: one HTTP(S) server
// on loopback that plays API Gateway stages, Lambda function URLs, the Lambda
// Invoke API, STS and a container credentials endpoint, checking SigV4 the way
// AWS does and recording every request it receives.
//
// Dispatch, first match wins:
//   1. GET <containerCredentials.path>                         → container credentials
//   2. POST / with a form body holding `Action=` (if `sts` set) → STS
//   3. POST /2015-03-31/functions/{name}/invocations          → Lambda Invoke API
//   4. POST /2021-11-15/functions/{name}/response-streaming-invocations
//                                                              → InvokeWithResponseStream
//   5. the endpoint with the longest mount path containing the path
//   6. otherwise 404 {"message":"Not Found"}
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type ContainerCredentialsOptions,
  handleContainerCredentials,
  isContainerCredentialsRequest,
} from './container-credentials.ts';
import { CredentialStore, type IssuedCredentials } from './credentials.ts';
import { type EndpointOptions, handleEndpoint, matchEndpoint } from './endpoints.ts';
import { handleStreamingFunctionUrl } from './function-url-stream.ts';
import {
  jsonReply,
  type ReceivedRequest,
  type ServiceContext,
  type ServiceKind,
  type ServiceReply,
} from './http.ts';
import {
  type FunctionDefinition,
  type InvocationRecord,
  isInvokeRequest,
  isStreamingInvokeRequest,
  LambdaService,
} from './lambda-invoke.ts';
import { type AwsCredentials, type VerifyResult, verify } from './sigv4.ts';
import { handleSts, isStsRequest, type StsOptions } from './sts.ts';
import { generateSelfSignedCertificate } from './tls.ts';

export type { ContainerCredentialsOptions } from './container-credentials.ts';
export type { CredentialIssuer, IssuedCredentials } from './credentials.ts';
export type {
  EndpointHandler,
  EndpointOptions,
  EndpointRequest,
  EndpointResponse,
  StreamingFunctionUrl,
} from './endpoints.ts';
export { FUNCTION_URL_FORBIDDEN_MESSAGE } from './endpoints.ts';
export type { ReceivedRequest, ServiceKind } from './http.ts';
export type {
  FunctionDefinition,
  InvocationOutcome,
  InvocationRecord,
  InvocationType,
  LambdaContext,
  LambdaHandler,
  StreamingHandler,
} from './lambda-invoke.ts';
export { HandledError, handledError } from './lambda-invoke.ts';
export type { StreamFault, StreamStats, WireShape } from './lambda-stream.ts';
export { HttpResponseStream, ResponseStream, STREAM_FAULTS } from './lambda-stream.ts';
export type { AwsCredentials, VerifyResult } from './sigv4.ts';
export type { StsOptions } from './sts.ts';

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Serve HTTPS with a freshly generated self-signed certificate (see `certificatePem`). */
  tls?: boolean;
  /** The region signatures must be scoped to; default us-east-1. */
  region?: string;
  /** The account in ARNs; default 123456789012. */
  accountId?: string;
  /** Long-term keys; temporary ones (with `sessionToken`/`expiration`) are accepted too. */
  credentials?: readonly AwsCredentials[];
  /** Check SigV4 signatures; default true. Benchmarks may turn it off. */
  verifySignatures?: boolean;
  /** Keep every request and invocation for inspection (default true; the demo, which runs for hours, turns it off). */
  keepRecords?: boolean;
  endpoints?: readonly EndpointOptions[];
  /** Functions served by the Invoke API and InvokeWithResponseStream, by name. */
  functions?: Record<string, FunctionDefinition>;
  /** Serve STS at `/` (see the dispatch rule above). */
  sts?: StsOptions;
  containerCredentials?: ContainerCredentialsOptions;
  /** The clock for signature skew and credential expiry; default Date.now. */
  now?: () => number;
}

/** A received request, what it was routed to and how it was answered. */
export interface RecordedRequest extends ReceivedRequest {
  receivedAt: Date;
  /** Undefined when nothing matched (or the request failed before routing). */
  service: ServiceKind | undefined;
  /** Undefined until answered. */
  status: number | undefined;
  /** The signature check, when one ran. */
  verification: VerifyResult | undefined;
  /** What went wrong: a handler's exception, or a broken connection. */
  error: unknown;
}

export interface Emulator {
  /** `http://127.0.0.1:<port>` (or https). */
  readonly url: string;
  readonly port: number;
  readonly tls: boolean;
  /** The self-signed certificate in TLS mode, for clients to trust. */
  readonly certificatePem: string | undefined;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Every handler run of the Invoke API, in start order. */
  readonly invocations: readonly InvocationRecord[];
  /** Temporary credentials issued by STS and the container endpoint. */
  readonly issuedCredentials: readonly IssuedCredentials[];
  addCredentials(credentials: AwsCredentials): void;
  setFunction(name: string, definition: FunctionDefinition): void;
  deleteFunction(name: string): void;
  invocationCount(functionName?: string): number;
  /** Resolves when every invocation so far (background `Event` ones included) has finished. */
  settled(): Promise<void>;
  /** Forgets recorded requests and invocations. */
  clearRecords(): void;
  close(): Promise<void>;
}

/** API Gateway's payload limit; larger bodies are counted but not kept. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const now = options.now ?? Date.now;
  const region = options.region ?? 'us-east-1';
  const credentials = new CredentialStore(options.credentials ?? [], now);
  const keepRecords = options.keepRecords ?? true;
  const lambda = new LambdaService(options.functions ?? {}, keepRecords);
  const endpoints = options.endpoints ?? [];
  const verifySignatures = options.verifySignatures ?? true;
  const context: ServiceContext = {
    region,
    accountId: options.accountId ?? '123456789012',
    credentials,
    checkSignature: (request, service, errorStyle) =>
      verifySignatures
        ? verify(request, {
            region,
            service,
            errorStyle,
            credentials: (id) => credentials.get(id),
            now: new Date(now()),
          })
        : undefined,
  };
  const requests: RecordedRequest[] = [];

  async function route(request: ReceivedRequest): Promise<[ServiceKind | undefined, ServiceReply]> {
    const { containerCredentials, sts } = options;
    // Oversize bodies were not kept whole; the Invoke API answers them itself, in its own words.
    const invoke = isInvokeRequest(request) || isStreamingInvokeRequest(request);
    if (request.bodySize > request.body.length && !invoke) {
      return [
        undefined,
        jsonReply(413, { message: 'Request Too Long' }, { 'x-amzn-RequestId': request.requestId }),
      ];
    }
    if (containerCredentials && isContainerCredentialsRequest(request, containerCredentials)) {
      return ['container-credentials', handleContainerCredentials(request, containerCredentials, context)];
    }
    if (sts && isStsRequest(request)) return ['sts', handleSts(request, sts, context)];
    if (invoke) {
      const kind = isInvokeRequest(request) ? 'lambda-invoke' : 'lambda-stream';
      return [kind, await lambda.handle(request, context)];
    }
    const endpoint = matchEndpoint(endpoints, request.path);
    if (endpoint) {
      const reply =
        'invokeMode' in endpoint
          ? await handleStreamingFunctionUrl(endpoint, request, context, lambda)
          : await handleEndpoint(endpoint, request, context);
      return [endpoint.kind, reply];
    }
    return [undefined, jsonReply(404, { message: 'Not Found' }, { 'x-amzn-RequestId': request.requestId })];
  }

  async function listener(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const question = url.indexOf('?');
    const record: RecordedRequest = {
      requestId: randomUUID(),
      receivedAt: new Date(),
      method: req.method ?? 'GET',
      path: question === -1 ? url : url.slice(0, question),
      query: question === -1 ? '' : url.slice(question + 1),
      headers: pairs(req.rawHeaders),
      body: Buffer.alloc(0),
      bodySize: 0,
      service: undefined,
      status: undefined,
      verification: undefined,
      error: undefined,
    };
    if (keepRecords) requests.push(record);
    try {
      const { body, size } = await readBody(req);
      record.body = body;
      record.bodySize = size;
      const [service, reply] = await route(record);
      record.service = service;
      record.verification = reply.verification;
      record.error = reply.error;
      record.status = reply.status;
      await send(res, reply);
    } catch (error) {
      record.error = error;
      if (!res.headersSent && !res.destroyed) {
        for (const name of res.getHeaderNames()) res.removeHeader(name);
        send(
          res,
          jsonReply(500, { message: 'Internal emulator error' }, { 'x-amzn-RequestId': record.requestId }),
        );
        record.status = 500;
      }
    }
  }

  const tlsMaterial = options.tls ? await generateSelfSignedCertificate() : undefined;
  // listener() answers its own failures; should even that fail, drop the connection rather than the process.
  const handle = (req: IncomingMessage, res: ServerResponse) =>
    void listener(req, res).catch(() => res.destroy());
  const server: Server = tlsMaterial ? createHttpsServer(tlsMaterial, handle) : createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `${tlsMaterial ? 'https' : 'http'}://${host}:${address.port}`,
    port: address.port,
    tls: tlsMaterial !== undefined,
    certificatePem: tlsMaterial?.cert,
    requests,
    invocations: lambda.invocations,
    get issuedCredentials() {
      return credentials.issued;
    },
    addCredentials: (c) => credentials.add(c),
    setFunction: (name, definition) => lambda.setFunction(name, definition),
    deleteFunction: (name) => lambda.deleteFunction(name),
    invocationCount: (name) => lambda.invocationCount(name),
    settled: () => lambda.settled(),
    clearRecords: () => {
      requests.length = 0;
      lambda.invocations.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function pairs(raw: readonly string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) result.push([raw[i]!, raw[i + 1]!]);
  return result;
}

/** Reads the whole body, keeping at most MAX_BODY_BYTES but counting every byte. */
async function readBody(req: IncomingMessage): Promise<{ body: Buffer; size: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (kept + chunk.length <= MAX_BODY_BYTES) {
      chunks.push(chunk);
      kept += chunk.length;
    }
  }
  return { body: Buffer.concat(chunks, kept), size };
}

/** A stream body goes out as it comes; when the caller leaves, the stream is destroyed (and the function sees it). */
async function send(res: ServerResponse, reply: ServiceReply): Promise<void> {
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.statusCode = reply.status;
  if (reply.body instanceof Readable) await pipeline(reply.body, res);
  else res.end(reply.body ?? '');
}
