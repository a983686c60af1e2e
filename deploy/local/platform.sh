#!/usr/bin/env bash
# Runs Tandem's own processes (workers, gateway, delivery, nightly models) on top of the stack that stack.sh started.
#   platform.sh run   foreground: start, load the demo tenant, print URLs and key; Ctrl-C stops all
#   platform.sh up    the same in the background, returning when the gateway is ready
#   platform.sh down  stop the processes started by up
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
STATE=$ROOT/.state
LOGS=$STATE/logs
PIDS=$STATE/platform
BIN=$ROOT/.venv/bin
mkdir -p "$LOGS" "$PIDS"
# shellcheck disable=SC1091
[[ -f $STATE/env ]] && source "$STATE/env"
PORT=${TANDEM_HTTP_PORT:-8000}
URL="http://127.0.0.1:$PORT"

log() { printf '[platform] %s\n' "$*"; }

running() { [[ -f $PIDS/$1.pid ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

start() {
  local name=$1; shift
  if running "$name"; then log "$name already running (pid $(cat "$PIDS/$name.pid"))"; return; fi
  log "starting $name (log: .state/logs/$name.log)"
  "$@" >>"$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

stop() {
  local name=$1
  running "$name" || { rm -f "$PIDS/$name.pid"; return 0; }
  local pid; pid=$(cat "$PIDS/$name.pid")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDS/$name.pid"
}

wait_ready() {
  log "waiting for the gateway at $URL/readyz ..."
  for i in $(seq 1 120); do
    if curl -fsS "$URL/readyz" >/dev/null 2>&1; then log "gateway ready after ${i}s"; return 0; fi
    running gateway || { tail -n 30 "$LOGS/gateway.log" >&2; log "gateway exited"; exit 1; }
    sleep 1
  done
  tail -n 30 "$LOGS/gateway.log" >&2
  log "gateway not ready after 120 s"; exit 1
}

# The saved demo key is stale when the database was recreated since (clean-state, a new
# volume): the gateway then answers 401 and the demo tenant is loaded again. A valid key
# gets 400 for the empty batch, which sends nothing.
demo_key_works() {
  [[ -s $STATE/demo.key ]] || return 1
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v1/events" \
    -H "X-API-Key: $(cat "$STATE/demo.key")" -H 'content-type: application/json' -d '[]')
  [[ $status == 400 ]]
}

start_all() {
  # Webhook receivers and CRM stand-ins on this machine's loopback address are allowed
  # locally, when saved (gateway) and sent to; nothing else of the special networks.
  export TANDEM_EGRESS_ALLOW_NETWORKS=${TANDEM_EGRESS_ALLOW_NETWORKS:-127.0.0.1/32,::1/128}
  # The owner role (BYPASSRLS) is for migrations and the admin CLI (the demo below); the
  # long-running processes (worker, gateway, delivery) get the application role only.
  # The one worker is a static group member: restarted, it takes its partitions back at once
  # instead of after the broker's session timeout (docs/operations.md).
  start worker env -u TANDEM_DATABASE_ADMIN_URL \
    TANDEM_WORKER_INSTANCE="${TANDEM_WORKER_INSTANCE:-local-worker-0}" "$BIN/tandem" worker
  start gateway env -u TANDEM_DATABASE_ADMIN_URL "$BIN/tandem" gateway --port "$PORT"
  # Webhooks, Slack and CRM sync (SPEC 15).
  start delivery env -u TANDEM_DATABASE_ADMIN_URL "$BIN/tandem" delivery
  wait_ready
  if ! demo_key_works; then
    log "creating the demo tenant and sending its journeys ..."
    "$BIN/tandem" demo --slug demo --url "$URL" | tee "$STATE/demo.out"
    grep -o 'tdm_[A-Za-z0-9_-]*' "$STATE/demo.out" | head -n 1 >"$STATE/demo.key"
  fi
  # The predictive lead models (SPEC 18), off the hot path: once the demo's events have been
  # applied, then nightly.
  start models env -u TANDEM_DATABASE_ADMIN_URL bash -c \
    "sleep 120; while :; do '$BIN/tandem' models train; sleep 86400; done"
  cat <<MSG

  Tandem is running.
    GraphQL (GraphiQL in a browser):  $URL/graphql
    Event ingestion:                  POST $URL/v1/events
    Health / readiness / metrics:     $URL/healthz  $URL/readyz  $URL/metrics
    Delivery service health, metrics: http://127.0.0.1:${TANDEM_DELIVERY_HTTP_PORT:-8001}/healthz  /metrics
    Dashboard (sign in with the key): $URL/app/
    Demo tenant admin API key:        $(cat "$STATE/demo.key")

MSG
}

case ${1:-} in
  run)
    trap 'echo; stop models; stop delivery; stop gateway; stop worker; bash "$ROOT/deploy/local/stack.sh" down; exit 0' INT TERM
    start_all
    log "Ctrl-C stops the platform and the stack"
    while running gateway && running worker && running delivery; do sleep 1; done
    log "a process exited; see .state/logs"; stop models; stop delivery; stop gateway; stop worker; exit 1
    ;;
  up) start_all ;;
  down) stop models; stop delivery; stop gateway; stop worker ;;
  *) echo "usage: $0 run|up|down" >&2; exit 2 ;;
esac
