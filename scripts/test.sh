#!/usr/bin/env bash
# Install pixelsleuth with its test dependencies into .venv and run the test suite.
# Used as-is by the README and by .ci/run. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium renders the HTML report in the browser test (Debian/Ubuntu; skipped elsewhere).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "== installing chromium for the browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "== chromium not found and cannot be installed here: the browser test will be skipped"
  fi
fi

PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch (CPU build; only the third-party watermark comparison and training need it) goes in first, pinned, so
# that packages asking for torch do not pull a multi-GB CUDA build.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev]"
echo "== ruff"
ruff check src tests benchmarks
echo "== pytest"
python -m pytest -q "$@"
