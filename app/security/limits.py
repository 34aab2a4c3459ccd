"""Configurable ceilings below the schemas' own (API4): pools per goal and updates per feedback request.

The schemas hold the hard ceilings (200 pools, 500 updates: app/schemas.py, app/services/feedback.py);
LAYER2_MAX_POOLS_PER_GOAL and LAYER2_MAX_FEEDBACK_UPDATES may lower them for a deployment.
"""

from __future__ import annotations

from flask import current_app

from app.problems import ApiProblem


def check_goal_pools(goal: dict) -> None:
    """A goal with more resource pools than the configured ceiling: 422 naming `resources`."""
    limit = current_app.config["SECURITY"]["limits"]["pools_per_goal"]
    pools = goal.get("resources") or []
    if len(pools) > limit:
        raise ApiProblem(422, "invalid-goal", "The goal is not valid", f"{len(pools)} resource pools; at most {limit}",
                         [{"field": "resources", "message": f"at most {limit} resource pools per goal "
                                                            "(LAYER2_MAX_POOLS_PER_GOAL)"}])


def check_feedback_updates(body) -> None:
    """A feedback request with more updates than the configured ceiling: 413 naming `updates`."""
    limit = current_app.config["SECURITY"]["limits"]["feedback_updates"]
    updates = body.get("updates") if isinstance(body, dict) else None
    if isinstance(updates, list) and len(updates) > limit:
        raise ApiProblem(413, "feedback-too-large", "Too many updates",
                         f"{len(updates)} updates in one request; send at most {limit}",
                         [{"field": "updates", "message": f"at most {limit} updates per request "
                                                          "(LAYER2_MAX_FEEDBACK_UPDATES)"}])
