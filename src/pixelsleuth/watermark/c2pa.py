"""Content credentials (C2PA) through ``c2pa-python``: read + validate, sign, and durable credentials.

Status values:

* ``valid``: the manifest validates and its signer chains to a trust anchor we were given;
* ``valid_untrusted``: the manifest is intact but the signer is not on a trust list (self-made certificates);
* ``tampered``: a hash or signature check failed (the file changed after signing, or the manifest was edited);
* ``absent``: no manifest in the file.

Durable credentials: when signing, the image is also marked with our watermark, the manifest carries an
``org.pixelsleuth.watermark`` assertion with the payload, and the signed manifest is saved in a local store under
that payload. If a copy later loses its metadata, decoding the mark finds the manifest again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixelsleuth.errors import CredentialsError

WM_ASSERTION = "org.pixelsleuth.watermark"
_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
    "BMP": "image/bmp",
}
_BENIGN_FAILURES = {"signingCredential.untrusted", "signingCredential.ocsp.skipped"}


def available() -> str | None:
    """None when c2pa-python can be used, else the reason."""
    try:
        import c2pa  # noqa: F401
    except Exception as e:  # noqa: BLE001
        return f"c2pa-python is not importable ({type(e).__name__}: {e})"
    return None


def mime_for(data: bytes) -> str:
    from pixelsleuth.io.loader import sniff_format

    fmt = sniff_format(data[:32])
    if fmt is None or fmt not in _MIME:
        raise CredentialsError(f"content credentials are not supported for this format ({fmt or 'unknown'})")
    return _MIME[fmt]


@dataclass
class CredentialReport:
    status: str  # valid | valid_untrusted | tampered | absent
    validation_state: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    signer: dict[str, Any] = field(default_factory=dict)
    claim_generator: str | None = None
    title: str | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)
    ingredients: list[dict[str, Any]] = field(default_factory=list)
    digital_source_types: list[str] = field(default_factory=list)
    generator: str | None = None  # software agent / generator named by the manifest
    watermark_payload: int | None = None  # our bound watermark payload, if the manifest carries one
    assertion_labels: list[str] = field(default_factory=list)
    n_manifests: int = 0
    error: str | None = None

    @property
    def ai_generated(self) -> bool:
        return any(
            t.rsplit("/", 1)[-1] in ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
            for t in self.digital_source_types
        )

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["ai_generated"] = self.ai_generated
        return d


def _ctx(trust_anchors: str | None) -> Any:
    import c2pa

    if not trust_anchors:
        return None
    return c2pa.Context.from_dict(
        {"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust_anchors}}
    )


def _summarise(reader: Any, report: CredentialReport) -> None:
    store = json.loads(reader.json())
    report.n_manifests = len(store.get("manifests", {}) or {})
    am = reader.get_active_manifest() or {}
    report.title = am.get("title")
    cgi = am.get("claim_generator_info") or []
    if cgi:
        report.claim_generator = " ".join(str(x) for x in (cgi[0].get("name"), cgi[0].get("version")) if x)
    elif am.get("claim_generator"):
        report.claim_generator = str(am.get("claim_generator"))
    report.signer = {
        k: v for k, v in (am.get("signature_info") or {}).items() if isinstance(v, str | int | float)
    }
    for ing in am.get("ingredients", []) or []:
        report.ingredients.append(
            {
                k: ing.get(k)
                for k in ("title", "format", "relationship", "instance_id")
                if ing.get(k) is not None
            }
        )
    for a in am.get("assertions", []) or []:
        label = str(a.get("label", ""))
        report.assertion_labels.append(label)
        data = a.get("data") or {}
        if label.startswith("c2pa.actions"):
            for act in data.get("actions", []) or []:
                item = {
                    k: act.get(k) for k in ("action", "digitalSourceType", "when") if act.get(k) is not None
                }
                agent = act.get("softwareAgent")
                if isinstance(agent, dict):
                    agent = " ".join(str(x) for x in (agent.get("name"), agent.get("version")) if x)
                if agent:
                    item["softwareAgent"] = str(agent)
                    report.generator = report.generator or str(agent)
                report.actions.append(item)
                dst = act.get("digitalSourceType")
                if dst and dst not in report.digital_source_types:
                    report.digital_source_types.append(str(dst))
        elif label == WM_ASSERTION:
            try:
                report.watermark_payload = int(str(data.get("payload")), 16)
            except (TypeError, ValueError):
                pass
        elif label in ("c2pa.ai_generative_training", "c2pa.training-mining"):
            pass


def _classify(state: str | None, failures: list[dict[str, str]]) -> str:
    hard = [f for f in failures if f.get("code") not in _BENIGN_FAILURES]
    if hard or (state or "").lower() == "invalid":
        return "tampered"
    if (state or "").lower() == "trusted":
        return "valid"
    return "valid_untrusted"


def read_credentials(
    data: bytes, mime: str | None = None, trust_anchors: str | None = None, manifest_data: bytes | None = None
) -> CredentialReport:
    """Read and validate the C2PA manifest of ``data`` (file bytes). ``trust_anchors``: PEM roots to trust."""
    reason = available()
    if reason:
        raise CredentialsError(reason)
    import c2pa

    mime = mime or mime_for(data)
    try:
        if manifest_data is not None:
            reader = c2pa.Reader(
                mime, io.BytesIO(data), manifest_data=manifest_data, context=_ctx(trust_anchors)
            )
        else:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), context=_ctx(trust_anchors))
    except c2pa.C2paError as e:
        msg = str(e)
        if "ManifestNotFound" in type(e).__name__ or "no JUMBF" in msg:
            return CredentialReport(status="absent")
        if "NotSupported" in type(e).__name__:
            raise CredentialsError(f"C2PA does not support this file type ({mime})") from e
        return CredentialReport(status="tampered", error=f"{type(e).__name__}: {msg}")
    if reader is None:
        return CredentialReport(status="absent")
    with reader:
        state = reader.get_validation_state()
        vr = reader.get_validation_results() or {}
        failures: list[dict[str, str]] = []
        for part in (vr.get("activeManifest") or {}, *(vr.get("ingredientDeltas") or [])):
            fl = part.get("failure", []) if isinstance(part, dict) else []
            failures.extend(
                {"code": str(f.get("code")), "explanation": str(f.get("explanation", ""))} for f in fl
            )
        rep = CredentialReport(status=_classify(state, failures), validation_state=state, failures=failures)
        _summarise(reader, rep)
    return rep


def _signer(cert_chain_pem: bytes, key_pem: bytes, alg: str, tsa_url: str | None) -> Any:
    import c2pa

    algs = {a.name.lower(): a for a in c2pa.C2paSigningAlg}
    if alg.lower() not in algs:
        raise CredentialsError(f"unknown signing algorithm {alg!r}; choose one of {', '.join(sorted(algs))}")
    try:
        info = c2pa.C2paSignerInfo(algs[alg.lower()], cert_chain_pem, key_pem, tsa_url)
        return c2pa.Signer.from_info(info)
    except (c2pa.C2paError, ValueError, TypeError) as e:
        raise CredentialsError(f"could not create a signer from this certificate/key: {e}") from e


def build_manifest(
    title: str,
    mime: str,
    actions: list[dict[str, Any]] | None = None,
    watermark_payload: int | None = None,
    extra_assertions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    from pixelsleuth import __version__

    acts = actions or [
        {"action": "c2pa.edited", "softwareAgent": {"name": "pixelsleuth", "version": __version__}}
    ]
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions", "data": {"actions": acts}}]
    if watermark_payload is not None:
        assertions.append(
            {
                "label": WM_ASSERTION,
                "data": {"payload": f"{watermark_payload:08x}", "algorithm": "pixelsleuth-watermark-v1"},
            }
        )
        # the standard C2PA soft binding (a watermark that points back at this manifest)
        assertions.append(
            {
                "label": "c2pa.soft-binding",
                "data": {
                    "alg": "org.pixelsleuth.watermark.v1",
                    "blocks": [
                        {
                            "scope": {},
                            "value": base64.b64encode(watermark_payload.to_bytes(4, "big")).decode(),
                        }
                    ],
                },
            }
        )
    assertions.extend(extra_assertions or [])
    return {
        "claim_generator_info": [{"name": "pixelsleuth", "version": __version__}],
        "title": title,
        "format": mime,
        "assertions": assertions,
    }


def sign(
    data: bytes,
    cert_chain_pem: bytes,
    key_pem: bytes,
    *,
    alg: str = "es256",
    title: str = "image",
    actions: list[dict[str, Any]] | None = None,
    watermark_payload: int | None = None,
    tsa_url: str | None = None,
) -> tuple[bytes, bytes]:
    """Sign image bytes; returns (signed file bytes, manifest store bytes)."""
    reason = available()
    if reason:
        raise CredentialsError(reason)
    import c2pa

    mime = mime_for(data)
    manifest = build_manifest(title, mime, actions, watermark_payload)
    signer = _signer(cert_chain_pem, key_pem, alg, tsa_url)
    out = io.BytesIO()
    try:
        with c2pa.Builder(json.dumps(manifest)) as builder:
            # "edit" intent: the SDK records the source file as the parent ingredient and opens with c2pa.opened
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            manifest_bytes = builder.sign(signer, mime, io.BytesIO(data), out)
    except c2pa.C2paError as e:
        raise CredentialsError(f"signing failed: {e}") from e
    finally:
        signer.close()
    return out.getvalue(), bytes(manifest_bytes)


# ------------------------------------------------------------------------------------ durable credentials


class ManifestStore:
    """A folder of signed manifests keyed by watermark payload: ``<payload hex>.c2pa`` + ``.json``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _paths(self, payload: int) -> tuple[Path, Path]:
        return self.root / f"{payload:08x}.c2pa", self.root / f"{payload:08x}.json"

    def put(self, payload: int, manifest_bytes: bytes, info: dict[str, Any]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        mp, jp = self._paths(payload)
        for p, content in ((mp, manifest_bytes), (jp, json.dumps(info, indent=2).encode())):
            tmp = p.with_suffix(p.suffix + ".tmp")
            tmp.write_bytes(content)
            os.replace(tmp, p)
        return mp

    def get(self, payload: int) -> tuple[bytes, dict[str, Any]] | None:
        mp, jp = self._paths(payload)
        if not mp.exists():
            return None
        info = json.loads(jp.read_text()) if jp.exists() else {}
        return mp.read_bytes(), info

    def free_payload(self) -> int:
        for _ in range(1000):
            p = secrets.randbits(32)
            if not self._paths(p)[0].exists():
                return p
        raise CredentialsError("could not find a free watermark payload in the manifest store")


def sign_durable(
    data: bytes,
    cert_chain_pem: bytes,
    key_pem: bytes,
    watermark_key: str | bytes,
    store: ManifestStore,
    *,
    payload: int | None = None,
    alg: str = "es256",
    title: str = "image",
    strength: float = 1.0,
    jpeg_quality: int = 95,
    tsa_url: str | None = None,
) -> tuple[bytes, int]:
    """Watermark the image with a payload, sign it with a manifest naming that payload, keep the manifest in the
    store. Returns (signed file bytes, payload)."""
    from PIL import Image

    from pixelsleuth.io.loader import load_image
    from pixelsleuth.watermark import ours

    img = load_image(data)
    payload = store.free_payload() if payload is None else int(payload)
    marked = ours.embed(img.rgb, watermark_key, payload, strength=strength)
    buf = io.BytesIO()
    if img.format == "JPEG":
        Image.fromarray(marked).save(buf, "JPEG", quality=jpeg_quality)
    else:
        Image.fromarray(marked).save(buf, "PNG")
    from pixelsleuth import __version__

    actions = [
        {"action": "c2pa.watermarked", "softwareAgent": {"name": "pixelsleuth", "version": __version__}},
    ]
    signed, manifest_bytes = sign(
        buf.getvalue(),
        cert_chain_pem,
        key_pem,
        alg=alg,
        title=title,
        actions=actions,
        watermark_payload=payload,
        tsa_url=tsa_url,
    )
    store.put(
        payload,
        manifest_bytes,
        {
            "payload": f"{payload:08x}",
            "title": title,
            "sha256": hashlib.sha256(signed).hexdigest(),
            "mime": mime_for(signed),
        },
    )
    return signed, payload


@dataclass
class Recovery:
    found: bool
    payload: int | None
    watermark: dict[str, Any]
    report: CredentialReport | None = None
    signature_valid: bool | None = None  # the stored manifest's own signature checks out
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "payload": None if self.payload is None else f"{self.payload:08x}",
            "watermark": self.watermark,
            "signature_valid": self.signature_valid,
            "credentials": None if self.report is None else self.report.to_dict(),
            "message": self.message,
        }


