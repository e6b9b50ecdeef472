# syntax=docker/dockerfile:1
# lambda-ingress runs its TypeScript sources directly (Node 24 strips the types
# itself): there is no build step, only the production dependencies to install.
#
#   docker build -t lambda-ingress:dev .
#   docker run --rm -p 9080:9080 -p 9091:9091 lambda-ingress:dev demo
#
# The default command is `controller` (in-cluster config); any other
# subcommand and its flags can be given as arguments.

ARG BUILD_IMAGE=node:24-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# All dependencies are plain JavaScript: no install scripts needed.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Distroless: Node.js and nothing else (no shell, no package manager); user 65532.
FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/ ./bin/
COPY src/ ./src/
COPY crds/ ./crds/
COPY examples/ ./examples/
USER 65532:65532
# 9080: data plane (HTTP routes); 9091: admin (/healthz, /readyz, /metrics, /debug/routes)
EXPOSE 9080 9091
ENTRYPOINT ["/nodejs/bin/node", "bin/lambda-ingress"]
CMD ["controller"]
