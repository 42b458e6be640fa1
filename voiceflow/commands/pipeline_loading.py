"""Finding a pipeline by name: ``pipelines/NAME.py``'s ``pipeline(config)`` or ``module:factory``.

Shared by ``voiceflow serve`` (one process or each worker process) and ``voiceflow call``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path

from voiceflow.config import Config
from voiceflow.pipeline import Pipeline

__all__ = ["PipelineNotFound", "available_pipelines", "load_pipeline"]


class PipelineNotFound(LookupError):
    """The named pipeline does not exist, or its module has no ``pipeline(config)`` factory."""


def available_pipelines() -> list[str]:
    """The modules of ``pipelines/`` that define ``pipeline(config)`` (read, not imported: no models load)."""
    try:
        import pipelines
    except ImportError:
        return []
    found = []
    for m in pkgutil.iter_modules(pipelines.__path__):
        path = Path(pipelines.__path__[0]) / f"{m.name}.py"
        if not m.name.startswith("_") and path.is_file() and "\ndef pipeline(" in path.read_text():
            found.append(m.name)
    return sorted(found)


def load_pipeline(name: str, config: Config) -> Pipeline:
    """``pipelines.NAME:pipeline(config)``, or ``module:factory(config)`` when ``name`` has a colon."""
    module_name, _, attr = (name if ":" in name else f"pipelines.{name}:pipeline").partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            raise PipelineNotFound(
                f"no pipeline {name!r} (module {module_name} not found); available: "
                f"{', '.join(available_pipelines())}"
            ) from None
        raise
    factory: Callable[[Config], object] | None = getattr(module, attr or "pipeline", None)
    if not callable(factory):
        raise PipelineNotFound(f"{module_name} has no {attr or 'pipeline'}(config) -> Pipeline factory")
    made = factory(config)
    if not isinstance(made, Pipeline):
        raise PipelineNotFound(
            f"{module_name}:{attr}(config) returned {type(made).__name__}, "
            "which lacks async prepare(), build(ctx, input, output) and async shutdown()"
        )
    return made
