"""Independent schedule checker: precedences (kinds, lags), windows and capacities.

It works from the ProblemData fields directly, not from the solver's Core arrays,
so a bug in the arc translation cannot hide itself.
"""

from __future__ import annotations

from .model import ProblemData


def verify_schedule(data: ProblemData, starts: dict[str, int], *, deadlines: bool = True) -> list[str]:
    """Every violation of ``starts`` as a readable line; an empty list means valid.

    ``deadlines=False`` skips the activities' own deadlines: under the
    "weighted_tardiness" objective they are soft due dates, so missing one is
    scored, not a violation. Fixed starts (and so the precedences into a fixed
    activity) are checked either way.
    """
    problems: list[str] = []
    acts = {a.key: a for a in data.activities}
    for key in acts:
        if key not in starts:
            problems.append(f"activity '{key}' has no start")
    for key in starts:
        if key not in acts:
            problems.append(f"start given for unknown activity '{key}'")
    if problems:
        return problems

    for key, a in acts.items():
        s = starts[key]
        if not isinstance(s, int) or isinstance(s, bool):
            problems.append(f"activity '{key}': start {s!r} is not an integer")
            continue
        if s < 0:
            problems.append(f"activity '{key}' starts at {s} < 0")
        if s < a.release:
            problems.append(f"activity '{key}' starts at {s} before its release {a.release}")
        if deadlines and a.deadline is not None and s + a.duration > a.deadline:
            problems.append(f"activity '{key}' finishes at {s + a.duration} after its deadline {a.deadline}")
        if a.fixed_start is not None and s != a.fixed_start:
            problems.append(f"activity '{key}' is fixed at {a.fixed_start} but starts at {s}")
    if problems:
        return problems

    for p in data.precedences:
        a, b = acts[p.pred], acts[p.succ]
        sa, sb = starts[p.pred], starts[p.succ]
        if p.kind == "FS":
            lhs, rhs, what = sb, sa + a.duration + p.lag, "start"
        elif p.kind == "SS":
            lhs, rhs, what = sb, sa + p.lag, "start"
        else:
            lhs, rhs, what = sb + b.duration, sa + a.duration + p.lag, "finish"
        if lhs < rhs:
            problems.append(
                f"precedence {p.pred} -{p.kind}({p.lag})-> {p.succ}: "
                f"'{p.succ}' must {what} at >= {rhs}, {what}s at {lhs}"
            )

    for res in data.resources:
        users = [
            (starts[a.key], a.duration, a.demands[res.key], a.key)
            for a in data.activities
            if a.demands.get(res.key, 0) > 0 and a.duration > 0
        ]
        if not users:
            continue
        end = max(s + d for s, d, _, _ in users)
        load = [0] * end
        for s, d, r, _ in users:
            for t in range(s, s + d):
                load[t] += r
        steps = res.steps()
        for idx, (t0, cap) in enumerate(steps):
            t1 = steps[idx + 1][0] if idx + 1 < len(steps) else end
            for t in range(t0, min(t1, end)):
                if load[t] > cap:
                    who = sorted(k for s, d, _, k in users if s <= t < s + d)
                    problems.append(
                        f"resource '{res.key}' at time {t}: load {load[t]} > capacity {cap} ({', '.join(who)})"
                    )
    return problems
