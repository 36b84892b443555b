"""intake -> detectors -> fusion -> report, for one image or a batch."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pixelsleuth.detectors.base import Context, Detector, Evidence
from pixelsleuth.detectors.registry import detectors_for
from pixelsleuth.errors import PixelsleuthError
from pixelsleuth.fusion.fuse import fuse
from pixelsleuth.io.image import ImageData
from pixelsleuth.io.loader import IntakeLimits, load_image, sniff_format
from pixelsleuth.report.model import Report, build_report, error_report

IMAGE_EXTENSIONS = {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif",
    ".heic", ".heif", ".avif", ".ppm", ".pgm", ".pbm", ".pnm",
}  # fmt: skip


@dataclass
class AnalyzeOptions:
    """Everything that decides how one image is analysed (picklable, so batch workers can rebuild it)."""

    profile: str = "default"
    only: list[str] | None = None
    exclude: list[str] | None = None
    detector_options: dict[str, Any] = field(default_factory=dict)
    max_pixels: int = 100_000_000
    index_dir: str | None = None  # reference index for provenance evidence
    watermark_key: str | None = None  # key of our watermark, for its localization map
    # detectors of one image run on this many threads (0 = auto: up to 2, as many as the machine has cores); the
    # result is identical for any value. Batch runs with several worker processes use 1 thread per worker.
    threads: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ValueError(f"threads must be a whole number >= 0 (0 = auto), not {self.threads!r}")

    def resolved_threads(self) -> int:
        return self.threads or max(1, min(AUTO_THREADS, os.cpu_count() or 1))

    def context(self) -> Context:
        resources: dict[str, Any] = {}
        if self.index_dir:
            from pixelsleuth.provenance import open_index  # type: ignore[attr-defined]

            resources["index"] = open_index(self.index_dir, readonly=True)
        if self.watermark_key:
            resources["watermark_key"] = self.watermark_key
        return Context(profile=self.profile, options=dict(self.detector_options), resources=resources)

    def limits(self) -> IntakeLimits:
        return IntakeLimits(max_pixels=self.max_pixels)


# auto thread count for one image's detectors, and the image size above which they run one at a time (two
# detectors at once hold two sets of full-size working arrays: on a very large image peak memory matters more)
AUTO_THREADS = 2
THREADED_MAX_MP = 24.0
_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()  # the server analyses several uploads at once, each from its own thread
_COST_PER_MP: dict[str, float] = {}


def _pool(n: int) -> ThreadPoolExecutor:
    # one long-lived pool per size and process (created lazily, so forked batch workers make their own)
    key = (n, os.getpid())
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="pixelsleuth-detector")
        return _POOLS[key]


def run_detectors(
    image: ImageData, detectors: list[Detector], context: Context, threads: int = 1
) -> list[Evidence]:
    """Run every detector on one image; the evidence comes back in the detectors' order.

    Detectors are independent (each reads the decoded image and returns its own Evidence), so with ``threads`` > 1
    they run concurrently: NumPy, OpenCV, SciPy and onnxruntime release the GIL in their heavy loops. Each
    detector's ``elapsed_s`` is then its wall time while sharing the cores."""
    if threads <= 1 or len(detectors) <= 1 or image.megapixels > THREADED_MAX_MP:
        return [d.run(image, context) for d in detectors]
    # longest first (by each detector's cost per megapixel on its previous image in this process; unseen ones
    # first, in their given order), so that the threads finish together instead of one waiting on a late heavy one
    order = sorted(range(len(detectors)), key=lambda i: -_COST_PER_MP.get(detectors[i].name, float("inf")))
    pool = _pool(threads)
    futures = {i: pool.submit(detectors[i].run, image, context) for i in order}
    out = [futures[i].result() for i in range(len(detectors))]
    mp = max(image.megapixels, 1e-3)
    for ev in out:
        _COST_PER_MP[ev.detector] = ev.elapsed_s / mp
    return out


def analyze_image(
    image: ImageData,
    options: AnalyzeOptions | None = None,
    *,
    context: Context | None = None,
    detectors: list[Detector] | None = None,
) -> Report:
    """Analyse an already-decoded image."""
    options = options or AnalyzeOptions()
    t0 = time.perf_counter()
    context = context or options.context()
    detectors = (
        detectors if detectors is not None else detectors_for(options.profile, options.only, options.exclude)
    )
    evidence = run_detectors(image, detectors, context, options.resolved_threads())
    verdict = fuse(evidence, image.shape)
    return build_report(image, evidence, verdict, options.profile, time.perf_counter() - t0)


def analyze_source(
    src: str | os.PathLike[str] | bytes,
    options: AnalyzeOptions | None = None,
    *,
    context: Context | None = None,
    detectors: list[Detector] | None = None,
) -> Report:
    """Load and analyse; intake errors become an error report instead of an exception."""
    options = options or AnalyzeOptions()
    source = "<bytes>" if isinstance(src, bytes | bytearray) else str(src)
    try:
        image = load_image(src, options.limits())
    except PixelsleuthError as e:
        return error_report(source, e.code, str(e), options.profile)
    except OSError as e:  # unreadable path, permissions
        return error_report(
            source,
            "unreadable",
            f"{os.path.basename(source)}: cannot read the file ({e.strerror or e})",
            options.profile,
        )
    return analyze_image(image, options, context=context, detectors=detectors)


