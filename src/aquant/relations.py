"""The one way Python finds a dbt model: its relation (schema.table) and its contract columns.

Why one place: the app, the notifier, alerts, the demo and QMT each used to know where dbt puts a
model (four lookups, some falling back to "any schema holding that name", one filling missing
columns with nulls), so a moved model or a broken contract showed up as wrong numbers instead of
an error. Here the answer comes from dbt itself: the manifest (target/manifest.json) that every
`dbt build` / `dbt parse` writes records each model's schema, identifier, declared columns and
whether its contract is enforced.

Where the manifest comes from, in order:
1. `<project>/target/manifest.json`, written by the last `aquant build` in this project, when it
   is at least as new as every file under models/, macros/ and dbt_project.yml and was parsed for
   the same adapter as the database asked about;
2. otherwise `dbt parse` is run once (about 5 s; it reads the project, never the database) into a
   private folder, and its manifest kept in `<project>/target/aquant_lookup/<target>/` (or, when
   the project folder is read-only, e.g. a wheel installed system-wide under
   <prefix>/share/aquant, in the user's cache folder).

Moving a layer: `AQUANT_<SCHEMA>_SCHEMA` (e.g. AQUANT_STAGING_SCHEMA, AQUANT_SIGNALS_SCHEMA, as
docs/qmt.md promises) reads the models dbt builds in <schema> from another schema; a caller may
pass the same as `schemas={"staging": "x"}` (qmt's `staging_schema` / `signals_schema` params).

Operational tables (ops.*) are written by Python, not dbt; their definitions live with their
writers (aquant.schema, qmt/tables.py) and are not looked up here.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .config import dbt_target_dir, load_settings, project_root

if TYPE_CHECKING:
    from .db import Database

ENV = "AQUANT_{}_SCHEMA"  # AQUANT_STAGING_SCHEMA moves the models dbt builds in `staging`, etc.
SOURCES = ("dbt_project.yml", "models", "macros")  # what a manifest is parsed from
_lock = threading.Lock()
_cache: dict[tuple[str, str], tuple[Path, float, "Manifest"]] = {}


class RelationError(LookupError):
    """A dbt model Python reads is unknown, not built, or lacks a column; the message says which,
    what was found, and what to do."""


class UnknownModel(RelationError):
    """The dbt project defines no model of that name (a typo, or a model renamed or made internal)."""


class NotBuilt(RelationError):
    """The project defines the model but the database does not hold it yet (or not where dbt puts it)."""

    def __init__(self, message: str, name: str):
        super().__init__(message)
        self.name = name


class MissingColumns(RelationError):
    """The model is built but lacks columns a reader needs, or its enforced contract does not declare them."""


class ManifestError(RelationError):
    """No dbt manifest could be read or produced for the project."""


@dataclass(frozen=True)
class Model:
    """What the manifest says about one dbt model."""

    name: str
    schema: str                 # where dbt builds it (macros/generate_schema_name.sql)
    identifier: str             # the table or view name (the model's alias)
    columns: tuple[str, ...]    # columns its yml declares, in order (all of them when enforced)
    enforced: bool              # contract: {enforced: true}: dbt refuses to build anything else
    path: str                   # the model's file, for messages


@dataclass(frozen=True)
class Relation:
    """A model as it is read from one database: where it is and the columns it really has."""

    model: Model
    schema: str
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.model.identifier

    def __str__(self) -> str:
        return f"{_ident(self.schema)}.{_ident(self.name)}"


@dataclass(frozen=True)
class Manifest:
    """The models of one parsed manifest, by name."""

    path: Path
    adapter: str
    models: Mapping[str, Model]

    def model(self, name: str) -> Model:
        if name in self.models:
            return self.models[name]
        near = difflib.get_close_matches(name, self.models, n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise UnknownModel(f"the dbt project defines no model named {name!r}{hint}; found {len(self.models)} "
                           f"models in {self.path}. Check the name against models/, or run `dbt parse` if "
                           f"the model was just added")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# -- the manifest ------------------------------------------------------------------------------
def _newest_source(root: Path) -> float:
    """mtime of the newest file a manifest depends on (a manifest older than it is stale)."""
    newest = 0.0
    for top in SOURCES:
        p = os.path.join(root, top)
        if os.path.isfile(p):
            newest = max(newest, os.stat(p).st_mtime)
            continue
        for folder, _dirs, files in os.walk(p):
            for f in files:
                newest = max(newest, os.stat(os.path.join(folder, f)).st_mtime)
    return newest


def _parse_manifest(path: Path) -> Manifest:
    data = json.loads(path.read_text(encoding="utf-8"))
    models = {}
    for node in data.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        models[node["name"]] = Model(
            name=node["name"], schema=node["schema"], identifier=node.get("alias") or node["name"],
            columns=tuple(node.get("columns", {})), enforced=bool((node.get("contract") or {}).get("enforced")),
            path=node.get("original_file_path", ""))
    return Manifest(path, data.get("metadata", {}).get("adapter_type", ""), models)


def _usable(path: Path, target: str, newest: float) -> Manifest | None:
    """The manifest at `path` if it is fresh, complete and parsed for `target`'s adapter."""
    try:
        if path.stat().st_mtime < newest:
            return None
        m = _parse_manifest(path)
    except (OSError, ValueError, KeyError):
        return None  # absent, or half-written by a build running right now
    return m if m.adapter == target and m.models else None


def _cache_dir(root: Path, target: str) -> Path:
    own = root / "target"
    if os.access(root, os.W_OK) and (not own.exists() or os.access(own, os.W_OK)):
        return own / "aquant_lookup" / target
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "aquant" / hashlib.sha1(str(root).encode()).hexdigest()[:12] / target


