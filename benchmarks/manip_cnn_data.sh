#!/usr/bin/env bash
# Seeded synthetic training sets of the manip_cnn network (benchmarks/manip_cnn_train.py): train-split photos only.
#   bash benchmarks/manip_cnn_data.sh /tmp/MC [path/to/shared/data/photos] [DRAW]
# DRAW 1 (default) is the shipped network's data (seeds 101-105). DRAW 2 adds the same five sets with seeds 201-205
# in folders ending in -b (the larger-data experiment of docs/bench/fusion.md, not shipped).
set -euo pipefail
OUT=${1:?usage: manip_cnn_data.sh OUT_DIR [PHOTOS_DIR] [DRAW]}
P=${2:-$(dirname "$0")/../../shared/data/photos}
DRAW=${3:-1}
case "$DRAW" in
  1) B=100; SUF="" ;;
  2) B=200; SUF="-b" ;;
  *) echo "DRAW must be 1 or 2" >&2; exit 2 ;;
esac
S="pixelsleuth synth --split train --max-side 512"
$S --src "$P/camera" --out "$OUT/cam-png$SUF" --n 2000 --seed $((B + 1)) --format png
$S --src "$P/camera" --out "$OUT/cam-jpg$SUF" --n 2000 --seed $((B + 2)) --format jpeg --quality 90
$S --src "$P/web" --src "$P/bsds500" --out "$OUT/oth-png$SUF" --n 1000 --seed $((B + 4)) --format png
$S --src "$P/camera" --out "$OUT/cam-jq$SUF" --n 600 --seed $((B + 3)) --format jpeg --quality 75
$S --src "$P/web" --src "$P/bsds500" --out "$OUT/oth-jpg$SUF" --n 1000 --seed $((B + 5)) --format jpeg --quality 85
