"""Write a ``manifest.jsonl`` in the synthesizer's format for a real forgery set, so that
``benchmarks/fusion_cache.py`` can cache its detector evidence (docs/bench/fusion.md):

    python benchmarks/real_manifest.py ../shared/data/forgery/coverage /tmp/R/coverage
    python benchmarks/fusion_cache.py --set /tmp/R/coverage --out /tmp/R/cache/coverage --authentic 1000

Paths in the manifest are absolute; the set folder holds only the manifest. The forgery type is the set's kind
(``coverage``: copy-move; ``casia``: composites). Items without a usable mask are left out.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pixelsleuth.bench.datasets import load_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("out", type=Path)
    a = ap.parse_args()
    ds = load_dataset(a.dataset)
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for it in ds.items:
        if it.label is None or (it.label == 1 and (it.mask is None or it.mask_error)):
            continue
        rows.append(
            {
                "id": it.id.replace("/", "_"),
                "type": ds.kind if it.label == 1 else "authentic",
                "label": it.label,
                "format": it.image.suffix.lstrip(".").upper(),
                "image": str(it.image.resolve()),
                "mask": str(it.mask.resolve()) if it.mask else "",
                "source_mask": str(it.source_mask.resolve()) if it.source_mask else "",
            }
        )
    tmp = a.out / "manifest.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(a.out / "manifest.jsonl")
    print(f"{len(rows)} items ({sum(r['label'] for r in rows)} forged) -> {a.out / 'manifest.jsonl'}")


if __name__ == "__main__":
    main()
