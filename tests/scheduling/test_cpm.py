"""Critical path method on hand-checked networks."""

from __future__ import annotations

from scheduling import Activity, Precedence, ProblemData, analyse_cpm


def _textbook() -> ProblemData:
    # A(3)->C(2), A->D(4), B(5)->D, C->E(2), D->E; project length 11 via B-D-E
    acts = [Activity("A", 3), Activity("B", 5), Activity("C", 2), Activity("D", 4), Activity("E", 2)]
    precs = [
        Precedence("A", "C"),
        Precedence("A", "D"),
        Precedence("B", "D"),
        Precedence("C", "E"),
        Precedence("D", "E"),
    ]
    return ProblemData(acts, [], precs)


def test_forward_and_backward_pass():
    """ES/EF/LS/LF match the hand-computed values."""
    r = analyse_cpm(_textbook())
    assert r.es == {"A": 0, "B": 0, "C": 3, "D": 5, "E": 9}
    assert r.ef == {"A": 3, "B": 5, "C": 5, "D": 9, "E": 11}
    assert r.ls == {"A": 2, "B": 0, "C": 7, "D": 5, "E": 9}
    assert r.lf == {"A": 5, "B": 5, "C": 9, "D": 9, "E": 11}
    assert r.makespan == 11


def test_floats_and_critical_path():
    """Total and free floats and the critical chain B -> D -> E are right."""
    r = analyse_cpm(_textbook())
    assert r.total_float == {"A": 2, "B": 0, "C": 4, "D": 0, "E": 0}
    assert r.free_float == {"A": 0, "B": 0, "C": 4, "D": 0, "E": 0}
    assert r.critical_path == ["B", "D", "E"]
    assert r.critical_paths == [["B", "D", "E"]]
    assert [k for k, c in r.critical.items() if c] == ["B", "D", "E"]


def test_near_critical():
    """near_critical(threshold) lists activities whose float is within the threshold."""
    r = analyse_cpm(_textbook())
    assert sorted(r.near_critical(2)) == ["A", "B", "D", "E"]
    assert sorted(r.near_critical(0)) == ["B", "D", "E"]


def test_two_critical_paths():
    """Parallel equal-length chains are both reported."""
    acts = [Activity("s", 1), Activity("x", 3), Activity("y", 3), Activity("t", 1)]
    precs = [Precedence("s", "x"), Precedence("s", "y"), Precedence("x", "t"), Precedence("y", "t")]
    r = analyse_cpm(ProblemData(acts, [], precs))
    assert sorted(r.critical_paths) == [["s", "x", "t"], ["s", "y", "t"]]


def test_lags_and_kinds():
    """FS lag, SS and FF relations shift early and late dates as defined."""
    acts = [Activity("a", 4), Activity("b", 2), Activity("c", 6), Activity("d", 1)]
    precs = [
        Precedence("a", "b", "FS", 2),  # b >= 4 + 2
        Precedence("a", "c", "SS", 1),  # c >= 0 + 1
        Precedence("c", "d", "FF", 0),  # d finish >= c finish = 7, so d starts >= 6
    ]
    r = analyse_cpm(ProblemData(acts, [], precs))
    assert r.es == {"a": 0, "b": 6, "c": 1, "d": 6}
    assert r.makespan == 8
    assert r.ls["d"] == 7 and r.ls["c"] == 2 and r.ls["b"] == 6 and r.ls["a"] == 0


def test_release_and_deadline_shape_floats():
    """A release delays the early start; a deadline cuts the late finish."""
    acts = [Activity("a", 2, release=3), Activity("b", 9), Activity("c", 1, deadline=7)]
    r = analyse_cpm(ProblemData(acts, [], [Precedence("a", "c")]))
    assert r.es["a"] == 3 and r.es["c"] == 5
    assert r.lf["c"] == 7 and r.ls["a"] == 4
    assert r.total_float["a"] == 1


def test_resource_feasible_float(small_project):
    """With a schedule given, float respects the crew's sequence (b can slip only 2, not 5)."""
    plain = analyse_cpm(small_project)
    assert plain.total_float["b"] == 5
    starts = {"a": 0, "b": 3, "c": 3, "d": 7}
    r = analyse_cpm(small_project, starts)
    assert r.resource_feasible
    assert r.es == starts
    assert r.total_float == {"a": 0, "b": 2, "c": 0, "d": 0}
    assert r.free_float["b"] == 2
    assert r.critical_path == ["a", "c", "d"]


def test_resource_links_make_chain_critical():
    """Resource hand-overs join a critical chain that precedences alone would not."""
    acts = [Activity("x", 3, {"m": 1}), Activity("y", 3, {"m": 1})]
    data = ProblemData(acts, [__import__("scheduling").Resource("m", 1)], [])
    r = analyse_cpm(data, {"x": 0, "y": 3})
    assert r.critical_path == ["x", "y"]
    assert r.total_float == {"x": 0, "y": 0}
