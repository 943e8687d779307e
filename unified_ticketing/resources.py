"""Files the service reads at run time: inside the installed package (a wheel, see setup.py) or, from a source
checkout or an editable install, at the repository's top level."""
from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path


def shipped(name: str) -> Path:
    """The path of `mappings` or `openapi.yaml`."""
    with as_file(files("unified_ticketing") / name) as inside:  # a plain folder on disk for any normal install
        if inside.exists():
            return Path(inside)
    return Path(__file__).resolve().parent.parent / name
