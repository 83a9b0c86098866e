#!/usr/bin/env bash
# Builds every binary the tests and CI scripts run, with the same package selection as
# `integration_tests::process::built_binary` (tests/src/process.rs, BINARIES): one selection, one
# feature resolution, so no build undoes another's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --quiet -p local -p acquire -p heartbeat -p release -p admin -p cleanup \
  -p stripe-webhook -p coditect-license
