"""Detector registry: class decorator + the ``pixelsleuth.detectors`` entry-point group."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from importlib.metadata import entry_points

from pixelsleuth.detectors.base import PROFILES, Detector

log = logging.getLogger(__name__)

_REGISTRY: dict[str, type[Detector]] = {}
_loaded = False


def register(cls: type[Detector]) -> type[Detector]:
    """Class decorator: ``@register`` makes a Detector subclass available to every profile it lists."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    bad = set(cls.profiles) - set(PROFILES)
    if bad:
        raise ValueError(f"{cls.name}: unknown profiles {sorted(bad)}")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"two detectors are named {cls.name!r}: {existing} and {cls}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import pixelsleuth.detectors as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name in ("base", "registry") or mod.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
        except Exception as e:  # noqa: BLE001 - one broken module must not hide the others
            log.warning("detector module %s failed to import: %s", mod.name, e)
    for ep in entry_points(group="pixelsleuth.detectors"):
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Detector):
                register(obj)
        except Exception as e:  # noqa: BLE001
            log.warning("detector plugin %s failed to load: %s", ep.name, e)


def all_detectors() -> dict[str, type[Detector]]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get_detector(name: str) -> type[Detector]:
    d = all_detectors()
    if name not in d:
        raise KeyError(f"no detector named {name!r}; known: {', '.join(d)}")
    return d[name]


def detectors_for(
    profile: str, only: list[str] | None = None, exclude: list[str] | None = None
) -> list[Detector]:
    """Instantiate the detectors of a profile (or exactly ``only``), minus ``exclude``."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    d = all_detectors()
    if only:
        missing = [n for n in only if n not in d]
        if missing:
            raise KeyError(f"unknown detectors: {', '.join(missing)}; known: {', '.join(d)}")
        names = list(only)
    else:
        names = [n for n, c in d.items() if profile in c.profiles]
    names = [n for n in names if n not in set(exclude or [])]
    return [d[n]() for n in names]
