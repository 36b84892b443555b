#!/usr/bin/env bash
# Install pixelsleuth into .venv, generate the demo samples and analyse them; open demo/report/index.html.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q .
pixelsleuth samples demo/samples
pixelsleuth analyze demo/samples/images --out demo/report
echo "Open demo/report/index.html in a browser."
