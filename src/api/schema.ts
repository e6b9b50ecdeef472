// The one JSON Schema of LambdaRoute v1alpha1. ajv validates standalone
// manifests with it (src/api/validate.ts) and hack/generate-crd.ts writes
// crds/lambdaroute.yaml from it, so the API server and standalone mode accept
// exactly the same objects. Cross-field rules are CEL (x-kubernetes-validations),
// evaluated by the API server and, in standalone mode, by cel-js.
//
// Kept structural (every node typed, no uniqueItems, no oneOf with types) so
// that the API server accepts it as a CRD schema.

import { DURATION_PATTERN } from './duration.ts';

const dnsSubdomain = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
};
// A positive Go-style duration, checked by CEL rather than by type and
// pattern, so that a bare number (APISIX's timeout is in milliseconds) gets a
// message saying what to write instead, from the API server too: the
// structure admits integers (x-kubernetes-int-or-string) for the rule to see.
const durationPattern = JSON.stringify(DURATION_PATTERN);
const duration = {
  'x-kubernetes-int-or-string': true,
  description: 'Go-style duration such as 500ms, 3s, 1m30s.',
  'x-kubernetes-validations': [
    {
      rule: `type(self) == string && size(self) <= 32 && self.matches(${durationPattern})`,
      message: 'must be a duration such as "3s"',
      messageExpression: `'must be a duration such as "3s" (got ' + (type(self) == string ? '"' + self + '"' : string(self)) + ')'`,
    },
    {
      rule: `type(self) != string || !self.matches(${durationPattern}) || self.matches("[1-9]")`,
      message: 'must be more than 0s',
    },
  ],
};
const httpUrl = {
  type: 'string',
  maxLength: 2048,
  pattern: '^https?://[^/?#\\s]+(/[^?#\\s]*)?$',
  description: 'http(s) URL without query string or fragment.',
};

const secretName = { ...dnsSubdomain, description: 'Name of a Secret in the route namespace.' };
const secretNamespace = {
  ...dnsSubdomain,
  description:
    "Must be the route's own namespace; references to other namespaces are refused (RefNotPermitted).",
};

