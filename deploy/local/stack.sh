#!/usr/bin/env bash
# Local PostgreSQL and single-node Apache Kafka (KRaft) for development and tests, on a
# machine without Docker. Everything lives in <repo>/.state; see deploy/local/README.md.
#
#   stack.sh up | down | status
#   stack.sh start-kafka | stop-kafka | start-postgres | stop-postgres
#   stack.sh web-tools | bench-tools   (node, npm, chromium for web/ and its tests; wrk)
#
# TANDEM_DATABASE_URL / TANDEM_KAFKA_BOOTSTRAP pointing elsewhere mean "use that, start
# nothing"; set to the values this script itself writes, they mean the local stack.
#
# TANDEM_KAFKA_SASL=1 (not the default) starts the broker from
# deploy/kafka/server-sasl.properties: a SASL/SCRAM listener for partners on port 19094
# and the StandardAuthorizer with ACLs. Its SCRAM users are created when the broker's
# storage is first formatted, from TANDEM_KAFKA_SCRAM_USERS="partner-acme=password,...";
# grant each one its tenant's topics with deploy/kafka/PrefixAcl.java.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd -P)
STATE=$ROOT/.state
LOGS=$STATE/logs
ENV_FILE=$STATE/env

PG_HOST=127.0.0.1
PG_PORT=55432
PG_DATA=$STATE/postgres
PG_RUN=$STATE/run
PG_LOG=$LOGS/postgres.log
PG_INIT_SQL=$ROOT/deploy/postgres/init.sql
PG_TIMEOUT=${TANDEM_STACK_PG_TIMEOUT:-60}
LOCAL_DB_URL="postgresql://tandem_app:tandem_app@$PG_HOST:$PG_PORT/tandem"
LOCAL_DB_ADMIN_URL="postgresql://tandem_owner:tandem_owner@$PG_HOST:$PG_PORT/tandem"

KAFKA_TEMPLATE_DIR=$ROOT/deploy/kafka
KAFKA_DIR=$STATE/kafka
KAFKA_LIBS=$KAFKA_DIR/libs
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_CONF=$KAFKA_DIR/server.properties
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_CLUSTER_ID=$KAFKA_DIR/cluster.id
KAFKA_LOG=$LOGS/kafka.log
KAFKA_HEAP=${TANDEM_KAFKA_HEAP:--Xms256m -Xmx768m}
KAFKA_TIMEOUT=${TANDEM_STACK_KAFKA_TIMEOUT:-120}
KAFKA_STOP_TIMEOUT=${TANDEM_STACK_KAFKA_STOP_TIMEOUT:-30}
# The template is the one place the ports are written down.
KAFKA_BOOTSTRAP=$(sed -n 's#^listeners=.*PLAINTEXT://\([^,]*\).*#\1#p' "$KAFKA_TEMPLATE_DIR/server.properties")
KAFKA_CONTROLLER=$(sed -n 's#^listeners=.*CONTROLLER://\([^,]*\).*#\1#p' "$KAFKA_TEMPLATE_DIR/server.properties")

