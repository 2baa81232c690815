"""Where things are: project root, database target and connection settings.

Every command reads its settings here, so that `AQUANT_DB` / `AQUANT_TARGET` point *all* of
them (ingest, build, backtest, app) at the same database, as the contract promises.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

TARGETS = ("duckdb", "postgres", "spark")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def project_root() -> Path:
    """The dbt project directory (holds dbt_project.yml).

    `AQUANT_HOME` wins; otherwise the current directory or a parent; otherwise the checkout
    this package was installed from (editable install); otherwise the copy a wheel installs under
    <prefix>/share/aquant (setup.py), so `aquant` works from anywhere.
    """
    env = os.environ.get("AQUANT_HOME")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / "dbt_project.yml").exists():
            raise ConfigError(f"AQUANT_HOME={env} has no dbt_project.yml; point it at the aquant checkout")
        return root
    for cand in [Path.cwd(), *Path.cwd().parents]:
        if (cand / "dbt_project.yml").exists() and (cand / "src" / "aquant").exists():
            return cand
    here = Path(__file__).resolve().parents[2]
    if (here / "dbt_project.yml").exists():
        return here
    installed = installed_project()
    if installed is not None:
        return installed
    raise ConfigError("cannot find the aquant project (dbt_project.yml); run from the checkout or set AQUANT_HOME")


def dbt_target_dir() -> Path:
    """dbt's target folder (manifest, run_results, logs beside it): `AQUANT_DBT_TARGET_PATH` if set,
    else target/ in the project. Two builds that share one folder overwrite each other's
    run_results.json and manifest, so side-by-side runs (Meltano, parallel test workers, a helper's
    build) each set their own; every reader of the folder asks here."""
    env = os.environ.get("AQUANT_DBT_TARGET_PATH")
    return Path(env).expanduser().resolve() if env else project_root() / "target"


def installed_project() -> Path | None:
    """The dbt project a wheel install put under <prefix>/share/aquant, if this is such an install."""
    import sys

    cand = Path(sys.prefix) / "share" / "aquant"
    return cand if (cand / "dbt_project.yml").exists() else None


def data_dir() -> Path:
    """Where the default warehouse lives: data/ in the checkout, or in the current directory when
    aquant runs from a wheel install (its project copy sits inside the environment)."""
    root = project_root()
    if root == installed_project():
        return Path.cwd() / "data"
    return root / "data"


@dataclass(frozen=True)
class Settings:
    """Resolved database settings for one process."""

    target: str
    duckdb_path: Path
    pg: dict[str, str]
    # AQUANT_TARGET=spark: the warehouse root (Parquet tables + embedded metastore), see aquant.spark_session
    spark_dir: Path | None = None

    @property
    def is_postgres(self) -> bool:
        return self.target == "postgres"

    def describe(self) -> str:
        """Human-readable location, never including a password."""
        if self.target == "spark":
            return f"spark (in-process, {os.environ.get('AQUANT_SPARK_MASTER', 'local[2]')}) warehouse {self.spark_dir}"
        if self.is_postgres:
            return f"postgres://{self.pg['user']}@{self.pg['host']}:{self.pg['port']}/{self.pg['dbname']}"
        return str(self.duckdb_path)

    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess/invocation so profiles.yml resolves to this database."""
        env = {"AQUANT_TARGET": self.target, "AQUANT_DB": str(self.duckdb_path)}
        if self.spark_dir is not None:
            env["AQUANT_SPARK_DIR"] = str(self.spark_dir)
        if self.is_postgres:
            env.update({"PGHOST": self.pg["host"], "PGPORT": self.pg["port"], "PGUSER": self.pg["user"],
                        "PGDATABASE": self.pg["dbname"], "PGOPTIONS": pg_options()})
            if self.pg.get("password"):
                env["PGPASSWORD"] = self.pg["password"]
        return env


