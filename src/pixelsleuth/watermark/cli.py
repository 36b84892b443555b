"""``pixelsleuth watermark ...`` and ``pixelsleuth credentials ...`` commands."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console

from pixelsleuth.errors import PixelsleuthError

wm_app = typer.Typer(help="Our keyed invisible watermark, and third-party marks.", no_args_is_help=True)
cred_app = typer.Typer(
    help="C2PA content credentials: read, sign, recover through the watermark.", no_args_is_help=True
)
_out = Console()
_err = Console(stderr=True)


def _fail(msg: str) -> None:
    _err.print(f"[red]error:[/red] {msg}")
    raise typer.Exit(2)


def _key(key: str | None, key_file: Path | None) -> bytes:
    if key_file is not None:
        try:
            data = key_file.read_bytes().strip()
        except OSError as e:
            _fail(f"cannot read key file {key_file}: {e.strerror}")
        if not data:
            _fail(f"key file {key_file} is empty")
        return data
    if key is None:
        key = os.environ.get("PIXELSLEUTH_WATERMARK_KEY")
    if not key:
        _fail("give a watermark key with --key, --key-file or PIXELSLEUTH_WATERMARK_KEY")
    return key.encode("utf-8")


def _payload(text: str) -> int:
    try:
        v = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        try:
            v = int(text, 16)
        except ValueError:
            _fail(f"payload {text!r} is not an integer (decimal, or hex with 0x)")
    if not 0 <= v < 2**32:
        _fail("payload must fit in 32 bits (0 .. 4294967295)")
    return v


def _load(path: Path) -> Any:
    from pixelsleuth.io.loader import load_image

    try:
        return load_image(path)
    except FileNotFoundError:
        _fail(f"{path}: no such file")
    except PixelsleuthError as e:
        _fail(str(e))


def _save_rgb(rgb: np.ndarray, out: Path, quality: int) -> None:
    from PIL import Image

    ext = out.suffix.lower()
    fmt = {
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".png": "PNG",
        ".webp": "WEBP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
    }.get(ext)
    if fmt is None:
        _fail(f"cannot write {out.name}: use .png, .jpg, .webp or .tif")
    buf = io.BytesIO()
    kw: dict[str, Any] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(rgb).save(buf, fmt, **kw)
    _write(out, buf.getvalue())


def _write(out: Path, data: bytes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)


@wm_app.command("embed")
def embed_cmd(
    src: Path = typer.Argument(..., help="image to mark"),
    dst: Path = typer.Argument(..., help="output image (.png, .jpg, .webp, .tif)"),
    payload: str = typer.Option("0", "--payload", "-p", help="32-bit payload (decimal or 0x-hex)"),
    key: str | None = typer.Option(None, "--key", "-k", help="secret key text"),
    key_file: Path | None = typer.Option(None, "--key-file", help="file holding the secret key"),
    strength: float = typer.Option(1.0, help="mark strength (1.0 ~ 40.8 dB PSNR, 0.5 ~ 47 dB)"),
    ssim_floor: float = typer.Option(
        0.98, help="weaken the mark on very smooth images until SSIM reaches this (0 = never weaken)"
    ),
    quality: int = typer.Option(95, help="JPEG/WebP quality of the output"),
) -> None:
    """Embed our keyed watermark carrying a 32-bit payload."""
    from pixelsleuth.watermark import ours

    k = _key(key, key_file)
    p = _payload(payload)
    img = _load(src)
    try:
        marked = ours.embed(img.rgb, k, p, strength=strength, ssim_floor=ssim_floor or None)
    except PixelsleuthError as e:
        _fail(str(e))
    _save_rgb(marked, dst, quality)
    mse = float(np.mean((marked.astype(np.float64) - img.rgb) ** 2))
    psnr = 10 * np.log10(255**2 / max(mse, 1e-12))
    _out.print(f"marked {src.name} -> {dst} (payload {p:08x}, PSNR {psnr:.1f} dB)")


@wm_app.command("detect")
def detect_cmd(
    src: Path = typer.Argument(..., help="image to check"),
    key: str | None = typer.Option(None, "--key", "-k"),
    key_file: Path | None = typer.Option(None, "--key-file"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    map_out: Path | None = typer.Option(None, "--map", help="write the 'mark missing' map as a PNG"),
    p_threshold: float = typer.Option(1e-6, help="zero-bit decision threshold on the p-value"),
) -> None:
    """Detect our watermark: p-value, payload, geometry and where it is missing. Exit code 1 if absent."""
    from pixelsleuth.watermark import ours

    k = _key(key, key_file)
    img = _load(src)
    try:
        res = ours.detect(img.rgb, k, p_threshold=p_threshold, want_map=map_out is not None)
    except PixelsleuthError as e:
        _fail(str(e))
    if map_out is not None and res.map is not None:
        _save_rgb(np.repeat((res.map * 255).astype(np.uint8)[..., None], 3, axis=2), map_out, 95)
    d = res.to_dict()
    if as_json:
        _out.print_json(json.dumps(d))
    elif res.detected:
        pay = f"{res.payload:08x}" if res.payload is not None else "unreadable (CRC failed)"
        _out.print(
            f"[green]watermark present[/green] in {src.name}: payload {pay}, p-value {res.p_value:.2e}, "
            f"scale {d['geometry']['scale']}, angle {d['geometry']['angle_deg']} deg, "
            f"missing in {100 * res.hole_fraction:.1f}% of the image"
        )
    else:
        _out.print(f"no watermark found in {src.name} with this key (p-value {res.p_value:.2e})")
    raise typer.Exit(0 if res.detected else 1)


@wm_app.command("scan")
def scan_cmd(
    src: Path = typer.Argument(..., help="image to check"),
    all_methods: bool = typer.Option(False, "--all", help="also try rivaGan and blind-watermark (slow)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Look for known third-party invisible watermarks (e.g. Stable Diffusion's dwtDct mark)."""
    from pixelsleuth.watermark import thirdparty as tp

    img = _load(src)
    methods = tp.ALL_METHODS if all_methods else ("dwtDct", "dwtDctSvd")
    try:
        matches, skipped = tp.scan(img.rgb, tp.KNOWN_PAYLOADS, methods)
    except PixelsleuthError as e:
        _fail(str(e))
    if as_json:
        _out.print_json(json.dumps({"matches": [m.to_dict() for m in matches], "skipped": skipped}))
        return
    for m in matches:
        _out.print(
            f"{m.payload.method}: matches {m.payload.name} ({100 * m.bit_accuracy:.0f}% bits, p {m.p_value:.1e})"
        )
    for meth, why in skipped.items():
        _out.print(f"{meth}: skipped ({why})")
    if not matches:
        _out.print("no known third-party watermark found")


