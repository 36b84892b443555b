#!/usr/bin/env bash
# The fusion's fit and test sets and their detector caches (docs/bench/fusion.md), seeded and reproducible:
#   bash benchmarks/fusion_data.sh /tmp/H [path/to/shared/data/photos]
# fit  = forgeries of the train-split camera photos that manip_cnn's training held out (manip_cnn_train.py
#        --list-val), their synthesizer controls, and the held-out unedited web/BSDS photos;
# test = forgeries of the test-split camera photos, their controls, and 40 unedited test-split web photos.
set -euo pipefail
OUT=${1:?usage: fusion_data.sh OUT_DIR [PHOTOS_DIR]}
P=${2:-$(dirname "$0")/../../shared/data/photos}
B=$(dirname "$0")
mkdir -p "$OUT/fitphotos"
python "$B/manip_cnn_train.py" --list-val "$P/camera" > "$OUT/valcam.txt"
python "$B/manip_cnn_train.py" --list-val "$P/web" "$P/bsds500" > "$OUT/valoth.txt"
while read -r f; do ln -sf "$f" "$OUT/fitphotos/"; done < "$OUT/valoth.txt"
mapfile -t CAM < "$OUT/valcam.txt"
SRC=()
for f in "${CAM[@]}"; do SRC+=(--src "$f"); done
S="pixelsleuth synth --max-side 512 --n 72"
$S "${SRC[@]}" --out "$OUT/fit-png" --seed 11 --format png --split train
$S "${SRC[@]}" --out "$OUT/fit-jpg" --seed 12 --format jpeg --quality 90 --split train
$S --src "$P/camera" --out "$OUT/test-png" --seed 11 --format png --split test
$S --src "$P/camera" --out "$OUT/test-jpg" --seed 12 --format jpeg --quality 90 --split test
python "$B/fusion_cache.py" --set "$OUT/fit-png" --set "$OUT/fit-jpg" --out "$OUT/cache/fit" --authentic 100 \
    --photos "$OUT/fitphotos" --split train --max-photos 66
python "$B/fusion_cache.py" --set "$OUT/test-png" --set "$OUT/test-jpg" --out "$OUT/cache/test" --authentic 100 \
    --photos "$P/web" --split test --max-photos 40
