"""In a mixed goal: which domain task (if any) an explicit task is the same work as.

The rule (docs/decomposition.md, "Mixed goals", with its table of cases), for an explicit task E
and a domain task D as expanded for its component:

1. **alias**: every word of D's name, or of one of its template's `aliases` (rendered for D's
   component), is among the words of E's name. Words are `text.tokens`: stemmed, stop words
   dropped, synonyms folded (build = develop = implement, testing = qa = test, screens = ui...).
2. **similarity**: otherwise, the TF-IDF cosine of E (name and description) with D (name,
   description and aliases), over the domain tasks of this goal, is at least
   `REPLACE_THRESHOLD`.

Either way, when D's template has a copy in several components, E must name at least half the
words of D's component (else it is not clear which copy E means), unless the template is
`shared` (one pipeline for all components): E then takes over every copy, or the one of the
component it names. The best match is taken first
(an alias over a similarity, a longer alias over a shorter one), and each domain task is taken
over at most once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from planning.decomposition.domain import Domain, render
from planning.decomposition.text import TfIdf, tokens
from planning.decomposition.work import Draft
from planning.goal import Goal, GoalTask

REPLACE_THRESHOLD = 0.5  # cosine at or above which an explicit task is the domain task it matches


@dataclass(frozen=True)
class TakeOver:
    """Explicit task `task_id` is the same work as the domain tasks `keys` (all from `template`)."""

    task_id: str
    template: str
    keys: tuple[str, ...]
    by: str  # "alias '<alias>'", "name" or "similarity"
    score: float

    def note(self) -> dict:
        return {"template": self.template, "domain_tasks": list(self.keys), "by": self.by,
                "score": round(self.score, 3)}


def find_take_overs(goal: Goal, domain: Domain, draft: Draft, components: Mapping[str, str]) -> dict[str, TakeOver]:
    """For each explicit task that is the same work as a domain task of `draft`, what it takes over."""
    items = {key: item for key, item in draft.items.items() if item.template and not item.explicit}
    if not items or not goal.tasks:
        return {}
    names: dict[str, list[tuple[str, frozenset[str]]]] = {}
    documents = {}
    for key, item in items.items():
        template = domain.templates.get(item.template)
        values = {"goal": goal.title, "component": components.get(item.component or "", goal.title)}
        aliases = [render(alias, **values) for alias in (template.aliases if template else ())]
        names[key] = [("name", frozenset(tokens(item.name)))] + [(f"alias {alias!r}", frozenset(tokens(alias)))
                                                                 for alias in aliases]
        documents[key] = tokens(" ".join([item.name, item.description, *aliases]))
    index = TfIdf(documents)
    copies: dict[str, list[str]] = {}
    for key, item in items.items():
        copies.setdefault(item.template or "", []).append(key)

    candidates = []
    for order, task in enumerate(goal.tasks):
        words = set(tokens(task.name))
        scores = index.query(tokens(f"{task.name} {task.description}"))
        for key, item in items.items():
            hits = [(len(found), how) for how, found in names[key] if found and found <= words]
            if hits:
                size, how = max(hits)
                rank = (1, size, scores[key])
            elif scores[key] >= REPLACE_THRESHOLD:
                how, rank = "similarity", (0, 0, scores[key])
            else:
                continue
            template = domain.templates.get(item.template or "")
            several = len(copies[item.template or ""]) > 1
            if several and not (template and template.shared) and not _names_component(item.component, components,
                                                                                         words):
                continue  # which component's copy is meant is not clear
            candidates.append((rank, -order, task, key, how))

    taken: set[str] = set()
    out: dict[str, TakeOver] = {}
    for rank, _, task, key, how in sorted(candidates, key=lambda c: (c[0], c[1]), reverse=True):
        if task.id in out or key in taken:
            continue
        keys = _copies_meant(task, items, key, copies, components, taken)
        taken.update(keys)
        out[task.id] = TakeOver(task.id, items[key].template or "", tuple(keys), how, rank[2])
    return out


def _copies_meant(task: GoalTask, items: Mapping, key: str, copies: Mapping[str, list[str]],
                  components: Mapping[str, str], taken: set[str]) -> list[str]:
    """`key`; for a shared template, the copy of the component the task names, else every copy."""
    item = items[key]
    siblings = [k for k in copies.get(item.template or "", ()) if k not in taken]
    if len(siblings) < 2:
        return [key]
    words = set(tokens(task.name))
    named = [k for k in siblings if items[k].component and _names_component(items[k].component, components, words)]
    return named[:1] if len(named) == 1 else sorted(siblings) if not named else [key]


def _names_component(component: str | None, components: Mapping[str, str], words: set[str]) -> bool:
    """Goal-level work always fits; a component's copy fits when the task names at least half its name."""
    if component is None:
        return True
    needed = set(tokens(components[component]))
    return 2 * len(needed & words) >= len(needed)
