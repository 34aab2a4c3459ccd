"""Progress, report and task progress on hand-set feedback, against figures worked out by hand.

The plan is tests/feedback_support.py's (BAC 2,400 EUR; PV 50/h over hours 0-8, 150/h over
8-16, 100/h over 16-24). Feedback:

- Monday 17:00 (hour 8): design completed 09:00-17:00, actual cost 450;
- Tuesday 13:00 (hour 12): build 25 % done at 300 so far (started when planned, Tuesday 09:00);
  docs blocked (not started).

At hour 12: PV = 400 + 4 x 150 = 1,000; EV = 400 + 0.25 x 1,600 = 800; AC = 450 + 300 = 750
(docs earned nothing, so it adds nothing). SV = -200, CV = 50, SPI = 0.8, CPI = 800/750 = 1.0667,
EAC = 2,400/CPI = 2,250, ETC = 1,500, VAC = 150, EAC (atypical) = 750 + 1,600 = 2,350,
EAC (CPI x SPI) = 750 + 1,600/(1.0667 x 0.8) = 2,625, TCPI(BAC) = 1,600/1,650 = 0.9697,
TCPI(EAC) = 1,600/1,500 = 1.0667. Earned Schedule: PV reaches 800 at 8 + 400/150 = 10.667 h,
so SV(t) = -1.333 h, SPI(t) = 10.667/12 = 0.8889, IEAC(t) = 24/0.8889 = 27 h: Thursday 12:00.
"""

from __future__ import annotations

import pytest

from tests.feedback_support import approved_plan, strict_json


@pytest.fixture
def executing(client):
    plan = approved_plan(client)
    plan_id = plan["id"]
    first = client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-02T17:00:00Z", "updates": [
        {"task_id": "design", "status": "completed", "actual_start": "2026-11-02T09:00:00Z",
         "actual_finish": "2026-11-02T17:00:00Z", "actual_cost": 450}]})
    assert first.status_code == 200, first.get_json()
    second = client.put(f"/api/v1/plans/{plan_id}", json={"status_date": "2026-11-03T13:00:00Z", "updates": [
        {"task_id": "build", "percent_complete": 25, "actual_cost": 300},
        {"task_id": "docs", "status": "blocked", "blocked_reason": "waiting for the brand guide"}]})
    assert second.status_code == 200, second.get_json()
    return plan


def _get(client, path):
    answer = client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return strict_json(answer.get_data(as_text=True))


def test_progress_at_the_latest_status_date(client, executing):
    progress = _get(client, f"/api/v1/plans/{executing['id']}/progress")
    assert progress["as_of"] == "2026-11-03T13:00:00Z" and progress["as_of_hours"] == 12.0
    assert progress["status"] == "executing" and progress["feedback_seq"] == 2
    assert progress["percent_complete"] == 33.33
    assert progress["tasks_by_status"] == {"not_started": 0, "in_progress": 1, "completed": 1, "blocked": 1,
                                           "failed": 0}
    evm = progress["evm"]
    assert {k: evm[k] for k in ("bac", "pv", "ev", "ac", "sv", "cv", "eac", "eac_atypical", "eac_cpi_spi", "etc",
                                "vac")} == {
        "bac": 2400.0, "pv": 1000.0, "ev": 800.0, "ac": 750.0, "sv": -200.0, "cv": 50.0, "eac": 2250.0,
        "eac_atypical": 2350.0, "eac_cpi_spi": 2625.0, "etc": 1500.0, "vac": 150.0}
    assert (evm["spi"], evm["cpi"], evm["tcpi_bac"], evm["tcpi_eac"]) == (0.8, 1.0667, 0.9697, 1.0667)
    assert evm["currency"] == "EUR"
    es = progress["earned_schedule"]
    assert (es["es_hours"], es["at_hours"], es["sv_t_hours"], es["spi_t"], es["ieac_t_hours"]) == \
        (10.667, 12.0, -1.333, 0.8889, 27.0)
    assert es["forecast_finish"] == "2026-11-05T12:00:00Z"
    assert progress["schedule_variance_hours"] == -1.333 and progress["budget_variance"] == 50.0
    assert progress["undefined"] == {}


def test_progress_as_of_an_earlier_moment_replays_the_events(client, executing):
    progress = _get(client, f"/api/v1/plans/{executing['id']}/progress?as_of=2026-11-02T17:00:00Z")
    assert progress["as_of_hours"] == 8.0
    assert progress["tasks_by_status"]["completed"] == 1 and progress["tasks_by_status"]["not_started"] == 2
    evm = progress["evm"]
    assert (evm["pv"], evm["ev"], evm["ac"], evm["spi"], evm["cpi"]) == (400.0, 400.0, 450.0, 1.0, 0.8889)
    assert progress["percent_complete"] == 16.67
    assert (progress["earned_schedule"]["es_hours"], progress["earned_schedule"]["spi_t"]) == (8.0, 1.0)


def test_progress_later_than_the_last_report_keeps_the_reports_and_moves_pv(client, executing):
    progress = _get(client, f"/api/v1/plans/{executing['id']}/progress?as_of=2026-11-03T15:00:00%2B00:00")
    # hour 14: PV = 400 + 6 x 150 = 1,300; EV and AC as reported; SPI(t) = 10.667/14, IEAC(t) = 31.5 h
    assert (progress["evm"]["pv"], progress["evm"]["ev"], progress["evm"]["ac"]) == (1300.0, 800.0, 750.0)
    assert progress["evm"]["spi"] == 0.6154
    assert progress["earned_schedule"]["spi_t"] == 0.7619 and progress["earned_schedule"]["ieac_t_hours"] == 31.5
    assert progress["earned_schedule"]["forecast_finish"] == "2026-11-05T17:00:00Z"