# ----------------------------------------------------------------------------------------------- batch


def iter_inputs(
    paths: Iterable[str | os.PathLike[str]], exclude_dir: str | os.PathLike[str] | None = None
) -> list[Path]:
    """Files named directly, plus images found recursively in folders (by extension or sniffed bytes).

    Raises FileNotFoundError for a named path that does not exist."""
    out: list[Path] = []
    excl = Path(exclude_dir).resolve() if exclude_dir else None
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                rootp = Path(root)
                dirs[:] = sorted(
                    d
                    for d in dirs
                    if not d.startswith(".") and (excl is None or (rootp / d).resolve() != excl)
                )
                for f in sorted(files):
                    fp = rootp / f
                    if f.startswith(".") or not fp.is_file():
                        continue
                    if fp.suffix.lower() in IMAGE_EXTENSIONS or _sniffs_as_image(fp):
                        out.append(fp)
        else:
            out.append(p)
    return out


def _sniffs_as_image(p: Path) -> bool:
    try:
        with open(p, "rb") as fh:
            return sniff_format(fh.read(32)) is not None
    except OSError:
        return False


def output_stems(files: list[Path]) -> list[str]:
    """`<name>` for each input's outputs: the file stem, made unique with its relative path when names collide."""
    stems = [f.stem for f in files]
    seen: dict[str, int] = {}
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
    out = []
    used: set[str] = set()
    for f, s in zip(files, stems, strict=True):
        if seen[s] > 1:
            parts = [x for x in f.parts if x not in ("/", "..", ".")]
            s = "__".join(parts[-3:]).replace(" ", "_")
        base, k = s, 2
        while s in used:
            s, k = f"{base}-{k}", k + 1
        used.add(s)
        out.append(s)
    return out


_worker_state: dict[str, Any] = {}


def _worker_init(options: AnalyzeOptions) -> None:
    _worker_state["options"] = options
    _worker_state["context"] = options.context()
    _worker_state["detectors"] = detectors_for(options.profile, options.only, options.exclude)


def _process_one(args: tuple[str, str, str | None, bool]) -> dict[str, Any]:
    from pixelsleuth.report.writer import write_outputs

    path, stem, out_dir, write_html = args
    options: AnalyzeOptions = _worker_state["options"]
    report = analyze_source(
        path, options, context=_worker_state["context"], detectors=_worker_state["detectors"]
    )
    if out_dir:
        write_outputs(report, Path(out_dir), stem, html_page=write_html)
    return summary_row(report, stem)


def summary_row(report: Report, stem: str) -> dict[str, Any]:
    d = report.data
    return {
        "source": d["image"]["source"],
        "name": d["image"]["name"],
        "stem": stem,
        "label": d["label"],
        "scores": d["scores"],
        "error": d["error"],
        "elapsed_s": (d.get("timing") or {}).get("total_s"),
        "megapixels": d["image"].get("megapixels"),
        "json": d["outputs"].get("json"),
        "html": d["outputs"].get("html"),
    }


def run_batch(
    files: list[Path],
    options: AnalyzeOptions,
    out_dir: Path | None,
    workers: int = 1,
    write_html: bool = True,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Analyse files, writing per-image outputs into ``out_dir``; yields one summary row per file, in order."""
    stems = output_stems(files)
    jobs = [
        (str(f), s, str(out_dir) if out_dir else None, write_html) for f, s in zip(files, stems, strict=True)
    ]
    if workers <= 1 or len(jobs) <= 1:
        _worker_init(options)
        for j in jobs:
            row = _process_one(j)
            if on_result:
                on_result(row)
            yield row
        return
    if options.threads == 0:  # auto: the worker processes already share the cores
        options = replace(options, threads=1)
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(options,)) as pool:
        for row in pool.map(_process_one, jobs, chunksize=1):
            if on_result:
                on_result(row)
            yield row


def _dask_process_one(job: tuple[str, str, str | None, bool], options: AnalyzeOptions) -> dict[str, Any]:
    # Each Dask worker process builds its detectors once and keeps them (module-level state per process).
    if _worker_state.get("options") != options:
        _worker_init(options)
    return _process_one(job)


def run_batch_dask(
    files: list[Path],
    options: AnalyzeOptions,
    out_dir: Path | None,
    scheduler: str = "local",
    workers: int = 2,
    write_html: bool = True,
) -> Iterator[dict[str, Any]]:
    """Same as :func:`run_batch`, scheduled on Dask: ``scheduler`` is ``"local"`` (a LocalCluster of ``workers``
    processes) or the address of an existing cluster (``tcp://host:8786``). Out files must be on storage the workers
    share. Rows are yielded in input order."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as e:
        raise RuntimeError("the Dask runner needs: pip install 'pixelsleuth[dask]'") from e
    stems = output_stems(files)
    jobs = [
        (str(f), s, str(out_dir) if out_dir else None, write_html) for f, s in zip(files, stems, strict=True)
    ]
    if options.threads == 0:  # auto: one thread per Dask worker process, as the local cluster is set up
        options = replace(options, threads=1)
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = client.map(_dask_process_one, jobs, options=options, pure=False)
        yield from (f.result() for f in futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
