"""Earned value on hand-computed examples, the AC convention, undefined ratios and bad progress."""

from __future__ import annotations

import json
import math

import pytest

from planning.progress import Baseline, ProgressError, TaskBaseline, TaskProgress, evm


def pmi_baseline() -> Baseline:
    """BAC 100,000: A 30,000 over hours 0-30, B 40,000 over 30-70, C 30,000 over 70-100."""
    return Baseline((TaskBaseline("A", 30_000, 0, 30), TaskBaseline("B", 40_000, 30, 70),
                     TaskBaseline("C", 30_000, 70, 100)), "USD")


def test_pmi_practice_standard_example():
    """BAC 100,000, PV 50,000, EV 40,000, AC 45,000 -> SV -10,000, CV -5,000, SPI 0.8, CPI 0.889, EAC 112,500,
    EAC(atypical) 105,000, EAC(CPI×SPI) 129,375, ETC 67,500, VAC -12,500, TCPI(BAC) 1.091, TCPI(EAC) 0.889."""
    progress = {"A": TaskProgress("A", "completed", 100, actual_cost=33_000),
                "B": TaskProgress("B", "in_progress", 25, actual_cost=12_000)}
    r = evm(pmi_baseline(), progress, at_hours=50)
    assert (r.bac, r.pv, r.ev, r.ac) == (100_000, 50_000, 40_000, 45_000)
    assert (r.sv, r.cv) == (-10_000, -5_000)
    assert r.spi == pytest.approx(0.8) and r.cpi == pytest.approx(40 / 45)
    assert r.eac == pytest.approx(112_500)
    assert r.eac_atypical == pytest.approx(105_000)
    assert r.eac_cpi_spi == pytest.approx(45_000 + 60_000 / (40 / 45 * 0.8)) == pytest.approx(129_375)
    assert r.etc == pytest.approx(67_500) and r.vac == pytest.approx(-12_500)
    assert r.tcpi_bac == pytest.approx(60_000 / 55_000) and r.tcpi_eac == pytest.approx(60_000 / 67_500)
    assert r.percent_complete == 40
    assert r.ac_estimated_for == () and r.undefined == {}
    out = r.to_dict()
    assert out["cpi"] == 0.8889 and out["currency"] == "USD" and out["eac"] == 112_500
    json.dumps(out, allow_nan=False)


def test_work_reported_without_actual_cost_is_assumed_to_cost_what_it_earned():
    """B reports 50 % but no cost: AC takes its EV (20,000) and lists B; a 0 % task with no cost is not listed."""
    progress = {"A": TaskProgress("A", "completed", 100, actual_cost=33_000),
                "B": TaskProgress("B", "in_progress", 50),
                "C": TaskProgress("C", "blocked", 0)}
    r = evm(pmi_baseline(), progress, at_hours=50)
    assert r.ac == 33_000 + 20_000
    assert r.ac_estimated_for == ("B",)


def test_a_completed_task_earns_its_whole_value():
    """status completed counts as 100 % even if percent_complete was not updated."""
    r = evm(pmi_baseline(), {"A": TaskProgress("A", "completed", 60, actual_cost=1.0)}, at_hours=30)
    assert r.ev == 30_000


def test_before_anything_is_planned_or_spent_the_ratios_are_undefined_with_reasons():
    """At hour 0 with no progress: PV = EV = AC = 0, so SPI, CPI and every EAC built on them are None."""
    r = evm(pmi_baseline(), {}, at_hours=0)
    assert (r.pv, r.ev, r.ac, r.sv, r.cv) == (0, 0, 0, 0, 0)
    for name in ("spi", "cpi", "eac", "eac_cpi_spi", "etc", "vac", "tcpi_eac"):
        assert getattr(r, name) is None and r.undefined[name]
    assert r.eac_atypical == 100_000 and r.tcpi_bac == 1.0 and r.percent_complete == 0
    assert "PV = 0" in r.undefined["spi"] and "AC = 0" in r.undefined["cpi"]
    assert r.to_dict()["spi"] is None