def recover(data: bytes, rgb: np.ndarray, watermark_key: str | bytes, store: ManifestStore) -> Recovery:
    """Decode our mark from the pixels and look its payload up in the store."""
    from pixelsleuth.watermark import ours

    res = ours.detect(rgb, watermark_key, want_map=False)
    wm = res.to_dict()
    if not res.detected or res.payload is None:
        return Recovery(False, None, wm, message="no readable watermark payload under this key")
    got = store.get(res.payload)
    if got is None:
        return Recovery(
            False, res.payload, wm, message=f"payload {res.payload:08x} is not in the manifest store"
        )
    manifest_bytes, _info = got
    try:
        rep = read_credentials(data, manifest_data=manifest_bytes)
    except CredentialsError as e:
        return Recovery(False, res.payload, wm, message=str(e))
    codes = {f["code"] for f in rep.failures}
    sig_ok = not any(c.startswith("claimSignature") for c in codes)
    bound = rep.watermark_payload == res.payload
    msg = (
        "content credentials recovered from the manifest store through the watermark"
        + ("" if bound else " (but the manifest does not name this payload)")
        + ("; its signature is intact" if sig_ok else "; its signature does NOT validate")
        + (
            "; the pixels changed since signing (expected for a re-encoded copy)"
            if rep.status == "tampered"
            else ""
        )
    )
    return Recovery(bound, res.payload, wm, rep, sig_ok, msg)
