#!/usr/bin/env bash
# Run a real Apache Kafka broker (KRaft, no ZooKeeper) for development, tests and CI,
# from jars fetched from Maven Central. Needs only java (17+) and mvn. Readiness checks and
# topic creation use kafkajs (scripts/kafka/kafka-admin.cjs) once `npm ci` has installed it,
# else the JVM Kafka tools. See scripts/kafka/README.md.
#
#   kafka.sh fetch | start | stop | restart | up | topics | status | logs [-f] | reset
#   kafka.sh start-cluster | stop-cluster | status-cluster | reset-cluster
#   kafka.sh kill-node N | stop-node N | start-node N
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
POM="$SCRIPT_DIR/pom.xml"
ADMIN_JS="$SCRIPT_DIR/kafka-admin.cjs"

KAFKA_VERSION="${KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)}"
CACHE_ROOT="${KAFKA_CACHE_DIR:-$REPO_ROOT/.cache/kafka}"
LIBS="$CACHE_ROOT/$KAFKA_VERSION/libs"
MARKER="$LIBS/.fetched"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
# Projectors can never outnumber partitions, and the count is fixed once the services recorded
# it (changing it means `cli repartition`): 12 leaves room for 12 projectors and splits evenly
# over 1, 2, 3, 4, 6 or 12 of them (docs/SCALING.md, Partition growth).
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-12}"
SYNC_TOPIC="${SYNC_TOPIC:-sync.operations}"
SYNC_DLQ_TOPIC="${SYNC_DLQ_TOPIC:-sync.operations.dlq}"
# the ingest publishes a batch of up to 10 MB as one record batch (broker default: ~1 MB)
TOPIC_MAX_MESSAGE_BYTES=16777216
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:-}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:-}"
# Optional second client listener SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT (single broker only)
# with SASL/PLAIN users "name:password ..." (docs/SECURITY.md); the PLAINTEXT listener stays.
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-}"
KAFKA_SASL_USERS="${KAFKA_SASL_USERS:-}"

KAFKA_CLUSTER_SIZE="${KAFKA_CLUSTER_SIZE:-3}"
KAFKA_CLUSTER_BASE_PORT="${KAFKA_CLUSTER_BASE_PORT:-19092}"
KAFKA_CLUSTER_CONTROLLER_BASE_PORT="${KAFKA_CLUSTER_CONTROLLER_BASE_PORT:-19192}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

have_node() { # node + kafkajs (from `npm ci`) available and not disabled with KAFKA_NO_NODE
  [[ -z "${KAFKA_NO_NODE:-}" && -f "$REPO_ROOT/node_modules/kafkajs/package.json" ]] &&
    command -v node >/dev/null 2>&1
}

