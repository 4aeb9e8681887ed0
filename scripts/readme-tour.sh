#!/usr/bin/env bash
# Walks the README's five-minute tour with the real ./bulwark launcher, command by command, and checks
# what each step promises. CI runs it on the launcher's fresh build (.ci/run); run it yourself with
#   scripts/readme-tour.sh [WORK-DIR]
# It uses its own data directory and a free port (BULWARK_DATA_DIR, BULWARK_PORT, BULWARK_URL: every
# command reads its options from the environment), so it never touches a `bulwark up` you have running.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export BULWARK_DATA_DIR="$work/bulwark-data" BULWARK_PORT=$port BULWARK_URL="http://127.0.0.1:$port"
bulwark="$here/bulwark"
up_log="$work/up.log"
up_pid=

step() { echo "tour: $*"; }
fail() {
  echo "tour: FAILED: $*" >&2
  echo "tour: last lines of ./bulwark up:" >&2; tail -30 "$up_log" >&2 || true
  exit 1
}
# until_true SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds, or fails the tour
until_true() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what: not within $seconds s"
    sleep 0.2
  done
}
cleanup() {
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then "$bulwark" down >/dev/null 2>&1 || kill "$up_pid"; fi
}
trap cleanup EXIT

step "./bulwark up (port $port, data in $BULWARK_DATA_DIR)"
"$bulwark" up >"$up_log" 2>&1 &
up_pid=$!
until_true 180 "./bulwark up to print 'Bulwark is up'" grep -q "Bulwark is up" "$up_log"
KEY=$(cat "$BULWARK_DATA_DIR/admin.key")
api() { curl -sS --max-time 20 -H "Authorization: Bearer $KEY" "$@"; }

step "submit a task, then long-poll for its result"
created=$(api -d '{"type":"sha256","input":"hello"}' "localhost:$port/v1/tasks")
id=$(echo "$created" | sed -n 's/.*"id" *: *"\([^"]*\)".*/\1/p')
[ -n "$id" ] || fail "POST /v1/tasks answered $created"
api "localhost:$port/v1/tasks/$id?wait=10" | grep -q '"state" *: *"succeeded"' || fail "task $id did not succeed"

step "./bulwark status: every component healthy (the standby is built in the background)"
until_true 90 "bulwark status to exit 0" "$bulwark" status

step "kill a worker while it runs long tasks: nothing is lost"
for i in $(seq 10); do "$bulwark" submit --type sleep --input '{"ms":5000}' >/dev/null; done
"$bulwark" kill worker
until_true 30 "the killed worker to be restarted" bash -c "'$bulwark' status --json | grep -q '\"restarts\" *: *1'"
succeeded() { [ "$(api "localhost:$port/v1/tasks?state=succeeded&limit=100" | grep -o '"type" *: *"sleep"' | wc -l)" -ge 10 ]; }
until_true 60 "all 10 sleep tasks to succeed" succeeded

step "kill the main API server: the gateway fails over to the backup"
"$bulwark" kill api-main
"$bulwark" submit --type echo --input '"still here"' --wait | grep -q succeeded || fail "submit after killing api-main"
until_true 30 "api-main to be back up" bash -c "'$bulwark' gateway servers | grep '^api-main' | grep -qw up"

step "kill the primary database: the standby is promoted"
"$bulwark" kill pg-primary
"$bulwark" submit --type echo --input '"still here"' --wait | grep -q succeeded || fail "submit after killing the primary"
until_true 90 "pg-b to be primary with a synchronous standby" \
  bash -c "'$bulwark' db status --json | tr -d ' \n' | grep -q '\"primary\":\"pg-b\".*\"replicationMode\":\"synchronous\"'"

step "./bulwark events: the journal tells what happened"
events=$("$bulwark" events)
for expected in "worker-1 (worker) was killed by signal 9" "api-main (api) was killed by signal 9" \
    "primary pg-a failed (its process exited); failing over to pg-b" "fenced pg-a" "failover done: pg-b is primary"; do
  grep -qF "$expected" <<<"$events" || fail "bulwark events does not say '$expected':
$events"
done

step "./bulwark incidents: the monitor made the failover one incident, with what Bulwark did"
until_true 30 "an incident for the primary's loss" bash -c "'$bulwark' incidents --all | grep -q 'primary pg-a failed'"
id=$("$bulwark" incidents --all --json | python3 -c 'import json,sys; print(next(i["id"] for i in json.load(sys.stdin) if "primary pg-a failed" in i["title"]))')
"$bulwark" incidents show "$id" | grep -q "failover done: pg-b is primary" || fail "incidents show $id does not tell the failover"

step "./bulwark db failover (planned switchover back)"
"$bulwark" db failover || fail "db failover"
step "./bulwark db backups"
"$bulwark" db backups || fail "db backups"
step "./bulwark restart api"
"$bulwark" restart api || fail "restart api"
step "./bulwark down"
"$bulwark" down || fail "down"
until_true 30 "./bulwark up to exit" bash -c "! kill -0 $up_pid"
wait "$up_pid" || fail "./bulwark up exited with status $?"
up_pid=
step "done: every step of the README tour did what it says"
