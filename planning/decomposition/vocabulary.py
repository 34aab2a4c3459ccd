"""The shared vocabularies: resource types and risk tags.

Domain files, explicit tasks and the risk assessor all speak these words, so
they live in one place. Resource types are open (a user domain may add its
own); risk tags are closed, because the risk assessor keys its rules off them
and a misspelt tag would silently escape every rule.
"""

from __future__ import annotations

# type -> (what it means, closest substitutes in order of preference)
RESOURCE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "engineer": ("software engineers: backend, frontend, full-stack", ("data_engineer", "ml_engineer", "ops", "qa")),
    "designer": ("UX, UI and visual designers", ("engineer", "marketer", "writer")),
    "qa": ("test and quality engineers", ("engineer", "analyst")),
    "ops": ("SRE, DevOps, infrastructure and network engineers", ("engineer", "data_engineer", "security")),
    "security": ("security engineers and reviewers", ("ops", "engineer"), "security"),
    "data_engineer": (
        "data and platform engineers: pipelines, warehouses, migrations",
        ("engineer", "ml_engineer", "analyst", "ops"),
    ),
    "ml_engineer": ("ML engineers and data scientists", ("data_engineer", "engineer", "researcher", "analyst")),
    "researcher": ("researchers: study design, fieldwork, analysis", ("analyst", "ml_engineer", "product_manager")),
    "analyst": ("business and data analysts", ("researcher", "data_engineer", "product_manager")),
    "marketer": ("marketing: campaigns, content, channels", ("writer", "product_manager", "designer")),
    "writer": ("technical and content writers", ("marketer", "product_manager", "researcher")),
    "product_manager": ("product and project managers, owners of gate reviews", ("analyst", "marketer", "engineer")),
    "legal": ("legal, compliance and privacy counsel", ("product_manager", "analyst")),
}

# tag -> (what it means, weight for risk-based ordering, default mitigation task, who does it)
RISK_TAGS: dict[str, tuple[str, float, str, str]] = {
    "new_technology": (
        "technology the team has not shipped before",
        3.0,
        "Technology evaluation and fallback option",
        "engineer",
    ),
    "external_dependency": (
        "work waits on another team, vendor or approval outside the plan",
        2.0,
        "Confirm external commitments and dates",
        "product_manager",
    ),
    "integration": (
        "joins parts built separately; interfaces may disagree",
        2.0,
        "Agree interface contracts and integration test plan",
        "engineer",
    ),
    "compliance": (
        "regulatory or policy obligations must be met and evidenced",
        2.0,
        "Compliance requirements review",
        "legal",
    ),
    "security": (
        "exposes or protects sensitive systems or data",
        2.0,
        "Threat model and security test plan",
        "security",
    ),
    "third_party": (
        "relies on a vendor product, API or service",
        2.0,
        "Vendor due diligence and exit plan",
        "product_manager",
    ),
    "cross_layer": (
        "touches several layers or teams at once",
        2.0,
        "Cross-team interface and ownership review",
        "engineer",
    ),
    "data_migration": (
        "moves or transforms production data",
        3.0,
        "Backup, rollback and reconciliation plan",
        "data_engineer",
    ),
    "performance": (
        "must meet latency, throughput or scale targets",
        2.0,
        "Performance budget and load model",
        "engineer",
    ),
    "data_quality": (
        "results depend on data whose quality is unknown",
        2.0,
        "Data profiling and quality gates",
        "data_engineer",
    ),
    "model_quality": (
        "an ML model must reach a quality bar not yet shown",
        2.5,
        "Baseline and evaluation protocol",
        "ml_engineer",
    ),
    "procurement": (
        "hardware, licences or services must be bought and delivered",
        2.0,
        "Place long-lead orders and track delivery",
        "product_manager",
    ),
    "stakeholder_approval": (
        "needs a sign-off that may be late or refused",
        1.0,
        "Approval plan with named approvers and dates",
        "product_manager",
    ),
    "irreversible": (
        "hard to undo once done (cutover, launch, data deletion)",
        2.0,
        "Rollback plan and go/no-go checklist",
        "ops",
    ),
    "scope_uncertainty": ("what is wanted is not yet clear", 1.5, "Scope clarification workshop", "product_manager"),
}

# Tags whose risk a time-boxed spike or prototype can actually reduce.
SPIKE_TAGS = frozenset(
    {
        "new_technology",
        "integration",
        "third_party",
        "external_dependency",
        "data_migration",
        "performance",
        "model_quality",
        "cross_layer",
        "data_quality",
    }
)


def substitutes(resource_type: str) -> tuple[str, ...]:
    """Closest other types, best first; empty for a type outside the vocabulary."""
    entry = RESOURCE_TYPES.get(resource_type)
    return entry[1] if entry else ()


def risk_weight(tag: str) -> float:
    return RISK_TAGS[tag][1] if tag in RISK_TAGS else 1.0
