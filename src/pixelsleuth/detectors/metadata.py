"""Metadata inspector: what the file says about where it came from.

Metadata is easy to strip or forge, so nothing here can prove an image authentic; absence of evidence gives low
scores (0.1-0.2), never "authentic". Positive signals:

* generator signatures (Stable Diffusion A1111 ``parameters``, ComfyUI ``prompt``/``workflow``, InvokeAI, NovelAI,
  generator names in Software/CreatorTool/comments) and IPTC ``DigitalSourceType`` = trained algorithmic media;
* editing software in EXIF Software / XMP CreatorTool / XMP history;
* date inconsistencies between capture and modification times;
* an EXIF thumbnail whose content differs from the main image (globally, or in one region).
"""

from __future__ import annotations

import io
import re
import warnings
from datetime import datetime
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.io.image import ImageData
from pixelsleuth.io.loader import apply_orientation

# name pattern -> display name. Matched case-insensitively against Software/CreatorTool/history/comments.
GENERATORS: list[tuple[str, str]] = [
    (r"\bdall[\W_]{0,2}e\b", "DALL-E"),
    (r"midjourney", "Midjourney"),
    (r"stable[\s\-_]*diffusion|\bsdxl\b|automatic1111|stability\s*ai|dreamstudio", "Stable Diffusion"),
    (r"comfyui", "ComfyUI"),
    (r"invokeai", "InvokeAI"),
    (r"adobe\s*firefly|\bfirefly\b", "Adobe Firefly"),
    (r"\bimagen\b", "Google Imagen"),
    (r"novelai", "NovelAI"),
    (r"leonardo\.?ai", "Leonardo.Ai"),
    (r"ideogram", "Ideogram"),
    (r"\bflux(\.1)?\b|black\s*forest\s*labs", "FLUX"),
    (r"runway\s*(ml|gen)", "Runway"),
    (r"bing\s*image\s*creator|designer\.microsoft", "Bing Image Creator"),
    (r"chatgpt|gpt-4o|openai", "OpenAI"),
    (r"\bgemini\b", "Google Gemini"),
    (r"craiyon|dall-e\s*mini", "Craiyon"),
    (r"nightcafe", "NightCafe"),
    (r"\bfooocus\b", "Fooocus"),
]

EDITORS: list[tuple[str, str]] = [
    (r"photoshop", "Adobe Photoshop"),
    (r"lightroom", "Adobe Lightroom"),
    (r"camera\s*raw", "Adobe Camera Raw"),
    (r"\bgimp\b", "GIMP"),
    (r"snapseed", "Snapseed"),
    (r"affinity\s*photo", "Affinity Photo"),
    (r"pixelmator", "Pixelmator"),
    (r"paint\.net", "Paint.NET"),
    (r"capture\s*one", "Capture One"),
    (r"luminar", "Luminar"),
    (r"facetune", "Facetune"),
    (r"picsart", "PicsArt"),
    (r"\bcanva\b", "Canva"),
    (r"fotor", "Fotor"),
    (r"darktable", "darktable"),
    (r"rawtherapee", "RawTherapee"),
    (r"photopea", "Photopea"),
    (r"acdsee", "ACDSee"),
    (r"paintshop|corel", "Corel PaintShop"),
    (r"\bkrita\b", "Krita"),
    (r"meitu", "Meitu"),
    (r"\bvsco\b", "VSCO"),
    (r"photoscape", "PhotoScape"),
    (r"\bdxo\b", "DxO"),
    (r"picasa", "Picasa"),
    (r"airbrush", "AirBrush"),
]

AI_SOURCE_TYPES = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
OTHER_SOURCE_TYPES = {
    "algorithmicMedia": ("created by an algorithm (not AI-trained)", Supports.AI_GENERATED, Severity.WEAK),
    "compositeSynthetic": (
        "a composite including synthetic elements",
        Supports.MANIPULATED,
        Severity.MODERATE,
    ),
    "composite": ("a composite of several images", Supports.MANIPULATED, Severity.MODERATE),
    "algorithmicallyEnhanced": ("algorithmically enhanced", Supports.MANIPULATED, Severity.WEAK),
    "digitalCapture": ("a digital capture", Supports.NONE, Severity.INFO),
}

