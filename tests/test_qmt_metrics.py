"""Max drawdown counts from the starting capital, as empyrical does (issue 13, item 7)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aquant.qmt import metrics


def test_first_day_loss_is_a_drawdown_from_the_initial_capital():
    import empyrical as ep

    r = pd.Series([-0.10, -0.10, 0.05], index=pd.bdate_range("2024-01-02", periods=3))
    want = ep.max_drawdown(r)
    assert want == pytest.approx(0.9 * 0.9 - 1)  # -19 %: the peak is the capital, not day 1
    assert metrics.compute(r).max_drawdown == pytest.approx(want, rel=1e-12)
    assert metrics.compute(r).calmar == pytest.approx(ep.calmar_ratio(r, annualization=252), rel=1e-10)


def test_equity_drawdown_column_starts_at_the_initial_capital():
    eq = pd.Series([900_000.0, 810_000.0, 850_500.0])
    dd = metrics.drawdown(eq, 1_000_000.0)
    np.testing.assert_allclose(dd, [-0.10, -0.19, -0.1495], rtol=1e-12)
    # a curve that first rises takes its own peak as before
    np.testing.assert_allclose(metrics.drawdown(pd.Series([1.1e6, 1.0e6]), 1e6), [0.0, 1.0 / 1.1 - 1])
