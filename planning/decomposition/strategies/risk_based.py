"""Risk-based: the riskiest work first, de-risked by spikes and mitigations, with buffers before the gates.

Each task's risk is the sum of its risk tags' weights times (1 + the spread
of its estimate relative to its mean). Tasks above a threshold whose risk a
spike can reduce get a time-boxed spike right after the start, which the
task then waits for; the task's pessimistic estimate shrinks by half the
gap to its most likely one, since the spike has answered the open question.
Each risk tag in the plan (of weight 2 or more, or with a mitigation in the
domain file) gets one mitigation task right after the start, which every
task with that tag waits for. Each phase ends with a buffer
(root-sum-square of the pessimistic overrun along the phase's longest
chain) that its milestone waits for.
"""

from __future__ import annotations

import math
from dataclasses import replace

from planning.decomposition.context import Context
from planning.decomposition.domain import render
from planning.decomposition.vocabulary import RISK_TAGS, SPIKE_TAGS, risk_weight
from planning.decomposition.work import Draft, WorkItem, scaled, sinks_within
from planning.goal import Estimate

ORIGIN = "strategy:risk_based"
SPIKE_THRESHOLD = 3.0
SPIKE_SHARE = 0.2  # a spike is time-boxed to a fifth of the work it de-risks
MAX_SPIKE_SHARE = 0.15  # at most this share of the tasks get a spike
MIN_SPIKED_HOURS = 12.0  # smaller work is cheaper to just do than to spike
MIN_MITIGATED_WEIGHT = 2.0  # tags lighter than this are watched, not mitigated by a task
MITIGATION_ESTIMATE = Estimate(4.0, 8.0, 16.0)
NODE = "risk"


def risk_score(item: WorkItem) -> float:
    estimate = item.estimate
    spread = (estimate.pessimistic - estimate.optimistic) / estimate.pert_mean
    return sum(risk_weight(tag) for tag in item.risk_tags) * (1.0 + spread)


