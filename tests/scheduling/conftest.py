"""Shared helpers for the scheduling tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduling import Activity, Precedence, ProblemData, Resource

DATA = Path(__file__).resolve().parent.parent / "data" / "psplib"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--milp-backends",
        default="cbc,highs",
        help="comma-separated MILP backends the solver tests run against",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        # default when this conftest is not an initial one (pytest run from the repo root)
        backends = metafunc.config.getoption("--milp-backends", default="cbc,highs").split(",")
        metafunc.parametrize("backend", [b for b in backends if b])


@pytest.fixture
def small_project() -> ProblemData:
    """Textbook network: a(3) -> c(4) -> d(1), b(2) -> d; a, b, d share one crew."""
    return ProblemData(
        [
            Activity("a", 3, {"crew": 1}),
            Activity("b", 2, {"crew": 1}),
            Activity("c", 4),
            Activity("d", 1, {"crew": 1}),
        ],
        [Resource("crew", 1)],
        [Precedence("a", "c"), Precedence("b", "d"), Precedence("c", "d")],
    )
