"""Intake + metadata inspector over the development data sets (deterministic; no training involved).

For each folder it reports: files loaded / refused by intake, mean intake seconds per file, and the share of
files whose metadata evidence crosses 0.5 for ``ai_generated`` and for ``manipulated``, next to the trivial
constant baseline (which crosses for 0% or 100% of files depending on the constant).

    python benchmarks/metadata_datasets.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pixelsleuth.detectors.base import Context
from pixelsleuth.detectors.metadata import MetadataDetector
from pixelsleuth.errors import IntakeError
from pixelsleuth.io import load_image

DATA = Path("/work/shared/data")
SETS = {
    "photos/full (camera originals with EXIF)": DATA / "photos/full",
    "photos/camera (metadata-stripped camera crops)": DATA / "photos/camera",
    "photos/web (web copies)": DATA / "photos/web",
    "aigen/dmin (DALL-E mini PNG)": DATA / "aigen/dmin",
    "aigen/ldif (latent diffusion PNG)": DATA / "aigen/ldif",
    "aigen/disco (Disco Diffusion PNG)": DATA / "aigen/disco",
    "forgery/casia2_samples": DATA / "forgery/casia2_samples",
}
SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}


def main() -> None:
    det, ctx = MetadataDetector(), Context(profile="default")
    out = {}
    for name, folder in SETS.items():
        if not folder.is_dir():
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and "_gt" not in p.stem)
        n_ok = n_err = ai = manip = 0
        t_load = 0.0
        codes: dict[str, int] = {}
        for p in files:
            t0 = time.perf_counter()
            try:
                img = load_image(p)
            except IntakeError:
                n_err += 1
                continue
            t_load += time.perf_counter() - t0
            n_ok += 1
            ev = det.run(img, ctx)
            ai += ev.extra.get("ai_generated", 0) >= 0.5
            manip += ev.extra.get("manipulated", 0) >= 0.5
            for f in ev.findings:
                if f.supports.value != "none":
                    codes[f.code] = codes.get(f.code, 0) + 1
        out[name] = {
            "files": len(files),
            "loaded": n_ok,
            "refused": n_err,
            "intake_s_per_file": round(t_load / max(n_ok, 1), 4),
            "ai_generated>=0.5": round(ai / max(n_ok, 1), 3),
            "manipulated>=0.5": round(manip / max(n_ok, 1), 3),
            "evidence_findings": dict(sorted(codes.items())),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
