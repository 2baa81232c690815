"""aquant: a dbt-centric quant platform for the China A-share market."""
__version__ = "0.1.0"
