"""Package discovery that pyproject.toml cannot express: the user's top-level folders (extract/,
qmt/, app/) import as sub-packages of `aquant`, so every package under each of them is found here
instead of being listed by hand (a hand list once left out aquant.notify and aquant.app.views, and
a wheel install silently lost `aquant notify`). The dbt project (dbt_project.yml, profiles.yml,
models/, macros/, seeds/) is installed as data under <prefix>/share/aquant, where
aquant.config.project_root() finds it when aquant is not run from a checkout. Metadata and
dependencies stay in pyproject.toml."""
from __future__ import annotations

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
ROOTS = {"aquant": "src/aquant", "aquant.extract": "extract", "aquant.qmt": "qmt", "aquant.app": "app"}
DBT_FILES = ["dbt_project.yml", "profiles.yml"]
DBT_DIRS = ["models", "macros", "seeds"]


def packages() -> tuple[list[str], dict[str, str]]:
    names, dirs = [], {}
    for name, path in ROOTS.items():
        names.append(name)
        dirs[name] = path
        for sub in find_packages(path, exclude=["tap_aquant", "tap_aquant.*"]):
            names.append(f"{name}.{sub}")
            dirs[f"{name}.{sub}"] = f"{path}/{sub.replace('.', '/')}"
    return names, dirs


def dbt_project_files() -> list[tuple[str, list[str]]]:
    out = [("share/aquant", DBT_FILES)]
    for top in DBT_DIRS:
        for folder in sorted(p for p in (HERE / top).rglob("*") if p.is_dir()) + [HERE / top]:
            files = sorted(str(f.relative_to(HERE)) for f in folder.iterdir() if f.is_file())
            if files:
                out.append((f"share/aquant/{folder.relative_to(HERE)}", files))
    return out


names, dirs = packages()
setup(packages=names, package_dir=dirs, data_files=dbt_project_files())
