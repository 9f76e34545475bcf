"""The import layers of ADR 0014 hold: the contracts of ``.importlinter`` (entry points > services > jobs >
security, privacy > plumbing > schemas; services independent; no I/O libraries in ``schemas``) are checked
here as well as by ``make lint``, so the suite that CI runs fails on a service importing another."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    # lint_imports configures logging for a command line run, which disables the loggers of this process
    monkeypatch.setattr("importlinter.cli._configure_logging", lambda verbose: None)
    exit_code = lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "Contracts: 3 kept, 0 broken." in report
