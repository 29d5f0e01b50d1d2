#!/usr/bin/env bash
# Peak memory of decoding and printing the worst response shapes the client admits: builds
# qc-agents in release mode, then runs benches/memory.rs, which prints the README's table.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p quantconnect-agents-cli
QC_AGENTS_BIN=target/release/qc-agents cargo bench --quiet --bench memory
