#!/usr/bin/env bash
# Brings the whole stack up on this machine: installs what is missing, starts Kafka and
# Postgres (or uses KAFKA_BROKERS / DATABASE_URL), migrates, and runs ingest, query and
# projector in the foreground. Ctrl-C, or SIGTERM to this script alone (a supervisor, `timeout`),
# stops everything this script started. Ports: INGEST_PORT, QUERY_PORT, PROJECTOR_PORT; a Kafka
# of its own on KAFKA_PORT / KAFKA_CONTROLLER_PORT when KAFKA_BROKERS is unset.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG_DIR="$ROOT/.cache/logs"
mkdir -p "$LOG_DIR"

say() { printf '\033[1m[stack]\033[0m %s\n' "$*"; }

pids=()
started_kafka=false
STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-30}"
cleanup() {
  trap - INT TERM EXIT
  say "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # a service that ignores SIGTERM for STOP_TIMEOUT seconds is killed
  local deadline=$((SECONDS + STOP_TIMEOUT)) pid
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if $started_kafka; then bash scripts/kafka/kafka.sh stop || true; fi
  say "stopped"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund
fi
say "building"
npm run --silent build

if [ -z "${KAFKA_BROKERS:-}" ]; then
  if port_open 127.0.0.1 "${KAFKA_PORT:-9092}"; then
    say "Kafka already answers on 127.0.0.1:${KAFKA_PORT:-9092}"
  else
    # set first: a signal that arrives while the broker starts must still stop it
    started_kafka=true
    bash scripts/kafka/kafka.sh start
  fi
  export KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-9092}"
fi
KAFKA_BROKERS="$KAFKA_BROKERS" bash scripts/kafka/kafka.sh topics

if [ -z "${DATABASE_URL:-}" ]; then
  if port_open 127.0.0.1 5432; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/sync"
  else
    say "no Postgres on 127.0.0.1:5432: starting an embedded one"
    node dist/scripts/postgres/embedded-postgres.cli.js > "$LOG_DIR/postgres.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 120); do
      grep -q '^DATABASE_URL=' "$LOG_DIR/postgres.out" && break
      kill -0 "${pids[-1]}" 2>/dev/null || { cat "$LOG_DIR/postgres.out"; exit 1; }
      sleep 0.5
    done
    DATABASE_URL="$(sed -n 's/^DATABASE_URL=//p' "$LOG_DIR/postgres.out")"
    export DATABASE_URL
  fi
fi
say "migrating $(node -e 'const u=new URL(process.argv[1]);u.password&&(u.password="***");console.log(u.toString())' "$DATABASE_URL")"
node dist/libs/persistence/src/migrate.js

# The dev stack runs without API keys (the dev flag; every service logs a loud warning).
# SYNC_AUTH_DISABLED=false bash scripts/stack.sh runs it with keys (see docs/SECURITY.md).
export SYNC_AUTH_DISABLED="${SYNC_AUTH_DISABLED:-true}"
if [ "$SYNC_AUTH_DISABLED" = "true" ]; then
  say "WARNING: authentication is OFF (SYNC_AUTH_DISABLED=true): development only"
fi

start_service() {
  local name=$1 port_var=$2 port=$3
  say "starting $name on http://127.0.0.1:$port"
  # the prefixing sed reads a process substitution, so $! is the service (node) itself and
  # cleanup signals it; sed ends when the service's output closes
  env "$port_var=$port" node "dist/apps/$name/src/main.js" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}
# The inspector's overview (GET /pipeline on query) asks the other two for their readiness.
export QUERY_INGEST_URL="${QUERY_INGEST_URL:-http://127.0.0.1:${INGEST_PORT:-3001}}"
export QUERY_PROJECTOR_URL="${QUERY_PROJECTOR_URL:-http://127.0.0.1:${PROJECTOR_PORT:-3003}}"
start_service ingest INGEST_PORT "${INGEST_PORT:-3001}"
start_service query QUERY_PORT "${QUERY_PORT:-3002}"
start_service projector PROJECTOR_PORT "${PROJECTOR_PORT:-3003}"

for spec in "ingest:${INGEST_PORT:-3001}" "query:${QUERY_PORT:-3002}" "projector:${PROJECTOR_PORT:-3003}"; do
  name=${spec%%:*}; port=${spec##*:}
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && break
    sleep 0.5
  done
  if curl -fsS "http://127.0.0.1:$port/health/live" >/dev/null 2>&1; then
    say "$name is up: http://127.0.0.1:$port (health: /health/ready, docs: /docs, metrics: /metrics)"
  else
    say "$name did not come up on port $port; see its output above"
  fi
done
say "inspector: http://127.0.0.1:${QUERY_PORT:-3002}/inspector/"
say "Kafka: $KAFKA_BROKERS  Postgres: ready. Press Ctrl-C to stop everything."
wait -n "${pids[@]}" || true
say "a process exited; shutting the stack down"
