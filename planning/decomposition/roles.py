"""The role vocabulary: which of a goal's pools (named in the goal's own words) fit a domain's resource type.

Domain files speak of roles (`engineer`, `qa`, `ops`...); goals name their pools as their teams do
(`ios_developer`, `tester`, `sre`). The vocabulary (planning/domains/roles.yaml, plus a `roles.yaml`
in the deployment's domains directory) gives each role its synonyms. A pool fits the role one of
whose names it contains word for word (after stemming); when several roles fit, the one covering
more of the pool's specific words wins, then the one naming the pool's last word (its head noun).
Parsing raises `DomainFileError` naming the file and the path inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from planning.decomposition.schema import DomainFileError
from planning.decomposition.text import STOPWORDS, stem
from planning.decomposition.vocabulary import substitutes as builtin_substitutes

ROLE_FILE_STEM = "roles"  # roles.yaml / roles.yml / roles.toml beside the domain files
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")

Phrase = frozenset[str]


def words(text: str) -> list[str]:
    """Lower-case stemmed words of a pool name or a phrase: `QA_Engineers` -> ['qa', 'engine']."""
    return [stem(word) for word in _WORD.findall(_CAMEL.sub(" ", text).lower())]


def joined_words(text: str) -> set[str]:
    """Two neighbouring words written as one, stemmed: `InfoSec` and `info sec` also read as `infosec`."""
    raw = _WORD.findall(_CAMEL.sub(" ", text).lower())
    return {stem(first + second) for first, second in zip(raw, raw[1:], strict=False)}


def task_words(text: str) -> set[str]:
    """A task's name and description as stemmed words, without stop words."""
    return {stem(word) for word in _WORD.findall(text.lower()) if word not in STOPWORDS}


@dataclass(frozen=True)
class RoleFit:
    """How well pool `pool` fits `role`: specific words covered, all words covered, head noun covered."""

    role: str
    pool: str
    specific: int
    covered: int
    names_head: bool
    via: str  # the role name (id or synonym) that matched best

    @property
    def rank(self) -> tuple[int, int, bool]:
        return self.specific, self.covered, self.names_head


@dataclass(frozen=True)
class RoleVocabulary:
    """Roles with their names (id and synonyms), generic head nouns, substitutes and word families."""

    names: Mapping[str, tuple[str, ...]]  # role -> its id and synonyms, as written
    heads: frozenset[str] = frozenset()  # stemmed
    role_substitutes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    families: tuple[tuple[str, ...], ...] = ()
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        phrases = {role: tuple((name, frozenset(words(name))) for name in names) for role, names in self.names.items()}
        object.__setattr__(self, "_phrases", phrases)
        family_phrases = tuple(tuple(frozenset(words(member)) for member in family) for family in self.families)
        object.__setattr__(self, "_families", family_phrases)

    @property
    def roles(self) -> list[str]:
        return sorted(self.names)

    def substitutes(self, role: str) -> tuple[str, ...]:
        """Closest other roles, best first: the vocabulary file's, else the built-in ones."""
        return tuple(self.role_substitutes.get(role) or builtin_substitutes(role))

    def fit(self, role: str, pool: str) -> RoleFit | None:
        """How `pool` fits `role`, or None when no name of the role is wholly among the pool's words."""
        pool_words = words(pool)
        have = set(pool_words) | joined_words(pool)
        covered: set[str] = set()
        via, via_size = "", 0
        for name, phrase in self._phrases.get(role, ()):  # type: ignore[attr-defined]
            if phrase and phrase <= have:
                covered |= phrase
                if len(phrase) > via_size:
                    via, via_size = name, len(phrase)
        if not covered:
            return None
        specific = len(covered - self.heads)
        return RoleFit(role, pool, specific, len(covered), pool_words[-1] in covered, via)

    def role_of(self, pool: str) -> RoleFit | None:
        """The role `pool` fits best (a pool named exactly as a role is that role), or None."""
        if pool in self.names:
            return RoleFit(pool, pool, 99, 99, True, pool)
        fits = [fit for role in self.names if (fit := self.fit(role, pool)) is not None]
        if not fits:
            return None
        return max(fits, key=lambda fit: (fit.rank, fit.role))

    def features(self, found: Iterable[str]) -> set[str]:
        """Words plus the families they name (`family:N`), for telling pools of one role apart by a task's words."""
        have = set(found)
        out = set(have)
        for index, family in enumerate(self._families):  # type: ignore[attr-defined]
            if any(phrase and phrase <= have for phrase in family):
                out.add(f"family:{index}")
        return out

    def extended(self, other: RoleVocabulary) -> RoleVocabulary:
        """This vocabulary with `other`'s synonyms, heads, substitutes and families added (a deployment's file)."""
        names = {role: tuple(dict.fromkeys(self.names.get(role, ()) + other.names.get(role, ())))
                 for role in self.names.keys() | other.names.keys()}
        return RoleVocabulary(
            names=names,
            heads=self.heads | other.heads,
            role_substitutes={**self.role_substitutes, **other.role_substitutes},
            families=self.families + other.families,
            sources=self.sources + other.sources,
        )


ROLE_KEYS = {"heads", "roles", "families"}
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_roles(data: Any, source: str) -> RoleVocabulary:
    """A role file's data as a vocabulary; every problem is reported at once, by its path in the file."""
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise DomainFileError(source, [("", "a role file must hold a mapping with `roles`")])
    for key in sorted(set(data) - ROLE_KEYS):
        problems.append((key, f"unknown key; expected one of {', '.join(sorted(ROLE_KEYS))}"))
    names: dict[str, tuple[str, ...]] = {}
    role_substitutes: dict[str, tuple[str, ...]] = {}
    roles = data.get("roles") or {}
    if not isinstance(roles, dict):
        problems.append(("roles", "must be a mapping of role -> {synonyms, substitutes}"))
        roles = {}
    for role, entry in roles.items():
        where = f"roles.{role}"
        if not isinstance(role, str) or not IDENTIFIER.match(role):
            problems.append((where, "a role id is lower_snake_case, like the domain files' resource types"))
            continue
        entry = entry or {}
        if not isinstance(entry, dict) or set(entry) - {"synonyms", "substitutes"}:
            problems.append((where, "expected a mapping with `synonyms` and optionally `substitutes`"))
            continue
        synonyms = _strings(entry.get("synonyms") or [], f"{where}.synonyms", problems)
        names[role] = (role.replace("_", " "), *synonyms)
        if "substitutes" in entry:
            role_substitutes[role] = tuple(_strings(entry["substitutes"], f"{where}.substitutes", problems))
    heads = _strings(data.get("heads") or [], "heads", problems)
    families = []
    for index, family in enumerate(data.get("families") or []):
        families.append(tuple(_strings(family, f"families[{index}]", problems)))
    if problems:
        raise DomainFileError(source, problems)
    return RoleVocabulary(names=names, heads=frozenset(word for head in heads for word in words(head)),
                          role_substitutes=role_substitutes, families=tuple(families), sources=(source,))


def _strings(value: Any, where: str, problems: list[tuple[str, str]]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and words(item) for item in value):
        problems.append((where, "must be a list of words or phrases"))
        return []
    return list(value)
