"""REST service and web page over the same engine as the CLI and the Python API.

    pixelsleuth serve --host 127.0.0.1 --port 8000

Endpoints: ``GET /`` (upload page), ``POST /v1/analyze`` (multipart field ``file``; query ``profile``,
``maps=true`` to include base64 PNG maps), ``GET /v1/detectors``, ``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import base64
from importlib import resources
from typing import Any

from pixelsleuth import __version__
from pixelsleuth.detectors.base import PROFILES
from pixelsleuth.detectors.registry import all_detectors
from pixelsleuth.errors import IntakeError
from pixelsleuth.io.loader import IntakeLimits, load_image
from pixelsleuth.pipeline import AnalyzeOptions, analyze_image
from pixelsleuth.report.render import colorize, map_to_uint8, overlay, png_bytes

try:
    from fastapi import FastAPI, File, HTTPException, Query, UploadFile
    from fastapi.responses import HTMLResponse, JSONResponse
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("the REST service needs the server extra: pip install 'pixelsleuth[server]'") from e


def _b64png(arr) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(arr)).decode("ascii")


def create_app(
    max_upload_bytes: int = 50 * 1024 * 1024,
    max_pixels: int = 100_000_000,
    index_dir: str | None = None,
    concurrency: int = 2,
) -> FastAPI:
    app = FastAPI(
        title="pixelsleuth", version=__version__, description="Image integrity and provenance analysis."
    )
    gate = asyncio.Semaphore(concurrency)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get("/v1/detectors")
    def detectors() -> list[dict[str, Any]]:
        return [
            {"name": n, "version": c.version, "family": c.family.value, "profiles": sorted(c.profiles),
             "requires": sorted(c.requires), "description": c.description}
            for n, c in all_detectors().items()
        ]  # fmt: skip

    @app.post("/v1/analyze")
    async def analyze(
        file: UploadFile = File(..., description="the image file"),
        profile: str = Query("default", description="fast | default | thorough"),
        maps: bool = Query(False, description="include the fused map and overlay as base64 PNG"),
    ) -> JSONResponse:
        if profile not in PROFILES:
            raise HTTPException(400, f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        data = await file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise HTTPException(413, f"upload larger than {max_upload_bytes} bytes")
        opts = AnalyzeOptions(profile=profile, max_pixels=max_pixels, index_dir=index_dir)
        async with gate:
            try:
                image = await asyncio.to_thread(load_image, data, IntakeLimits(max_pixels=max_pixels))
            except IntakeError as e:
                name = file.filename or "upload"
                return JSONResponse(
                    status_code=422,
                    content={"error": {"code": e.code, "message": str(e).replace("image:", f"{name}:", 1)}},
                )
            report = await asyncio.to_thread(analyze_image, image, opts)
        body = dict(report.data)
        body["image"] = dict(body["image"], source=file.filename or "upload", name=file.filename or "upload")
        if maps:
            fused = report.map
            body["maps"] = {
                "fused": None if fused is None else _b64png(map_to_uint8(fused)),
                "overlay": _b64png(overlay(image.rgb, fused)),
                "detectors": {
                    ev.detector: _b64png(colorize(ev.map)) for ev in report.evidence if ev.map is not None
                },
            }
        return JSONResponse(content=body)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return resources.files("pixelsleuth.server").joinpath("index.html").read_text()

    return app