ensure_cache_dir() {
  mkdir -p "$CACHE_ROOT"
  # keep generated files out of git even before the root .gitignore lists .cache/
  local top="$REPO_ROOT/.cache"
  if [[ "$CACHE_ROOT" == "$top"/* && ! -f "$top/.gitignore" ]]; then
    printf '*\n' >"$top/.gitignore"
  fi
}

# ------------------------------------------------------------------------------ fetch
pom_digest() { { echo "$KAFKA_VERSION"; cat "$POM"; } | sha256sum | cut -d' ' -f1; }

libs_ready() { [[ -f "$MARKER" && "$(cat "$MARKER")" == "$(pom_digest)" ]]; }

cmd_fetch() {
  command -v java >/dev/null 2>&1 || die "java not found (Java 17+ needed)"
  libs_ready && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once, to fetch the Kafka jars)"
  ensure_cache_dir
  local lock="$CACHE_ROOT/.fetch.lock"
  exec 9>"$lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if libs_ready; then exec 9>&-; return 0; fi # fetched by a concurrent run
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into ${LIBS#"$REPO_ROOT"/}"
  local t0=$SECONDS tmp="$LIBS.tmp.$$" out="$CACHE_ROOT/fetch-$KAFKA_VERSION.log"
  rm -rf "$tmp"
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -DincludeScope=runtime -DoutputDirectory="$tmp" >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    rm -rf "$tmp"
    die "fetching Kafka $KAFKA_VERSION failed (full log: $out)"
  fi
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "fetch produced no kafka_2.13 jar in $tmp"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  pom_digest >"$MARKER"
  exec 9>&-
  local jars=("$LIBS"/*.jar)
  log "fetched ${#jars[@]} jars in $((SECONDS - t0))s"
}

# JVM flags for the short-lived Kafka CLI tools (StorageTool, TopicCommand): small and quick to start
TOOL_JVM_OPTS=(-Xms64m -Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.level=WARN -Dlog4j2.statusLoggerLevel=OFF)
java_tool() { # java_tool MAIN_CLASS args... : run a Kafka CLI class (errors only on the terminal)
  java "${TOOL_JVM_OPTS[@]}" -cp "$LIBS/*" "$@"
}

# ------------------------------------------------------------------------------ instances
# An instance is one combined broker+controller JVM. These variables describe the current one.
INST="" NODE_ID="" PORT="" CPORT="" VOTERS="" DATA_DIR="" LOG_DIR="" RUN_DIR="" PROPS="" PIDFILE=""
RF=1 MIN_ISR=1 HEAP="-Xms256m -Xmx1g"

use_single() {
  INST="broker-$KAFKA_PORT"
  NODE_ID=1
  PORT="$KAFKA_PORT"
  CPORT="$KAFKA_CONTROLLER_PORT"
  VOTERS="1@127.0.0.1:$CPORT"
  DATA_DIR="$CACHE_ROOT/data-$KAFKA_PORT"
  LOG_DIR="$CACHE_ROOT/logs/broker-$KAFKA_PORT"
  RUN_DIR="$CACHE_ROOT/run/broker-$KAFKA_PORT"
  RF=1 MIN_ISR=1
  HEAP="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
  PROPS="$RUN_DIR/server.properties"
  PIDFILE="$RUN_DIR/kafka.pid"
}

cluster_ports() { # all broker ports of the cluster, comma separated host:port
  local i out=""
  for ((i = 1; i <= KAFKA_CLUSTER_SIZE; i++)); do
    out+="${out:+,}127.0.0.1:$((KAFKA_CLUSTER_BASE_PORT + i - 1))"
  done
  echo "$out"
}

use_node() { # use_node N (1-based) of the multi-node cluster
  local n="$1" i
  if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 1 || n > KAFKA_CLUSTER_SIZE)); then
    die "node must be 1..$KAFKA_CLUSTER_SIZE (got '$n')"
  fi
  INST="cluster-node$n"
  NODE_ID="$n"
  PORT=$((KAFKA_CLUSTER_BASE_PORT + n - 1))
  CPORT=$((KAFKA_CLUSTER_CONTROLLER_BASE_PORT + n - 1))
  VOTERS=""
  for ((i = 1; i <= KAFKA_CLUSTER_SIZE; i++)); do
    VOTERS+="${VOTERS:+,}$i@127.0.0.1:$((KAFKA_CLUSTER_CONTROLLER_BASE_PORT + i - 1))"
  done
  DATA_DIR="$CACHE_ROOT/cluster/data-node$n"
  LOG_DIR="$CACHE_ROOT/logs/cluster-node$n"
  RUN_DIR="$CACHE_ROOT/run/cluster-node$n"
  if ((KAFKA_CLUSTER_SIZE >= 3)); then RF=3 MIN_ISR=2; else RF="$KAFKA_CLUSTER_SIZE" MIN_ISR=1; fi
  HEAP="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
  PROPS="$RUN_DIR/server.properties"
  PIDFILE="$RUN_DIR/kafka.pid"
}

write_props() {
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
  {
    echo "# generated by scripts/kafka/kafka.sh ($INST) - edits are overwritten on start"
    echo "process.roles=broker,controller"
    echo "node.id=$NODE_ID"
    echo "controller.quorum.voters=$VOTERS"
    echo "listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT"
    echo "controller.listener.names=CONTROLLER"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    echo "log.dirs=$DATA_DIR"
    echo "num.partitions=$KAFKA_PARTITIONS"
    echo "default.replication.factor=$RF"
    echo "min.insync.replicas=$MIN_ISR"
    echo "offsets.topic.replication.factor=$RF"
    echo "offsets.topic.num.partitions=${KAFKA_OFFSETS_PARTITIONS:-10}"
    echo "transaction.state.log.replication.factor=$RF"
    echo "transaction.state.log.min.isr=$MIN_ISR"
    echo "transaction.state.log.num.partitions=${KAFKA_TXN_PARTITIONS:-10}"
    echo "group.initial.rebalance.delay.ms=0"
    echo "auto.create.topics.enable=false"
    echo "delete.topic.enable=true"
    echo "num.network.threads=2"
    echo "num.io.threads=4"
    echo "num.recovery.threads.per.data.dir=1"
    echo "log.cleaner.threads=1"
    echo "log.cleaner.dedupe.buffer.size=16777216"
    if [[ -n "$KAFKA_SASL_PORT" && "$INST" == broker-* ]]; then
      local user jaas="org.apache.kafka.common.security.plain.PlainLoginModule required"
      for user in $KAFKA_SASL_USERS; do jaas+=" user_${user%%:*}=\"${user#*:}\""; done
      echo "listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT,CONTROLLER://127.0.0.1:$CPORT"
      echo "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_PLAINTEXT://127.0.0.1:$KAFKA_SASL_PORT"
      echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
      echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
      echo "listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas;"
      # SCRAM users live in the cluster metadata (kafka-configs --alter --entity-type users).
      echo "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
      echo "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
    fi
    local kv
    for kv in $KAFKA_EXTRA_CONFIG; do echo "$kv"; done
  } >"$PROPS"
  # The file may hold SASL passwords.
  chmod 600 "$PROPS"
}

pid_of() { # pid of the running instance, or nothing
  [[ -f "$PIDFILE" ]] || return 0
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # the pid must still be our java process (pids get reused)
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$PROPS"; then
    echo "$pid"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

broker_ready() { # broker_ready BOOTSTRAP MIN_BROKERS [WAIT_MS] : one check (node: polls up to WAIT_MS)
  if have_node; then
    node "$ADMIN_JS" --bootstrap "$1" ready --brokers "$2" --timeout "${3:-0}" --quiet
  else
    # no node: port open, then a metadata round trip through the JVM admin client (slow, ~3 s)
    port_open "${1##*:}" || return 1
    local cfg="$CACHE_ROOT/run/tool-client.properties"
    mkdir -p "$CACHE_ROOT/run"
    printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$cfg"
    timeout 30 java "${TOOL_JVM_OPTS[@]}" -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$1" --command-config "$cfg" --list >/dev/null 2>&1
  fi
}

format_storage() { # format_storage CLUSTER_ID
  [[ -f "$DATA_DIR/meta.properties" ]] && return 0
  log "formatting KRaft storage in ${DATA_DIR#"$REPO_ROOT"/} (cluster id $1)"
  if ! java_tool kafka.tools.StorageTool format -t "$1" -c "$PROPS" --ignore-formatted \
    >"$LOG_DIR/format.log" 2>&1; then
    cat "$LOG_DIR/format.log" >&2
    die "formatting storage failed"
  fi
}

random_cluster_id() { # a Kafka Uuid: 16 random bytes, url-safe base64, no padding, not starting with '-'
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && { echo "$id"; return; }
  done
}

launch() { # launch the current instance in the background (does not wait)
  local jvm_opts
  # shellcheck disable=SC2206
  jvm_opts=($HEAP $KAFKA_JVM_OPTS)
  rm -f "$PIDFILE"
  : >"$LOG_DIR/kafka.out"
  local detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  # the inner shell writes its own pid, then execs java: the pid file names the JVM itself
  # shellcheck disable=SC2016
  nohup "${detach[@]}" bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    java "${jvm_opts[@]}" \
    -Dlog4j2.configurationFile="$SCRIPT_DIR/log4j2.properties" \
    -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" \
    >>"$LOG_DIR/kafka.out" 2>&1 </dev/null 8>&- 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s "$PIDFILE" ]] && break; sleep 0.1; done
}

show_failure() {
  log "---- last lines of ${LOG_DIR#"$REPO_ROOT"/}/server.log ----"
  tail -n 40 "$LOG_DIR/server.log" 2>/dev/null >&2 || true
  if [[ -s "$LOG_DIR/kafka.out" ]]; then
    log "---- ${LOG_DIR#"$REPO_ROOT"/}/kafka.out ----"
    tail -n 20 "$LOG_DIR/kafka.out" >&2
  fi
}

wait_ready() { # wait_ready BOOTSTRAP MIN_BROKERS PID...
  local bootstrap="$1" want="$2"
  shift 2
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) pid
  while :; do
    for pid in "$@"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        show_failure
        die "broker process $pid exited during startup"
      fi
    done
    # node polls for up to 2 s per call; the loop checks that the JVMs are still alive
    broker_ready "$bootstrap" "$want" 2000 && return 0
    if ((SECONDS >= deadline)); then
      show_failure
      die "broker(s) at $bootstrap not ready after ${KAFKA_START_TIMEOUT}s"
    fi
    sleep 0.25
  done
}

stop_pids() { # stop_pids PID... : SIGTERM, wait, SIGKILL after KAFKA_STOP_TIMEOUT
  local pid deadline=$((SECONDS + KAFKA_STOP_TIMEOUT)) alive
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  while :; do
    alive=()
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]} == 0)) && return 0
    if ((SECONDS >= deadline)); then
      log "still running after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL to ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.5
      return 0
    fi
    sleep 0.2
  done
}

rss_of() { awk '/^VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$1/status" 2>/dev/null || true; }

# ------------------------------------------------------------------------------ single broker
cmd_start() {
  use_single
  mkdir -p "$RUN_DIR"
  # one start at a time per port (parallel test runners may all call start)
  exec 8>"$RUN_DIR/start.lock"
  if command -v flock >/dev/null 2>&1; then flock 8; fi
  local pid
  pid="$(pid_of)"
  if [[ -n "$pid" ]]; then
    if broker_ready "127.0.0.1:$PORT" 1; then
      log "already running (pid $pid, 127.0.0.1:$PORT)"
      return 0
    fi
    log "process $pid exists but 127.0.0.1:$PORT is not ready yet; waiting"
    wait_ready "127.0.0.1:$PORT" 1 "$pid"
    log "ready on 127.0.0.1:$PORT (pid $pid)"
    return 0
  fi
  if port_open "$PORT"; then
    if broker_ready "127.0.0.1:$PORT" 1; then
      log "a Kafka broker not started by this script already answers on 127.0.0.1:$PORT; using it"
      return 0
    fi
    die "port $PORT is in use by something that is not a ready Kafka broker"
  fi
  port_open "$CPORT" && die "controller port $CPORT is in use (set KAFKA_CONTROLLER_PORT)"
  cmd_fetch
  local t0
  t0="$(date +%s%N)"
  write_props
  format_storage "$(random_cluster_id)"
  launch
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { show_failure; die "broker did not start"; }
  wait_ready "127.0.0.1:$PORT" 1 "$pid"
  log "Kafka $KAFKA_VERSION ready on 127.0.0.1:$PORT (pid $pid) in $((($(date +%s%N) - t0) / 1000000)) ms; logs: ${LOG_DIR#"$REPO_ROOT"/}/server.log"
}

cmd_stop() {
  use_single
  local pid
  pid="$(pid_of)"
  if [[ -z "$pid" ]]; then
    rm -f "$PIDFILE"
    log "not running (127.0.0.1:$PORT)"
    return 0
  fi
  stop_pids "$pid"
  rm -f "$PIDFILE"
  log "stopped (pid $pid)"
}

create_topics() { # create_topics BOOTSTRAP RF [extra k=v config...]
  local bootstrap="$1" rf="$2"
  shift 2
  local topics=("$SYNC_TOPIC" "$SYNC_DLQ_TOPIC") c t
  local cfg=(retention.ms=-1 "max.message.bytes=$TOPIC_MAX_MESSAGE_BYTES" "$@")
  if have_node; then
    local args=()
    for c in "${cfg[@]}"; do args+=(--config "$c"); done
    node "$ADMIN_JS" --bootstrap "$bootstrap" ensure-topics --partitions "$KAFKA_PARTITIONS" \
      --replication-factor "$rf" "${args[@]}" "${topics[@]}"
  else
    cmd_fetch
    local args=()
    for c in "${cfg[@]}"; do args+=(--config "$c"); done
    for t in "${topics[@]}"; do
      java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create --if-not-exists \
        --topic "$t" --partitions "$KAFKA_PARTITIONS" --replication-factor "$rf" "${args[@]}"
    done
  fi
}

cmd_topics() {
  use_single
  create_topics "${KAFKA_BROKERS:-127.0.0.1:$PORT}" "${KAFKA_REPLICATION_FACTOR:-1}"
}

cmd_status() {
  use_single
  local pid
  pid="$(pid_of)"
  if [[ -n "$pid" ]]; then
    echo "Kafka $KAFKA_VERSION: process $pid, RSS $(rss_of "$pid"), 127.0.0.1:$PORT (controller $CPORT)"
  else
    echo "Kafka: no broker started by kafka.sh for port $PORT"
  fi
  echo "data: ${DATA_DIR#"$REPO_ROOT"/}  logs: ${LOG_DIR#"$REPO_ROOT"/}"
  if have_node; then
    if node "$ADMIN_JS" --bootstrap "127.0.0.1:$PORT" ready --timeout 0; then
      node "$ADMIN_JS" --bootstrap "127.0.0.1:$PORT" describe "$SYNC_TOPIC" "$SYNC_DLQ_TOPIC" || true
      return 0
    fi
    return 1
  fi
  [[ -n "$pid" ]] && port_open "$PORT"
}

cmd_logs() {
  use_single
  local f="$LOG_DIR/server.log"
  [[ -f "$f" ]] || die "no log yet at $f"
  if [[ "${1:-}" == "-f" ]]; then tail -n "${LINES_TO_SHOW:-50}" -F "$f"; else tail -n "${LINES_TO_SHOW:-100}" "$f"; fi
}

cmd_reset() {
  cmd_stop
  use_single
  rm -rf "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"
  log "removed data and logs of the broker on port $PORT"
}

# ------------------------------------------------------------------------------ cluster mode
cluster_cluster_id() {
  local f="$CACHE_ROOT/cluster/cluster.id"
  mkdir -p "$CACHE_ROOT/cluster"
  [[ -s "$f" ]] || random_cluster_id >"$f"
  cat "$f"
}

start_node_nowait() { # start_node_nowait N : prints the pid (empty when it was already running)
  use_node "$1"
  local pid
  pid="$(pid_of)"
  if [[ -n "$pid" ]]; then
    log "node $1 already running (pid $pid, 127.0.0.1:$PORT)"
    return 0
  fi
  port_open "$PORT" && die "port $PORT (node $1) is in use"
  port_open "$CPORT" && die "controller port $CPORT (node $1) is in use"
  write_props
  format_storage "$(cluster_cluster_id)"
  launch
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { show_failure; die "node $1 did not start"; }
  echo "$pid"
}

cmd_start_cluster() {
  cmd_fetch
  ensure_cache_dir
  local n pids=() pid t0
  t0="$(date +%s%N)"
  for ((n = 1; n <= KAFKA_CLUSTER_SIZE; n++)); do
    pid="$(start_node_nowait "$n")"
    [[ -n "$pid" ]] && pids+=("$pid")
  done
  local bootstrap
  bootstrap="$(cluster_ports)"
  if ((${#pids[@]} > 0)); then wait_ready "$bootstrap" "$KAFKA_CLUSTER_SIZE" "${pids[@]}"; else wait_ready "$bootstrap" "$KAFKA_CLUSTER_SIZE"; fi
  use_node 1
  create_topics "$bootstrap" "$RF" "min.insync.replicas=$MIN_ISR"
  log "cluster of $KAFKA_CLUSTER_SIZE ready on $bootstrap (rf $RF, min.insync.replicas $MIN_ISR) in $((($(date +%s%N) - t0) / 1000000)) ms"
}

cmd_stop_cluster() {
  local n pid pids=()
  for ((n = 1; n <= KAFKA_CLUSTER_SIZE; n++)); do
    use_node "$n"
    pid="$(pid_of)"
    [[ -n "$pid" ]] && pids+=("$pid")
  done
  # stop all at once: a broker waiting for a controller quorum that is already gone hangs otherwise
  ((${#pids[@]} > 0)) && stop_pids "${pids[@]}"
  for ((n = 1; n <= KAFKA_CLUSTER_SIZE; n++)); do use_node "$n"; rm -f "$PIDFILE"; done
  log "cluster stopped${pids[*]:+ (pids ${pids[*]})}"
}

cmd_status_cluster() {
  local n pid rc=0
  for ((n = 1; n <= KAFKA_CLUSTER_SIZE; n++)); do
    use_node "$n"
    pid="$(pid_of)"
    if [[ -n "$pid" ]]; then
      echo "node $n: pid $pid, RSS $(rss_of "$pid"), 127.0.0.1:$PORT (controller $CPORT)"
    else
      echo "node $n: down (127.0.0.1:$PORT)"
      rc=1
    fi
  done
  if have_node; then
    node "$ADMIN_JS" --bootstrap "$(cluster_ports)" ready --timeout 0 || true
    node "$ADMIN_JS" --bootstrap "$(cluster_ports)" describe "$SYNC_TOPIC" "$SYNC_DLQ_TOPIC" || true
  fi
  return "$rc"
}

cmd_kill_node() { # SIGKILL: a crash, no controlled shutdown
  use_node "${1:?usage: kill-node N}"
  local pid
  pid="$(pid_of)"
  [[ -n "$pid" ]] || { log "node $1 is not running"; return 0; }
  kill -KILL "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  rm -f "$PIDFILE"
  log "killed node $1 (pid $pid, 127.0.0.1:$PORT)"
}

cmd_stop_node() { # SIGTERM: controlled shutdown
  use_node "${1:?usage: stop-node N}"
  local pid
  pid="$(pid_of)"
  [[ -n "$pid" ]] || { log "node $1 is not running"; return 0; }
  stop_pids "$pid"
  rm -f "$PIDFILE"
  log "stopped node $1 (pid $pid)"
}

cmd_start_node() {
  cmd_fetch
  local pid
  pid="$(start_node_nowait "${1:?usage: start-node N}")"
  use_node "$1"
  if [[ -n "$pid" ]]; then
    # back when this node answers and the whole cluster is registered again
    wait_ready "127.0.0.1:$PORT" "$KAFKA_CLUSTER_SIZE" "$pid"
    if have_node && [[ -z "${KAFKA_NO_WAIT_ISR:-}" ]]; then
      # and every replica has caught up again, so the next fault starts from a healthy cluster
      node "$ADMIN_JS" --bootstrap "$(cluster_ports)" wait-isr --timeout "$((KAFKA_START_TIMEOUT * 1000))" ||
        die "node $1 is up but replicas did not catch up"
    fi
    log "node $1 back on 127.0.0.1:$PORT (pid $pid), all partitions in sync"
  fi
}

cmd_reset_cluster() {
  cmd_stop_cluster
  rm -rf "$CACHE_ROOT/cluster" "$CACHE_ROOT"/logs/cluster-node* "$CACHE_ROOT"/run/cluster-node*
  log "removed cluster data and logs"
}

usage() {
  cat <<EOF
usage: scripts/kafka/kafka.sh COMMAND
  fetch            fetch the Kafka $KAFKA_VERSION jars from Maven Central (once)
  start            start one broker+controller on 127.0.0.1:\$KAFKA_PORT (default 9092), wait until ready
  stop             stop it (SIGTERM, SIGKILL after \$KAFKA_STOP_TIMEOUT s)
  restart          stop + start
  topics           create $SYNC_TOPIC and $SYNC_DLQ_TOPIC ($KAFKA_PARTITIONS partitions, retention.ms=-1,
                   max.message.bytes=$TOPIC_MAX_MESSAGE_BYTES) if missing
  up               start + topics
  status           process, memory, readiness, topics
  logs [-f]        tail the broker log
  reset            stop and delete the broker's data and logs
  start-cluster    start \$KAFKA_CLUSTER_SIZE (3) nodes on 127.0.0.1:$KAFKA_CLUSTER_BASE_PORT.. (rf 3, min ISR 2) + topics
  stop-cluster | status-cluster | reset-cluster
  kill-node N      SIGKILL cluster node N (1-based)     stop-node N   graceful stop of node N
  start-node N     start node N again and wait until the cluster has all its brokers
EOF
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop && cmd_start ;;
    topics) cmd_topics ;;
    up) cmd_start && cmd_topics ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    reset) cmd_reset ;;
    start-cluster) cmd_start_cluster ;;
    stop-cluster) cmd_stop_cluster ;;
    status-cluster) cmd_status_cluster ;;
    reset-cluster) cmd_reset_cluster ;;
    kill-node) cmd_kill_node "$@" ;;
    stop-node) cmd_stop_node "$@" ;;
    start-node) cmd_start_node "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