# A unix socket path is limited to ~107 bytes; deep checkouts fall back to /tmp.
if (( ${#PG_RUN} > 80 )); then
  PG_RUN=/tmp/tandem-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-10)
fi

log() { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] warning: %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
since() { local t=$(( $(now_ms) - $1 )); printf '%d.%01ds' $(( t / 1000 )) $(( t % 1000 / 100 )); }
rel() { printf '%s' "${1#"$ROOT"/}"; }

tail_log() {
  local file=$1
  [[ -s $file ]] || return 0
  printf '[stack] ---- last lines of %s ----\n' "$(rel "$file")" >&2
  tail -n "${2:-30}" "$file" >&2
  printf '[stack] ----\n' >&2
}

# kill -0 also succeeds on a zombie, and reaping of daemons reparented to pid 1 can lag.
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# Connects, not binds: true when anything accepts on host:port.
port_open() {
  # shellcheck disable=SC2016  # expanded by the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# Names the process holding a port; another checkout's stack is the usual culprit, since
# every checkout uses the same ports.
who_listens() {
  command -v ss >/dev/null || return 0
  local pid cmd
  for pid in $(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    printf '[stack]   port %s: pid %s: %.200s\n' "$1" "$pid" "$cmd" >&2
    if [[ $cmd =~ (/[^ ]*)/\.state/(postgres|kafka/server\.properties) ]]; then
      printf '[stack]   that is the stack of %s: stop it with %s/deploy/local/stack.sh down\n' \
        "${BASH_REMATCH[1]}" "${BASH_REMATCH[1]}" >&2
    fi
  done
}

need_root_for() {
  if (( EUID == 0 )); then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else die "need root to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "$* not installed and no apt-get here; install it by hand"
  mkdir -p "$LOGS"
  if (( ! APT_UPDATED )); then
    log "apt: updating package lists ..."
    need_root_for apt-get update -q >>"$LOGS/apt.log" 2>&1 || { tail_log "$LOGS/apt.log"; die "apt-get update failed"; }
    APT_UPDATED=1
  fi
  log "apt: installing $* (log $(rel "$LOGS/apt.log")) ..."
  need_root_for env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
    >>"$LOGS/apt.log" 2>&1 || { tail_log "$LOGS/apt.log"; die "apt-get install $* failed"; }
}

ensure_state_dirs() {
  mkdir -p "$STATE" "$LOGS" "$KAFKA_DIR"
}

# Serialises concurrent runs (e.g. two make targets at once) on the same .state.
take_lock() {
  ensure_state_dirs
  exec 9>"$STATE/.stack.lock"
  if ! flock -n 9; then
    log "waiting for another stack.sh on this checkout ..."
    flock 9
  fi
}

# -------------------------------------------------------------------------- PostgreSQL

pg_external() { [[ -n ${TANDEM_DATABASE_URL:-} && $TANDEM_DATABASE_URL != "$LOCAL_DB_URL" ]]; }

# initdb and the server refuse to run as root.
as_pg() {
  if (( EUID == 0 )); then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_owner() { if (( EUID == 0 )); then echo postgres; else id -un; fi; }

PG_BIN=
find_pg_bin() {
  local want=
  [[ -f $PG_DATA/PG_VERSION ]] && want=$(<"$PG_DATA/PG_VERSION")
  if [[ -n $want ]]; then
    [[ -x /usr/lib/postgresql/$want/bin/initdb ]] && PG_BIN=/usr/lib/postgresql/$want/bin
  else
    local d
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    [[ -n $d && -x $d/initdb ]] && PG_BIN=$d
  fi
  [[ -n $PG_BIN ]]
}

ensure_pg_installed() {
  if ! find_pg_bin; then
    if [[ -f $PG_DATA/PG_VERSION ]]; then
      local v; v=$(<"$PG_DATA/PG_VERSION")
      log "postgres: $(rel "$PG_DATA") was created by PostgreSQL $v, installing its binaries"
      apt_install "postgresql-$v"
    else
      apt_install postgresql
    fi
    find_pg_bin || die "no /usr/lib/postgresql/*/bin/initdb after installing PostgreSQL"
  fi
  if (( EUID == 0 )) && ! id -u postgres >/dev/null 2>&1; then
    log "postgres: creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
      --shell /usr/sbin/nologin postgres
  fi
  if ! as_pg test -x "$STATE"; then
    die "user $(pg_owner) cannot enter $STATE; make the path to the checkout traversable (chmod o+x on its parents)"
  fi
}

pg_pid() {
  local pid
  [[ -r $PG_DATA/postmaster.pid ]] || return 1
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres* ]] || return 1
  echo "$pid"
}

pg_locale() {
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

pg_init() {
  [[ -f $PG_DATA/PG_VERSION ]] && return 0
  log "postgres: initialising cluster in $(rel "$PG_DATA") ..."
  rm -rf "$PG_DATA"
  mkdir -p "$PG_DATA"
  chown "$(pg_owner):" "$PG_DATA"
  chmod 700 "$PG_DATA"
  # Socket connections are peer-authenticated (the superuser, for init.sql); TCP needs a
  # password, so the URLs exercise the same auth path as a real deployment.
  if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale="$(pg_locale)" \
      --auth-local=peer --auth-host=scram-sha-256 >"$LOGS/initdb.log" 2>&1; then
    tail_log "$LOGS/initdb.log"
    rm -rf "$PG_DATA"
    die "initdb failed"
  fi
  printf "\ninclude_if_exists = 'tandem.conf'\n" >>"$PG_DATA/postgresql.conf"
}

# Rewritten on every start so changes here reach existing clusters.
pg_write_conf() {
  cat >"$PG_DATA/tandem.conf" <<EOF
# Written by deploy/local/stack.sh on every start; edits here are lost.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 200
# Workers hold an advisory lock per lead, identity, domain and account of a transaction (up
# to 5,000 events): the shared lock table (this x max_connections) must hold several.
max_locks_per_transaction = 256
password_encryption = scram-sha-256

# This is the disposable dev/test stack: durability is traded for speed (a crash of the
# machine may corrupt .state/postgres; reset it). Production runs its own PostgreSQL.
fsync = off
synchronous_commit = off
full_page_writes = off

# Tables are re-analyzed soon after a tenant grows (migration 0046): the launcher looks
# for work every 10 s rather than every minute.
autovacuum_naptime = 10s
shared_buffers = 256MB
shared_preload_libraries = 'pg_stat_statements'
work_mem = 16MB
maintenance_work_mem = 128MB
max_wal_size = 2GB
checkpoint_timeout = 15min

logging_collector = off
log_min_messages = warning
log_min_error_statement = error
log_line_prefix = '%m [%p] %q%u@%d '
EOF
  chown "$(pg_owner):" "$PG_DATA/tandem.conf"
}

pg_psql_super() {
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres "$@"
}

pg_apply_roles() {
  # Fed on stdin so the postgres user need not be able to read the checkout.
  pg_psql_super -d postgres <"$PG_INIT_SQL" >>"$LOGS/init-sql.log" 2>&1 \
    || { tail_log "$LOGS/init-sql.log"; die "deploy/postgres/init.sql failed"; }
}

pg_wait_app_login() {
  local deadline=$(( $(now_ms) + PG_TIMEOUT * 1000 )) err
  until err=$(PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -qAt -d "$LOCAL_DB_URL" -c 'select 1' 2>&1 >/dev/null); do
    if (( $(now_ms) > deadline )); then
      tail_log "$PG_LOG"
      die "postgres: tandem_app cannot log in after ${PG_TIMEOUT}s: $err"
    fi
    sleep 0.3
  done
}

pg_start_local() {
  local t0; t0=$(now_ms)
  ensure_pg_installed
  local pid
  if pid=$(pg_pid); then
    log "postgres: already running (pid $pid)"
  else
    if port_open "$PG_HOST" "$PG_PORT"; then
      who_listens "$PG_PORT"
      die "postgres: $PG_HOST:$PG_PORT is taken by another process, not this checkout's $(rel "$PG_DATA")"
    fi
    pg_init
    pg_write_conf
    mkdir -p "$PG_RUN"
    chown "$(pg_owner):" "$PG_RUN"
    touch "$PG_LOG"
    chown "$(pg_owner):" "$PG_LOG"
    log "postgres: starting on $PG_HOST:$PG_PORT (log $(rel "$PG_LOG")) ..."
    # pg_ctl detaches the server into its own session, so it outlives this shell. Fd 9 is
    # the stack lock: a server inheriting it would hold the lock for its whole life.
    if ! as_pg "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_TIMEOUT" -s 9>&-; then
      tail_log "$PG_LOG"
      die "postgres did not start within ${PG_TIMEOUT}s"
    fi
  fi
  pg_apply_roles
  pg_wait_app_login
  log "postgres: ready ($(since "$t0"))"
}

pg_wait_external() {
  local t0; t0=$(now_ms)
  local deadline=$(( t0 + PG_TIMEOUT * 1000 )) isready=''
  if find_pg_bin; then isready=$PG_BIN/pg_isready; else isready=$(command -v pg_isready || true); fi
  log "postgres: using TANDEM_DATABASE_URL ($(mask_url "$TANDEM_DATABASE_URL")), starting none"
  if [[ -z $isready ]]; then
    warn "no pg_isready here; not checking the external database"
    return 0
  fi
  until "$isready" -q -t 3 -d "$TANDEM_DATABASE_URL"; do
    (( $(now_ms) > deadline )) && die "postgres at TANDEM_DATABASE_URL not accepting connections after ${PG_TIMEOUT}s"
    sleep 0.5
  done
  log "postgres: external database accepts connections ($(since "$t0"))"
}

pg_stop_local() {
  local pid
  if ! pid=$(pg_pid); then
    log "postgres: not running"
    return 0
  fi
  find_pg_bin || die "postgres is running (pid $pid) but its pg_ctl is missing"
  log "postgres: stopping (pid $pid) ..."
  if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$PG_TIMEOUT" -s; then
    warn "postgres: fast shutdown timed out, using immediate"
    as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m immediate -w -t 30 -s || die "postgres (pid $pid) would not stop"
  fi
  log "postgres: stopped"
}

mask_url() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#' <<<"$1"; }

# ------------------------------------------------------------------------------- Kafka

kafka_external() { [[ -n ${TANDEM_KAFKA_BOOTSTRAP:-} && $TANDEM_KAFKA_BOOTSTRAP != "$KAFKA_BOOTSTRAP" ]]; }

kafka_pid() {
  local pid
  [[ -r $KAFKA_PID ]] || return 1
  pid=$(<"$KAFKA_PID")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  # Guards against a recycled pid: it must be our broker with our config.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $KAFKA_CONF" || return 1
  echo "$pid"
}

ensure_java() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
}

kafka_fill_libs() {
  local pom=$KAFKA_TEMPLATE_DIR/pom.xml sum
  sum=$(sha256sum "$pom" | cut -d' ' -f1)
  if [[ -f $KAFKA_LIBS/.pom.sha256 && $(<"$KAFKA_LIBS/.pom.sha256") == "$sum" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || apt_install maven
  local t0; t0=$(now_ms)
  log "kafka: fetching broker jars with Maven into $(rel "$KAFKA_LIBS") (first run downloads ~45 MB) ..."
  rm -rf "$KAFKA_LIBS.tmp"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
      -DoutputDirectory="$KAFKA_LIBS.tmp" -DincludeScope=runtime >"$LOGS/maven.log" 2>&1; then
    tail_log "$LOGS/maven.log"
    rm -rf "$KAFKA_LIBS.tmp"
    die "Maven could not fetch the Kafka jars (network, proxy or ~/.m2/settings.xml?)"
  fi
  ls "$KAFKA_LIBS.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "Maven left no kafka_2.13 jar in $KAFKA_LIBS.tmp"
  echo "$sum" >"$KAFKA_LIBS.tmp/.pom.sha256"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
  local jars=("$KAFKA_LIBS"/*.jar)
  log "kafka: ${#jars[@]} jars ready ($(since "$t0"))"
}

kafka_java() {
  java -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_TEMPLATE_DIR/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

kafka_render_conf() {
  local name=server.properties tpl
  [[ ${TANDEM_KAFKA_SASL:-} == 1 ]] && name=server-sasl.properties
  tpl=$(<"$KAFKA_TEMPLATE_DIR/$name")
  tpl=${tpl//@KAFKA_DATA_DIR@/$KAFKA_DATA}
  tpl=${tpl//@PLAINTEXT_PORT@/19092}
  tpl=${tpl//@CONTROLLER_PORT@/19093}
  tpl=${tpl//@SASL_PORT@/19094}
  printf '# Rendered from deploy/kafka/%s by stack.sh; edit the template.\n%s\n' \
    "$name" "$tpl" >"$KAFKA_CONF"
}

# --add-scram arguments for TANDEM_KAFKA_SCRAM_USERS (name=password,...), SASL stack only.
kafka_scram_args() {
  [[ ${TANDEM_KAFKA_SASL:-} == 1 && -n ${TANDEM_KAFKA_SCRAM_USERS:-} ]] || return 0
  local pair
  for pair in ${TANDEM_KAFKA_SCRAM_USERS//,/ }; do
    printf -- '--add-scram\nSCRAM-SHA-512=[name=%s,password=%s]\n' "${pair%%=*}" "${pair#*=}"
  done
}

# Formats once; the cluster id is kept so a wiped data folder comes back as the same cluster.
kafka_format() {
  [[ -f $KAFKA_DATA/meta.properties ]] && return 0
  local id
  if [[ -s $KAFKA_CLUSTER_ID ]]; then
    id=$(<"$KAFKA_CLUSTER_ID")
  else
    id=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$KAFKA_LOG" | tail -n 1)
    [[ $id =~ ^[A-Za-z0-9_-]{22}$ ]] || { tail_log "$KAFKA_LOG"; die "kafka: StorageTool random-uuid gave '$id'"; }
    echo "$id" >"$KAFKA_CLUSTER_ID"
  fi
  log "kafka: formatting storage in $(rel "$KAFKA_DATA") (cluster id $id) ..."
  mkdir -p "$KAFKA_DATA"
  local scram=()
  mapfile -t scram < <(kafka_scram_args)
  if ! kafka_java kafka.tools.StorageTool format -t "$id" -c "$KAFKA_CONF" --standalone "${scram[@]}" >>"$KAFKA_LOG" 2>&1; then
    tail_log "$KAFKA_LOG"
    die "kafka: storage format failed (remove $(rel "$KAFKA_DATA") if it holds a half-formatted folder)"
  fi
}

# A real Metadata round trip (ApiVersions to pick the version, then Metadata listing at
# least one broker), with nothing but the Python standard library, so it works before any
# virtualenv exists and costs ~50 ms instead of a JVM start.
KAFKA_PROBE_PY='
import socket, struct, sys
host, port = sys.argv[1].split(",")[0].strip().rsplit(":", 1)
CLIENT = b"tandem-stack-probe"

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf

def call(s, key, ver, corr, body, flexible):
    hdr = struct.pack(">hhih", key, ver, corr, len(CLIENT)) + CLIENT + (b"\0" if flexible else b"")
    s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
    data = recv_exact(s, struct.unpack(">i", recv_exact(s, 4))[0])
    if struct.unpack(">i", data[:4])[0] != corr:
        raise ValueError("correlation id mismatch")
    return data[4:]

def uvarint(b, i):
    shift = val = 0
    while True:
        x = b[i]; i += 1
        val |= (x & 0x7F) << shift
        if not x & 0x80:
            return val, i
        shift += 7

with socket.create_connection((host, int(port)), timeout=float(sys.argv[2])) as s:
    r = call(s, 18, 0, 1, b"", False)
    err, n = struct.unpack(">hi", r[:6])
    if err:
        raise SystemExit(f"ApiVersions error {err}")
    ranges = {k: (lo, hi) for k, lo, hi in (struct.unpack(">hhh", r[6 + 6 * j: 12 + 6 * j]) for j in range(n))}
    lo, hi = ranges[3]
    if lo <= 12 <= hi:
        r = call(s, 3, 12, 2, b"\x00\x00\x00\x00", True)
        _, i = uvarint(r, 0)
        brokers, _ = uvarint(r, i + 4)
        brokers -= 1
    elif lo <= 4 <= hi:
        r = call(s, 3, 4, 2, struct.pack(">ib", -1, 0), False)
        brokers = struct.unpack(">i", r[4:8])[0]
    else:
        raise SystemExit(f"broker supports Metadata v{lo}-v{hi} only")
    if brokers < 1:
        raise SystemExit("metadata lists no broker yet")
'
PYTHON=
find_python() {
  [[ -n $PYTHON ]] && return 0
  local p
  for p in /usr/bin/python3 python3 "$ROOT/.venv/bin/python"; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null; then
      PYTHON=$p
      return 0
    fi
  done
  return 1
}

# Prints the failure reason on stdout; exit status tells.
kafka_probe() {
  local bootstrap=$1 out
  if ! find_python; then
    local hp=${bootstrap%%,*}
    port_open "${hp%:*}" "${hp##*:}" && return 0
    echo "port not open"; return 1
  fi
  out=$("$PYTHON" -c "$KAFKA_PROBE_PY" "$bootstrap" 3 2>&1) && return 0
  echo "${out##*$'\n'}"
  return 1
}

kafka_wait_ready() {
  local bootstrap=$1 pid=${2:-} t0=$3 deadline=$(( $3 + KAFKA_TIMEOUT * 1000 )) why='' last_note=0
  find_python || warn "no python3 here: judging Kafka readiness by its open port only"
  while ! why=$(kafka_probe "$bootstrap"); do
    if [[ -n $pid ]] && ! alive "$pid"; then
      tail_log "$KAFKA_LOG" 40
      rm -f "$KAFKA_PID"
      die "kafka exited during startup (log $(rel "$KAFKA_LOG"))"
    fi
    if (( $(now_ms) > deadline )); then
      if [[ -n $pid ]]; then
        tail_log "$KAFKA_LOG" 40
        die "kafka at $bootstrap not answering a metadata request after ${KAFKA_TIMEOUT}s: $why (broker pid $pid left running; stack.sh stop-kafka stops it)"
      fi
      die "kafka at $bootstrap not answering a metadata request after ${KAFKA_TIMEOUT}s: $why"
    fi
    if (( $(now_ms) - last_note > 10000 )); then
      (( last_note )) && log "kafka: still waiting for $bootstrap ($(since "$t0"))"
      last_note=$(now_ms)
    fi
    sleep 0.5
  done
}

kafka_start_local() {
  local t0 pid
  t0=$(now_ms)
  if pid=$(kafka_pid); then
    log "kafka: already running (pid $pid)"
    kafka_wait_ready "$KAFKA_BOOTSTRAP" "$pid" "$t0"
    log "kafka: ready ($(since "$t0"))"
    return 0
  fi
  local hp
  for hp in "$KAFKA_BOOTSTRAP" "$KAFKA_CONTROLLER"; do
    if port_open "${hp%:*}" "${hp##*:}"; then
      who_listens "${hp##*:}"
      die "kafka: $hp is taken by another process (not this checkout's broker)"
    fi
  done
  ensure_java
  kafka_fill_libs
  kafka_render_conf
  kafka_format
  log "kafka: starting broker on $KAFKA_BOOTSTRAP (log $(rel "$KAFKA_LOG")) ..."
  printf '==== %s stack.sh start-kafka\n' "$(date -Is)" >>"$KAFKA_LOG"
  rm -f "$KAFKA_PID"
  # Own session: Ctrl-C in the terminal that ran `make up`, or the end of that shell,
  # must not take the broker down. The inner shell records its pid before becoming java.
  # Fd 9 (the stack lock) is closed so the broker does not hold the lock for its life.
  # shellcheck disable=SC2086,SC2016  # KAFKA_HEAP is a list of flags; $$ is the inner shell's
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PID" \
    java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$KAFKA_TEMPLATE_DIR/log4j2.properties" \
      -Dkafka.logs.dir="$LOGS" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF" \
      </dev/null >>"$KAFKA_LOG" 2>&1 9>&- &
  local _
  for _ in {1..50}; do [[ -s $KAFKA_PID ]] && break; sleep 0.1; done
  pid=$(<"$KAFKA_PID") || die "kafka: no pid file written"
  kafka_wait_ready "$KAFKA_BOOTSTRAP" "$pid" "$t0"
  log "kafka: ready ($(since "$t0"))"
}

kafka_wait_external() {
  local t0; t0=$(now_ms)
  log "kafka: using TANDEM_KAFKA_BOOTSTRAP ($TANDEM_KAFKA_BOOTSTRAP), starting none"
  kafka_wait_ready "$TANDEM_KAFKA_BOOTSTRAP" "" "$t0"
  log "kafka: external broker answers ($(since "$t0"))"
}

kafka_stop_local() {
  local pid t0
  if ! pid=$(kafka_pid); then
    rm -f "$KAFKA_PID"
    log "kafka: not running"
    return 0
  fi
  t0=$(now_ms)
  log "kafka: stopping (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( t0 + KAFKA_STOP_TIMEOUT * 1000 ))
  while alive "$pid"; do
    if (( $(now_ms) > deadline )); then
      warn "kafka: still alive after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$KAFKA_PID"
  log "kafka: stopped ($(since "$t0"))"
}

# ------------------------------------------------------------------------- commands

env_value() {
  if [[ $1 =~ ^[A-Za-z0-9@%+=:,./_-]*$ ]]; then printf '%s' "$1"
  else printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

# The local stack's own keys (the JWT secret, the key sealing stored secrets, the metrics
# scrape token): random per checkout, kept across rewrites of the env file so that tokens
# stay valid and sealed secrets still open. There is no built-in key anywhere else.
dev_key() {
  local name=$1 kept=
  [[ -f $ENV_FILE ]] && kept=$(sed -n "s/^export $name=//p" "$ENV_FILE")
  if [[ -n ${!name:-} ]]; then printf '%s' "${!name}"
  elif [[ -n $kept ]]; then printf '%s' "$kept"
  else od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
  fi
}

write_env() {
  local db admin kafka jwt sealing metrics tmp=$ENV_FILE.tmp
  jwt=$(dev_key TANDEM_JWT_SECRET)
  sealing=$(dev_key TANDEM_SECRETS_KEY)
  metrics=$(dev_key TANDEM_METRICS_TOKEN)
  if pg_external; then db=$TANDEM_DATABASE_URL; admin=${TANDEM_DATABASE_ADMIN_URL:-}
  else db=$LOCAL_DB_URL; admin=$LOCAL_DB_ADMIN_URL
  fi
  if kafka_external; then kafka=$TANDEM_KAFKA_BOOTSTRAP; else kafka=$KAFKA_BOOTSTRAP; fi
  {
    echo "# Written by deploy/local/stack.sh up; source it (. .state/env) to reach the stack."
    echo "export TANDEM_DATABASE_URL=$(env_value "$db")"
    if [[ -n $admin ]]; then
      echo "export TANDEM_DATABASE_ADMIN_URL=$(env_value "$admin")"
    else
      warn "TANDEM_DATABASE_ADMIN_URL is not set; migrations need it with an external database"
    fi
    echo "export TANDEM_KAFKA_BOOTSTRAP=$(env_value "$kafka")"
    echo "export TANDEM_JWT_SECRET=$(env_value "$jwt")"
    echo "export TANDEM_SECRETS_KEY=$(env_value "$sealing")"
    echo "export TANDEM_METRICS_TOKEN=$(env_value "$metrics")"
  } >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$ENV_FILE"
}

cmd_up() {
  local t0; t0=$(now_ms)
  take_lock
  if pg_external; then pg_wait_external; else pg_start_local; fi
  if kafka_external; then kafka_wait_external; else kafka_start_local; fi
  write_env
  log "stack ready in $(since "$t0"); environment in $(rel "$ENV_FILE")"
  # shellcheck disable=SC1090
  ( . "$ENV_FILE"
    printf '  TANDEM_DATABASE_URL=%s\n' "$TANDEM_DATABASE_URL"
    printf '  TANDEM_KAFKA_BOOTSTRAP=%s\n' "$TANDEM_KAFKA_BOOTSTRAP" )
}

cmd_down() {
  take_lock
  kafka_stop_local
  pg_stop_local
}

cmd_status() {
  local pid rc=0 why
  if pg_external; then
    echo "postgres: external, TANDEM_DATABASE_URL=$(mask_url "$TANDEM_DATABASE_URL")"
  elif pid=$(pg_pid); then
    if find_pg_bin && "$PG_BIN/pg_isready" -q -t 2 -h "$PG_HOST" -p "$PG_PORT"; then
      echo "postgres: running, pid $pid, $PG_HOST:$PG_PORT, data $(rel "$PG_DATA")"
    else
      echo "postgres: running but not accepting connections, pid $pid, $PG_HOST:$PG_PORT"; rc=3
    fi
  else
    echo "postgres: stopped (data $(rel "$PG_DATA")$([[ -f $PG_DATA/PG_VERSION ]] || echo ', not initialised'))"; rc=3
  fi
  if kafka_external; then
    echo "kafka: external, TANDEM_KAFKA_BOOTSTRAP=$TANDEM_KAFKA_BOOTSTRAP"
  elif pid=$(kafka_pid); then
    if why=$(kafka_probe "$KAFKA_BOOTSTRAP"); then
      echo "kafka: running, pid $pid, $KAFKA_BOOTSTRAP, data $(rel "$KAFKA_DATA")"
    else
      echo "kafka: running but not answering ($why), pid $pid, $KAFKA_BOOTSTRAP"; rc=3
    fi
  else
    echo "kafka: stopped (data $(rel "$KAFKA_DATA")$([[ -f $KAFKA_DATA/meta.properties ]] || echo ', not formatted'))"; rc=3
  fi
  return "$rc"
}

# -------------------------------------------------------------------------- dashboard tools

# Node and npm build web/ (the dashboard); Debian's chromium runs its browser tests.
cmd_web_tools() {
  command -v npm >/dev/null || apt_install nodejs npm
  command -v chromium >/dev/null || apt_install chromium
}

# wrk loads the gateway in `make bench` (the dashboard overview figure) without being the
# bottleneck itself.
cmd_bench_tools() {
  command -v wrk >/dev/null || apt_install wrk
}

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    web-tools) cmd_web_tools ;;
    bench-tools) cmd_bench_tools ;;
    start-kafka) take_lock; if kafka_external; then kafka_wait_external; else kafka_start_local; fi ;;
    stop-kafka) take_lock; kafka_stop_local ;;
    start-postgres) take_lock; if pg_external; then pg_wait_external; else pg_start_local; fi ;;
    stop-postgres) take_lock; pg_stop_local ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
