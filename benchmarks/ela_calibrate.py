"""Calibrate the ELA score midpoint per profile on the calibration halves only (seeded, reproducible).

Negatives: untouched camera JPEGs (single and resaved, as in ela_synthetic.py) from the calibration half of
photos/camera, plus the calibration (even-index) halves of photos/bsds500 and photos/web. The midpoint for each
profile is the 95th percentile of the component strength over the pooled negatives. The printed values go into
``_PROFILE_MID`` in src/pixelsleuth/detectors/ela.py.

    python benchmarks/ela_calibrate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from pixelsleuth.detectors import ela
from pixelsleuth.io import load_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ela_synthetic import DATA, hosts, make_cases  # noqa: E402


def strengths(paths_or_bytes: list[bytes | Path], profile: str) -> np.ndarray:
    qs, block = ela._PROFILE_QUALITIES[profile], ela._PROFILE_BLOCK[profile]
    out = []
    for x in paths_or_bytes:
        img = load_image(x)
        r = ela.ela_analysis(np.asarray(img.rgb), qs, block, measure_blockiness=False)
        out.append(r.strength)
    return np.asarray(out)


def main() -> None:
    rng = np.random.default_rng(1234)
    donors = sorted(p for p in (DATA / "web").iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    donors += sorted((DATA / "bsds500").glob("*.jpg"))[:100]
    negs: list[bytes | Path] = []
    for p in hosts("calib"):
        for kind, b, _mask in make_cases(p, donors, rng):
            if kind != "spliced":
                negs.append(b)
    for sub in ("bsds500", "web"):
        files = sorted(p for p in (DATA / sub).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        negs += [p for i, p in enumerate(files) if i % 2 == 0]
    out = {}
    for profile in ("fast", "default", "thorough"):
        s = strengths(negs, profile)
        out[profile] = {
            "negatives": int(s.size),
            "q90": round(float(np.quantile(s, 0.90)), 3),
            "q95": round(float(np.quantile(s, 0.95)), 3),
            "q97": round(float(np.quantile(s, 0.97)), 3),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
