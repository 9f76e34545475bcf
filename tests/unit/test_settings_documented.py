"""Every setting is documented: the README's "Settings" table names exactly the environment variables of
the settings classes, each written out in full, with the classes' defaults; ``docs/rate-limits.md``
explains exactly the rate-limit ones.

The classes are found, not listed: every module of our packages (the ``root_packages`` of
``.importlinter``) is imported and every ``BaseSettings`` subclass defined in them is collected, so a
class added anywhere is covered without touching this test.
"""

from __future__ import annotations

import configparser
import importlib
import json
import pkgutil
import re
from functools import cache
from pathlib import Path

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from security.rate_limit import RateLimitSettings

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"ANALYTICS_[A-Z0-9_]*[A-Z0-9]")
CODE = re.compile(r"`([^`]*)`")


def our_packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config["importlinter"]["root_packages"].split()


@cache
def settings_classes() -> tuple[type[BaseSettings], ...]:
    packages = our_packages()
    for package in packages:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            importlib.import_module(info.name)
    found: list[type[BaseSettings]] = []
    pending = list(BaseSettings.__subclasses__())
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if kind.__module__.split(".")[0] in packages and kind not in found:
            found.append(kind)
    return tuple(sorted(found, key=lambda kind: kind.__name__))


def env_names(kind: type[BaseSettings], name: str, field: FieldInfo) -> list[str]:
    """The variables ``field`` is read from: its aliases (pydantic-settings applies no prefix to them), else
    the class's prefix and the field's name (case-insensitive: written upper-case)."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias.upper()]
    if isinstance(alias, AliasChoices):
        return [choice.upper() for choice in alias.choices if isinstance(choice, str)]
    return [f"{kind.model_config.get('env_prefix', '')}{name}".upper()]


def variables_of(kinds: tuple[type[BaseSettings], ...]) -> dict[str, FieldInfo]:
    """Each variable of ``kinds`` with its field (a field inherited by several classes counts once)."""
    return {
        variable: field
        for kind in kinds
        for name, field in kind.model_fields.items()
        for variable in env_names(kind, name, field)
    }


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the rows of the first table under ``heading`` (header and rule excluded)."""
    section = markdown.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


def documented(rows: list[list[str]]) -> dict[str, str]:
    """variable → its default cell, from the first column of ``rows``."""
    return {variable: row[1] for row in rows for variable in VARIABLE.findall(row[0])}


def readme_rows() -> list[list[str]]:
    return table_rows((ROOT / "README.md").read_text(), "## Settings")


def test_the_settings_classes_are_found() -> None:
    names = {kind.__name__ for kind in settings_classes()}
    assert {"CommonSettings", "GatewaySettings", "AuthSettings", "RateLimitSettings"} <= names
    assert len(names) >= 10


def test_every_variable_is_in_the_readme_and_every_documented_one_exists() -> None:
    variables = set(variables_of(settings_classes()))
    in_readme = set(documented(readme_rows()))
    assert sorted(variables - in_readme) == [], "settings missing from the README's Settings table"
    assert sorted(in_readme - variables) == [], "README names variables no settings class reads"


def test_the_readme_writes_every_variable_in_full() -> None:
    """One variable per code span, no abbreviation (``..._SUFFIX``, ``_BURST``, ``ANALYTICS_*_PER_S``)."""
    for row in readme_rows():
        spans = CODE.findall(row[0])
        assert spans, row
        assert all(VARIABLE.fullmatch(span) for span in spans), row[0]
        assert "ANALYTICS" not in CODE.sub("", row[0]), row[0]


def test_a_default_written_as_one_value_is_the_class_default() -> None:
    """Cells holding one code span (e.g. `` `30` ``, `` `lz4` ``, `` `true` ``) must say the default;
    others (``unset``, ``random per process``) describe it in words."""
    fields = variables_of(settings_classes())
    for variable, cell in documented(readme_rows()).items():
        value = re.fullmatch(r"`([^`]*)`", cell)
        default = fields[variable].default
        if value is None:
            continue
        text = value.group(1)
        if isinstance(default, bool):
            assert text == str(default).lower(), variable
        elif isinstance(default, int | float):
            assert float(text) == default, variable
        elif isinstance(default, str):
            assert text == default, variable
        else:
            assert json.loads(text) == default, variable


def test_docs_rate_limits_explains_exactly_the_rate_limit_settings() -> None:
    rows = table_rows((ROOT / "docs" / "rate-limits.md").read_text(), "## Defaults")
    explained = {variable for row in rows for variable in VARIABLE.findall(row[0])}
    for row in rows:
        assert all(VARIABLE.fullmatch(span) for span in CODE.findall(row[0])), row[0]
    assert explained == set(variables_of((RateLimitSettings,)))