# a single weak finding stays below the 0.5 decision threshold; a moderate one crosses it; strong is decisive
_STRENGTH = {Severity.STRONG: 0.95, Severity.MODERATE: 0.6, Severity.WEAK: 0.35, Severity.INFO: 0.0}
_BASE = {"ai_generated": 0.12, "manipulated": 0.15}

# fields that name the producing software (a generator name there is strong; in free text only moderate)
_TOOL_FIELDS = ("Software", "CreatorTool", "softwareAgent", "HostComputer", "Make", "Model")

_DATE_RE = re.compile(r"^(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


def parse_date(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    m = _DATE_RE.match(v.strip())
    if not m:
        return None
    try:
        return datetime(*(int(g) for g in m.groups()))
    except ValueError:
        return None


def _xmp_values(xmp: str, prop: str) -> list[str]:
    """Values of an XMP property, in attribute form (prop="v") or element form (<prop>v</prop>)."""
    out = re.findall(rf'{re.escape(prop)}\s*=\s*"([^"]*)"', xmp)
    out += [v.strip() for v in re.findall(rf"<{re.escape(prop)}>\s*([^<]*?)\s*</{re.escape(prop)}>", xmp)]
    out += re.findall(rf'<{re.escape(prop)}\s+rdf:resource\s*=\s*"([^"]*)"', xmp)
    return [v for v in out if v]


def _match(patterns: list[tuple[str, str]], text: str) -> list[str]:
    return [name for pat, name in patterns if re.search(pat, text, flags=re.IGNORECASE)]


def _sev_cmp(s: Severity) -> int:
    return [Severity.INFO, Severity.WEAK, Severity.MODERATE, Severity.STRONG].index(s)


# -------------------------------------------------------------------------------------------- thumbnail check


def _crop_bars(t: np.ndarray, tol: float = 4.0, dark: float = 20.0) -> np.ndarray:
    """Remove black letterbox bars (camera thumbnails pad 3:2 and 16:9 frames into 4:3)."""
    g = t.astype(np.float32).mean(axis=2)
    rows = ~((g.std(axis=1) < tol) & (g.mean(axis=1) < dark))
    cols = ~((g.std(axis=0) < tol) & (g.mean(axis=0) < dark))
    if rows.sum() < 4 or cols.sum() < 4:
        return t
    r0, r1 = np.argmax(rows), len(rows) - np.argmax(rows[::-1])
    c0, c1 = np.argmax(cols), len(cols) - np.argmax(cols[::-1])
    return t[r0:r1, c0:c1]


def _center_crop_to(a: np.ndarray, aspect: float) -> np.ndarray:
    h, w = a.shape[:2]
    if w / h > aspect:
        nw = max(1, int(round(h * aspect)))
        x0 = (w - nw) // 2
        return a[:, x0 : x0 + nw]
    nh = max(1, int(round(w / aspect)))
    y0 = (h - nh) // 2
    return a[y0 : y0 + nh]


def compare_thumbnail(
    rgb: np.ndarray, thumb_bytes: bytes, orientation: int, size: int = 64
) -> dict[str, Any] | None:
    """Compare the EXIF thumbnail with the main image. Returns correlation, per-cell differences and the
    orientation that matched best, or None when the thumbnail cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(thumb_bytes), formats=["JPEG"])
            if im.size[0] * im.size[1] > 4_000_000:
                return None
            th = np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - an undecodable thumbnail is reported, not raised
        return None
    if th.shape[0] < 8 or th.shape[1] < 8:
        return None
    th = _crop_bars(th)
    main_small = cv2.resize(
        rgb, (256, max(1, int(256 * rgb.shape[0] / rgb.shape[1]))), interpolation=cv2.INTER_AREA
    )
    best: dict[str, Any] | None = None
    candidates = [orientation, 1] + [o for o in range(2, 9) if o not in (orientation, 1)]
    for o in candidates:
        t = apply_orientation(th, o)
        asp_t = t.shape[1] / t.shape[0]
        m = _center_crop_to(main_small, asp_t)
        a = cv2.resize(
            cv2.cvtColor(m, cv2.COLOR_RGB2GRAY), (size, size), interpolation=cv2.INTER_AREA
        ).astype(np.float32)
        b = cv2.resize(
            cv2.cvtColor(np.ascontiguousarray(t), cv2.COLOR_RGB2GRAY),
            (size, size),
            interpolation=cv2.INTER_AREA,
        )
        b = b.astype(np.float32)
        a_n = (a - a.mean()) / (a.std() + 1e-3)
        b_n = (b - b.mean()) / (b.std() + 1e-3)
        corr = float((a_n * b_n).mean())
        if best is None or corr > best["corr"]:
            cells = np.abs(a_n - b_n).reshape(8, size // 8, 8, size // 8).mean(axis=(1, 3))
            hot = cells > max(1.0, 4.0 * float(np.median(cells)))
            grown = cv2.dilate(hot.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            keep = ~np.kron(grown, np.ones((size // 8, size // 8), bool))
            with np.errstate(invalid="ignore", divide="ignore"):
                corr_rest = float(np.corrcoef(a[keep], b[keep])[0, 1]) if keep.sum() > 16 else corr
            best = {
                "corr": corr,
                "corr_outside_hot": corr_rest if np.isfinite(corr_rest) else corr,
                "hot_fraction": float(hot.mean()),
                "orientation_tried": o,
                "cells": cells,
                "aspect_thumb": asp_t,
            }
        if corr > 0.97:
            break
    return best


# -------------------------------------------------------------------------------------------------- detector


@register
class MetadataDetector(Detector):
    name = "metadata"
    version = "1"
    family = Family.METADATA
    requires = frozenset({"metadata"})
    profiles = frozenset({"fast", "default", "thorough"})
    description = (
        "Reads EXIF/XMP/IPTC/PNG text: generator signatures, AI source types, editing software, date consistency "
        "and EXIF thumbnail agreement."
    )

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        md = image.metadata
        ex = md.exif
        xmp = md.xmp or ""
        ext = md.other.get("xmp_extended")
        if isinstance(ext, str) and ext:
            xmp = xmp + "\n" + ext  # JPEG extended XMP (large packets, e.g. edit histories)
        findings: list[Finding] = []
        emap: np.ndarray | None = None

        def add(msg: str, sev: Severity, sup: Supports, code: str, **data: Any) -> None:
            findings.append(Finding(msg, severity=sev, supports=sup, code=f"metadata.{code}", data=data))

        # ---- camera identity
        make, model = str(ex.get("Make", "") or "").strip(), str(ex.get("Model", "") or "").strip()
        if make or model:
            add(
                f"The camera is recorded as {make} {model}".strip() + ".",
                Severity.INFO,
                Supports.NONE,
                "camera",
                make=make,
                model=model,
            )
        else:
            add("No camera make or model is recorded.", Severity.INFO, Supports.NONE, "no_camera")

        # ---- stripped metadata
        has_any = bool(md.exif_raw or md.xmp or md.iptc_raw or md.png_text or md.comments or md.c2pa_present)
        if image.format == "JPEG" and not md.exif_raw:
            add(
                "The JPEG carries no EXIF data at all; it was stripped or never written (common for web and "
                "messaging copies).",
                Severity.INFO,
                Supports.NONE,
                "no_exif",
            )
        elif not has_any:
            add("The file carries no metadata blocks.", Severity.INFO, Supports.NONE, "no_metadata")

        # ---- text we search for software / generator names
        texts: dict[str, str] = {}
        for key in (
            "Software",
            "ProcessingSoftware",
            "Artist",
            "ImageDescription",
            "HostComputer",
            "UserComment",
            "Make",
            "Model",
        ):
            v = ex.get(key)
            if isinstance(v, str) and v and not v.startswith("<"):
                texts[f"EXIF {key}"] = v
        for prop in (
            "xmp:CreatorTool",
            "stEvt:softwareAgent",
            "tiff:Software",
            "photoshop:Source",
            "dc:description",
            "exif:UserComment",
        ):
            for v in _xmp_values(xmp, prop):
                texts.setdefault(f"XMP {prop}", v)
                if prop == "stEvt:softwareAgent":
                    texts[f"XMP {prop} {v}"] = v
        for k, v in md.png_text.items():
            texts[f"PNG {k}"] = v[:4000]
        for i, c in enumerate(md.comments):
            texts[f"comment {i}"] = c[:4000]

        # ---- AI generator signatures
        pt = md.png_text
        if "parameters" in pt and re.search(r"\b(Steps|Sampler|CFG scale|Seed)\s*:", pt["parameters"]):
            add(
                "PNG 'parameters' text holds Stable Diffusion generation settings (AUTOMATIC1111-style).",
                Severity.STRONG,
                Supports.AI_GENERATED,
                "generator_parameters",
                tool="Stable Diffusion (A1111)",
                excerpt=pt["parameters"][:200],
            )
        if any(k in pt for k in ("prompt", "workflow")):
            blob = (pt.get("prompt", "") + pt.get("workflow", ""))[:20000]
            if re.search(r'"(class_type|nodes|KSampler|CheckpointLoader\w*)"', blob) or "KSampler" in blob:
                add(
                    "PNG 'prompt'/'workflow' text holds a ComfyUI generation graph.",
                    Severity.STRONG,
                    Supports.AI_GENERATED,
                    "generator_comfyui",
                    tool="ComfyUI",
                )
        if any(k in pt for k in ("invokeai_metadata", "sd-metadata", "Dream", "invokeai_graph")):
            add(
                "PNG text holds InvokeAI / Stable Diffusion generation metadata.",
                Severity.STRONG,
                Supports.AI_GENERATED,
                "generator_invokeai",
                tool="InvokeAI",
            )
        if pt.get("Software", "").strip().lower() == "novelai" or (
            "Comment" in pt and re.search(r'"(steps|sampler|n_samples|uc)"', pt["Comment"])
        ):
            add(
                "PNG text holds NovelAI generation metadata.",
                Severity.STRONG,
                Supports.AI_GENERATED,
                "generator_novelai",
                tool="NovelAI",
            )
        uc = str(ex.get("UserComment", "") or "")
        if re.search(r"\bSteps:\s*\d+.*\bSampler:", uc, flags=re.S):
            add(
                "EXIF UserComment holds Stable Diffusion generation settings.",
                Severity.STRONG,
                Supports.AI_GENERATED,
                "generator_parameters",
                tool="Stable Diffusion",
                where="EXIF UserComment",
            )
        already = {f.data.get("tool") for f in findings}
        gen_hits: dict[str, str] = {}
        for where, t in texts.items():
            if where.startswith("PNG ") and where[4:] in ("parameters", "prompt", "workflow"):
                continue  # prompts mention anything; these keys are handled above
            for name in _match(GENERATORS, t):
                gen_hits.setdefault(name, where)
        for name, where in gen_hits.items():
            if name not in already:
                tool_field = any(k in where for k in _TOOL_FIELDS)
                add(
                    f"The metadata names the image generator {name} ({where}).",
                    Severity.STRONG if tool_field else Severity.MODERATE,
                    Supports.AI_GENERATED,
                    "generator_name",
                    tool=name,
                    where=where,
                )

        # ---- IPTC digital source type (XMP Iptc4xmpExt:DigitalSourceType or the IIM record / anywhere in XMP)
        dst_text = xmp + " " + (md.iptc_raw or b"").decode("latin-1", errors="ignore")
        found_dst = set(re.findall(r"digitalsourcetype/(\w+)", dst_text, flags=re.I))
        found_dst |= {v.rsplit("/", 1)[-1] for v in _xmp_values(xmp, "Iptc4xmpExt:DigitalSourceType")}
        for dst in sorted(found_dst):
            if dst == "trainedAlgorithmicMedia":
                add(
                    "The IPTC digital source type says the image was created by a trained AI model.",
                    Severity.STRONG,
                    Supports.AI_GENERATED,
                    "digital_source_type",
                    value=dst,
                )
            elif dst == "compositeWithTrainedAlgorithmicMedia":
                add(
                    "The IPTC digital source type says the image is a composite that includes AI-generated "
                    "elements.",
                    Severity.STRONG,
                    Supports.AI_GENERATED,
                    "digital_source_type",
                    value=dst,
                )
                add(
                    "A composite digital source type means the image was assembled from parts.",
                    Severity.MODERATE,
                    Supports.MANIPULATED,
                    "digital_source_type_composite",
                    value=dst,
                )
            elif dst in OTHER_SOURCE_TYPES:
                what, sup, sev = OTHER_SOURCE_TYPES[dst]
                add(
                    f"The IPTC digital source type says the image is {what}.",
                    sev,
                    sup,
                    "digital_source_type",
                    value=dst,
                )

        # ---- editing software
        edit_hits: dict[str, str] = {}
        for where, t in texts.items():
            if where.startswith("PNG ") and where[4:] in ("parameters", "prompt", "workflow"):
                continue
            for name in _match(EDITORS, t):
                edit_hits.setdefault(name, where)
        for name, where in edit_hits.items():
            add(
                f"The file was processed with editing software: {name} ({where}).",
                Severity.MODERATE,
                Supports.MANIPULATED,
                "editing_software",
                tool=name,
                where=where,
            )
        if "photoshop:" in xmp and "Adobe Photoshop" not in edit_hits:
            add(
                "XMP carries Photoshop-specific properties.",
                Severity.WEAK,
                Supports.MANIPULATED,
                "photoshop_xmp",
            )
        n_hist = len(
            re.findall(
                r"stEvt:action\s*=\s*\"(?:saved|converted|derived)\"|<stEvt:action>(?:saved|converted|derived)<",
                xmp,
            )
        )
        if n_hist:
            add(
                f"The XMP edit history records {n_hist} save/convert step(s).",
                Severity.WEAK,
                Supports.MANIPULATED,
                "xmp_history",
                steps=n_hist,
            )

        # ---- recorded vs actual pixel size (resized or cropped after capture)
        px, py = ex.get("ExifImageWidth"), ex.get("ExifImageHeight")
        if isinstance(px, int) and isinstance(py, int) and px > 0 and py > 0:
            if {px, py} != {image.width, image.height}:
                resized = (
                    abs(px / py - image.width / image.height) < 0.02
                    or abs(py / px - image.width / image.height) < 0.02
                )
                how = "resized" if resized else "cropped or resized"
                add(
                    f"EXIF records a {px}x{py} picture but the image is {image.width}x{image.height}; it was {how} "
                    "after capture.",
                    Severity.WEAK,
                    Supports.MANIPULATED,
                    "dimensions_changed",
                    exif_size=[px, py],
                    size=[image.width, image.height],
                    aspect_kept=resized,
                )
        if md.other.get("adobe_app14") and not edit_hits:
            add(
                "The JPEG carries an Adobe APP14 marker, typical of files written by Adobe software.",
                Severity.WEAK,
                Supports.MANIPULATED,
                "adobe_writer",
            )

        # ---- dates
        d_orig = parse_date(ex.get("DateTimeOriginal"))
        d_dig = parse_date(ex.get("DateTimeDigitized"))
        d_mod = parse_date(ex.get("DateTime"))
        x_mod = next((parse_date(v) for v in _xmp_values(xmp, "xmp:ModifyDate") if parse_date(v)), None)
        x_create = next((parse_date(v) for v in _xmp_values(xmp, "xmp:CreateDate") if parse_date(v)), None)
        capture = d_orig or d_dig or x_create
        modified = max([d for d in (d_mod, x_mod) if d is not None], default=None)
        for key in ("DateTimeOriginal", "DateTime", "DateTimeDigitized"):
            v = ex.get(key)
            if isinstance(v, str) and v.strip() and parse_date(v) is None and v.strip(" :0") != "":
                add(
                    f"The EXIF {key} value {v!r} is not a valid date.",
                    Severity.WEAK,
                    Supports.MANIPULATED,
                    "date_invalid",
                    tag=key,
                    value=v,
                )
        if capture and modified:
            delta = (modified - capture).total_seconds()
            rem = abs(delta) % 3600
            whole_hours = 3480 <= abs(delta) <= 14 * 3600 + 120 and min(rem, 3600 - rem) < 120
            if whole_hours:
                add(
                    "Capture and modification times differ by a whole number of hours, most likely a time-zone "
                    "difference.",
                    Severity.INFO,
                    Supports.NONE,
                    "date_timezone",
                    seconds=delta,
                )
            elif delta > 120:
                add(
                    f"The file was modified {_human(delta)} after the photo was taken.",
                    Severity.WEAK,
                    Supports.MANIPULATED,
                    "modified_after_capture",
                    capture=capture.isoformat(),
                    modified=modified.isoformat(),
                    seconds=delta,
                )
            elif delta < -120:
                add(
                    "The recorded modification time is earlier than the capture time, which is inconsistent.",
                    Severity.WEAK,
                    Supports.MANIPULATED,
                    "date_order",
                    capture=capture.isoformat(),
                    modified=modified.isoformat(),
                    seconds=delta,
                )
        if d_orig and d_dig and abs((d_orig - d_dig).total_seconds()) > 120:
            add(
                "DateTimeOriginal and DateTimeDigitized disagree.",
                Severity.WEAK,
                Supports.MANIPULATED,
                "date_mismatch",
                original=d_orig.isoformat(),
                digitized=d_dig.isoformat(),
            )

        # ---- EXIF thumbnail vs main image
        if md.exif_thumbnail and context.profile != "fast":
            cmp = compare_thumbnail(np.asarray(image.rgb), md.exif_thumbnail, image.orientation)
            if cmp is None:
                add(
                    "The EXIF thumbnail could not be decoded.",
                    Severity.WEAK,
                    Supports.MANIPULATED,
                    "thumbnail_undecodable",
                )
            else:
                corr, cells = cmp["corr"], cmp["cells"]
                cell_max = float(cells.max())
                data = {
                    "correlation": round(corr, 3),
                    "correlation_outside_differing_cells": round(cmp["corr_outside_hot"], 3),
                    "max_cell_difference": round(cell_max, 3),
                    "orientation_tried": cmp["orientation_tried"],
                }
                if corr < 0.5:
                    add(
                        "The EXIF thumbnail shows different content from the main image; the image was changed "
                        "after the thumbnail was written.",
                        Severity.STRONG,
                        Supports.MANIPULATED,
                        "thumbnail_mismatch",
                        **data,
                    )
                elif (
                    cmp["corr_outside_hot"] > 0.9
                    and 0.0 < cmp["hot_fraction"] <= 0.25
                    and cell_max > 1.3
                    and cell_max > 5 * float(np.median(cells))
                ):
                    add(
                        "The EXIF thumbnail matches the main image except in one area, which suggests a local "
                        "edit after the thumbnail was written.",
                        Severity.STRONG if cell_max > 1.8 else Severity.MODERATE,
                        Supports.MANIPULATED,
                        "thumbnail_local_mismatch",
                        **data,
                    )
                    emap = self._cell_map(cells, image.shape, cmp["aspect_thumb"])
                elif corr < 0.8:
                    add(
                        "The EXIF thumbnail only loosely matches the main image (crop or edit after capture).",
                        Severity.WEAK,
                        Supports.MANIPULATED,
                        "thumbnail_weak_match",
                        **data,
                    )
                else:
                    add(
                        "The EXIF thumbnail matches the main image.",
                        Severity.INFO,
                        Supports.NONE,
                        "thumbnail_match",
                        **data,
                    )

        # ---- content credentials
        if md.c2pa_present:
            add(
                "Content credentials (C2PA) are present; they are validated by the c2pa detector.",
                Severity.INFO,
                Supports.NONE,
                "c2pa_present",
            )

        # ---- scores: noisy-OR over findings per hypothesis, from a low base
        probs: dict[str, float] = {}
        for hyp, sup in (("ai_generated", Supports.AI_GENERATED), ("manipulated", Supports.MANIPULATED)):
            keep = 1.0 - _BASE[hyp]
            for f in findings:
                if f.supports == sup:
                    keep *= 1.0 - _STRENGTH[f.severity]
            probs[hyp] = round(1.0 - keep, 4)
        main = max(probs, key=lambda k: probs[k])
        return self.evidence(
            score=probs[main],
            map=emap,
            findings=findings,
            extra={**probs, "main_hypothesis": main, "baseline": dict(_BASE)},
        )

    @staticmethod
    def _cell_map(cells: np.ndarray, shape: tuple[int, int], aspect_thumb: float) -> np.ndarray:
        h, w = shape
        m = np.clip((cells - 0.6) / 1.2, 0.0, 1.0).astype(np.float32)
        # the thumbnail covered the centre crop of the main image with the thumbnail's aspect
        if w / h > aspect_thumb:
            cw, ch = int(round(h * aspect_thumb)), h
        else:
            cw, ch = w, int(round(w / aspect_thumb))
        out = np.zeros((h, w), np.float32)
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        out[y0 : y0 + ch, x0 : x0 + cw] = cv2.resize(m, (cw, ch), interpolation=cv2.INTER_LINEAR)
        return out


def _human(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.0f} days"
