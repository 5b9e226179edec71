#!/bin/sh
# Runs one Aloft component from the image: scheduler, worker, dashboard, run-task (the
# entrypoint of a task pod), or the aloft CLI. Each runs from its package's folder, where
# its own dependencies (tsx among them) resolve.
set -eu
run() {
  dir="$1"; shift
  cd "/app/$dir"
  exec node --conditions=aloft-source --import tsx "$@"
}
case "${1:-worker}" in
  scheduler) shift; run apps/scheduler src/main.ts "$@" ;;
  worker) shift; run apps/worker src/main.ts "$@" ;;
  dashboard) shift; run apps/dashboard src/main.ts "$@" ;;
  run-task) shift; run apps/worker src/run-task.ts "$@" ;;
  aloft) shift; run packages/cli src/main.ts "$@" ;;
  *) exec "$@" ;;
esac
