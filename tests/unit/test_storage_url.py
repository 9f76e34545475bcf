from pathlib import Path

import pytest

from plumbing.clickhouse import StorageConfigError, parse_url, validate_database_name


def test_relative_chdb_url_resolves_against_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = parse_url("chdb://./var/clickhouse")
    assert target.is_embedded
    assert target.location == str(tmp_path / "var" / "clickhouse")


def test_absolute_chdb_url_keeps_its_path_and_options() -> None:
    target = parse_url("chdb:///data/ch?max_threads=2")
    assert target.location == "/data/ch"
    assert target.options == {"max_threads": "2"}


@pytest.mark.parametrize("url", ["http://localhost:8123", "https://user:pw@ch.example:8443/db"])
def test_server_urls_pass_through_unchanged(url: str) -> None:
    target = parse_url(url)
    assert target.kind == "http"
    assert target.location == url


@pytest.mark.parametrize("url", ["chdb://", "postgres://localhost", "localhost:8123"])
def test_unusable_urls_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(StorageConfigError):
        parse_url(url)


@pytest.mark.parametrize("name", ["analytics", "test_1", "_x"])
def test_plain_identifiers_are_valid_database_names(name: str) -> None:
    assert validate_database_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "x; DROP TABLE y", "db.name"])
def test_database_names_that_could_inject_sql_are_refused(name: str) -> None:
    with pytest.raises(StorageConfigError):
        validate_database_name(name)
