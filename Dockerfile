# The Gatehouse image (issuer and forward-auth): `docker build -t ghcr.io/gatehouse/gatehouse:0.1.0 .`
# The Deployments in deploy/kustomize choose the program with `args`.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
RUN npm install -g pnpm@12.4.2
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY packages ./packages
COPY e2e/package.json ./e2e/package.json
COPY bench/package.json ./bench/package.json
RUN pnpm install --frozen-lockfile --prod --filter @gatehouse/issuer... --filter @gatehouse/forward-auth...

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
USER node
EXPOSE 5556 5558 4180
CMD ["node", "packages/issuer/src/cli.ts", "--help"]
