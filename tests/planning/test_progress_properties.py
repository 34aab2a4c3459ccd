"""Properties of the measures on random baselines and progress (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planning.progress import STATUSES, Baseline, TaskBaseline, TaskProgress, earned_schedule, evm

costs = st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=1e7, allow_nan=False))


@st.composite
def baselines(draw, milestones: bool = True) -> Baseline:
    count = draw(st.integers(min_value=0, max_value=8))
    tasks = []
    for index in range(count):
        start = draw(st.integers(min_value=0, max_value=200))
        duration = draw(st.integers(min_value=0 if milestones else 1, max_value=80))
        tasks.append(TaskBaseline(f"t{index}", draw(costs), start, start + duration))
    return Baseline(tuple(tasks), "EUR")


@st.composite
def baseline_and_progress(draw):
    baseline = draw(baselines())
    progress = {}
    for task in baseline.tasks:
        if draw(st.booleans()):
            progress[task.task_id] = TaskProgress(
                task.task_id, draw(st.sampled_from(STATUSES)),
                draw(st.floats(min_value=0, max_value=100)),
                actual_cost=draw(st.none() | st.floats(min_value=0, max_value=1e8)))
    return baseline, progress


times = st.floats(min_value=0, max_value=400)


@given(baseline_and_progress(), times)
def test_ev_never_exceeds_bac(case, at):
    """EV <= BAC, exactly, whatever is reported."""
    baseline, progress = case
    assert evm(baseline, progress, at).ev <= baseline.bac


@given(baselines())
def test_pv_at_the_baseline_finish_is_bac(baseline):
    """PV(PD) = BAC exactly, and PV(0) = 0 unless a valued milestone sits at hour 0."""
    assert baseline.planned_value(baseline.finish_hours) == baseline.bac
    if not any(t.planned_cost and t.finish_hours == 0 for t in baseline.tasks):
        assert baseline.planned_value(0) == 0


@given(baselines(), st.lists(times, min_size=2, max_size=20))
def test_pv_is_non_decreasing_and_equals_the_sum_of_the_tasks(baseline, moments):
    """PV(t1) <= PV(t2) for t1 <= t2, and PV(t) is the sum of each task's own spread."""
    values = [baseline.planned_value(t) for t in sorted(moments)]
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    for t in moments:
        assert baseline.planned_value(t) == pytest.approx(sum(task.planned_value(t) for task in baseline.tasks),
                                                          rel=1e-9, abs=1e-6)


@given(baseline_and_progress(), times)
def test_percent_complete_is_100_exactly_when_all_value_is_earned(case, at):
    """percent_complete == 100 <=> EV == BAC (for a baseline holding value)."""
    baseline, progress = case
    result = evm(baseline, progress, at)
    if baseline.bac > 0:
        assert (result.percent_complete == 100) == (result.ev == result.bac)
        assert (result.to_dict()["percent_complete"] == 100) == (result.ev == result.bac)


@given(baseline_and_progress(), times)
def test_every_ratio_is_finite_or_none_with_a_reason(case, at):
    """No inf or NaN: each figure is a finite number, or None with its reason in `undefined`."""
    baseline, progress = case
    result = evm(baseline, progress, at)
    es = earned_schedule(baseline, result.ev, at)
    for figures in (result, es):
        for name, value in figures.to_dict().items():
            if name in ("unit", "currency", "ac_estimated_for", "undefined"):
                continue
            assert value is None and figures.undefined.get(name) or math.isfinite(value), name


@given(baselines(milestones=False), st.floats(min_value=0, max_value=1))
def test_es_matches_lipkes_formula_on_one_hour_increments(baseline, share):
    """With whole-hour schedules, the exact inverse of PV equals C + (EV - PV(C)) / (PV(C+1) - PV(C))."""
    ev = share * baseline.bac

    pv = baseline.planned_value  # the sum of the task spreads (checked above), read at whole hours
    pd = int(baseline.finish_hours)
    last = max(c for c in range(pd + 1) if pv(c) <= ev)
    lipke = float(pd) if last == pd else last + (ev - pv(last)) / (pv(last + 1) - pv(last))
    assert earned_schedule(baseline, ev, 10).es_hours == pytest.approx(min(lipke, pd), abs=1e-6)
