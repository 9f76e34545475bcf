"""``analytics loadgen`` without a credential stops at once and says how to get one, instead of posting
traffic that every gateway answers with 401."""

from __future__ import annotations

import pytest

from cli.main import main


def test_no_credential_exits_2_before_sending_and_names_the_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANALYTICS_LOADGEN_TOKEN", raising=False)
    monkeypatch.delenv("ANALYTICS_LOADGEN_API_KEY", raising=False)
    status = main(["loadgen", "--url", "http://127.0.0.1:1", "--events", "10", "--no-progress"])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err.strip() == (
        "loadgen: no credential, so every request would answer 401: set ANALYTICS_LOADGEN_TOKEN "
        "(export ANALYTICS_LOADGEN_TOKEN=$(analytics token --role service)) or ANALYTICS_LOADGEN_API_KEY "
        "(an ingestion key)"
    )
