#!/usr/bin/env bash
# Contract fuzzing: schemathesis against the real server, with valid tokens, checking that every
# answer is one the spec documents (status, content type, body schema) and never a 5xx.
# Usage: .ci/schemathesis.sh [path to the boxoffice binary]   (default: target/debug/boxoffice)
# Fails on any finding. Needs python3; installs schemathesis from PyPI into a temporary venv
# unless SCHEMATHESIS points at an installed `schemathesis` command.
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
hypothesis=6.151.0
bin=${1:-target/debug/boxoffice}
[[ -x $bin ]] || { echo "no boxoffice binary at $bin: cargo build first" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

st=${SCHEMATHESIS:-}
if [[ -z $st ]]; then
  python3 -m venv "$work/venv"
  # Hypothesis is pinned too: with 6.170.17 (the newest on 2 Dec 2026) the coverage phase stops
  # on a SystemError of Python 3.11's ast module ("AST constructor recursion depth mismatch")
  # while Hypothesis describes a lambda; 6.151.0 runs clean.
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version" \
    "hypothesis==$hypothesis"
  st=$work/venv/bin/schemathesis
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
admin=schemathesis-admin-token
# No rate limit on joining the line: schemathesis asks far more often than a buyer would.
bin=$(realpath "$bin")
NO_COLOR=1 RUST_LOG=warn "$bin" serve --listen "127.0.0.1:$port" --db "$work/st.db" --admin-token "$admin" \
  --queue-issue-rate-limit 0 --sign-in-rate-limit 0 --sign-in-account-rate-limit 0 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
curl -fsS "$base/health" >/dev/null || { echo "the server did not come up:" >&2; cat "$work/server.log" >&2; exit 1; }

# What the operations act on: a concert with a show, a signed-in buyer, and an active queue
# token of the two. Ids start at 1, which schemathesis tries often.
post() { curl -fsS -X POST "$base$1" -H 'Content-Type: application/json' "${@:3}" -d "$2"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
post /api/admin/concerts '{"title":"Schemathesis","schedules":[{"startTime":"2030-01-01T20:00:00Z","seats":[{"seatNumber":"A1","price":100},{"seatNumber":"A2","price":100}]}]}' \
  -H "Authorization: Bearer $admin" >/dev/null
post /api/admin/users '{"name":"st","email":"st@example.com","password":"schemathesis-password"}' \
  -H "Authorization: Bearer $admin" >/dev/null
session=$(post /api/sessions '{"email":"st@example.com","password":"schemathesis-password"}' | field sessionToken)
token=$(post /api/waiting-queues '{"concertId":1,"concertScheduleId":1}' -H "Authorization: Bearer $session" | field token)
status=$(curl -fsS "$base/api/waiting-queues" -H "Queue-Token: $token" | field status)
[[ $status == active ]] || { echo "the queue token is $status, not active" >&2; exit 1; }

# signOut and webSignOut are left out: they would end the one session every other buyer operation runs with
# (tests/api/accounts.rs tests it). Each credential goes where the spec's security schemes say: the admin token to the admin
# API and the door's endpoints, the buyer's session and queue token to the buyer endpoints.
cat >"$work/schemathesis.toml" <<TOML
[auth.openapi.AdminAuth]
bearer = "$admin"

[auth.openapi.StaffAuth]
bearer = "$admin"

[auth.openapi.BuyerBearer]
bearer = "$session"

[auth.openapi.QueueSession]
api_key = "$token"

[auth.openapi.QueueIdentity]
api_key = "$token"
TOML

set +e
# One worker by default: Python 3.11's parser is not safe to call from two threads at once
# (CPython gh-106905, "AST constructor recursion depth mismatch"), and schemathesis's workers
# are threads that parse the sources of their filters.
# From the temporary folder, so that schemathesis's own files stay out of the repository.
(cd "$work" && "$st" run "$base/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-operation-id signOut \
  --exclude-operation-id webSignOut \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" --max-time "${SCHEMATHESIS_MAX_TIME:-240}" \
  --workers "${SCHEMATHESIS_WORKERS:-1}" --seed "${SCHEMATHESIS_SEED:-12}" --request-timeout 10 \
  --generation-database none --no-color)
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  echo "FAILED: schemathesis found answers that the spec does not document (exit $rc); server log:" >&2
  tail -n 40 "$work/server.log" >&2
fi
exit $rc
