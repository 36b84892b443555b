#!/usr/bin/env bash
# Seeded synthetic training sets of the manip_cnn network (benchmarks/manip_cnn_train.py): train-split photos only.
#   bash benchmarks/manip_cnn_data.sh /tmp/MC [path/to/shared/data/photos]
set -euo pipefail
OUT=${1:?usage: manip_cnn_data.sh OUT_DIR [PHOTOS_DIR]}
P=${2:-$(dirname "$0")/../../shared/data/photos}
S="pixelsleuth synth --split train --max-side 512"
$S --src "$P/camera" --out "$OUT/cam-png" --n 2000 --seed 101 --format png
$S --src "$P/camera" --out "$OUT/cam-jpg" --n 2000 --seed 102 --format jpeg --quality 90
$S --src "$P/web" --src "$P/bsds500" --out "$OUT/oth-png" --n 1000 --seed 104 --format png
$S --src "$P/camera" --out "$OUT/cam-jq" --n 600 --seed 103 --format jpeg --quality 75
$S --src "$P/web" --src "$P/bsds500" --out "$OUT/oth-jpg" --n 1000 --seed 105 --format jpeg --quality 85
