"""The migrations of one ClickHouse server, rendered for a replicated, sharded cluster (ADR 0019,
docs/clickhouse-cluster.md).

The migration files stay single-server SQL (their checksums are what ``schema_migrations`` records); when
``ANALYTICS_CLICKHOUSE_CLUSTER`` names a cluster of the servers' ``remote_servers``, ``analytics migrate``
runs each statement through :class:`ClusterRenderer` instead. The renderer is pure text in, text out: no
database, so ``analytics migrate --print-ddl`` shows operators exactly what will run.

Contract of the rendering:

- every ``CREATE``, ``ALTER`` and ``DROP`` carries ``ON CLUSTER '<cluster>'``, so each statement runs on every
  server of the cluster (in order: the distributed DDL queue of each server is sequential);
- every ``*MergeTree`` engine becomes its ``Replicated*`` form on ``'/clickhouse/tables/{shard}/{database}/
  {table}', '{replica}'`` (the server's macros), its own arguments kept after those two (a
  ``ReplacingMergeTree(version)`` stays versioned by ``version``);
- a table with a ``tenant_id`` column lives as ``<name>_local`` on every shard, and ``<name>`` becomes a
  ``Distributed`` table over it, sharded by ``cityHash64(tenant_id, user_id)`` (or ``cityHash64(tenant_id)``
  without a ``user_id``): every reader and writer keeps its table names, and the rows of one user (one
  tenant) sit on one shard, so ``FINAL`` and the replacing and aggregating merges see every version of a
  row together;
- a table with neither column (bookkeeping: ``schema_migrations``, batch intents, dead letters, ledger
  lookups) is one replica set spanning every server (``/clickhouse/tables/all/...``, replica
  ``'{shard}-{replica}'``) under its own name: small, and readable in full on whichever server a process
  talks to;
- ``Null`` feeds are sharded like the tables they feed, and their materialized views are created on every
  server reading ``<feed>_local`` and writing ``TO <rollup>_local``: an insert into the ``Distributed`` feed
  reaches the views of the shard the rows belong to, which write that shard's rollup rows;
- ``non_replicated_deduplication_window = N`` becomes ``replicated_deduplication_window = N`` with
  ``replicated_deduplication_window_seconds`` one week (ClickHouse 25.10 lowered its default to an hour,
  which a worker restarting after a longer outage would outlive; ADR 0004's re-forming needs the window);
- an ``ALTER`` applies to ``<name>_local``, and its column clauses also to the ``Distributed`` ``<name>``
  (which copies the columns of the local table when created, not later); a ``DROP TABLE`` drops both;
- an ``INSERT ... SELECT`` (a copy inside a migration) keeps its names (it runs on the one server migrate
  talks to, through the ``Distributed`` tables) and gains ``distributed_foreground_insert = 1``, so it
  returns once every shard holds its rows and a failure surfaces to ``migrate``.

Anything else (another engine, a view without ``TO``, a materialized view joining a sharded table, a
statement kind the migrations never used) raises :class:`ClusterRenderError`: a new migration whose shape
the renderer does not know fails its unit test instead of running half-right on a cluster.

The renderer keeps a catalog of where each table lives, fed by the statements in migration order: an
``ALTER`` or ``DROP`` needs to know whether its table was sharded. Render every migration in order, the
ones already applied too (they create the catalog's tables).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum

SHARD_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
"""Keeper path of a sharded table's replicas: one replica set per shard."""
SHARD_REPLICA = "{replica}"
SHARED_PATH = "/clickhouse/tables/all/{database}/{table}"
"""Keeper path of an unsharded table: one replica set over every server of the cluster."""
SHARED_REPLICA = "{shard}-{replica}"
"""Replica name of an unsharded table: unique over the cluster even where ``{replica}`` repeats per shard."""
LOCAL_SUFFIX = "_local"
SHARDING_COLUMNS = ("tenant_id", "user_id")
DEDUP_WINDOW_SECONDS = 7 * 24 * 3600
"""``replicated_deduplication_window_seconds`` of the tables that deduplicate insert tokens: one week, as
ClickHouse's default was before 25.10 (ClickHouse/ClickHouse#87414)."""
INSERT_SETTINGS: Mapping[str, int] = {
    "distributed_foreground_insert": 1,
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}
"""What every insert into a cluster must run with for ADR 0004's exactly-once effect
(docs/clickhouse-cluster.md): set them in the settings profile of the services' ClickHouse user (the
workers send the last two themselves, ``plumbing.storage.DEDUP_SETTINGS``)."""