def test_before_any_report_ratios_are_undefined_with_reasons_never_infinite(client, executing):
    progress = _get(client, f"/api/v1/plans/{executing['id']}/progress?as_of=2026-11-02T13:00:00Z")
    evm = progress["evm"]
    assert (evm["pv"], evm["ev"], evm["ac"], evm["spi"]) == (200.0, 0.0, 0.0, 0.0)
    for name in ("cpi", "eac", "etc", "vac", "tcpi_eac"):
        assert evm[name] is None and name in progress["undefined"]
    assert progress["earned_schedule"]["spi_t"] == 0.0
    assert progress["earned_schedule"]["forecast_finish"] is None and "forecast_finish" in progress["undefined"]
    at_start = _get(client, f"/api/v1/plans/{executing['id']}/progress?as_of=2026-11-01T00:00:00Z")
    assert at_start["as_of_hours"] == 0.0 and "spi" in at_start["undefined"] and "spi_t" in at_start["undefined"]


def test_the_report(client, executing):
    report = _get(client, f"/api/v1/plans/{executing['id']}/report")
    assert report["evm"]["ev"] == 800.0  # the progress block is the same
    points = [(p["day"], p["pv"], p["ev"], p["ac"]) for p in report["s_curve"]["points"]]
    assert points == [(0.0, 0.0, 0.0, 0.0), (1.0, 400.0, 400.0, 450.0), (1.5, 1000.0, 800.0, 750.0),
                      (2.0, 1600.0, None, None), (3.0, 2400.0, None, None)]
    assert report["s_curve"]["points"][1]["date"] == "2026-11-03T09:00:00Z"
    forecast = report["forecast"]
    assert forecast["planned_finish"] == "2026-11-04T17:00:00Z" and forecast["planned_finish_hours"] == 24.0
    assert forecast["spi_t"]["finish"] == "2026-11-05T12:00:00Z"
    # Monte Carlo of the rest from hour 12: build's 12 hours left (4 h spent on 25 %: the planned rate)
    # decide the finish at hour 24; estimates are fixed, so every percentile is that hour.
    monte_carlo = forecast["monte_carlo"]
    assert (monte_carlo["p50"], monte_carlo["p80"], monte_carlo["p95"]) == (24.0, 24.0, 24.0)
    assert monte_carlo["p95_date"] == "2026-11-04T17:00:00Z" and monte_carlo["deadline_probability"] == 1.0
    assert monte_carlo["origin_hours"] == 12.0
    assert report["critical_path_now"] == ["build"]
    assert [(i["task_id"], i["kind"]) for i in report["issues"]] == [("docs", "blocked")]
    assert report["risks"] and all("status" in risk for risk in report["risks"])
    tasks = {t["task_id"]: t for t in report["baseline_vs_current"]["tasks"]}
    # docs blocked, not started: it can finish at 12 + 8 = 20 at best, 4 h past its planned 16: 4 of its 8 h float
    assert (tasks["docs"]["float_used_hours"], tasks["docs"]["float_left_hours"]) == (4.0, 4.0)
    assert tasks["design"]["actual_cost"] == 450 and tasks["design"]["baseline_cost"] == 400.0
    assert tasks["build"]["critical_now"] and not tasks["docs"]["critical_now"]
    assert report["baseline_vs_current"]["critical_path_baseline"] == ["design", "build"]
    assert report["performance"]["ev_hours"] == 12.0  # 8 (design) + 0.25 x 16 (build), the risk rules' view


def test_one_task(client, executing):
    uid = next(task["uid"] for task in executing["tasks"] if task["id"] == "docs")
    task = _get(client, f"/api/v1/tasks/{uid}/progress")
    assert task["task_id"] == "docs" and task["uid"] == uid
    assert task["state"]["status"] == "blocked" and task["state"]["blocked_reason"] == "waiting for the brand guide"
    assert task["planned"] == {"start": "2026-11-03T09:00:00Z", "finish": "2026-11-03T17:00:00Z",
                               "duration_hours": 8.0, "cost": 400.0}
    assert task["float"] == {"total_float_hours": 8.0, "float_used_hours": 4.0, "float_left_hours": 4.0}
    assert task["critical_now"] is False and task["critical_baseline"] is False
    assert len(task["events"]) == 1 and task["events"][0]["seq"] == 2
    assert [i["kind"] for i in task["issues"]] == ["blocked"]
    build_uid = next(t["uid"] for t in executing["tasks"] if t["id"] == "build")
    build = _get(client, f"/api/v1/tasks/{build_uid}/progress")
    assert build["critical_now"] is True and build["actual"]["hours"] == 4.0 and build["actual"]["cost"] == 300.0


def test_not_found_and_bad_queries_are_problems(client, executing):
    for path in ("/api/v1/plans/nope/progress", "/api/v1/plans/nope/report", "/api/v1/plans/nope/issues",
                 "/api/v1/tasks/nope/progress"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json", path
    for query in ("as_of=tuesday", "as_of=2026-11-03T13:00:00Z&x=1"):
        answer = client.get(f"/api/v1/plans/{executing['id']}/progress?{query}")
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/plans/{executing['id']}/issues?status=closed").status_code == 422
