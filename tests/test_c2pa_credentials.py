"""C2PA: read/validate, sign with a test ES256 chain made by openssl, tamper detection, durable credentials."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _wm_images import photo  # tests/ is on sys.path (conftest.py)

pytest.importorskip("c2pa")
if shutil.which("openssl") is None:  # pragma: no cover
    pytest.skip("openssl is not installed", allow_module_level=True)

from pixelsleuth.detectors.base import Context, Supports  # noqa: E402
from pixelsleuth.detectors.c2pa import C2paDetector  # noqa: E402
from pixelsleuth.errors import CredentialsError  # noqa: E402
from pixelsleuth.io.loader import load_image  # noqa: E402
from pixelsleuth.watermark import c2pa as c2  # noqa: E402


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("pki")
    _run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=d)
    _run("openssl", "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "30", "-subj",
         "/CN=pixelsleuth test root/O=pixelsleuth tests", "-out", "ca.pem",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectKeyIdentifier=hash", cwd=d)  # fmt: skip
    _run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ee0.key", cwd=d)
    _run("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", "ee0.key", "-out", "ee.key", cwd=d)
    _run("openssl", "req", "-new", "-key", "ee.key", "-subj", "/CN=pixelsleuth test signer/O=pixelsleuth tests",
         "-out", "ee.csr", cwd=d)  # fmt: skip
    (d / "ee.ext").write_text(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
    _run("openssl", "x509", "-req", "-in", "ee.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "30", "-sha256", "-extfile", "ee.ext", "-out", "ee.pem", cwd=d)  # fmt: skip
    chain = (d / "ee.pem").read_bytes() + (d / "ca.pem").read_bytes()
    return {
        "chain": chain,
        "key": (d / "ee.key").read_bytes(),
        "ca": (d / "ca.pem").read_bytes(),
        "dir": str(d).encode(),
    }


def _jpeg(rgb: np.ndarray, q: int = 92) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=q)
    return buf.getvalue()


@pytest.fixture(scope="module")
def signed(certs: dict[str, bytes]) -> bytes:
    out, manifest = c2.sign(_jpeg(photo(320, 400, seed=3)), certs["chain"], certs["key"], title="t.jpg")
    assert len(manifest) > 100
    return out


def test_absent(certs: dict[str, bytes]) -> None:
    rep = c2.read_credentials(_jpeg(photo(128, 128)))
    assert rep.status == "absent"


def test_valid_untrusted_and_trusted(signed: bytes, certs: dict[str, bytes]) -> None:
    rep = c2.read_credentials(signed)
    assert rep.status == "valid_untrusted"
    assert any(f["code"] == "signingCredential.untrusted" for f in rep.failures)
    assert rep.signer.get("common_name") == "pixelsleuth test signer"
    assert [a["action"] for a in rep.actions][:2] == ["c2pa.opened", "c2pa.edited"]
    assert rep.claim_generator and rep.claim_generator.startswith("pixelsleuth")
    trusted = c2.read_credentials(signed, trust_anchors=certs["ca"].decode())
    assert trusted.status == "valid"


def test_tampered_pixels(signed: bytes) -> None:
    t = bytearray(signed)
    t[-300] ^= 0x5A  # entropy-coded image data, after the manifest
    rep = c2.read_credentials(bytes(t))
    assert rep.status == "tampered"
    assert any("mismatch" in f["code"] for f in rep.failures)


def test_bad_certificate_is_a_clear_error(certs: dict[str, bytes]) -> None:
    with pytest.raises(CredentialsError):
        c2.sign(_jpeg(photo(128, 128)), b"not a pem", certs["key"])
    with pytest.raises(CredentialsError):
        c2.sign(b"\x00\x01garbage", certs["chain"], certs["key"])


def test_detector_reports_status_and_findings(signed: bytes) -> None:
    ev = C2paDetector().run(load_image(signed), Context())
    assert ev.skipped is None
    assert ev.extra["status"] == "valid_untrusted"
    assert any(f.code == "c2pa.valid_untrusted" for f in ev.findings)
    t = bytearray(signed)
    t[-300] ^= 0x5A
    ev2 = C2paDetector().run(load_image(bytes(t)), Context())
    assert ev2.extra["status"] == "tampered"
    assert ev2.score is not None and ev2.score > 0.5
    assert ev2.extra["manipulated"] > 0.5  # what fusion reads for provenance evidence
    assert any(f.supports == Supports.MANIPULATED for f in ev2.findings)
    ev3 = C2paDetector().run(load_image(_jpeg(photo(128, 128))), Context())
    assert ev3.extra["status"] == "absent" and ev3.score is None
    assert "ai_generated" not in ev3.extra and "manipulated" not in ev3.extra


def test_ai_generated_assertion_is_surfaced(certs: dict[str, bytes]) -> None:
    import json

    import c2pa

    data = _jpeg(photo(200, 200, seed=5))
    manifest = c2.build_manifest(
        "gen.jpg",
        "image/jpeg",
        actions=[
            {
                "action": "c2pa.created",
                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                "softwareAgent": {"name": "TestDiffusion", "version": "9"},
            }
        ],
    )
    signer = c2pa.Signer.from_info(
        c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, certs["chain"], certs["key"], None)
    )
    out = io.BytesIO()
    with c2pa.Builder(json.dumps(manifest)) as b:
        b.sign(signer, "image/jpeg", io.BytesIO(data), out)
    rep = c2.read_credentials(out.getvalue())
    assert rep.ai_generated and rep.generator == "TestDiffusion 9"
    ev = C2paDetector().run(load_image(out.getvalue()), Context())
    assert any(f.code == "c2pa.ai_generated" and f.supports == Supports.AI_GENERATED for f in ev.findings)
    assert ev.extra["ai_generated"] > 0.9 and ev.extra["declares_ai_generated"] is True


def test_durable_credentials_survive_stripping(certs: dict[str, bytes], tmp_path: Path) -> None:
    store = c2.ManifestStore(tmp_path / "store")
    signed, payload = c2.sign_durable(
        _jpeg(photo(384, 512, seed=8), 95), certs["chain"], certs["key"], "durable-key", store, title="d.jpg"
    )
    rep = c2.read_credentials(signed)
    assert rep.status == "valid_untrusted" and rep.watermark_payload == payload
    assert "c2pa.soft-binding" in rep.assertion_labels
    # strip: decode the pixels and re-encode (all metadata gone), then resize a little
    rgb = np.array(Image.open(io.BytesIO(signed)).convert("RGB"))
    rgb = np.array(Image.fromarray(rgb).resize((448, 336)))
    stripped = _jpeg(rgb, 80)
    assert c2.read_credentials(stripped).status == "absent"
    img = load_image(stripped)
    rec = c2.recover(img.data, img.rgb, "durable-key", store)
    assert rec.found and rec.payload == payload
    assert rec.signature_valid is True
    assert rec.report is not None and rec.report.title == "d.jpg"
    # wrong key: nothing recovered
    assert not c2.recover(img.data, img.rgb, "other-key", store).found


def test_unsupported_format_is_skipped_not_tampered() -> None:
    buf = io.BytesIO()
    Image.fromarray(photo(80, 80)).save(buf, "BMP")
    with pytest.raises(CredentialsError):
        c2.read_credentials(buf.getvalue())
    ev = C2paDetector().run(load_image(buf.getvalue()), Context())
    assert ev.skipped and "not support" in ev.skipped
