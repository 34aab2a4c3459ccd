"""Size guards: the budgets past which a step whose cost grows faster than the instance is skipped or trimmed.

The exact machinery (propagation, cliques, the time-indexed MILP) is what proves PSPLIB
instances optimal, and its arrays grow with the cube of the activity count or with
activities x horizon: a 1,000-task project asked 9 GB of energetic reasoning alone. Past
each budget the step degrades to a cheaper, still sound method (a skipped inference only
leaves windows wider; a trimmed clique is still a clique), and the solve result names
every guard that fired, so the plan can say so. The budgets leave every PSPLIB set up to
j120 untouched (the largest j120 energetic-reasoning table is under 10^7 cells).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Core

# (interval x activity) cells of one energetic-reasoning pass: about 0.1 s and 60 MB each
ENERGETIC_MAX_CELLS = 15_000_000
# (activity x resource x time) cells of one time-tabling pass
TIME_TABLE_MAX_CELLS = 30_000_000
# pairs of activities that can never overlap: past this the pair rule, the cliques
# (and the MILP's clique rows) are left out: a pool of capacity 1 shared by 2,000
# tasks alone makes two million pairs, each checked in Python at every propagation round
MAX_PAIRS = 100_000
# (clique x member^3) cells of clique edge finding: larger cliques keep their longest members
CLIQUE_MAX_CELLS = 20_000_000
# start-time variables of the time-indexed MILP: PuLP builds ~2 KB of Python objects each
MILP_MAX_COLUMNS = 250_000


def note(core: Core, message: str) -> None:
    """Record that a guard fired on this instance (kept on the core, reported by `solve`)."""
    core.__dict__.setdefault("_guards", set()).add(message)


def fired(core: Core) -> list[str]:
    return sorted(core.__dict__.get("_guards", ()))
