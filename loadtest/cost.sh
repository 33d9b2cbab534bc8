#!/usr/bin/env bash
# The server's instructions per purchase, counted by callgrind: a cost figure that the
# machine's speed and load cannot move. Usage: loadtest/cost.sh [N] | --profile [RUN]
#
#   N [490]    purchases (1..2000), made one after another by one client; with the 10
#              warm-up purchases, 490 fill one show of 500 seats, as the flow's shows fill
#              (the seat map reads every taken seat of its show, so a purchase costs more
#              the fuller its show: compare builds at the same N)
#   --profile  print again where the instructions per purchase of run RUN went (RUN: a
#              results/cost-<time> prefix; the latest run when left out)
#
# It builds the release binary (or takes BIN), starts it under `valgrind --tool=callgrind`
# on a fresh database in a scratch folder, with --sync full and the flags of the flow
# scenario (run.sh flow: buyers sign in with JWTs, the waiting room opened wide, group
# commit), and creates the catalogue (shows of 500 seats) and the buyers through the API, as
# seed.js does for the flow. The client (cost_client.py, Python's standard library; it does
# not run under valgrind) keeps one connection, sends one request at a time, and checks every
# answer's status. Then callgrind counts four windows, each opened with `callgrind_control
# --zero` and closed with `callgrind_control --dump`:
#
#   purchases  N purchases, each exactly one iteration of flow.js: join the line with the
#              buyer's JWT, its status (until active), the concert, the seat map, hold a
#              seat, top up, pay
#   idle       the client connects and closes, then nothing, for as many rounds of the jobs
#              as the purchases window held: what that window costs without the purchases
#   health     M (HEALTH [1000]) GET /health; then an idle window as long as it
#
# and prints instructions per purchase = (Ir(purchases) - Ir(idle)) / N, and per /health
# request the same way. The jobs that follow a purchase (the admission tick with the waiting
# room's save of the sessions, and the outbox relay, which delivers its events) run together
# every ROUND [20] seconds; every window opens just after such a round and closes just after
# one, with at least one round after the client's last request, so the jobs' share of the
# purchases is in the figure and each window holds a whole number of rounds whatever the
# machine's speed (a round with nothing to do shows in the idle window, per round). The
# other jobs (hold sweep, cleanups, SQLite's optimize) get the longest interval their flag
# takes and never run in a window. Not counted: starting the server, creating the catalogue
# and the buyers, WARMUP [10] purchases before the windows (so the first use of each
# statement and cache is not charged to the figure), shutting down.
#
# Output: the figures, and results/cost-<time>.{md,purchases.callgrind,idle.callgrind}: the
# summary with the profile (loadtest/cost_profile.py: the parts of the server by own cost,
# a few entry points and the top functions, per purchase), and the two dumps, for
# callgrind_annotate. Exit status non-zero when the server does not start, a request gets
# an unexpected answer, or callgrind fails. Only 127.0.0.1 is used.
#
# Environment knobs (defaults in brackets):
#   BIN            measure this server binary instead of building one (e.g. a copy of an
#                  earlier target/release/boxoffice, to compare two builds side by side)
#   LABEL          the build's name in the summary [the checkout's commit]; set it with BIN
#   HEALTH [1000]  GET /health requests of the health window (0: no health window)
#   WARMUP [10]    purchases before the windows, not counted
#   ROUND [20]     seconds between the rounds of the admission tick and the relay (2..60)
#   BUYER_AUTH [jwt]  open: --buyer-auth open (the body's userId believed)
#   RESULTS [loadtest/results]   KEEP [0] 1: keep the scratch folder
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
results=${RESULTS:-$here/results}
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
log() { printf '== %s\n' "$*" >&2; }
die() { printf 'cost.sh: %s\n' "$*" >&2; exit 1; }

if [[ ${1:-} == --profile ]]; then
  run=${2:-}
  if [[ -z $run ]]; then
    run=$(find "$results" -maxdepth 1 -name 'cost-*.purchases.callgrind' 2>/dev/null | sort | tail -1)
    [[ -n $run ]] || die "no run in $results"
    run=${run%.purchases.callgrind}
  fi
  [[ -f $run.purchases.callgrind && -f $run.idle.callgrind && -f $run.md ]] \
    || die "no run $run (wants $run.purchases.callgrind, .idle.callgrind and .md)"
  n=$(sed -n 's/^- purchases counted: \([0-9]*\).*/\1/p' "$run.md")
  [[ -n $n ]] || die "$run.md does not say how many purchases were counted"
  exec python3 "$here/cost_profile.py" "$run.purchases.callgrind" --minus "$run.idle.callgrind" \
    --per "$n" --markdown
fi
case ${1:-} in -h | --help) usage; exit 0 ;; esac

# in_range VALUE LOW HIGH: VALUE is a whole number from LOW to HIGH.
in_range() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= $2 && $1 <= $3 )); }
purchases=${1:-490}
if ! in_range "$purchases" 1 2000; then
  usage >&2
  die "N is a number of purchases from 1 to 2000, not '$purchases'"
