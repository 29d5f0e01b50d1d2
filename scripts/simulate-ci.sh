#!/usr/bin/env bash
# The simulator as a CI step uses it: `qc-agents simulate --port P --env-file F` in the
# background, F sourced once it appears, the lifecycle example run against it (through
# QC_API_URL and the credentials, as against QuantConnect), then SIGTERM. Fails unless the
# example talked to that simulator (its -v log shows the example's operations), and the
# simulator stopped as documented: exit 0, `simulator stopped after N requests` with N > 0,
# and F removed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet -p quantconnect-agents-cli
cargo build --quiet -p quantconnect-agents --example lifecycle
work=$(mktemp -d)
env_file="$work/simulator.env"
log="$work/simulator.log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"${CARGO_TARGET_DIR:-target}/debug/qc-agents" simulate -v --port "$port" --env-file "$env_file" \
  --in-queue 0 --running 1s >/dev/null 2>"$log" &
simulator=$!
trap 'kill "$simulator" 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "simulate-ci: $*" >&2; cat "$log" >&2; exit 1; }

for _ in $(seq 300); do
  [ -e "$env_file" ] && break
  kill -0 "$simulator" 2>/dev/null || fail "the simulator exited before writing $env_file"
  sleep 0.1
done
[ -e "$env_file" ] || fail "no $env_file after 30 s"

output=$(
  # shellcheck disable=SC1090
  source "$env_file"
  cargo run --quiet -p quantconnect-agents --example lifecycle
) || fail "the lifecycle example failed: $output"
grep -qx "using http://127.0.0.1:$port/api/v2 (credentials from the environment)" <<<"$output" ||
  fail "the example did not use the simulator on port $port: $output"

kill -TERM "$simulator"
status=0
wait "$simulator" || status=$?
[ "$status" -eq 0 ] || fail "the simulator exited $status on SIGTERM, not 0"
[ ! -e "$env_file" ] || fail "$env_file outlived the simulator"
requests=$(sed -n 's/^simulator stopped after \([0-9]*\) requests$/\1/p' "$log")
[ "${requests:-0}" -gt 0 ] || fail "the simulator did not say it served any request"
for operation in createAgentTask createAgentDeployment readAgentConversation deleteAgentTask; do
  grep -q "operation=$operation status=200" "$log" || fail "no $operation in the simulator's log"
done
echo "simulate-ci: the lifecycle example ran against qc-agents simulate on port $port ($requests requests)"
