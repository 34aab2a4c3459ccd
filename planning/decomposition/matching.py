"""Choosing the domain for a goal: the one it names, else the best TF-IDF match, else the fallback."""

from __future__ import annotations

from planning.decomposition.domain import Domain
from planning.decomposition.library import FALLBACK_DOMAIN, DomainLibrary
from planning.goal import Goal

MATCH_THRESHOLD = 0.08  # cosine below which no domain is trusted and the generic one is used
MIN_SHARED_TERMS = 2  # one shared word ("office", "data") is a coincidence, not a match


def goal_text(goal: Goal) -> str:
    parts = [goal.title, goal.description, " ".join(goal.components)]
    parts += [f"{task.name} {task.description}" for task in goal.tasks[:50]]
    return "\n".join(parts)


def choose_domain(goal: Goal, library: DomainLibrary) -> tuple[Domain, dict, list[str]]:
    """(domain, the note recorded on the plan, warnings). Raises PlanningError for an unknown named domain."""
    scores = library.match_scores(goal_text(goal))
    rounded = {domain_id: round(value, 4) for domain_id, value in scores.items()}
    if goal.domain is not None:
        domain = library.get(goal.domain)
        note = {
            "domain": domain.id,
            "method": "named by the goal",
            "score": rounded.get(domain.id),
            "scores": rounded,
            "threshold": MATCH_THRESHOLD,
        }
        return domain, note, []
    best, best_score = next(iter(scores.items()), (FALLBACK_DOMAIN, 0.0))
    shared = library.shared_terms(best, goal_text(goal)) if best != FALLBACK_DOMAIN else []
    note = {
        "method": "tf-idf match of title, description and components",
        "scores": rounded,
        "threshold": MATCH_THRESHOLD,
        "shared_terms": shared,
    }
    if best_score >= MATCH_THRESHOLD and len(shared) >= MIN_SHARED_TERMS:
        return library.get(best), {"domain": best, "score": round(best_score, 4), **note}, []
    warning = (
        f"no domain matches the goal well (best: {best} at {best_score:.2f} sharing {len(shared)} term(s); "
        f"needs {MATCH_THRESHOLD} and {MIN_SHARED_TERMS} terms); planned with the {FALLBACK_DOMAIN!r} domain"
    )
    return library.get(FALLBACK_DOMAIN), {"domain": FALLBACK_DOMAIN, "score": round(best_score, 4), **note}, [warning]
