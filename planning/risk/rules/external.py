"""External risks: security, compliance and third-party dependencies."""

from __future__ import annotations

from planning.risk.context import RiskContext
from planning.risk.rules.finding import Finding, tag_finding


def security_exposure(ctx: RiskContext) -> list[Finding]:
    """Work tagged `security`.

    Why: security work is judged by reviewers and attackers outside the team, and findings
    come late and force rework. Probability 0.4 (0.6 when critical); impact High.
    """
    return tag_finding(
        ctx, rule="security_exposure", category="external", tags=("security",),
        title="Security-sensitive work",
        why="Tasks handle authentication, secrets or other security-sensitive surfaces.",
        base_probability=0.4, impacts=("High", "High"), mitigations=("expert_review", "add_buffer"),
    )


def compliance_obligations(ctx: RiskContext) -> list[Finding]:
    """Work tagged `compliance`.

    Why: a regulator's or auditor's sign-off is outside the plan's control and a failed one
    blocks release. Probability 0.4 (0.6 when critical); impact High.
    """
    return tag_finding(
        ctx, rule="compliance_obligations", category="external", tags=("compliance",),
        title="Compliance obligations",
        why="Tasks must satisfy a regulation, an audit or a certification.",
        base_probability=0.4, impacts=("High", "High"), mitigations=("expert_review", "add_buffer"),
    )


def third_party_dependency(ctx: RiskContext) -> list[Finding]:
    """Work tagged `third_party`: a vendor, supplier, contractor or licence.

    Why: delivery dates and quality are the supplier's, not the plan's. Probability 0.5
    (0.7 when critical); impact High when critical, else Medium.
    """
    return tag_finding(
        ctx, rule="third_party_dependency", category="external", tags=("third_party",),
        title="Third-party dependency",
        why="Tasks depend on a vendor, supplier, contractor or licence.",
        base_probability=0.5, impacts=("Medium", "High"), mitigations=("fallback_supplier", "add_buffer"),
    )


def procurement_lead_time(ctx: RiskContext) -> list[Finding]:
    """Work tagged `procurement`: hardware, licences or services must be bought and delivered.

    Why: purchase approval and delivery run on the supplier's and the buyer's clocks, not the
    plan's. Probability 0.5 (0.7 when critical); impact High when critical, else Medium.
    """
    return tag_finding(
        ctx, rule="procurement_lead_time", category="external", tags=("procurement",),
        title="Procurement lead time",
        why="Tasks wait for something to be bought and delivered.",
        base_probability=0.5, impacts=("Medium", "High"), mitigations=("fallback_supplier", "add_buffer"),
    )


def pending_approvals(ctx: RiskContext) -> list[Finding]:
    """Work tagged `stakeholder_approval`: a sign-off that may come late or not at all.

    Why: approvers have their own calendars and may refuse. Probability 0.4 (0.6 when
    critical); impact High when critical, else Medium.
    """
    return tag_finding(
        ctx, rule="pending_approvals", category="external", tags=("stakeholder_approval",),
        title="Pending approvals",
        why="Tasks need a stakeholder's sign-off.",
        base_probability=0.4, impacts=("Medium", "High"), mitigations=("early_signoff", "add_buffer"),
    )