_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_FLAGS = re.IGNORECASE | re.DOTALL
_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s*(?=\()", _FLAGS)
_ENGINE = re.compile(r"\s*ENGINE\s*=\s*(?P<engine>\w+)\s*", _FLAGS)
_CREATE_MV = re.compile(
    r"^CREATE\s+MATERIALIZED\s+VIEW\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s+TO\s+(?P<target>\w+)"
    r"\s+AS\s+(?P<query>.+)$",
    _FLAGS,
)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+(?P<name>\w+)\s+(?P<rest>.+)$", _FLAGS)
_DROP = re.compile(r"^DROP\s+(?P<kind>TABLE|VIEW)\s+(?P<ie>IF\s+EXISTS\s+)?(?P<name>\w+)\s*$", _FLAGS)
_INSERT = re.compile(r"^INSERT\s+INTO\s+(?P<name>\w+)\b", _FLAGS)
_MODIFY_QUERY = re.compile(r"^MODIFY\s+QUERY\s+(?P<query>.+)$", _FLAGS)
_COLUMN_CLAUSE = re.compile(r"^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b", re.IGNORECASE)
_READ = re.compile(r"\b(?P<verb>FROM|JOIN)\s+(?P<name>[A-Za-z_]\w*)", re.IGNORECASE)
_SETTING = re.compile(r"^(?P<name>\w+)\s*=\s*(?P<value>.+)$", re.DOTALL)


class ClusterRenderError(ValueError):
    """A statement the cluster rendering does not know how to place; the message names it."""


@dataclass(frozen=True)
class ClusterLayout:
    """Where the rendered statements run: a cluster of the servers' ``remote_servers`` and the database
    holding every table (the ``Distributed`` tables name it; it is created ``ON CLUSTER`` first)."""

    cluster: str
    database: str

    def __post_init__(self) -> None:
        if not _CLUSTER_NAME.match(self.cluster):
            raise ClusterRenderError(f"invalid cluster name {self.cluster!r} (letters, digits, '_' and '-')")
        if not _IDENTIFIER.match(self.database):
            raise ClusterRenderError(f"invalid database name {self.database!r}")

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER '{self.cluster}'"


class Placement(Enum):
    SHARDED = "sharded"
    """``<name>_local`` on every shard, a ``Distributed`` ``<name>`` over them."""
    SHARED = "shared"
    """One replica set over every server (or, for ``Null``, a table on every server), named ``<name>``."""
    VIEW = "view"
    """A materialized view on every server."""


@dataclass(frozen=True)
class Table:
    """What the catalog knows of a created table or view."""

    placement: Placement
    engine: str
    """The engine as rendered (``ReplicatedReplacingMergeTree``, ``Null``, ...; ``MaterializedView``)."""
    sharding_key: str | None = None

    @property
    def replacing(self) -> bool:
        return "Replacing" in self.engine


def create_database(layout: ClusterLayout) -> str:
    """The database on every server of the cluster (``migrate`` runs it before anything else)."""
    return f"CREATE DATABASE IF NOT EXISTS {layout.database} {layout.on_cluster}"


class ClusterRenderer:
    """Renders single-server statements, in migration order, for ``layout`` (see the module's contract)."""

    def __init__(self, layout: ClusterLayout) -> None:
        self.layout = layout
        self._tables: dict[str, Table] = {}

    @property
    def tables(self) -> Mapping[str, Table]:
        """Every table and view created and not dropped so far, by its single-server name."""
        return dict(self._tables)

    def render(self, statement: str) -> list[str]:
        """The cluster statements doing what ``statement`` does on one server, in the order to run them."""
        text = statement.strip().rstrip(";").strip()
        head = text.split(None, 1)[0].upper() if text else ""
        if head == "CREATE":
            if _CREATE_MV.match(text):
                return self._materialized_view(text)
            if _CREATE_TABLE.match(text):
                return self._create_table(text)
        elif head == "ALTER" and _ALTER.match(text):
            return self._alter(text)
        elif head == "DROP" and _DROP.match(text):
            return self._drop(text)
        elif head == "INSERT" and _INSERT.match(text):
            return self._insert(text)
        raise ClusterRenderError(f"no cluster rendering for: {_excerpt(text)}")

    # CREATE TABLE

    def _create_table(self, text: str) -> list[str]:
        match = _CREATE_TABLE.match(text)
        assert match is not None
        name, ine = match["name"], match["ine"] or ""
        if name.endswith(LOCAL_SUFFIX):
            raise ClusterRenderError(f"{name}: a table name ending in {LOCAL_SUFFIX} is the renderer's own")
        open_at = match.end()
        close_at = _closing(text, open_at)
        body = text[open_at : close_at + 1]
        engine_match = _ENGINE.match(text, close_at + 1)
        if engine_match is None:
            raise ClusterRenderError(f"{name}: CREATE TABLE without ENGINE = ... after its columns")
        engine = engine_match["engine"]
        after_engine = engine_match.end()
        args = ""
        if text.startswith("(", after_engine):
            args_close = _closing(text, after_engine)
            args = text[after_engine + 1 : args_close].strip()
            after_engine = args_close + 1
        tail = text[after_engine:].strip()
        columns = _column_names(body[1:-1])
        key_columns = [column for column in SHARDING_COLUMNS if column in columns]
        sharded = bool(key_columns)
        sharding_key = f"cityHash64({', '.join(key_columns)})" if sharded else None
        if engine == "Null":
            rendered_engine, engine_sql = "Null", "Null"
        elif engine.endswith("MergeTree") and not engine.startswith("Replicated"):
            rendered_engine = f"Replicated{engine}"
            path, replica = (SHARD_PATH, SHARD_REPLICA) if sharded else (SHARED_PATH, SHARED_REPLICA)
            engine_args = ", ".join(filter(None, [f"'{path}'", f"'{replica}'", args]))
            engine_sql = f"{rendered_engine}({engine_args})"
            tail = _replicated_settings(tail)
        else:
            raise ClusterRenderError(f"{name}: no cluster rendering for ENGINE = {engine}")
        local = f"{name}{LOCAL_SUFFIX}" if sharded else name
        create = f"CREATE TABLE {ine}{local} {self.layout.on_cluster}\n{body}\nENGINE = {engine_sql}"
        statements = [f"{create}\n{tail}" if tail else create]
        if sharded:
            statements.append(
                f"CREATE TABLE {ine}{name} {self.layout.on_cluster} AS {local}\n"
                f"ENGINE = Distributed('{self.layout.cluster}', '{self.layout.database}', '{local}', "
                f"{sharding_key})"
            )
        placement = Placement.SHARDED if sharded else Placement.SHARED
        self._tables[name] = Table(placement, rendered_engine, sharding_key)
        return statements

    # CREATE MATERIALIZED VIEW

    def _materialized_view(self, text: str) -> list[str]:
        match = _CREATE_MV.match(text)
        assert match is not None
        name, target = match["name"], match["target"]
        target_table = self._known(target, f"materialized view {name} writes TO")
        query, source = self._local_query(match["query"], name)
        if target_table.placement is Placement.SHARDED and source.placement is not Placement.SHARDED:
            raise ClusterRenderError(
                f"materialized view {name}: an unsharded source would write every row once per server"
            )
        target_sql = _local_name(target, target_table)
        self._tables[name] = Table(Placement.VIEW, "MaterializedView")
        head = f"CREATE MATERIALIZED VIEW {match['ine'] or ''}{name} {self.layout.on_cluster}"
        return [f"{head} TO {target_sql} AS\n{query}"]

    def _local_query(self, query: str, view: str) -> tuple[str, Table]:
        """``query`` reading the shard's local tables, and the table its first ``FROM`` reads."""
        reads = list(_READ.finditer(query))
        first = next((read for read in reads if read["verb"].upper() == "FROM"), None)
        if first is None:
            raise ClusterRenderError(f"materialized view {view}: no FROM <table> in its query")
        source = self._known(first["name"], f"materialized view {view} reads")
        pieces: list[str] = []
        last = 0
        for read in reads:
            table = self._tables.get(read["name"])
            if table is None or table.placement is not Placement.SHARDED:
                continue
            if read["verb"].upper() == "JOIN":
                raise ClusterRenderError(
                    f"materialized view {view} joins the sharded {read['name']}: "
                    "a shard sees its own rows only"
                )
            pieces += [query[last : read.start("name")], f"{read['name']}{LOCAL_SUFFIX}"]
            last = read.end("name")
        return "".join([*pieces, query[last:]]), source

    # ALTER

    def _alter(self, text: str) -> list[str]:
        match = _ALTER.match(text)
        assert match is not None
        name, rest = match["name"], match["rest"].strip()
        table = self._known(name, "ALTER TABLE")
        on = self.layout.on_cluster
        if table.placement is Placement.VIEW:
            modify = _MODIFY_QUERY.match(rest)
            if modify is None:
                raise ClusterRenderError(f"ALTER TABLE {name}: a view is altered with MODIFY QUERY only")
            query, _ = self._local_query(modify["query"], name)
            return [f"ALTER TABLE {name} {on} MODIFY QUERY\n{query}"]
        if table.placement is Placement.SHARED:
            return [f"ALTER TABLE {name} {on} {rest}"]
        statements = [f"ALTER TABLE {name}{LOCAL_SUFFIX} {on} {rest}"]
        column_clauses = [clause for clause in _split_top_level(rest) if _COLUMN_CLAUSE.match(clause)]
        if column_clauses:
            statements.append(f"ALTER TABLE {name} {on} " + ",\n    ".join(column_clauses))
        return statements

    # DROP

    def _drop(self, text: str) -> list[str]:
        match = _DROP.match(text)
        assert match is not None
        kind, name, ie = match["kind"].upper(), match["name"], match["ie"] or ""
        table = self._known(name, f"DROP {kind}")
        if (kind == "VIEW") != (table.placement is Placement.VIEW):
            raise ClusterRenderError(f"DROP {kind} {name}: it was created as a {table.engine}")
        del self._tables[name]
        on = self.layout.on_cluster
        if kind == "VIEW":
            return [f"DROP VIEW {ie}{name} {on}"]
        statements = [f"DROP TABLE {ie}{name} {on} SYNC"]
        if table.placement is Placement.SHARDED:  # SYNC: frees the Keeper path at once, for a later re-create
            statements.append(f"DROP TABLE {ie}{name}{LOCAL_SUFFIX} {on} SYNC")
        return statements

    # INSERT ... SELECT

    def _insert(self, text: str) -> list[str]:
        match = _INSERT.match(text)
        assert match is not None
        table = self._known(match["name"], "INSERT INTO")
        select = re.search(r"\bSELECT\b", text, re.IGNORECASE)
        if select is None:
            raise ClusterRenderError(f"INSERT INTO {match['name']}: only INSERT ... SELECT is rendered")
        if table.placement is not Placement.SHARDED:
            return [text]
        head, query = text[: select.start()], text[select.start() :]
        settings = re.search(r"\bSETTINGS\s+", head, re.IGNORECASE)
        foreground = "distributed_foreground_insert = 1"
        if settings is None:
            head = f"{head.rstrip()}\nSETTINGS {foreground}\n"
        else:
            head = f"{head[: settings.end()]}{foreground}, {head[settings.end() :]}"
        return [head + query]

    def _known(self, name: str, what: str) -> Table:
        table = self._tables.get(name)
        if table is None:
            raise ClusterRenderError(f"{what} {name}: not created by an earlier statement")
        return table


def render_for_cluster(statements: Iterable[str], layout: ClusterLayout) -> list[str]:
    """``statements`` (every migration's, in order) rendered for ``layout``, flattened."""
    renderer = ClusterRenderer(layout)
    return [rendered for statement in statements for rendered in renderer.render(statement)]


def _local_name(name: str, table: Table) -> str:
    return f"{name}{LOCAL_SUFFIX}" if table.placement is Placement.SHARDED else name


def _replicated_settings(tail: str) -> str:
    """``tail`` (``PARTITION BY ... SETTINGS ...``) with the non-replicated deduplication window moved to the
    replicated settings (the window kept, its age one week)."""
    settings = re.search(r"\bSETTINGS\s+", tail, re.IGNORECASE)
    if settings is None:
        return tail
    pairs: list[tuple[str, str]] = []
    for item in _split_top_level(tail[settings.end() :]):
        setting = _SETTING.match(item)
        if setting is None:
            raise ClusterRenderError(f"unreadable table setting {item!r}")
        pairs.append((setting["name"], setting["value"].strip()))
    names = [name for name, _ in pairs]
    if "non_replicated_deduplication_window" in names:
        pairs = [
            (
                "replicated_deduplication_window" if name == "non_replicated_deduplication_window" else name,
                value,
            )
            for name, value in pairs
        ]
        if "replicated_deduplication_window_seconds" not in names:
            pairs.append(("replicated_deduplication_window_seconds", str(DEDUP_WINDOW_SECONDS)))
    return tail[: settings.end()] + ", ".join(f"{name} = {value}" for name, value in pairs)


def _column_names(columns: str) -> set[str]:
    """The column names of a ``CREATE TABLE``'s parenthesised list (indexes, projections, constraints
    left out)."""
    names = set()
    for item in _split_top_level(columns):
        first = item.split(None, 1)[0] if item else ""
        if first.upper() in {"INDEX", "PROJECTION", "CONSTRAINT", "PRIMARY"}:
            continue
        names.add(first.strip('`"'))
    return names


def _unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """``(index, character, bracket depth after it)`` of every character of ``text`` from ``start`` that is
    outside quoted text (quotes and their content are skipped)."""
    depth = 0
    quote = ""
    index = start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'`\"":
            quote = char
        else:
            if char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            yield index, char, depth
        index += 1


def _closing(text: str, open_at: int) -> int:
    """The index of the bracket closing the one at ``open_at`` (quoted text skipped)."""
    for index, char, depth in _unquoted(text, open_at):
        if char in ")]" and depth == 0:
            return index
    raise ClusterRenderError(f"unbalanced brackets in: {_excerpt(text)}")


def _split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets and quotes, each part stripped, empty ones dropped."""
    parts: list[str] = []
    start = 0
    for index, char, depth in _unquoted(text):
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 100 else f"{flat[:97]}..."
