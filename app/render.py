"""A plan as a person reads it: the text `layer2-planning plan` and `make run` print."""

from __future__ import annotations


def _day(iso: str | None) -> str:
    return iso.replace("T", " ")[:16] if iso else "-"


def render_plan(plan: dict, *, max_tasks: int = 60) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"Plan {plan.get('id', '')} v{plan.get('version', 1)}: {plan.get('title', '')}  [{plan.get('status', '')}]")
    if "tasks" not in plan:  # not planned (yet): the envelope only
        if plan.get("error"):
            add(f"  error: {plan['error']}")
        return "\n".join(lines)
    solver = plan.get("solver") or {}
    add(f"  domain {plan.get('domain')}, strategy {plan.get('strategy')}; starts {plan.get('project_start')}, "
        f"finishes {_day(plan.get('finish'))} ({plan.get('makespan_hours')} working hours)"
        + (f"; deadline {plan['deadline']}" if plan.get("deadline") else ""))
    add(f"  schedule: {solver.get('method')} {solver.get('status')}, lower bound {solver.get('lower_bound')}, "
        f"gap {solver.get('gap')}, {solver.get('seconds')} s")
    cost = plan.get("cost") or {}
    if cost:
        within = {True: "within budget", False: "OVER BUDGET", None: "no budget given"}[cost.get("within_budget")]
        budget = f" of {cost['budget']:,.2f}" if cost.get("budget") is not None else ""
        add(f"  cost: {cost.get('total', 0):,.2f} {cost.get('currency', '')}{budget} ({within})")
    risk = plan.get("schedule_risk")
    if risk:
        prob = risk.get("deadline_probability")
        add(f"  finish risk: P50 {_day(risk.get('p50_date'))}, P80 {_day(risk.get('p80_date'))}, "
            f"P95 {_day(risk.get('p95_date'))}" + (f"; P(meet deadline) {prob:.0%}" if prob is not None else ""))

    tasks = sorted(plan.get("tasks", []), key=lambda t: (t.get("start_hour", 0), t["id"]))
    add("")
    add(f"Tasks ({len(tasks)}; * = critical, float in working hours)")
    width = min(40, max((len(t["name"]) for t in tasks), default=10))
    add(f"    {'id':<14} {'name':<{width}} {'start':<16}  {'finish':<16}  float  resources")
    for task in tasks[:max_tasks]:
        mark = "*" if task.get("critical") else " "
        resources = ", ".join(f"{k}x{v}" for k, v in task.get("resources", {}).items()) or "-"
        add(f"  {mark} {task['id'][:14]:<14} {task['name'][:width]:<{width}} {_day(task.get('start')):<16}  "
            f"{_day(task.get('finish')):<16}  {task.get('total_float', 0):>5}  {resources}")
    if len(tasks) > max_tasks:
        add(f"    ... {len(tasks) - max_tasks} more (use --json for all)")
    add("")
    add("Critical path: " + " -> ".join(plan.get("critical_path", [])))
    if plan.get("phases"):
        add("")
        add("Phases")
        for phase in plan["phases"]:
            add(f"  {phase['name']:<30} {_day(phase.get('start'))} -> {_day(phase.get('finish'))}  "
                f"({len(phase.get('task_ids', []))} tasks)")
    if plan.get("milestones"):
        add("")
        add("Milestones")
        for milestone in plan["milestones"]:
            due = f"  due {milestone['due']}" if milestone.get("due") else ""
            late = {True: "  on time", False: "  LATE", None: ""}[milestone.get("on_time")]
            add(f"  {milestone['name']:<30} {_day(milestone.get('date'))}{due}{late}")
    risks = sorted(plan.get("risks", []), key=lambda r: r.get("rank", 0))
    add("")
    alerts = len(plan.get("risk_alerts", []))
    add(f"Top risks ({len(risks)} found, {alerts} at or above the alert thresholds)" if risks
        else "Top risks: none identified")
    for risk_item in risks[:5]:
        add(f"  [{risk_item.get('category')}] {risk_item.get('title')}  p={risk_item.get('probability')} "
            f"impact={risk_item.get('impact')} score={risk_item.get('score')}")
        for mitigation in (risk_item.get("mitigations") or [])[:2]:
            add(f"      mitigation: {mitigation.get('title')}: {mitigation.get('changes')}")
    recommendations = plan.get("recommendations") or []
    if recommendations:
        add("")
        add("Recommendations")
        for item in recommendations[:3]:
            add(f"  - {item.get('message')}")
    if plan.get("warnings"):
        add("")
        add("Warnings")
        for warning in plan["warnings"]:
            add(f"  - {warning}")
    return "\n".join(lines)
