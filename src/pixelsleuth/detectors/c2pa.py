"""Analyze-time C2PA detector: is there a content credential, does it validate, what does it claim?"""

from __future__ import annotations

from typing import ClassVar

from pixelsleuth.detectors.base import Context, Detector, Evidence, Family, Finding, Severity, Supports
from pixelsleuth.detectors.registry import register
from pixelsleuth.errors import CredentialsError
from pixelsleuth.io.image import ImageData


@register
class C2paDetector(Detector):
    name: ClassVar[str] = "c2pa"
    version: ClassVar[str] = "1"
    family: ClassVar[Family] = Family.PROVENANCE
    requires: ClassVar[frozenset[str]] = frozenset({"bytes"})
    profiles: ClassVar[frozenset[str]] = frozenset({"fast", "default", "thorough"})
    description: ClassVar[str] = (
        "Reads and validates C2PA content credentials: valid, valid but untrusted signer, tampered or absent; "
        "lists actions, ingredients, generator and digital source type."
    )

    def unavailable_reason(self, image: ImageData, context: Context) -> str | None:
        from pixelsleuth.watermark.c2pa import available

        if not image.data:
            return "the original file bytes are not available"
        return available()

    def analyze(self, image: ImageData, context: Context) -> Evidence:
        from pixelsleuth.watermark import c2pa as c2

        anchors = context.resources.get("c2pa_trust_anchors") or context.opt(self.name, "trust_anchors")
        try:
            rep = c2.read_credentials(image.data, trust_anchors=anchors)
        except CredentialsError as e:
            return self.evidence(
                skipped=str(e), findings=[Finding(f"C2PA check skipped: {e}.", code="c2pa.skipped")]
            )
        extra = rep.to_dict()
        # fusion reads numeric extra["manipulated"] / extra["ai_generated"]; keep the boolean under another name
        extra["declares_ai_generated"] = bool(extra.pop("ai_generated", False))
        f: list[Finding] = []
        score: float | None = None
        if rep.status == "absent":
            msg = "The file carries no C2PA content credentials."
            if image.metadata.c2pa_present:
                msg = "A C2PA/JUMBF block is present but could not be read as a manifest store."
            f.append(Finding(msg, code="c2pa.absent"))
            return self.evidence(score=None, findings=f, extra=extra)
        who = rep.signer.get("issuer") or rep.signer.get("common_name") or "an unknown signer"
        if rep.status == "tampered":
            codes = (
                ", ".join(sorted({x["code"] for x in rep.failures if "untrusted" not in x["code"]}))
                or rep.error
            )
            f.append(
                Finding(
                    f"The content credentials do not validate ({codes}): the file changed after it was signed or "
                    "the manifest was altered.",
                    severity=Severity.STRONG,
                    supports=Supports.MANIPULATED,
                    code="c2pa.tampered",
                    data={"failures": rep.failures},
                )
            )
            score = 0.9
            extra["manipulated"] = 0.9
        elif rep.status == "valid":
            f.append(
                Finding(f"Valid content credentials signed by {who}, a trusted signer.", code="c2pa.valid")
            )
            score = 0.05
        else:
            f.append(
                Finding(
                    f"Intact content credentials signed by {who}, but the signer is not on a trust list; the claims "
                    "are only as good as that signer.",
                    code="c2pa.valid_untrusted",
                )
            )
            score = 0.2
        if rep.actions:
            names = ", ".join(dict.fromkeys(a.get("action", "?").replace("c2pa.", "") for a in rep.actions))
            edited = any(
                a.get("action") in ("c2pa.edited", "c2pa.filtered", "c2pa.cropped", "c2pa.placed")
                for a in rep.actions
            )
            f.append(
                Finding(
                    f"The credentials record these actions: {names}.",
                    severity=Severity.WEAK if edited else Severity.INFO,
                    supports=Supports.MANIPULATED if edited else Supports.NONE,
                    code="c2pa.actions",
                    data={"actions": rep.actions},
                )
            )
        if rep.ingredients:
            f.append(
                Finding(
                    f"The image was made from {len(rep.ingredients)} recorded ingredient(s).",
                    code="c2pa.ingredients",
                    data={"ingredients": rep.ingredients},
                )
            )
        if rep.ai_generated:
            extra["ai_generated"] = 0.97 if rep.status != "tampered" else 0.7
            f.append(
                Finding(
                    "The credentials declare AI-generated content (digital source type "
                    f"{', '.join(t.rsplit('/', 1)[-1] for t in rep.digital_source_types)}"
                    + (f", generator {rep.generator}" if rep.generator else "")
                    + ").",
                    severity=Severity.STRONG if rep.status != "tampered" else Severity.MODERATE,
                    supports=Supports.AI_GENERATED,
                    code="c2pa.ai_generated",
                    data={"digital_source_types": rep.digital_source_types, "generator": rep.generator},
                )
            )
        elif rep.digital_source_types:
            f.append(
                Finding(
                    "Declared digital source type: "
                    + ", ".join(t.rsplit("/", 1)[-1] for t in rep.digital_source_types)
                    + ".",
                    code="c2pa.source_type",
                )
            )
        if rep.watermark_payload is not None:
            f.append(
                Finding(
                    f"The credentials are bound to a pixelsleuth watermark (payload {rep.watermark_payload:08x}).",
                    code="c2pa.watermark_binding",
                )
            )
        return self.evidence(score=score, findings=f, extra=extra)