def build(ctx: Context) -> Draft:
    draft = ctx.base.copy()
    rank = ctx.domain.phase_rank
    sources = draft.sources()
    first_rank = min((rank[draft.items[key].phase] for key in sources), default=0)
    starts = [key for key in sources if rank[draft.items[key].phase] == first_rank]
    start_phase = ctx.domain.phases[first_rank].id
    draft.wbs[NODE] = ("Risk reduction: spikes, mitigations and buffers", None)
    scores = {key: risk_score(item) for key, item in draft.items.items()}
    ranked = sorted(scores, key=lambda key: (-scores[key], key))
    limit = max(1, math.ceil(MAX_SPIKE_SHARE * len(draft.items)))
    spiked = [
        key
        for key in ranked
        if scores[key] >= SPIKE_THRESHOLD
        and key not in starts
        and SPIKE_TAGS & set(draft.items[key].risk_tags)
        and draft.items[key].estimate.pert_mean >= MIN_SPIKED_HOURS
    ][:limit]
    for key in spiked:
        item = draft.items[key]
        spike = f"spike.{key}"
        draft.add(
            WorkItem(
                key=spike,
                name=f"Spike: de-risk {item.name}",
                phase=start_phase,
                estimate=_at_least_one_hour(scaled(item.estimate, SPIKE_SHARE)),
                resources=item.resources,
                success_criteria=(
                    f"Prototype or experiment answers the open questions of '{item.name}'",
                    "Findings and a go/adjust decision written down",
                ),
                risk_tags=(),
                origin=ORIGIN,
                description=f"Time-boxed early experiment for {', '.join(item.risk_tags)} risk.",
            ),
            NODE,
        )
        for begin in starts:
            draft.link(begin, spike)
        draft.link(spike, key)
        estimate = item.estimate
        narrowed = Estimate(
            estimate.optimistic,
            estimate.most_likely,
            estimate.most_likely + (estimate.pessimistic - estimate.most_likely) / 2,
        )
        draft.items[key] = replace(item, estimate=narrowed)

    tagged: dict[str, list[str]] = {}
    for key, item in draft.items.items():
        if key in starts:
            continue
        for tag in item.risk_tags:
            tagged.setdefault(tag, []).append(key)
    tagged = {
        tag: keys
        for tag, keys in tagged.items()
        if tag in ctx.domain.mitigations or risk_weight(tag) >= MIN_MITIGATED_WEIGHT
    }
    for tag in sorted(tagged, key=lambda t: (-risk_weight(t), t)):
        template = ctx.domain.mitigations.get(tag)
        values = {"goal": ctx.goal.title}
        key = f"mitigate.{tag}"
        draft.add(
            WorkItem(
                key=key,
                name=render(template.name, **values) if template else RISK_TAGS[tag][2],
                phase=start_phase,
                estimate=template.estimate if template else MITIGATION_ESTIMATE,
                resources=ctx.resources.map_units(template.resources if template else {_owner(ctx, tag): 1},
                                                  render(template.name, **values) if template else RISK_TAGS[tag][2],
                                                  (template.estimate if template else MITIGATION_ESTIMATE).most_likely),
                success_criteria=tuple(render(t, **values) for t in template.success_criteria)
                if template
                else (f"Mitigation for {tag.replace('_', ' ')} risk agreed with its owner and tracked",),
                risk_tags=(),
                origin=ORIGIN,
                description=f"Mitigates {tag} risk before the {len(tagged[tag])} task(s) carrying it start.",
            ),
            NODE,
        )
        for begin in starts:
            draft.link(begin, key)
        for succ in tagged[tag]:
            draft.link(key, succ)

    by_phase: dict[str, list[str]] = {}
    for key, item in draft.items.items():
        by_phase.setdefault(item.phase, []).append(key)
    buffers: dict[str, float] = {}
    for phase in ctx.domain.phases:
        keys = by_phase.get(phase.id)
        if not keys:
            continue
        hours = _buffer_hours(draft, keys)
        if hours < 1.0:
            continue
        key = f"buffer.{phase.id}"
        draft.add(
            WorkItem(
                key=key,
                name=f"Schedule buffer before the {phase.name} gate",
                phase=phase.id,
                estimate=Estimate(hours, hours, hours),
                resources={},
                success_criteria=(f"{phase.name} milestone met with buffer consumption tracked and under 100%",),
                risk_tags=(),
                origin=ORIGIN,
                description="Time, not work: absorbs overrun on the phase's longest chain (root-sum-square).",
            ),
            NODE,
        )
        for end in sinks_within(draft, keys):
            draft.link(end, key)
        draft.gates[phase.id] = key
        buffers[phase.id] = hours
    draft.notes["risk_based"] = {
        "top_risks": [{"task": key, "score": round(scores[key], 2)} for key in ranked[:10] if scores[key] > 0],
        "spikes": spiked,
        "mitigated_tags": sorted(tagged),
        "buffer_hours": buffers,
    }
    ctx.check_size(draft, "risk_based")
    return draft


def _owner(ctx: Context, tag: str) -> str:
    """Who mitigates a tag by default: the vocabulary's owner if the goal or domain has that type, else the reviewer."""
    owner = RISK_TAGS[tag][3]
    if owner in ctx.resources.goal_pools or owner in ctx.domain.resources:
        return owner
    return ctx.domain.review_resource


def _buffer_hours(draft: Draft, keys: list[str]) -> float:
    """Root-sum-square of (pessimistic - mean) along the longest chain of the phase's tasks."""
    group = set(keys)
    length: dict[str, float] = {}
    overrun: dict[str, float] = {}
    for key in draft.order():
        if key not in group:
            continue
        estimate = draft.items[key].estimate
        best = max((pred for pred in draft.preds[key] if pred in group), key=lambda p: length[p], default=None)
        length[key] = estimate.pert_mean + (length[best] if best else 0.0)
        overrun[key] = (estimate.pessimistic - estimate.pert_mean) ** 2 + (overrun[best] if best else 0.0)
    end = max(length, key=length.__getitem__)
    return round(math.sqrt(overrun[end]) * 2) / 2


def _at_least_one_hour(estimate: Estimate) -> Estimate:
    if estimate.optimistic >= 1:
        return estimate
    return Estimate(1.0, max(1.0, estimate.most_likely), max(1.0, estimate.pessimistic))
