"""Self-contained HTML pages (no external requests): one per image, and an index for a batch."""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np

from pixelsleuth.report.render import colorize, data_uri, overlay

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:20px;word-break:break-all}
main{padding:16px 24px;max-width:1300px}
.badge{display:inline-block;padding:4px 10px;border-radius:12px;font-weight:600;font-size:14px}
.b-manipulated{background:#e5484d;color:#fff}.b-ai_generated{background:#8e4ec6;color:#fff}
.b-inconclusive{background:#f5a524;color:#1d2330}.b-no_evidence_found{background:#30a46c;color:#fff}
.b-error{background:#666;color:#fff}
.card{background:#fff;border-radius:8px;padding:16px;margin:14px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.viewer{position:relative;display:inline-block;max-width:100%;margin-top:8px}
label{display:block}
.viewer img{max-width:100%;display:block}
.viewer img.ov{position:absolute;left:0;top:0}
.scores span{margin-right:18px}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #e3e5ea;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f0f1f4}
.maps{display:flex;flex-wrap:wrap;gap:12px}
.maps figure{margin:0;width:260px}.maps img{width:260px;border:1px solid #ccc}
.sev-strong{color:#c62828;font-weight:600}.sev-moderate{color:#e65100}.sev-weak{color:#8d6e00}.sev-info{color:#555}
.muted{color:#666;font-size:12px}
code{font-size:12px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _scores_line(scores: dict[str, float] | None) -> str:
    if not scores:
        return ""
    return (
        '<div class="scores">'
        + "".join(f"<span><b>{_e(k)}</b>: {v:.3f}</span>" for k, v in scores.items())
        + '<span class="muted">(0.5 is the decision threshold)</span></div>'
    )


def image_page(
    data: dict[str, Any], rgb: np.ndarray | None, fused: np.ndarray | None, maps: dict[str, np.ndarray]
) -> str:
    img = data.get("image", {})
    label = data.get("label") or "error"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>pixelsleuth report — {_e(img.get('name', ''))}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(img.get('name', ''))}</h1>",
        f"<div class='muted' style='color:#bbb'>sha256 {_e(img.get('sha256', ''))} · {_e(img.get('format', ''))} "
        f"{_e(img.get('width', ''))}×{_e(img.get('height', ''))} · profile {_e(data.get('profile'))} · "
        f"pixelsleuth {_e(data['tool']['version'])}</div></header><main>",
        f"<div class='card'><span id='label' class='badge b-{_e(label)}'>{_e(label.replace('_', ' '))}</span> "
        + _scores_line(data.get("scores"))
        + "</div>",
    ]
    if data.get("error"):
        parts.append(
            f"<div class='card'><b>Error</b>: {_e(data['error']['message'])}</div></main></body></html>"
        )
        return "".join(parts)
    if rgb is not None:
        ov = overlay(rgb, fused) if fused is not None else rgb
        parts.append(
            "<div class='card'><h2>Image and fused map</h2>"
            "<label>Overlay opacity <input id='opacity' type='range' min='0' max='100' value='70' "
            "oninput=\"document.getElementById('ov').style.opacity=this.value/100\"></label>"
            "<div class='viewer'>"
            f"<img alt='image' src='{data_uri(rgb)}'>"
            f"<img id='ov' class='ov' alt='overlay' style='opacity:.7' src='{data_uri(ov)}'>"
            "</div><p class='muted'>Red marks pixels whose fused score is at least 0.5.</p></div>"
        )
    parts.append("<div class='card'><h2>Explanation</h2><ol id='explanation'>")
    for s in data.get("explanation", []):
        parts.append(
            f"<li><span class='sev-{_e(s['severity'])}'>{_e(s['text'])}</span> "
            f"<span class='muted'>[{_e(s['detector'])}]</span></li>"
        )
    parts.append("</ol></div>")
    if maps:
        parts.append("<div class='card'><h2>Detector maps</h2><div class='maps'>")
        for name, m in maps.items():
            parts.append(
                f"<figure><img alt='{_e(name)} map' src='{data_uri(colorize(m), max_side=520, fmt='PNG')}'>"
                f"<figcaption>{_e(name)}</figcaption></figure>"
            )
        parts.append("</div></div>")
    parts.append(
        "<div class='card'><h2>Detectors and findings</h2><table id='findings'><tr><th>detector</th><th>score</th>"
        "<th>findings</th><th>time</th></tr>"
    )
    for d in data.get("detectors", []):
        score = "—" if d.get("score") is None else f"{d['score']:.3f}"
        if d.get("skipped"):
            score = "skipped"
        fl = "".join(
            f"<div class='sev-{_e(f['severity'])}'>{_e(f['message'])}</div>" for f in d.get("findings", [])
        )
        parts.append(
            f"<tr><td>{_e(d['detector'])} <span class='muted'>v{_e(d['version'])} · {_e(d['family'])}</span></td>"
            f"<td>{score}</td><td>{fl}</td><td>{d.get('elapsed_s', 0):.2f}s</td></tr>"
        )
    parts.append("</table></div>")
    md = data.get("metadata") or {}
    parts.append(
        "<div class='card'><h2>Metadata</h2><table id='metadata'><tr><th>field</th><th>value</th></tr>"
    )
    rows: list[tuple[str, Any]] = []
    for k, v in (md.get("exif") or {}).items():
        rows.append((f"EXIF {k}", v))
    for k, v in (md.get("png_text") or {}).items():
        rows.append((f"PNG text {k}", v))
    if md.get("jpeg"):
        rows.append(("JPEG quality estimate", md["jpeg"].get("quality_estimate")))
        rows.append(("JPEG subsampling", md["jpeg"].get("subsampling")))
    for k in ("has_exif_thumbnail", "has_makernote", "has_iptc", "has_icc_profile", "c2pa_present"):
        if k in md:
            rows.append((k.replace("_", " "), md[k]))
    if md.get("xmp"):
        rows.append(("XMP", md["xmp"][:2000]))
    if not rows:
        rows.append(("(none)", "no metadata blocks found"))
    for k, v in rows:
        val = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
        parts.append(f"<tr><td>{_e(k)}</td><td><code>{_e(val[:1000])}</code></td></tr>")
    parts.append("</table></div>")
    parts.append(
        f"<p class='muted'>Generated {_e(data.get('created'))}. Scores are evidence strengths, not proof; "
        "see the project documentation for what each detector measures.</p></main></body></html>"
    )
    return "".join(parts)


def index_page(rows: list[dict[str, Any]], title: str = "pixelsleuth batch report") -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.get("label") or "error"] = counts.get(r.get("label") or "error", 0) + 1
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><header><h1>{_e(title)}</h1>",
        f"<div class='muted' style='color:#bbb'>{len(rows)} images · "
        + " · ".join(f"{_e(k)}: {v}" for k, v in sorted(counts.items()))
        + "</div></header><main><div class='card'><table id='results'><tr><th>image</th><th>label</th>"
        "<th>manipulated</th><th>ai_generated</th><th>detail</th></tr>",
    ]
    for r in rows:
        label = r.get("label") or "error"
        sc = r.get("scores") or {}
        link = r.get("html")
        name = _e(r.get("name", r.get("source", "")))
        name_cell = f"<a href='{_e(link)}'>{name}</a>" if link else name
        detail = _e(r["error"]["message"]) if r.get("error") else ""
        parts.append(
            f"<tr><td>{name_cell}</td><td><span class='badge b-{_e(label)}'>{_e(label.replace('_', ' '))}</span></td>"
            f"<td>{sc.get('manipulated', '') if sc else ''}</td><td>{sc.get('ai_generated', '') if sc else ''}</td>"
            f"<td>{detail}</td></tr>"
        )
    parts.append("</table></div></main></body></html>")
    return "".join(parts)
