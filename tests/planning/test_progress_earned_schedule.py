"""Earned Schedule (Lipke 2003): the late-project demonstration, the interpolation and undefined cases."""

from __future__ import annotations

import pytest

from planning.progress import Baseline, ProgressError, TaskBaseline, TaskProgress, earned_schedule, evm


def three_phase_baseline() -> Baseline:
    """Three sequential tasks of 40 hours and 1,000 each: BAC 3,000, PD 120 hours."""
    return Baseline(tuple(TaskBaseline(name, 1000, 40 * i, 40 * (i + 1)) for i, name in enumerate("ABC")), "EUR")


def test_lipke_late_project_spi_recovers_but_spi_t_does_not():
    """Work runs at 75 % of the planned rate. At the planned finish (AT 120): EV 2,250, SPI($) 0.75,
    ES 90, SPI(t) 0.75. When all work is done (AT 160): SPI($) is back to 1.0, yet ES = PD = 120
    and SPI(t) stays 0.75 (SV(t) = -40 h): only the time-based index still shows the project was late."""
    baseline = three_phase_baseline()
    at_planned_finish = {"A": TaskProgress("A", "completed", 100), "B": TaskProgress("B", "completed", 100),
                         "C": TaskProgress("C", "in_progress", 25)}
    money = evm(baseline, at_planned_finish, at_hours=120)
    time = earned_schedule(baseline, money.ev, at_hours=120)
    assert money.spi == pytest.approx(0.75) and money.spi < 1
    assert time.es_hours == pytest.approx(90) and time.spi_t == pytest.approx(0.75)
    assert time.ieac_t_hours == pytest.approx(160) == time.forecast_finish_hours

    finished = {name: TaskProgress(name, "completed", 100) for name in "ABC"}
    money = evm(baseline, finished, at_hours=160)
    time = earned_schedule(baseline, money.ev, at_hours=160)
    assert money.spi == 1.0 and money.sv == 0
    assert time.es_hours == 120 and time.spi_t == pytest.approx(0.75) and time.spi_t < 1
    assert time.sv_t_hours == -40 and time.ieac_t_hours == pytest.approx(160)


def test_es_follows_lipkes_interpolation_between_whole_hours():
    """EV 1,250 lies in hour 50 (PV(50) = 1,250): ES = 50; EV 1,262.5 gives 50 + 12.5 / 25 = 50.5."""
    baseline = three_phase_baseline()
    assert earned_schedule(baseline, 1250, at_hours=60).es_hours == pytest.approx(50)
    result = earned_schedule(baseline, 1262.5, at_hours=60)
    assert result.es_hours == pytest.approx(50.5)
    assert result.sv_t_hours == pytest.approx(-9.5) and result.spi_t == pytest.approx(50.5 / 60)


def test_ahead_of_schedule_gives_spi_t_above_one():
    """EV of hour 60 earned by hour 40: SV(t) +20, SPI(t) 1.5, IEAC(t) 80."""
    result = earned_schedule(three_phase_baseline(), 1500, at_hours=40)
    assert (result.sv_t_hours, result.spi_t, result.ieac_t_hours) == (20, 1.5, 80)


def test_at_zero_leaves_spi_t_and_the_forecast_undefined():
    """AT = 0: SPI(t) and IEAC(t) are None with the reason."""
    result = earned_schedule(three_phase_baseline(), 0, at_hours=0)
    assert result.spi_t is None and result.ieac_t_hours is None and result.forecast_finish_hours is None
    assert "AT = 0" in result.undefined["spi_t"]
    assert result.to_dict()["spi_t"] is None


def test_es_zero_makes_the_forecast_undefined():
    """Nothing earned at AT 10: ES = 0, SPI(t) = 0 and IEAC(t) = PD / 0 is None with the reason."""
    result = earned_schedule(three_phase_baseline(), 0, at_hours=10)
    assert result.es_hours == 0 and result.spi_t == 0
    assert result.ieac_t_hours is None and "ES = 0" in result.undefined["ieac_t_hours"]


def test_ev_above_bac_is_refused_but_a_rounded_figure_is_not():
    """EV may exceed BAC only by rounding (half a cent)."""
    baseline = three_phase_baseline()
    assert earned_schedule(baseline, 3000.004, at_hours=100).es_hours == 120
    with pytest.raises(ProgressError) as caught:
        earned_schedule(baseline, 3100, at_hours=100)
    assert caught.value.field == "ev"
