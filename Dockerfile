# syntax=docker/dockerfile:1
# lambda-ingress compiled: the build stage runs `npm run build` (tsc, src/ to
# dist/), and the image ships dist/ with the production dependencies only, no
# src/: bin/lambda-ingress then runs dist/cli.js and Node never loads its type
# stripper (about 30 MB less per process).
#
#   docker build -t lambda-ingress:dev .
#   docker run --rm -p 9080:9080 -p 9091:9091 lambda-ingress:dev demo
#
# The default command is `controller` (in-cluster config); any other
# subcommand and its flags can be given as arguments.

ARG BUILD_IMAGE=node:24-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# All dependencies are plain JavaScript: no install scripts needed.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src/ ./src/
RUN npm run build

FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Distroless: Node.js and nothing else (no shell, no package manager); user 65532.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
# V8 lets the young generation grow to 128 MB (two 64 MB semi-spaces) during a
# list or watch storm and keeps it; 8 MB semi-spaces keep it at 16 MB, which
# measured 14-28 MB less RSS than 16 MB ones with 3,000 routes, and no slower
# compiles (BENCHMARKS.md, issue 15). The old generation Node sizes from the
# container's memory limit by itself (half of it: 384 MB in the 768Mi pod of
# deploy/ and the chart). Set NODE_OPTIONS in the pod to change it.
ENV NODE_OPTIONS=--max-semi-space-size=8
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/ ./bin/
COPY --from=build /app/dist/ ./dist/
COPY crds/ ./crds/
COPY examples/ ./examples/
USER 65532:65532
# 9080: data plane (HTTP routes); 9091: admin (/healthz, /readyz, /metrics, /debug/routes)
EXPOSE 9080 9091
ENTRYPOINT ["/nodejs/bin/node", "bin/lambda-ingress"]
CMD ["controller"]
