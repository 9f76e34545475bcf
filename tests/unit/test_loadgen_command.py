"""``analytics loadgen`` without a credential stops at once and says how to get one, instead of posting
traffic that every gateway answers with 401; its options select the learning platform's streams too."""

from __future__ import annotations

import argparse

import pytest

from cli.main import main
from loadgen.options import LoadOptions, add_arguments, options_from
from schemas.topics import Stream


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


def options(*args: str) -> LoadOptions:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return options_from(parser.parse_args(list(args)))


def test_the_learning_platforms_streams_are_selectable_and_its_options_checked() -> None:
    assert options().streams == frozenset(Stream)  # every stream by default, the LMS ones included
    assert options().lms_term_days() == 28
    chosen = options(
        "--streams=lms_entities,lms_activity", "--lms-students=40", "--lms-zone=Asia/Kolkata", "--history=14"
    )
    assert chosen.streams == {Stream.LMS_ENTITIES, Stream.LMS_ACTIVITY}
    assert (chosen.lms_students, chosen.lms_zone, chosen.lms_term_days()) == (40, "Asia/Kolkata", 14)
    with pytest.raises(SystemExit, match="--lms-zone: 'Mars/Olympus' is not an IANA time zone"):
        options("--lms-zone=Mars/Olympus")
    with pytest.raises(SystemExit, match="--lms-students"):
        options("--lms-students=0")
