"""Double quantization when the first compression was finer: the statistics behind the `jpeg` detector's
``COARSE_GAIN_MIN`` and ``DQ_GAIN_MIN`` (docs/bench/noise_jpeg.md, "Finer first compression").

    python benchmarks/jpeg_dq_finer_first.py --set /tmp/H/fit-jpg --set /tmp/H/test-jpg --calib 60
    python benchmarks/jpeg_dq_finer_first.py --set /tmp/H/fit-jpg --set /tmp/H/test-jpg --calib 60 --coarse-gain-min 0

1. On the unedited controls (``variant == plain``) of synthesizer sets saved as JPEG (``pixelsleuth synth ...
   --format jpeg``, made by benchmarks/fusion_data.sh), whose source is a camera JPEG with known tables: for every
   DCT mode the double-quantization model accepts, is its first step the camera's? Reports the gains of correct and
   spurious fits.
2. Per image, the total gain, split by whether the camera table can leave a trace at all in the modes used
   (a first step >= 2 that is neither the current step nor a divisor of it).
3. On the single-compressed JPEGs of the calibration split of benchmarks/manip_noise_jpeg_common.py (``--calib N``
   hosts), the total gain: what a threshold must stay above.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))

from pixelsleuth.detectors._jpeg_dq import double_quantization  # noqa: E402
from pixelsleuth.detectors._jpeg_util import ZIGZAG_RC, decode_luma, read_coefficients  # noqa: E402
from pixelsleuth.io import load_image  # noqa: E402


def _dq(data: str | bytes):  # noqa: ANN202
    lc = read_coefficients(load_image(data))
    if lc is None:
        return None, None
    return double_quantization(lc.coef, lc.qt, decode_luma(lc.coef, lc.qt)), lc.qt


def _pct(v: list[float], ps: tuple[int, ...] = (10, 50, 90)) -> str:
    return " / ".join(f"{x:.4f}" for x in np.percentile(v, ps)) if v else "-"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", action="append", type=Path, default=[], help="synthesizer set saved as JPEG")
    ap.add_argument("--calib", type=int, default=60, help="calibration hosts for the single-compressed check")
    ap.add_argument(
        "--coarse-gain-min",
        type=float,
        default=None,
        help="override the detector's COARSE_GAIN_MIN (0 shows the fits it removes)",
    )
    a = ap.parse_args()
    if a.coarse_gain_min is not None:
        import pixelsleuth.detectors._jpeg_dq as D

        D.COARSE_GAIN_MIN = a.coarse_gain_min
    correct: list[float] = []
    spurious: list[float] = []
    spurious_coarse: list[float] = []
    total = {True: [], False: []}
    for sd in a.set:
        rows = [json.loads(x) for x in (sd / "manifest.jsonl").read_text().splitlines() if x.strip()]
        for r in rows:
            if r["label"] != 0 or r["params"].get("variant") != "plain" or r["format"] != "JPEG":
                continue
            table = np.asarray(Image.open(r["source"]).quantization[0]).reshape(8, 8)  # natural order
            dq, qt = _dq(str(sd / r["image"]))
            if dq is None:
                continue
            for key, q1 in dq.q1.items():
                rr, cc = map(int, key.split(","))
                g = dq.mode_gain[key]
                if q1 == table[rr, cc]:
                    correct.append(g)
                else:
                    spurious.append(g)
                    if q1 > dq.q2[key] and table[rr, cc] <= dq.q2[key]:
                        spurious_coarse.append(g)
            traceable = any(
                table[rr, cc] >= 2 and table[rr, cc] != qt[rr, cc] and qt[rr, cc] % table[rr, cc] != 0
                for rr, cc in ZIGZAG_RC[:9]
            )
            total[bool(traceable)].append(dq.gain)
    print("accepted modes of unedited camera->q90 re-saves (gain percentiles 10 / 50 / 90):")
    print(f"  first step = camera's: n {len(correct)}, gain {_pct(correct)}")
    print(f"  other first step: n {len(spurious)}, gain {_pct(spurious)}")
    print(
        f"    of which coarser than the current step, camera's not: n {len(spurious_coarse)}, gain {_pct(spurious_coarse)}"
    )
    for k, v in total.items():
        share = np.mean(np.array(v) >= 0.04) if v else float("nan")
        share9 = np.mean(np.array(v) >= 0.09) if v else float("nan")
        print(
            f"images whose camera table {'can' if k else 'cannot'} leave a trace: n {len(v)}, total gain {_pct(v)}, "
            f">= 0.04: {share:.2f}, >= 0.09: {share9:.2f}"
        )
    if a.calib:
        import manip_noise_jpeg_common as C

        g = [
            _dq(c.data)[0].gain  # type: ignore[union-attr]
            for c in C.dq_cases("calib", n=a.calib)
            if c.kind.startswith("sq_")
        ]
        print(
            f"single-compressed calibration JPEGs: n {len(g)}, total gain {_pct(g, (50, 90, 100))} (50/90/max), "
            f">= 0.04: {np.mean(np.array(g) >= 0.04):.3f}"
        )


if __name__ == "__main__":
    main()