def _read_pem(p: Path, what: str) -> bytes:
    try:
        return p.read_bytes()
    except OSError as e:
        _fail(f"cannot read {what} {p}: {e.strerror}")
    return b""


@cred_app.command("read")
def read_cmd(
    src: Path = typer.Argument(...),
    trust: Path | None = typer.Option(None, "--trust", help="PEM file of trust anchors (root certificates)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Read and validate a file's C2PA manifest: valid / valid_untrusted / tampered / absent."""
    from pixelsleuth.watermark import c2pa as c2

    try:
        data = src.read_bytes()
    except OSError as e:
        _fail(f"cannot read {src}: {e.strerror}")
    anchors = _read_pem(trust, "trust anchors").decode() if trust else None
    try:
        rep = c2.read_credentials(data, trust_anchors=anchors)
    except PixelsleuthError as e:
        _fail(str(e))
    if as_json:
        _out.print_json(json.dumps(rep.to_dict(), default=str))
        return
    _out.print(f"{src.name}: [bold]{rep.status}[/bold]")
    if rep.status != "absent":
        _out.print(f"  signer: {rep.signer.get('issuer', '?')} / {rep.signer.get('common_name', '?')}")
        _out.print(f"  generator: {rep.claim_generator}")
        for a in rep.actions:
            _out.print(f"  action: {a}")
        if rep.digital_source_types:
            _out.print(f"  digital source type: {', '.join(rep.digital_source_types)}")
        for f in rep.failures:
            _out.print(f"  check failed: {f['code']}")


@cred_app.command("sign")
def sign_cmd(
    src: Path = typer.Argument(..., help="image to sign (JPEG or PNG)"),
    dst: Path = typer.Argument(..., help="signed output"),
    cert: Path = typer.Option(..., "--cert", help="PEM certificate chain (signer first)"),
    private_key: Path = typer.Option(..., "--private-key", help="PEM private key (PKCS#8)"),
    alg: str = typer.Option("es256", help="signing algorithm: es256, es384, es512, ps256, ed25519..."),
    title: str | None = typer.Option(None, help="manifest title (default: output file name)"),
    tsa_url: str | None = typer.Option(None, help="RFC 3161 time-stamp authority URL"),
    durable: bool = typer.Option(False, "--durable", help="also watermark and keep the manifest in --store"),
    store: Path | None = typer.Option(None, "--store", help="manifest store folder for --durable"),
    key: str | None = typer.Option(None, "--key", "-k", help="watermark key for --durable"),
    key_file: Path | None = typer.Option(None, "--key-file"),
    payload: str | None = typer.Option(
        None, "--payload", help="watermark payload (default: a free random one)"
    ),
) -> None:
    """Sign an image with a user-supplied certificate; --durable binds the manifest to our watermark."""
    from pixelsleuth.watermark import c2pa as c2

    try:
        data = src.read_bytes()
    except OSError as e:
        _fail(f"cannot read {src}: {e.strerror}")
    chain = _read_pem(cert, "certificate")
    pkey = _read_pem(private_key, "private key")
    t = title or dst.name
    try:
        if durable:
            if store is None:
                _fail("--durable needs --store FOLDER")
            signed, p = c2.sign_durable(
                data,
                chain,
                pkey,
                _key(key, key_file),
                c2.ManifestStore(store),
                alg=alg,
                title=t,
                payload=_payload(payload) if payload else None,
                tsa_url=tsa_url,
            )
            _write(dst, signed)
            _out.print(
                f"signed and watermarked {src.name} -> {dst} (payload {p:08x}; manifest kept in {store})"
            )
        else:
            signed, _ = c2.sign(data, chain, pkey, alg=alg, title=t, tsa_url=tsa_url)
            _write(dst, signed)
            _out.print(f"signed {src.name} -> {dst}")
    except PixelsleuthError as e:
        _fail(str(e))


@cred_app.command("recover")
def recover_cmd(
    src: Path = typer.Argument(..., help="a copy that may have lost its credentials"),
    store: Path = typer.Option(..., "--store", help="manifest store folder"),
    key: str | None = typer.Option(None, "--key", "-k"),
    key_file: Path | None = typer.Option(None, "--key-file"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recover stripped content credentials by decoding the watermark and looking the payload up."""
    from pixelsleuth.watermark import c2pa as c2

    img = _load(src)
    try:
        rec = c2.recover(img.data, img.rgb, _key(key, key_file), c2.ManifestStore(store))
    except PixelsleuthError as e:
        _fail(str(e))
    if as_json:
        _out.print_json(json.dumps(rec.to_dict(), default=str))
    else:
        _out.print(rec.message if rec.found else f"not recovered: {rec.message}")
    raise typer.Exit(0 if rec.found else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(wm_app, name="watermark")
    app.add_typer(cred_app, name="credentials")
