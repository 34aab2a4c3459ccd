"""A risk, its score, its rank and its history.

Score is ``probability × IMPACT_SCALE[impact]``: probability is 0–1 and the impact
levels map to 1–4, so a score lies in 0–4. Ranking sorts by score, then impact,
then probability, then id, so equal inputs always give the same order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from planning.errors import PlanningError
from planning.settings import IMPACT_LEVELS, PlanningSettings

#: Numeric value of each impact level; a linear ordinal scale (documented in docs/risk.md).
IMPACT_SCALE: dict[str, int] = {"Low": 1, "Medium": 2, "High": 3, "Critical": 4}
CATEGORIES = ("technical", "resource", "timeline", "integration", "external")
STATUSES = ("open", "mitigated", "closed", "realized")
#: Who owns a risk unless someone assigns it: a role per category.
DEFAULT_OWNERS: dict[str, str] = {
    "technical": "technical_lead",
    "resource": "resource_manager",
    "timeline": "project_manager",
    "integration": "integration_lead",
    "external": "compliance_officer",
}

assert tuple(IMPACT_SCALE) == IMPACT_LEVELS  # one vocabulary with the settings


def score(probability: float, impact: str) -> float:
    """Probability times the numeric impact, rounded so stored rows compare equal."""
    return round(probability * IMPACT_SCALE[impact], 4)


def risk_id(rule: str, subject: str) -> str:
    """Stable id: the rule plus a short digest of what it is about (task ids, resource)."""
    digest = hashlib.sha256(f"{rule}|{subject}".encode()).hexdigest()[:8]
    return f"R-{rule}-{digest}"


@dataclass(frozen=True)
class Recommendation:
    """A mitigation from the catalogue, with what applying it would change for this risk."""

    key: str
    title: str
    changes: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "changes": self.changes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recommendation:
        return cls(key=data["key"], title=data["title"], changes=data["changes"])


@dataclass(frozen=True)
class ScoreChange:
    """One entry of a risk's history: the values after the change, who made it and why."""

    probability: float
    impact: str
    score: float
    status: str
    who: str
    why: str
    at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": self.probability,
            "impact": self.impact,
            "score": self.score,
            "status": self.status,
            "who": self.who,
            "why": self.why,
            "at": self.at.isoformat() if self.at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreChange:
        at = data.get("at")
        return cls(
            probability=float(data["probability"]),
            impact=data["impact"],
            score=float(data["score"]),
            status=data["status"],
            who=data["who"],
            why=data["why"],
            at=datetime.fromisoformat(at) if isinstance(at, str) else at,
        )


@dataclass(frozen=True)
class Risk:
    """One identified risk. Immutable: changes return a new Risk with a history entry."""

    id: str
    rule: str
    category: str
    title: str
    description: str
    probability: float
    impact: str
    affected_tasks: tuple[str, ...] = ()
    mitigations: tuple[Recommendation, ...] = ()
    owner: str | None = None
    status: str = "open"
    rank: int | None = None
    history: tuple[ScoreChange, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_probability(self.probability, "probability")
        check_impact(self.impact, "impact")
        if self.category not in CATEGORIES:
            raise PlanningError(f"unknown risk category {self.category!r}", "category")
        if self.status not in STATUSES:
            raise PlanningError(f"status must be one of {', '.join(STATUSES)}", "status")

    @property
    def score(self) -> float:
        return score(self.probability, self.impact)

    @property
    def impact_value(self) -> int:
        return IMPACT_SCALE[self.impact]

    def is_alert(self, settings: PlanningSettings) -> bool:
        """At or above both thresholds, and not closed."""
        return (
            self.status != "closed"
            and self.probability >= settings.risk_threshold_probability
            and self.impact_value >= IMPACT_SCALE[settings.risk_threshold_impact]
        )

    def changed(self, *, probability: float, impact: str, status: str, who: str, why: str,
                at: datetime | None) -> Risk:
        """A copy with new values and one more history entry."""
        entry = ScoreChange(probability, impact, score(probability, impact), status, who, why, at)
        return replace(self, probability=probability, impact=impact, status=status,
                       history=(*self.history, entry))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "category": self.category,
            "title": self.title,
            "description": self.description,
            "affected_tasks": list(self.affected_tasks),
            "probability": self.probability,
            "impact": self.impact,
            "impact_value": self.impact_value,
            "score": self.score,
            "rank": self.rank,
            "mitigations": [m.to_dict() for m in self.mitigations],
            "owner": self.owner,
            "status": self.status,
            "history": [h.to_dict() for h in self.history],
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Risk:
        return cls(
            id=data["id"],
            rule=data["rule"],
            category=data["category"],
            title=data["title"],
            description=data.get("description", ""),
            probability=float(data["probability"]),
            impact=data["impact"],
            affected_tasks=tuple(data.get("affected_tasks") or ()),
            mitigations=tuple(Recommendation.from_dict(m) for m in data.get("mitigations") or ()),
            owner=data.get("owner"),
            status=data.get("status", "open"),
            rank=data.get("rank"),
            history=tuple(ScoreChange.from_dict(h) for h in data.get("history") or ()),
            evidence=dict(data.get("evidence") or {}),
        )


def check_probability(value: float, field_name: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise PlanningError("probability must be a number between 0 and 1", field_name)


def check_impact(value: str, field_name: str) -> None:
    if value not in IMPACT_SCALE:
        raise PlanningError(f"impact must be one of {', '.join(IMPACT_SCALE)}", field_name)


def rank_risks(risks: list[Risk]) -> list[Risk]:
    """Sort by score, impact, probability (all descending), then id; number the ranks from 1."""
    ordered = sorted(risks, key=lambda r: (-r.score, -r.impact_value, -r.probability, r.id))
    return [replace(risk, rank=position) for position, risk in enumerate(ordered, start=1)]


def mitigate(risk: Risk, *, who: str, why: str, new_probability: float, new_impact: str,
             at: datetime) -> Risk:
    """Record a mitigation: new probability and impact, status `mitigated`, one history entry.

    Raises PlanningError (a ValueError) naming the bad field, for the API to answer 422.
    """
    if not who or not who.strip():
        raise PlanningError("who must not be blank", "who")
    if not why or not why.strip():
        raise PlanningError("why must not be blank", "why")
    check_probability(new_probability, "new_probability")
    check_impact(new_impact, "new_impact")
    if risk.status == "closed":
        raise PlanningError("a closed risk cannot be mitigated", "status")
    return risk.changed(probability=float(new_probability), impact=new_impact, status="mitigated",
                        who=who.strip(), why=why.strip(), at=at)
