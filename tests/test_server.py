from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from _util import encode, photo_like  # noqa: E402
from pixelsleuth.report import validate_report  # noqa: E402
from pixelsleuth.server.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(max_upload_bytes=2_000_000))


def test_page_and_health(client: TestClient):
    r = client.get("/")
    assert r.status_code == 200 and "/v1/analyze" in r.text
    assert client.get("/healthz").json()["status"] == "ok"
    names = [d["name"] for d in client.get("/v1/detectors").json()]
    assert names == sorted(names)


def test_analyze_upload_returns_schema_valid_report(client: TestClient):
    data = encode(photo_like(96, 128), "JPEG", quality=90)
    r = client.post("/v1/analyze?profile=fast&maps=true", files={"file": ("x.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    maps = body.pop("maps")
    validate_report(body)
    assert body["image"]["name"] == "x.jpg" and body["image"]["width"] == 128
    assert maps["overlay"].startswith("data:image/png;base64,")


def test_bad_uploads_get_clear_errors(client: TestClient):
    r = client.post("/v1/analyze", files={"file": ("x.jpg", b"not an image", "image/jpeg")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_format"
    r = client.post("/v1/analyze", files={"file": ("big.bin", b"\0" * 2_000_001, "application/octet-stream")})
    assert r.status_code == 413
    r = client.post("/v1/analyze?profile=nope", files={"file": ("x.jpg", b"x", "image/jpeg")})
    assert r.status_code == 400
