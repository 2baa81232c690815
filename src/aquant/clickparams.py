"""Option parsers shared by every `aquant` command, so a bad date reads the same everywhere."""
from __future__ import annotations

from datetime import date

import click


def parse_date(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> date | None:
    """click callback: ISO date or None; a clear one-line error otherwise."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2024-12-31, got {value!r}") from None


def parse_csv(_ctx: click.Context | None, _param: click.Parameter | None, value: str | None) -> list[str] | None:
    """click callback: comma-separated values, blanks dropped."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None
