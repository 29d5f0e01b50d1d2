#!/usr/bin/env bash
# What build-time generation costs a user: times a clean `cargo build` of a minimal crate
# that depends on quantconnect-agents, and of one that depends on reqwest alone (with the
# same features), each in a fresh target directory. Not run in CI: it takes minutes.
#
#   scripts/build-cost.sh            # debug builds
#   scripts/build-cost.sh --release
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
profile=${1:-}

make_crate() { # name, dependency lines, main body
  mkdir -p "$work/$1/src"
  cat > "$work/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
$2
TOML
  printf '%s\n' "$3" > "$work/$1/src/main.rs"
}

make_crate with-client \
  "quantconnect-agents = { path = \"$root\" }" \
  'fn main() { let _ = quantconnect_agents::Client::new("https://www.quantconnect.com/api/v2", quantconnect_agents::Credentials::new("1", "t")); }'
make_crate reqwest-only \
  'reqwest = { version = "0.13.4", default-features = false, features = ["json", "query", "stream", "rustls"] }' \
  'fn main() { let _ = reqwest::Client::new(); }'

for crate in reqwest-only with-client; do
  # Share the registry, not the build: each starts from nothing.
  (cd "$work/$crate" && cargo generate-lockfile -q)
  start=$(date +%s%N)
  (cd "$work/$crate" && CARGO_TARGET_DIR="$work/$crate/target" cargo build -q $profile)
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  printf '%-14s clean build: %d.%d s\n' "$crate" $((ms / 1000)) $((ms % 1000 / 100))
done
