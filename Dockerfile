# syntax=docker/dockerfile:1
#
# Stamp's container image: a builder stage with the dev dependencies compiles TypeScript and the
# Prisma client; the runtime stage carries production dependencies and dist/ only, runs as the
# unprivileged `node` user, and reports health on /healthz. docs/production.md describes the
# settings; docker-compose.yml runs two of these behind nginx on PostgreSQL.

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS builder
WORKDIR /app
# On Node 24 argon2 0.45 loads its prebuilt binary; the toolchain stays for architectures without
# one (node-gyp then compiles it from source).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json prisma.config.ts ./
COPY prisma ./prisma
COPY src ./src
# Files read at run time: the hosted pages' stylesheet (and scripts), the common-password list.
COPY assets ./assets
# The admin console's sources (Preact, built by Vite into dist/console during `npm run build`).
COPY console ./console
# The npm workspace: stamp-verifier, which the server depends on (built first by `npm run build`).
COPY packages ./packages
# `prepare` runs the build: prisma generate (no schema engine needed) + tsc → dist/, with the
# generated client compiled into dist/generated, and the admin console → dist/console (served
# from there at /console; the runtime stage needs no console source or build tool).
RUN npm ci --no-audit --no-fund
# Drop the dev dependencies; the compiled argon2 binding stays (prune runs no install scripts).
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
WORKDIR /app
COPY --from=builder /app/package.json ./
COPY --from=builder /app/node_modules ./node_modules
COPY --from=builder /app/dist ./dist
COPY --from=builder /app/assets ./assets
COPY --from=builder /app/packages/verifier/package.json ./packages/verifier/package.json
COPY --from=builder /app/packages/verifier/dist ./packages/verifier/dist
# Migrations are applied at start (under PostgreSQL's advisory lock, so any number of instances
# may start at once); they are read from prisma/migrations.
COPY --from=builder /app/prisma ./prisma
# Writable by the service user: data/ for the embedded database (trying the image without
# DATABASE_URL), keys/ for a generated KEK when none is provided. Production uses neither.
RUN mkdir -p /app/data /app/keys && chown node:node /app/data /app/keys
USER node
ENV HOST=0.0.0.0 \
    PORT=4000
EXPOSE 4000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# One process per container by default (the orchestrator scales containers); set WORKERS or
# pass --workers to use several cores in one container.
ENV WORKERS=1
CMD ["node", "dist/cli/index.js", "serve"]
