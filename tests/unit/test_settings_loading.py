"""Settings are built once per process by :func:`plumbing.settings.load_settings`, and the retry cap's
former name (``ANALYTICS_WORKER_RETRY_MAX_S``) still works, with a deprecation warning logged once."""

from __future__ import annotations

import logging

import pytest

from ingest_gateway.settings import GatewaySettings
from plumbing.settings import CommonSettings, forget_loaded_settings, load_settings
from stream_processors.settings import WorkerSettings


def test_each_class_is_read_once_until_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_LOG_LEVEL", "DEBUG")
    first = load_settings(WorkerSettings)
    monkeypatch.setenv("ANALYTICS_LOG_LEVEL", "ERROR")
    assert load_settings(WorkerSettings) is first and first.log_level == "DEBUG"
    assert load_settings(CommonSettings).log_level == "ERROR"  # a class of its own, read on first use
    forget_loaded_settings()
    assert load_settings(WorkerSettings).log_level == "ERROR"


def test_a_class_nobody_loads_is_never_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker does not refuse to start over a gateway-only variable."""
    monkeypatch.setenv("ANALYTICS_GATEWAY_PORT", "not a port")
    assert load_settings(WorkerSettings).worker_batch_max_messages == 5000
    with pytest.raises(ValueError, match="gateway_port"):
        load_settings(GatewaySettings)


def test_the_retry_cap_has_one_name_for_every_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANALYTICS_WORKER_RETRY_MAX_S", raising=False)
    assert CommonSettings(_env_file=None).retry_max_s == 30.0  # type: ignore[call-arg]
    monkeypatch.setenv("ANALYTICS_RETRY_MAX_S", "2.5")
    assert GatewaySettings(_env_file=None).retry_max_s == 2.5  # type: ignore[call-arg]
    assert WorkerSettings(_env_file=None).retry_max_s == 2.5  # type: ignore[call-arg]


def test_the_former_name_still_works_and_is_warned_about_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("ANALYTICS_RETRY_MAX_S", raising=False)
    monkeypatch.setenv("ANALYTICS_WORKER_RETRY_MAX_S", "0.5")
    with caplog.at_level(logging.WARNING, logger="plumbing.settings"):
        assert load_settings(WorkerSettings).retry_max_s == 0.5
        assert load_settings(GatewaySettings).retry_max_s == 0.5
        assert CommonSettings(retry_max_s=4).retry_max_s == 4  # an explicit value wins
    warnings = [r.getMessage() for r in caplog.records if "ANALYTICS_WORKER_RETRY_MAX_S" in r.getMessage()]
    assert warnings == [
        "ANALYTICS_WORKER_RETRY_MAX_S is deprecated: rename it ANALYTICS_RETRY_MAX_S",
        "ANALYTICS_WORKER_RETRY_MAX_S is deprecated and ignored: ANALYTICS_RETRY_MAX_S is set; remove it",
    ]


def test_the_new_name_wins_over_the_former_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_WORKER_RETRY_MAX_S", "0.5")
    monkeypatch.setenv("ANALYTICS_RETRY_MAX_S", "3")
    assert load_settings(CommonSettings).retry_max_s == 3.0
