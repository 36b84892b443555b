"""Experiment (not shipped): the `jpeg` evidence of lossless files fitted as a detector of its own.

    python benchmarks/fusion_split_experiment.py --train /tmp/H/cache/fit --test /tmp/H/cache/test

The caches are the fusion caches of benchmarks/fusion_data.sh. On lossless forgeries and controls the `jpeg` entry is
renamed `jpeg_compat`, so the fit gives the JPEG-compatibility cue its own image and map trust; everything else is
`fusion_fit.fit` as shipped (copymove held at 0.1). Prints the fitted parameters and the fit and test tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import fusion_fit as F


def load_split(cache: Path) -> list[dict[str, Any]]:
    recs = F.load(cache)
    for r in recs:
        if r["format"] not in ("JPEG", "JPG"):  # synthesizer JPEGs say JPEG, the unedited .jpg photos JPG
            for e in r["evs"]:
                if e.detector == "jpeg":
                    e.detector = "jpeg_compat"
    return recs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--test", type=Path, required=True)
    a = ap.parse_args()
    F.MANIP = (*F.MANIP, "jpeg_compat")
    fit, test = load_split(a.train), load_split(a.test)
    cal = F.fit(fit, 0.025, gate_score="raw", fixed_trust={"copymove": 0.1})
    print("calibration", json.dumps(cal))
    print(F.report(fit, cal, f"fit set ({a.train})"))
    print(F.report(test, cal, f"test set ({a.test})"))


if __name__ == "__main__":
    main()