const spec = {
  type: 'object',
  required: ['match', 'target'],
  additionalProperties: false,
  properties: {
    hosts: {
      type: 'array',
      description:
        'Host names this route answers for; a leading "*." matches any subdomain. Empty: any host.',
      maxItems: 64,
      'x-kubernetes-list-type': 'set',
      items: {
        type: 'string',
        maxLength: 253,
        pattern: '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
      },
    },
    match: {
      type: 'object',
      required: ['path'],
      additionalProperties: false,
      properties: {
        path: {
          type: 'string',
          minLength: 1,
          maxLength: 1024,
          pattern: '^/[^?#\\s]*$',
          description: 'Request path; starts with "/", no query string.',
        },
        pathType: {
          type: 'string',
          enum: ['Exact', 'Prefix'],
          default: 'Exact',
          description: 'Exact, or Prefix (segment-aware: /aws matches /aws, /aws/ and /aws/x, not /awsx).',
        },
        methods: {
          type: 'array',
          description: 'HTTP methods; empty: any method.',
          maxItems: 7,
          'x-kubernetes-list-type': 'set',
          items: { type: 'string', enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] },
        },
      },
    },
    target: {
      type: 'object',
      additionalProperties: false,
      description: 'Exactly one of url or function.',
      'x-kubernetes-validations': [
        {
          rule: 'has(self.url) != has(self.__function__)',
          message: 'exactly one of spec.target.url or spec.target.function must be set',
        },
        {
          rule: '!has(self.forwardSubpath) || !self.forwardSubpath || has(self.url)',
          message: 'applies to url targets only (spec.target.url)',
          fieldPath: '.forwardSubpath',
        },
      ],
      properties: {
        url: {
          ...httpUrl,
          description:
            'API Gateway or function URL to forward to (APISIX function_uri); http(s), without query string.',
        },
        forwardSubpath: {
          type: 'boolean',
          default: false,
          description: 'Prefix routes only: append the rest of the request path to the url path.',
        },
        function: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          description: 'Invoke a Lambda function directly through the Invoke API.',
          'x-kubernetes-validations': [
            {
              rule: "!has(self.invokeMode) || self.invokeMode != 'ResponseStream' || !has(self.invocationType) || self.invocationType != 'Event'",
              message:
                'invokeMode ResponseStream requires invocationType RequestResponse (Lambda has no asynchronous streaming invoke)',
              fieldPath: '.invokeMode',
            },
          ],
          properties: {
            name: {
              type: 'string',
              maxLength: 170,
              pattern:
                '^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?$',
              description: 'Function name, partial ARN (123456789012:function:my-fn) or full ARN.',
            },
            qualifier: {
              type: 'string',
              maxLength: 128,
              pattern: '^(\\$LATEST|[a-zA-Z0-9-_]+)$',
              description: 'Version or alias.',
            },
            region: { type: 'string', maxLength: 32, pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$' },
            invocationType: {
              type: 'string',
              enum: ['RequestResponse', 'Event'],
              default: 'RequestResponse',
            },
            payloadFormat: { type: 'string', enum: ['2.0', '1.0', 'alb'], default: '2.0' },
            invokeMode: {
              type: 'string',
              enum: ['Buffered', 'ResponseStream'],
              default: 'Buffered',
              description:
                'Buffered: the Invoke API. ResponseStream: InvokeWithResponseStream, the answer streamed to the client as it comes.',
            },
            endpoint: {
              ...httpUrl,
              description:
                'Invoke API endpoint override (VPC endpoint, emulator); http(s), without query string.',
            },
          },
        },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        apiKey: {
          type: 'object',
          required: ['secretRef'],
          additionalProperties: false,
          description: 'Sends the Secret value as x-api-key (API Gateway API keys).',
          properties: {
            secretRef: {
              type: 'object',
              required: ['name', 'key'],
              additionalProperties: false,
              properties: {
                name: secretName,
                namespace: secretNamespace,
                key: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' },
              },
            },
          },
        },
        iam: {
          type: 'object',
          additionalProperties: false,
          description: 'Signs requests with AWS Signature V4.',
          properties: {
            secretRef: {
              type: 'object',
              required: ['name'],
              additionalProperties: false,
              description:
                'Secret with accessKeyId, secretAccessKey and optional sessionToken. Absent: the pod credential chain.',
              properties: { name: secretName, namespace: secretNamespace },
            },
            region: { type: 'string', maxLength: 32, pattern: '^[a-z]{2}(-[a-z]+)+-\\d+$' },
            service: { type: 'string', maxLength: 64, pattern: '^[a-z0-9-]+$' },
            roleArn: {
              type: 'string',
              maxLength: 2048,
              pattern: '^arn:aws[a-zA-Z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$',
              description: 'Role to assume (STS AssumeRole) with the base credentials.',
            },
            roleSessionName: {
              type: 'string',
              minLength: 2,
              maxLength: 64,
              pattern: '^[\\w+=,.@-]+$',
              description: 'Session name for AssumeRole; default lambda-ingress.',
            },
          },
        },
      },
    },
    certificateRef: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      description:
        'A kubernetes.io/tls Secret (tls.crt, tls.key) in the route namespace, served over HTTPS by SNI for spec.hosts.',
      properties: { name: secretName },
    },
    timeout: {
      ...duration,
      default: '3s',
      description: 'Upstream timeout, a Go-style duration (3s, 500ms, 1m); 504 when exceeded.',
    },
    tls: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: { insecureSkipVerify: { type: 'boolean', default: false } },
    },
    keepalive: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', default: true },
        idleTimeout: { ...duration, default: '60s' },
        maxConnections: {
          type: 'integer',
          minimum: 1,
          maximum: 10000,
          description: 'Cap on connections to the upstream origin. Absent: no cap.',
        },
      },
    },
  },
  'x-kubernetes-validations': [
    {
      rule: '!has(self.target.forwardSubpath) || !self.target.forwardSubpath || self.match.pathType == "Prefix"',
      message: 'requires spec.match.pathType Prefix',
      fieldPath: '.target.forwardSubpath',
    },
    {
      rule: '!has(self.target.__function__) || !has(self.auth) || !has(self.auth.apiKey)',
      message: 'applies to url targets only (spec.target.url)',
      fieldPath: '.auth.apiKey',
    },
    {
      rule: '!has(self.certificateRef) || (has(self.hosts) && size(self.hosts) > 0)',
      message: 'requires spec.hosts: the certificate is served for the hosts of its route',
      fieldPath: '.certificateRef',
    },
  ],
} as const;

const condition = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string', maxLength: 32768 },
    observedGeneration: { type: 'integer', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
  },
} as const;

const status = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer', minimum: 0 },
    conditions: {
      type: 'array',
      maxItems: 8,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: condition,
    },
  },
} as const;

/** Schema of the whole object as stored in the CRD (metadata is the API server's). */
export const lambdaRouteSchema = {
  type: 'object',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    spec,
    status,
  },
} as const;

export const specSchema = spec;
