# syntax=docker/dockerfile:1
# One image for the scheduler, the workers, the dashboard and task pods (runInPod):
#   docker build -t aloft/aloft:dev .
#   docker run aloft/aloft:dev scheduler | worker | dashboard | run-task | aloft …
# The apps run from their TypeScript sources through tsx (no build step), as in development.

ARG NODE_IMAGE=node:20.19.5-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV PNPM_HOME=/pnpm CI=true
RUN npm install --global --no-audit --no-fund pnpm@10.34.8
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
COPY apps/scheduler/package.json apps/scheduler/
COPY apps/worker/package.json apps/worker/
COPY apps/dashboard/package.json apps/dashboard/
COPY packages/core/package.json packages/core/
COPY packages/cli/package.json packages/cli/
COPY packages/bench/package.json packages/bench/
COPY packages/k8s-emulator/package.json packages/k8s-emulator/
COPY packages/sdk/package.json packages/sdk/
COPY packages/testing/package.json packages/testing/
RUN pnpm install --frozen-lockfile --prod --ignore-scripts \
 && pnpm rebuild esbuild msgpackr-extract

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    ALOFT_DAGS_FOLDER=/app/dags \
    ALOFT_LOG_PRETTY=0
WORKDIR /app
COPY --from=deps --chown=root:root /app /app
COPY --chown=root:root tsconfig.base.json ./
# Every workspace package but the tests, as the deps stage installed them (tests/deploy.test.ts
# checks both lists; pnpm installs the workspace without the tests' manifest).
COPY --chown=root:root apps ./apps
COPY --chown=root:root packages ./packages
COPY --chown=root:root examples/dags ./dags
COPY --chown=root:root deploy/docker/entrypoint.sh /usr/local/bin/aloft-entrypoint
# runInPod task pods run `aloft-entrypoint run-task` (ALOFT_TASK_POD_COMMAND).
RUN chmod 0755 /usr/local/bin/aloft-entrypoint
# The node user (uid 1000) from the base image: nothing runs as root.
USER 1000:1000
EXPOSE 8080 8791 8792
ENTRYPOINT ["/usr/local/bin/aloft-entrypoint"]
CMD ["worker"]
