#!/usr/bin/env bash
# The Python package as a user gets it: the wheel maturin builds, installed into a fresh venv,
# tested with pytest against the real `local` server and `coditect-license` CLI.
# Run from anywhere: `bash client/python/run-tests.sh [pytest args…]`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(cd ../.. && pwd)"
CACHE="${CI_VENV_ROOT:-$HOME/.cache/coditect-ci}"

bash "$ROOT/tests/build-binaries.sh"

# maturin (the build tool) lives in its own venv; pinned, as its output is what ships.
TOOLS="$CACHE/maturin"
if ! "$TOOLS/bin/maturin" --version 2>/dev/null | grep -q "1.16.0"; then
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet "maturin==1.16.0"
fi
DIST="$(mktemp -d)"
trap 'rm -rf "$DIST"' EXIT
# The dev profile keeps CI fast; plain `maturin build` (profile `wheel`) builds what ships.
"$TOOLS/bin/maturin" build --quiet --profile dev --out "$DIST"
WHEEL="$(ls "$DIST"/coditect_license-*.whl)"

# A fresh venv each run: the wheel installs with nothing of ours already there.
VENV="$DIST/venv"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet "$WHEEL" "pytest==9.2.0"

set +e
CODITECT_TARGET_DIR="$ROOT/target" "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: the Python suite must run" >&2
  exit 1
fi
exit "$status"
