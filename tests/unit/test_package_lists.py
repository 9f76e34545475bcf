"""Every top-level package is listed wherever the packages are enumerated: the distribution
(``pyproject.toml``), the container image (``deploy/Dockerfile``), mypy, and the import contracts
(``.importlinter``). A package missing from the image installs an ``analytics`` command that cannot start."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _on_disk() -> set[str]:
    return {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"} and (path.parent / "py.typed").exists()
    }


def test_pyproject_mypy_dockerfile_and_import_contracts_name_the_same_packages() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = {name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    typed = set(pyproject["tool"]["mypy"]["packages"])
    copied = set(re.findall(r"^COPY (\w+)/ \./\1/$", (ROOT / "deploy" / "Dockerfile").read_text(), re.M))
    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    layered = set(contracts["importlinter"]["root_packages"].split())
    packages = _on_disk()
    assert len(packages) == 10, packages
    assert included == packages
    assert typed == packages
    assert copied == packages
    assert layered == packages
