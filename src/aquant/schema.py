"""Table definitions for the landing (`raw`) and operational (`ops`) schemas.

One portable type vocabulary (DuckDB and PostgreSQL accept the same names), one natural key per
table. The loader creates tables from here, so nobody creates them by hand and both databases
get identical shapes. Units follow ../shared/CONTRACT.md: CNY, shares, fractions (0.05 = 5 %).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    """A table's name, ordered columns (name -> SQL type) and natural key."""

    schema: str
    name: str
    columns: dict[str, str]
    key: tuple[str, ...]
    # Keep superseded versions of a row (e.g. restated reports) in `<name>_versions`.
    versioned: bool = False
    doc: str = ""
    audit_cols: tuple[str, ...] = field(default=("source", "loaded_at"))

    @property
    def fqn(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def value_cols(self) -> list[str]:
        return [c for c in self.columns if c not in self.key and c not in self.audit_cols]


_LOAD = {"source": "VARCHAR", "loaded_at": "TIMESTAMP"}

RAW_TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table("raw", "stock_info", {
            "code": "VARCHAR", "name": "VARCHAR", "exchange": "VARCHAR", "board": "VARCHAR",
            "industry_l1": "VARCHAR", "industry_l2": "VARCHAR", "list_date": "DATE", "delist_date": "DATE",
            "is_st": "BOOLEAN", "total_shares": "DOUBLE", "float_shares": "DOUBLE", **_LOAD}, ("code",),
            doc="One row per listed or delisted stock; industry is Shenwan 2021 level 1/2."),
        Table("raw", "daily_quote", {
            "code": "VARCHAR", "trade_date": "DATE", "open": "DOUBLE", "high": "DOUBLE", "low": "DOUBLE",
            "close": "DOUBLE", "pre_close": "DOUBLE", "volume": "DOUBLE", "amount": "DOUBLE",
            "turnover_rate": "DOUBLE", "adj_factor": "DOUBLE", "pe_ttm": "DOUBLE", "pb": "DOUBLE",
            "total_mv": "DOUBLE", "circ_mv": "DOUBLE", **_LOAD}, ("code", "trade_date"),
            doc="Unadjusted daily bars; adj_factor is cumulative (back-adjusted = close * adj_factor). "
                "Volume in shares, amount and market value in CNY, turnover_rate a fraction. "
                "Suspended days have no row."),
        Table("raw", "minute_quote", {
            "code": "VARCHAR", "ts": "TIMESTAMP", "open": "DOUBLE", "high": "DOUBLE", "low": "DOUBLE",
            "close": "DOUBLE", "volume": "DOUBLE", "amount": "DOUBLE", **_LOAD}, ("code", "ts"),
            doc="Unadjusted minute bars; ts is the bar's end in UTC."),
        Table("raw", "finance_data", {
            "code": "VARCHAR", "report_period": "DATE", "ann_date": "DATE", "roe": "DOUBLE", "eps": "DOUBLE",
            "revenue": "DOUBLE", "net_profit": "DOUBLE", "net_profit_yoy": "DOUBLE", "bps": "DOUBLE",
            **_LOAD}, ("code", "report_period"), versioned=True,
            doc="Cumulative (year-to-date) quarterly reports; roe and net_profit_yoy are fractions. "
                "A restatement replaces the row here and the superseded version moves to finance_data_versions."),
        Table("raw", "dividend", {
            "code": "VARCHAR", "report_period": "DATE", "ann_date": "DATE", "ex_date": "DATE",
            "cash_div_per_share": "DOUBLE", "bonus_ratio": "DOUBLE", "payout_ratio": "DOUBLE", **_LOAD},
            ("code", "report_period"),
            doc="Cash dividend per share (CNY, pre-tax), bonus shares per share, payout ratio a fraction."),
        Table("raw", "funds_flow", {
            "code": "VARCHAR", "trade_date": "DATE", "north_hold_shares": "DOUBLE", "margin_balance": "DOUBLE",
            "short_balance": "DOUBLE", "main_net_inflow": "DOUBLE", **_LOAD}, ("code", "trade_date"),
            doc="Northbound holding (shares), margin financing and short-selling balances (CNY), "
                "main-force net inflow (CNY)."),
        Table("raw", "industry_flow", {
            "industry_l1": "VARCHAR", "trade_date": "DATE", "net_inflow": "DOUBLE", "amount": "DOUBLE", **_LOAD},
            ("industry_l1", "trade_date"),
            doc="Optional source-level main-force net inflow and turnover per industry board (CNY), in the "
                "source's own taxonomy (akshare: Eastmoney boards). No model joins it on Shenwan names: "
                "factor_industry_flow sums stock-level flows over point-in-time SW2021 members."),
        Table("raw", "chip_distribution", {
            "code": "VARCHAR", "trade_date": "DATE", "profit_ratio": "DOUBLE", "avg_cost": "DOUBLE",
            "cost_90_low": "DOUBLE", "cost_90_high": "DOUBLE", "concentration_90": "DOUBLE",
            "cost_70_low": "DOUBLE", "cost_70_high": "DOUBLE", "concentration_70": "DOUBLE", **_LOAD},
            ("code", "trade_date"), doc="Chip distribution (CYQ) summary; costs unadjusted CNY, ratios fractions."),
        Table("raw", "stock_name_history", {
            "code": "VARCHAR", "start_date": "DATE", "end_date": "DATE", "name": "VARCHAR",
            "is_st": "BOOLEAN", "ann_date": "DATE", "change_reason": "VARCHAR", **_LOAD},
            ("code", "start_date"),
            doc="Name and ST periods (tushare `namechange` shape: ts_code, name, start_date, end_date, "
                "ann_date, change_reason). A row is valid from start_date to the day before the stock's "
                "next start_date (the latest stays valid); end_date is kept as published (inclusive). "
                "is_st is true for names beginning ST / *ST / S*ST / SST (the exchanges' risk-warning "
                "prefixes); null lets staging derive it from the name; a loader may set it from tushare "
                "`stock_st`. raw.stock_info.name/is_st stay the current values."),
        Table("raw", "stock_industry_history", {
            "code": "VARCHAR", "taxonomy": "VARCHAR", "start_date": "DATE", "end_date": "DATE",
            "industry_l1": "VARCHAR", "industry_l2": "VARCHAR", "industry_code": "VARCHAR", **_LOAD},
            ("code", "taxonomy", "start_date"),
            doc="Industry classification history (akshare `stock_industry_clf_hist_sw`: symbol, start_date, "
                "industry_code; tushare `index_member_all`: ts_code, l1_name, l2_name, in_date, out_date). "
                "taxonomy 'sw2021' (Shenwan 2021) is the one the models read; industry_l1/l2 are names "
                "(Shenwan level-1/2), industry_code the source's code. Valid from start_date to the day "
                "before the next start_date of the same code and taxonomy; end_date kept as published. "
                "raw.stock_info.industry_l1/l2 stay the current values."),
        Table("raw", "trade_calendar", {"trade_date": "DATE", "is_open": "BOOLEAN", **_LOAD}, ("trade_date",),
              doc="SSE calendar: every day with is_open."),
    ]
}


