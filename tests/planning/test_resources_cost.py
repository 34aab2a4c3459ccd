"""Cost, budget with the reserve, and the quantified recommendations, on hand-checked cases."""

from __future__ import annotations

from planning.resources import allocate
from tests.planning.resources_cases import SETTINGS, goal, network, pool, task


def chain_of_two():
    """a then b, 8 h each on one engineer at 50/h: 800 in all."""
    return network(task("a", 8, {"engineer": 1}), task("b", 8, {"engineer": 1}, deps=("a",)))


def test_per_task_and_total_cost():
    """Rows cost units x hours x rate; the total and the per-pool and per-task sums agree."""
    net = network(task("a", 10, {"engineer": 2}), task("b", 5, {"qa": 1}))
    result = allocate(goal(), net, [pool("engineer", 2, 50), pool("qa", 1, 40)], {}, SETTINGS)
    cost = result["cost"]
    assert [row["cost"] for row in result["allocations"]] == [1000, 200]
    assert (cost["total"], cost["by_pool"], cost["by_task"]) == (1200, {"engineer": 1000, "qa": 200},
                                                                 {"a": 1000, "b": 200})


def test_within_budget_after_the_reserve():
    """800 against 1,000 less 10 %: spendable 900, headroom 100, within budget, no warning."""
    result = allocate(goal(budget=1000), chain_of_two(), [pool("engineer", 1, 50)], {}, SETTINGS)
    cost = result["cost"]
    assert (cost["within_budget"], cost["spendable"], cost["headroom"]) == (True, 900, 100)
    assert not [r for r in result["recommendations"] if r["kind"] == "over_budget"]


def test_over_budget_once_the_reserve_is_kept_gives_a_warning_and_a_recommendation():
    """800 is under 850 but over 850 less 10 % (765): over by 35, a warning and an over_budget recommendation."""
    result = allocate(goal(budget=850), chain_of_two(), [pool("engineer", 1, 50)], {}, SETTINGS)
    assert result["cost"]["within_budget"] is False
    assert any("exceeds the budget 850.00 less the 10% reserve" in w for w in result["warnings"])
    [over] = [r for r in result["recommendations"] if r["kind"] == "over_budget"]
    assert (over["over_by"], over["spendable"], over["savings_available"], over["closes_gap"]) == (35, 765, 0, False)


def test_no_budget_means_no_verdict():
    """Without a budget, within_budget is None and nothing is said about it."""
    result = allocate(goal(budget=None), chain_of_two(), [pool("engineer", 1, 50)], {}, SETTINGS)
    assert result["cost"]["within_budget"] is None


def test_cost_in_another_currency_is_kept_out_of_the_total():
    """A USD pool in a EUR plan: its 400 USD are listed apart, not added, and a warning says so."""
    net = network(task("a", 8, {"engineer": 1}), task("b", 8, {"qa": 1}))
    pools = [pool("engineer", 1, 50), pool("qa", 1, 50, currency="USD")]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    assert (result["cost"]["total"], result["cost"]["not_converted"]) == (400, {"USD": 400})
    assert any("400.00 USD of cost is in USD" in w for w in result["warnings"])


def test_cheaper_substitute_with_room_is_recommended_with_its_saving():
    """A contractor pool at 60/h may do engineer work and is free: serving a and b with it saves 2 x 8 x 40 = 640."""
    pools = [pool("engineer", 1, 100), pool("contractor", 1, 60, substitutes=("engineer",))]
    result = allocate(goal(budget=1000), chain_of_two(), pools, {}, SETTINGS)
    [option] = [r for r in result["recommendations"] if r["kind"] == "cheaper_substitute"]
    assert (option["resource"], option["substitute"], option["task_ids"], option["saving"]) == (
        "engineer", "contractor", ["a", "b"], 640)
    assert option["finish_unchanged"] and option["keeps_deadline"] is True
    [over] = [r for r in result["recommendations"] if r["kind"] == "over_budget"]
    assert (over["over_by"], over["savings_available"], over["closes_gap"]) == (700, 640, False)


def test_cheaper_substitute_without_room_is_not_recommended():
    """The cheaper pool is busy with its own task at the same hours: no recommendation."""
    net = network(task("a", 8, {"engineer": 1}), task("c", 8, {"contractor": 1}))
    pools = [pool("engineer", 1, 100), pool("contractor", 1, 60, substitutes=("engineer",))]
    result = allocate(goal(), net, pools, {}, SETTINGS)
    assert not [r for r in result["recommendations"] if r["kind"] == "cheaper_substitute"]


def test_crashing_option_gives_days_saved_and_cost_per_day():
    """A second engineer (80 % productive) on 16 h: 9 h, 0.875 day sooner, 100 more, 114.29 per day saved."""
    # ceil(16 / 1.8) = 9 h; 16 - 9 = 7 h = 0.875 day; 2 x 9 x 50 - 16 x 50 = 100; 100 / 0.875 = 114.29
    result = allocate(goal(), network(task("a", 16, {"engineer": 1})), [pool("engineer", 2, 50)], {}, SETTINGS)
    [crash] = [r for r in result["recommendations"] if r["kind"] == "crash"]
    assert (crash["task_id"], crash["duration_hours"], crash["crashed_duration_hours"]) == ("a", 16, 9)
    assert (crash["days_saved"], crash["extra_cost"], crash["cost_per_day_saved"]) == (0.88, 100, 114.29)
    assert crash["within_capacity"] is True


def test_crashing_a_task_off_the_critical_path_is_not_offered():
    """Shortening a task with float gains nothing: only the critical one is offered."""
    net = network(task("short", 8, {"engineer": 1}), task("long", 40, {"designer": 1}))
    result = allocate(goal(), net, [pool("engineer", 2, 50), pool("designer", 1, 50)], {}, SETTINGS)
    assert [r["task_id"] for r in result["recommendations"] if r["kind"] == "crash"] == ["long"]