def test_money_spent_with_nothing_earned_leaves_eac_undefined():
    """CPI = 0 (EV 0, AC 5,000): BAC / CPI has no value."""
    r = evm(pmi_baseline(), {"A": TaskProgress("A", "in_progress", 0, actual_cost=5_000)}, at_hours=10)
    assert r.cpi == 0 and r.eac is None and "nothing has been earned" in r.undefined["eac"]


def test_budget_overspent_makes_tcpi_bac_undefined():
    """AC above BAC: no efficiency finishes within the BAC, so TCPI(BAC) is None with a reason."""
    r = evm(pmi_baseline(), {"A": TaskProgress("A", "completed", 100, actual_cost=120_000)}, at_hours=40)
    assert r.tcpi_bac is None and "BAC" in r.undefined["tcpi_bac"]


def test_finished_project_forecasts_what_was_spent():
    """All work done: every EAC is AC, ETC is 0, percent 100; TCPI(EAC) is undefined (no EAC left to spend)."""
    done = {t: TaskProgress(t, "completed", 100, actual_cost=c) for t, c in (("A", 30e3), ("B", 50e3), ("C", 30e3))}
    r = evm(pmi_baseline(), done, at_hours=120)
    assert r.ev == r.bac and r.percent_complete == 100
    assert r.eac == pytest.approx(110_000) == r.eac_atypical == r.eac_cpi_spi
    assert r.etc == pytest.approx(0) and r.tcpi_eac is None


def test_an_empty_baseline_reports_everything_undefined_but_never_inf():
    """BAC = 0: percent complete and the ratios are None; the JSON has no inf or NaN."""
    r = evm(Baseline((), "EUR"), {}, at_hours=5)
    assert r.percent_complete is None and r.undefined["percent_complete"]
    json.dumps(r.to_dict(), allow_nan=False)


def test_an_hours_baseline_reads_actual_hours():
    """unit "hours": AC is the reported actual_hours, not the cost; currency is None."""
    baseline = Baseline((TaskBaseline("a", 10, 0, 10), TaskBaseline("b", 20, 10, 30)), None, unit="hours")
    progress = {"a": TaskProgress("a", "completed", 100, actual_hours=12, actual_cost=999)}
    r = evm(baseline, progress, at_hours=10)
    assert (r.unit, r.currency, r.ev, r.ac, r.pv) == ("hours", None, 10, 12, 10)
    assert r.cpi == pytest.approx(10 / 12)


def test_progress_for_an_unknown_task_is_refused():
    """A task id not in the baseline names progress.<id>."""
    with pytest.raises(ProgressError) as caught:
        evm(pmi_baseline(), {"Z": TaskProgress("Z")}, at_hours=1)
    assert caught.value.field == "progress.Z"


def test_progress_filed_under_the_wrong_key_is_refused():
    """The mapping key and TaskProgress.task_id must agree."""
    with pytest.raises(ProgressError):
        evm(pmi_baseline(), {"A": TaskProgress("B")}, at_hours=1)


@pytest.mark.parametrize(("data", "field"), [
    ({"status": "done"}, "progress.A.status"),
    ({"percent_complete": 101}, "progress.A.percent_complete"),
    ({"percent_complete": -0.1}, "progress.A.percent_complete"),
    ({"actual_cost": -5}, "progress.A.actual_cost"),
    ({"actual_cost": math.inf}, "progress.A.actual_cost"),
    ({"actual_start_hours": 10, "actual_finish_hours": 4}, "progress.A.actual_finish_hours"),
    ({"remaining_hours": "3"}, "progress.A.remaining_hours"),
    ({"colour": "red"}, "progress.A.colour"),
])
def test_bad_progress_raises_errors_naming_the_field(data, field):
    """TaskProgress.from_dict names progress.<task>.<field> for every invalid value."""
    with pytest.raises(ProgressError) as caught:
        TaskProgress.from_dict("A", data)
    assert caught.value.field == field


def test_evm_refuses_a_negative_time():
    """at_hours must be >= 0."""
    with pytest.raises(ProgressError) as caught:
        evm(pmi_baseline(), {}, at_hours=-2)
    assert caught.value.field == "at_hours"