def versions_table(t: Table) -> Table:
    """Companion table holding superseded versions of a versioned table (key adds ann_date)."""
    return Table(t.schema, f"{t.name}_versions", dict(t.columns), (*t.key, "ann_date"),
                 doc=f"Superseded versions of {t.fqn} (restatements), kept for point-in-time queries.")


OPS_TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table("ops", "ingest_state", {
            "source": "VARCHAR", "table_name": "VARCHAR", "unit": "VARCHAR", "watermark": "DATE",
            "status": "VARCHAR", "rows": "BIGINT", "updated_at": "TIMESTAMP"}, ("source", "table_name", "unit"),
            audit_cols=(), doc="Per source/table/unit (a stock code or '*') the last date loaded successfully."),
        Table("ops", "audit_log", {
            "event_id": "VARCHAR", "at": "TIMESTAMP", "actor": "VARCHAR", "action": "VARCHAR",
            "detail": "VARCHAR"}, ("event_id",), audit_cols=(),
            doc="Every key action: who/what/when; detail is JSON text."),
    ]
}


def all_tables() -> list[Table]:
    """Every table the loader manages, versions tables included."""
    out = list(RAW_TABLES.values())
    out += [versions_table(t) for t in RAW_TABLES.values() if t.versioned]
    return out + list(OPS_TABLES.values())


def sql_type(typ: str, dialect: str) -> str:
    """The portable name, spelled for the engine (PostgreSQL has no bare DOUBLE)."""
    if dialect == "postgres" and typ == "DOUBLE":
        return "DOUBLE PRECISION"
    return typ


def create_sql(t: Table, dialect: str = "duckdb") -> str:
    cols = ",\n  ".join(f"{q(c)} {sql_type(typ, dialect)}" for c, typ in t.columns.items())
    return f"CREATE TABLE IF NOT EXISTS {t.fqn} (\n  {cols},\n  PRIMARY KEY ({', '.join(q(k) for k in t.key)})\n)"


def q(name: str) -> str:
    """Quote an identifier: some contract names (`at`) are reserved words in DuckDB."""
    return f'"{name}"'