fi
health=${HEALTH:-1000}
in_range "$health" 0 100000 || die "HEALTH is 0 to 100000, not '$health'"
warmup=${WARMUP:-10}
in_range "$warmup" 0 1000 || die "WARMUP is 0 to 1000, not '$warmup'"
for tool in valgrind callgrind_control python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
build=${LABEL:-$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)}
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin=${BIN:-$target_dir/release/boxoffice}
if [[ -n ${BIN:-} ]]; then
  log "using BIN=$BIN (not building)"
else
  log "cargo build --release"
  (cd "$root" && cargo build --release --quiet --bin boxoffice)
fi
[[ -x $bin ]] || die "no server binary at $bin"

mkdir -p "$results" "$here/results/tmp"
# Two runs started in the same second (two builds side by side) must not share their
# results: the first to create the summary file keeps the name, the other adds a letter.
claimed=
for suffix in '' b c d e f g h; do
  if (set -C; : >"$results/cost-$stamp$suffix.md") 2>/dev/null; then
    stamp=$stamp$suffix claimed=1
    break
  fi
done
[[ -n $claimed ]] || die "no free name for the results of $stamp"
scratch=$(mktemp -d "$here/results/tmp/cost-$stamp-XXXX")
server_pid=
stop_server() {
  [[ -n $server_pid ]] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  local _
  for _ in $(seq 1 300); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
cleanup() {
  stop_server
  if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the server under callgrind ----------------------------------------------------------

help=$("$bin" serve --help) || die "$bin serve --help failed"
auth_flags=()
buyer_auth=${BUYER_AUTH:-jwt}
[[ $buyer_auth == jwt || $buyer_auth == open ]] || die "BUYER_AUTH is jwt or open, not '$buyer_auth'"
unset BUYER_JWT_SECRET
if ! grep -q -- '--buyer-auth' <<<"$help"; then
  buyer_auth="none (a build without --buyer-auth: the body's userId is believed)"
elif [[ $buyer_auth == jwt ]]; then
  BUYER_JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  export BUYER_JWT_SECRET
  auth_flags=(--buyer-auth jwt --buyer-jwt-secret "$BUYER_JWT_SECRET")
else
  auth_flags=(--buyer-auth open)
fi
# The flow's flags (run.sh flow). The jobs that follow the purchases (the admission tick
# with the waiting room's save, the outbox relay) run together every $period s; the others
# get the longest interval their flag takes, so that they never run during the windows.
period=${ROUND:-20}
in_range "$period" 2 60 || die "ROUND is 2 to 60 seconds, not '$period'"
flags=(--sync full --write-batch 64 --queue-issue-rate-limit 0 --queue-admit-per-minute 6000000
  "${auth_flags[@]}"
  --queue-tick "${period}s" --outbox-interval "${period}s" --hold-sweep-interval 1h
  --cleanup-interval 1day --optimize-interval 7days)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin_token="cost-$(date +%s%N)"
out="$scratch/callgrind.out"
log "server under callgrind on 127.0.0.1:$port ($bin; buyer auth: $buyer_auth)"
RUST_LOG=warn,boxoffice::jobs=debug valgrind --tool=callgrind --callgrind-out-file="$out" \
  --dump-instr=no --log-file="$scratch/valgrind.log" \
  "$bin" serve --listen "127.0.0.1:$port" --db "$scratch/cost.db" \
  --admin-token "$admin_token" "${flags[@]}" >"$scratch/server.log" 2>&1 &
server_pid=$!
started=
for _ in $(seq 1 600); do
  if curl -fsS "$base/health" >/dev/null 2>&1; then started=1; break; fi
  kill -0 "$server_pid" 2>/dev/null \
    || { tail -n 20 "$scratch/server.log" >&2; tail -n 3 "$scratch/valgrind.log" >&2; server_pid=; die "the server did not start"; }
  sleep 0.2
done
[[ -n $started ]] || die "the server did not answer /health within 120 s under callgrind"

client() { python3 "$here/cost_client.py" "$@"; }
log "setup: the catalogue, $((warmup + purchases)) buyers, $warmup warm-up purchases, 10 GET /health"
RUN_ID=$stamp client setup --base "$base" --admin-token "$admin_token" \
  --out "$scratch/catalogue.json" --purchases "$purchases" --warmup "$warmup" \
  || die "setup failed"
if (( warmup > 0 )); then
  RUN_ID=$stamp client buy --base "$base" --catalogue "$scratch/catalogue.json" \
    --first 0 --count "$warmup" || die "a warm-up purchase failed"
fi
client health --base "$base" --count 10 || die "GET /health failed"

# --- the windows -------------------------------------------------------------------------

# A round: the admission tick, the waiting room's save and the outbox relay, which run
# together every $period s; the server logs each run (boxoffice::jobs at debug level).
rounds() {
  local job n min=
  for job in queue_admission queue_persist outbox_relay; do
    n=$(grep 'job ran' "$scratch/server.log" | grep -c "$job" || true)
    if [[ -z $min ]] || (( n < min )); then min=$n; fi
  done
  echo "$min"
}
# wait_rounds N: until N rounds have run (bounded).
wait_rounds() {
  local deadline=$((SECONDS + period * 4 + 120))
  while (( $(rounds) < $1 )); do
    (( SECONDS < deadline )) || die "the jobs did not run within $((period * 4 + 120)) s"
    kill -0 "$server_pid" 2>/dev/null || die "the server died (see $scratch/server.log)"
    sleep 0.1
  done
}
dumps=0
now() { date +%s.%N; }
# window NAME ROUNDS CLIENT_ARGS...: zero right after a round, run the client, wait for
# ROUNDS rounds and at least one after the client's last request (which does the jobs'
# share of its work), dump right after it. Every window thus starts and ends just after a
# round and holds a whole number of rounds. Sets window_rounds and window_seconds and leaves
# $scratch/NAME.callgrind.
window() {
  local name=$1 want=$2 r0 r1 target t0 t1
  shift 2
  r0=$(rounds)
  callgrind_control --zero "$server_pid" >"$scratch/control.log" 2>&1 \
    || { cat "$scratch/control.log" >&2; die "callgrind_control --zero failed"; }
  # A round between the one just seen and the zero would be half in the window.
  (( $(rounds) == r0 )) || die "window $name: a round ran while the window opened"
  t0=$(now)
  RUN_ID=$stamp client "$@" || die "window $name: the client failed"
  r1=$(rounds)
  target=$(( r0 + want > r1 + 1 ? r0 + want : r1 + 1 ))
  wait_rounds "$target"
  callgrind_control --dump="$name" "$server_pid" >"$scratch/control.log" 2>&1 \
    || { cat "$scratch/control.log" >&2; die "callgrind_control --dump failed"; }
  t1=$(now)
  (( $(rounds) == target )) || die "window $name: a round ran while the window closed"
  dumps=$((dumps + 1))
  [[ -s $out.$dumps ]] || die "callgrind wrote no dump $out.$dumps"
  mv "$out.$dumps" "$scratch/$name.callgrind"
  window_rounds=$((target - r0))
  window_seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  log "$name: $window_seconds s, $window_rounds rounds, $(ir "$name") instructions"
}
ir() { awk '/^totals:/ { print $2; exit }' "$scratch/$1.callgrind"; }

log "waiting for a round of the jobs (every $period s)"
wait_rounds $(( $(rounds) + 1 ))
log "purchases: $purchases"
window purchases 1 buy --base "$base" --catalogue "$scratch/catalogue.json" \
  --first "$warmup" --count "$purchases"
purchase_rounds=$window_rounds
purchase_seconds=$window_seconds
# As many rounds as the purchases window: the client connects and closes, then nothing.
window idle "$purchase_rounds" buy --base "$base" --catalogue "$scratch/catalogue.json" \
  --first "$warmup" --count 0
idle_seconds=$window_seconds
if (( health > 0 )); then
  window health 1 health --base "$base" --count "$health"
  health_rounds=$window_rounds
  window health-idle "$health_rounds" health --base "$base" --count 0
fi
stop_server

# --- the figures -------------------------------------------------------------------------

ir_buy=$(ir purchases)
ir_idle=$(ir idle)
per_purchase=$(( (ir_buy - ir_idle) / purchases ))
idle_rate=$(awk -v i="$ir_idle" -v r="$purchase_rounds" 'BEGIN { printf "%.0f", i / r }')
idle_share=$(awk -v i="$ir_idle" -v b="$ir_buy" 'BEGIN { printf "%.3f", 100 * i / (b - i) }')
health_line="not measured (HEALTH=0)"
if (( health > 0 )); then
  ir_health=$(ir health)
  ir_health_idle=$(ir health-idle)
  per_health=$(( (ir_health - ir_health_idle) / health ))
  health_line="$per_health instructions per GET /health ($health requests: $ir_health; idle window $ir_health_idle)"
fi
commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
summary="$results/cost-$stamp"
cp "$scratch/purchases.callgrind" "$summary.purchases.callgrind"
cp "$scratch/idle.callgrind" "$summary.idle.callgrind"
{
  echo "# Cost per purchase (callgrind), $stamp"
  echo
  echo "- build: $build (scripts of checkout $commit)"
  echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo "- $(valgrind --version), flags: ${flags[*]/${BUYER_JWT_SECRET:-<none>}/<per run>}"
  echo "- buyer auth: $buyer_auth; warm-up purchases (not counted): $warmup"
  echo "- purchases counted: $purchases, in $purchase_seconds s ($purchase_rounds rounds of the jobs, every $period s): $ir_buy instructions"
  echo "- idle window: $idle_seconds s ($purchase_rounds rounds), $ir_idle instructions ($idle_rate per round; $idle_share% of the purchases' own)"
  echo "- **$per_purchase instructions per purchase**"
  echo "- $health_line"
  echo
  python3 "$here/cost_profile.py" "$scratch/purchases.callgrind" --minus "$scratch/idle.callgrind" \
    --per "$purchases" --markdown
} >"$summary.md"
sed -n '1,10p' "$summary.md"
log "summary and profile: $summary.md (loadtest/cost.sh --profile $summary)"
