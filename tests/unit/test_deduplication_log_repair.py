"""The deduplication-log repair on hand-made store layouts: which records it drops, and when it stays out."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from cli.main import main
from plumbing.deduplication_log import block_range, drop_records_of_missing_parts


def make_table(root: Path, logs: dict[int, str], parts: list[str], uuid: str = "0a1-uuid") -> Path:
    table = root / "store" / uuid[:3] / uuid
    (table / "deduplication_logs").mkdir(parents=True)
    for number, text in logs.items():
        (table / "deduplication_logs" / f"deduplication_log_{number}.txt").write_text(text)
    for part in [*parts, "detached", "tmp_insert_202603_9_9_0"]:
        (table / part).mkdir()
    (table / "format_version.txt").write_text("1")
    return table


def store(tmp_path: Path) -> Path:
    (tmp_path / "status").write_text("PID: 1\n")
    return tmp_path


def test_part_names_give_their_block_ranges() -> None:
    assert block_range("202603_4_4_0") == block_range("202603_4_4_0_17")
    merged = block_range("202603_1_9_2")
    assert merged is not None and (merged.partition, merged.first, merged.last) == ("202603", 1, 9)
    assert block_range("all_3_5_1").partition == "all"  # type: ignore[union-attr]
    for not_a_part in ("tmp_insert_202603_9_9_0", "detached", "deduplication_logs", "202603_x_1_0"):
        assert block_range(not_a_part) is None


def test_only_records_whose_blocks_no_part_holds_are_dropped(tmp_path: Path) -> None:
    root = tmp_path  # after a clean stop: the engine removed its status file
    log = (
        "1\t202603_1_1_0\tb1\n"  # merged into 202603_1_3_1
        "1\t202603_2_2_0\tb2\n"  # merged too
        "1\t202604_4_4_0\tb4\n"  # its part is missing: the crash
        "1\t202603_5_5_0\tb5\n"  # on disk, mutated since
        "1\t202603_6_6_0\tb6\n"  # missing, but a drop record follows (a dropped partition)
        "2\t202603_6_6_0\tb6\n"
        "1\t202604_7_7_0\tb7\n"  # on disk
        "1\t202603_8_8_0\tb8\n"  # missing: the crash, a second table block
    )
    table = make_table(root, {1: log}, ["202603_1_3_1", "202603_1_1_0", "202603_5_5_0_12", "202604_7_7_0"])
    dropped = drop_records_of_missing_parts(root)
    assert dropped is not None
    assert sorted((r.block_id, r.part_name) for r in dropped) == [
        ("b4", "202604_4_4_0"),
        ("b8", "202603_8_8_0"),
    ]
    assert {r.table_dir for r in dropped} == {table.resolve()}
    assert (table / "deduplication_logs" / "deduplication_log_1.txt").read_text() == log  # untouched
    drops = (table / "deduplication_logs" / "deduplication_log_2.txt").read_text()
    assert drops == "2\t202604_4_4_0\tb4\n2\t202603_8_8_0\tb8\n"
    assert drop_records_of_missing_parts(root) == []  # idempotent: the drops are replayed next time
    assert not (root / "status").exists()  # the lock it took leaves no file behind


def test_logs_are_replayed_in_number_order_and_drops_go_to_a_log_after_them(tmp_path: Path) -> None:
    root = store(tmp_path)
    logs = {
        10: "1\tall_1_1_0\told\n1\tall_2_2_0\tgone\n",
        9: "1\tall_9_9_0\tlower-number-file\n",
        11: "2\tall_1_1_0\told\n1\tall_3_3_0\tkept\n1\tall_4_4",  # the last line torn by a power loss
    }
    table = make_table(root, logs, ["all_3_3_0"])
    dropped = drop_records_of_missing_parts(root)
    assert dropped is not None
    assert sorted(r.block_id for r in dropped) == ["gone", "lower-number-file"]
    folder = table / "deduplication_logs"
    assert {p.name: p.read_text() for p in folder.iterdir() if p.name != "deduplication_log_12.txt"} == {
        f"deduplication_log_{n}.txt": text for n, text in logs.items()
    }  # the engine's logs are left as they are
    assert (folder / "deduplication_log_12.txt").read_text().splitlines() == [
        "2\tall_9_9_0\tlower-number-file",  # in replay order: file 9 first
        "2\tall_2_2_0\tgone",
    ]


def test_a_held_store_and_a_store_never_opened_are_left_alone(tmp_path: Path) -> None:
    assert drop_records_of_missing_parts(tmp_path / "nothing-here") == []
    root = store(tmp_path)
    log = "1\tall_1_1_0\tb1\n"
    table = make_table(root, {1: log}, [])
    with (root / "status").open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # what a running engine holds
        assert drop_records_of_missing_parts(root) is None
    assert (table / "deduplication_logs" / "deduplication_log_1.txt").read_text() == log
    dropped = drop_records_of_missing_parts(root)
    assert dropped is not None and [r.block_id for r in dropped] == ["b1"]
    assert (root / "status").read_text() == "PID: 1\n"  # a crashed engine's file is left as it was


def test_the_command_repairs_a_stopped_servers_directory_and_names_what_it_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = make_table(tmp_path, {1: "1\tall_1_1_0\tkept\n1\tall_2_2_0\tlost\n"}, ["all_1_1_0"])
    (table / "deduplication_logs" / "deduplication_log_1.txt").chmod(0o640)
    assert main(["repair-deduplication-logs", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"dropped\t{table.resolve()}\tall_2_2_0\tlost"]
    assert "1 records of missing parts dropped in 1 tables" in err
    written = table / "deduplication_logs" / "deduplication_log_2.txt"
    assert written.stat().st_mode & 0o777 == 0o640  # as the engine's own logs, which it appends to
    assert main(["repair-deduplication-logs", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""


def test_the_command_refuses_a_directory_a_server_holds_or_that_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = store(tmp_path)
    log = "1\tall_1_1_0\tb1\n"
    table = make_table(root, {1: log}, [])
    with (root / "status").open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert main(["repair-deduplication-logs", str(root)]) == 1
    assert "a running ClickHouse holds" in capsys.readouterr().err
    assert [p.name for p in (table / "deduplication_logs").iterdir()] == ["deduplication_log_1.txt"]
    assert main(["repair-deduplication-logs", str(tmp_path / "store" / "0a1")]) == 1
    assert "is not a ClickHouse data directory" in capsys.readouterr().err