# PostgreSQL session settings of every connection dbt and aquant open (see pg_options). jit off: a
# one-day build's statements are short, and compiling each to machine code cost ~1.7 s of a 2.1 s
# factor_valuation statement at 500 stocks x 3 years (EXPLAIN ANALYZE, 2026-12-02), for every model
# and data test. work_mem: PostgreSQL's default 4MB sent every sort of a build to disk (external
# merge); it is per sort or hash node of a statement, and dbt builds two models at once.
PG_OPTIONS_DEFAULT = "-c jit=off -c work_mem=256MB"


def pg_options() -> str:
    """libpq startup options (PGOPTIONS) for PostgreSQL connections: a PGOPTIONS of the user's own as
    it is, else AQUANT_PG_OPTIONS, else PG_OPTIONS_DEFAULT (docs/configuration.md, "PostgreSQL
    engine"). dbt gets them through PGOPTIONS (dbt-postgres' profile has no field for them),
    aquant.db passes them to psycopg2."""
    own = os.environ.get("PGOPTIONS")
    if own is not None and own.strip():
        return own
    return os.environ.get("AQUANT_PG_OPTIONS", PG_OPTIONS_DEFAULT)


def _pg_from_env() -> dict[str, str]:
    url = os.environ.get("AQUANT_PG_URL")
    if url:
        u = urlparse(url)
        if u.scheme not in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
            raise ConfigError(f"AQUANT_PG_URL must start with postgresql://, got scheme {u.scheme!r}")
        return {"host": u.hostname or "127.0.0.1", "port": str(u.port or 5432),
                "user": unquote(u.username or "postgres"), "password": unquote(u.password or ""),
                "dbname": (u.path or "/postgres").lstrip("/") or "postgres"}
    return {"host": os.environ.get("PGHOST", "127.0.0.1"), "port": os.environ.get("PGPORT", "5432"),
            "user": os.environ.get("PGUSER", "postgres"), "password": os.environ.get("PGPASSWORD", ""),
            "dbname": os.environ.get("PGDATABASE", "aquant")}


def load_settings() -> Settings:
    """Read AQUANT_TARGET / AQUANT_DB / AQUANT_PG_URL / PG* / AQUANT_SPARK_DIR from the environment."""
    target = os.environ.get("AQUANT_TARGET", "duckdb").strip().lower()
    if target not in TARGETS:
        raise ConfigError(f"AQUANT_TARGET must be one of {', '.join(TARGETS)}, got {target!r}")
    db = os.environ.get("AQUANT_DB")
    path = Path(db).expanduser() if db else data_dir() / "warehouse.duckdb"
    spark = os.environ.get("AQUANT_SPARK_DIR")
    spark_dir = (Path(spark).expanduser() if spark else data_dir() / "spark").resolve() if target == "spark" else None
    return Settings(target=target, duckdb_path=path.resolve(), pg=_pg_from_env(), spark_dir=spark_dir)


_ENV_DEFAULT = re.compile(r"""^\{\{\s*env_var\(\s*'(\w+)'\s*,\s*'([^']*)'\s*\)\s*\}\}$""")
_ENV_NAME = re.compile(r"""env_var\(\s*'(AQUANT_DUCKDB_\w+)'""")


def duckdb_settings() -> dict[str, str]:
    """DuckDB's settings (memory_limit, threads, ...) as profiles.yml gives them to dbt
    (`config_options` of the duckdb output), for the connections aquant opens itself (aquant.db),
    so one place sets them for both.

    Each setting there is `{{ env_var('AQUANT_DUCKDB_X', 'default') }}`: the variable when set, else
    the default. A setting whose default is an expression (temp_directory: the database path +
    .tmp, which is DuckDB's own default too) is taken only from its variable.
    """
    import yaml

    try:
        profiles = yaml.safe_load((project_root() / "profiles.yml").read_text(encoding="utf-8"))
        raw = profiles["aquant"]["outputs"]["duckdb"].get("config_options") or {}
    except (OSError, KeyError, TypeError, ConfigError):
        return {}
    out: dict[str, str] = {}
    for key, template in raw.items():
        m = _ENV_DEFAULT.match(str(template))
        if m:
            out[key] = os.environ.get(m.group(1), m.group(2))
        else:
            name = _ENV_NAME.search(str(template))
            if name and os.environ.get(name.group(1)):
                out[key] = os.environ[name.group(1)]
    return out