def _dbt_parse(root: Path, target: str, dest: Path) -> None:
    """`dbt parse` into a private folder, then move its manifest to `dest` in one step, so a
    concurrent reader sees the old manifest or the new one, never half of one."""
    from .dbt_runner import dbt_command

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="parse-", dir=dest.parent))
    # parse reads the project only; the database path points nowhere so no lock is ever taken
    env = {**os.environ, **load_settings().dbt_env(), "AQUANT_TARGET": target,
           "AQUANT_DB": str(work / "unused.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [*dbt_command(), "parse", "--project-dir", str(root), "--profiles-dir", str(root), "--target", target,
           "--target-path", str(work), "--log-path", str(work / "logs")]
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not (work / "manifest.json").exists():
            raise ManifestError(f"no dbt manifest for {root}: `dbt parse` failed (exit {proc.returncode}):\n"
                                f"{(proc.stdout + proc.stderr)[-2000:]}\nFix the project so that `dbt parse` "
                                f"succeeds, or run `aquant build` once")
        os.replace(work / "manifest.json", dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def manifest(target: str | None = None, root: Path | None = None) -> Manifest:
    """The parsed manifest of the project for a target ('duckdb' or 'postgres'); see the module doc."""
    root = (root or project_root()).resolve()
    target = target or load_settings().target
    key = (str(root), target)
    with _lock:
        newest = _newest_source(root)
        hit = _cache.get(key)
        if hit is not None:
            path, mtime, m = hit
            try:
                if path.stat().st_mtime == mtime >= newest:
                    return m
            except OSError:
                pass
        own = _cache_dir(root, target) / "manifest.json"
        built = (dbt_target_dir() if root == project_root().resolve() else root / "target") / "manifest.json"
        for path in (built, own):
            m = _usable(path, target, newest)
            if m is not None:
                break
        else:
            _dbt_parse(root, target, own)
            m = _usable(own, target, 0.0)
            if m is None:
                raise ManifestError(f"`dbt parse` wrote {own} but it lists no {target} models")
        _cache[key] = (m.path, m.path.stat().st_mtime, m)
        return m


def model(name: str, target: str | None = None) -> Model:
    """The manifest's entry for a model (raises UnknownModel)."""
    return manifest(target).model(name)


def schema_of(name: str, schemas: Mapping[str, str] | None = None, target: str | None = None) -> str:
    """The schema a model is read from: where dbt builds it, unless `schemas` or AQUANT_<SCHEMA>_SCHEMA
    say the models of that schema live elsewhere."""
    built = model(name, target).schema
    moved = (schemas or {}).get(built) or os.environ.get(ENV.format(built.upper()))
    return moved or built


def layer_schemas(staging: str | None = None, signals: str | None = None) -> dict[str, str]:
    """`schemas=` for the two overrides docs/qmt.md promises as parameters (staging_schema,
    signals_schema); a None leaves that layer where dbt (or its env override) puts it."""
    return {k: v for k, v in (("staging", staging), ("signals", signals)) if v}


# -- against a database -----------------------------------------------------------------------
def _built_columns(db: Database, schema: str, name: str) -> list[str]:
    rows = db.query("select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position", [schema, name])
    return [r[0] for r in rows]


def locate(db: Database, name: str, columns: Sequence[str] = (),
           schemas: Mapping[str, str] | None = None) -> Relation:
    """The built relation of a model in `db`, checked to hold `columns`.

    Raises UnknownModel (no such model in the project), NotBuilt (not in this database where the
    manifest, or an override, says) or MissingColumns (built without some of `columns`, or an
    enforced contract that does not declare them).
    """
    m = model(name, db.kind)
    schema = schema_of(name, schemas, db.kind)
    have = _built_columns(db, schema, m.identifier)
    if not have:
        elsewhere = sorted(r[0] for r in db.query("select distinct table_schema from information_schema.tables "
                                                  "where table_name = ?", [m.identifier]))
        found = (f"found a relation of that name in schema(s) {', '.join(elsewhere)}; if that is where your "
                 f"build puts it, set {ENV.format(m.schema.upper())}={elsewhere[0]}, else"
                 if elsewhere else "found none;")
        raise NotBuilt(f"{name} is not built yet in {db.settings.describe()}: expected relation {schema}."
                       f"{m.identifier} (dbt model {m.path}); {found} run `aquant demo` (or `aquant build`) "
                       f"on this database", name)
    missing = [c for c in columns if c not in have]
    undeclared = [c for c in columns if m.enforced and c not in m.columns]
    if missing or undeclared:
        what = []
        if missing:
            what.append(f"{schema}.{m.identifier} has no column(s) {', '.join(missing)} (it has: {', '.join(have)})")
        if undeclared:
            what.append(f"the enforced contract of {name} ({m.path} and its yml) does not declare "
                        f"{', '.join(undeclared)}")
        raise MissingColumns(f"a reader of dbt model {name} needs columns {', '.join(columns)}, but "
                             f"{'; and '.join(what)}. Rebuild with `aquant build` if the build is older "
                             f"than the model; otherwise the model's contract changed and the reader must "
                             f"follow it")
    return Relation(m, schema, tuple(have))


def exists(db: Database, name: str, schemas: Mapping[str, str] | None = None) -> bool:
    """True when the model is built in `db` (an unknown model is still an error)."""
    try:
        locate(db, name, schemas=schemas)
    except NotBuilt:
        return False
    return True


def read(db: Database, name: str, columns: Sequence[str], where: str = "", params: Sequence[Any] | None = None,
         schemas: Mapping[str, str] | None = None) -> Any:
    """`select <columns> from <model> <where>` as a DataFrame, after `locate` checked every column."""
    rel = locate(db, name, columns, schemas)
    return db.query_df(f"select {', '.join(_ident(c) for c in columns)} from {rel} {where}", params or [])
