"""Loading the domain library: built-in files plus a user directory, all validated before use."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from planning.decomposition.domain import Domain
from planning.decomposition.roles import ROLE_FILE_STEM, RoleVocabulary, parse_roles
from planning.decomposition.schema import DomainFileError, parse_domain
from planning.decomposition.text import TfIdf, tokens
from planning.errors import PlanningError

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "domains"
FALLBACK_DOMAIN = "generic"
DOMAIN_FILE_SUFFIXES = (".yaml", ".yml", ".toml")


class DomainLibrary:
    """The domains a worker can plan with, and the text matcher that picks one for a goal."""

    def __init__(self, domains: Mapping[str, Domain], overridden: Iterable[str] = (),
                 roles: RoleVocabulary | None = None):
        if FALLBACK_DOMAIN not in domains:
            raise PlanningError(f"the domain library has no {FALLBACK_DOMAIN!r} fallback domain", "domain")
        self.domains = dict(domains)
        self.roles = roles if roles is not None else load_roles()
        self.overridden = tuple(overridden)  # built-in ids a user file replaced
        self._matcher = TfIdf(
            {domain.id: domain.match_document() for domain in self.domains.values() if domain.id != FALLBACK_DOMAIN}
        )

    def __contains__(self, domain_id: object) -> bool:
        return domain_id in self.domains

    def __len__(self) -> int:
        return len(self.domains)

    @property
    def ids(self) -> list[str]:
        return sorted(self.domains)

    def get(self, domain_id: str) -> Domain:
        try:
            return self.domains[domain_id]
        except KeyError:
            raise PlanningError(
                f"unknown domain {domain_id!r}; known domains: {', '.join(self.ids)}", "domain"
            ) from None

    def shared_terms(self, domain_id: str, text: str) -> list[str]:
        """The (stemmed) words `text` has in common with a domain's description and keywords."""
        return sorted(set(tokens(text)) & set(self._matcher.vectors.get(domain_id, ())))

    def match_scores(self, text: str) -> dict[str, float]:
        """Cosine similarity of `text` with every domain but the fallback, best first."""
        scores = self._matcher.query(tokens(text))
        return dict(sorted(scores.items(), key=lambda item: (-item[1], item[0])))


def load_domain_library(extra_dir: str | Path | None = None) -> DomainLibrary:
    """Built-in `planning/domains/*` plus every domain file in `extra_dir`.

    A user file whose id matches a built-in domain replaces it (recorded in
    `library.overridden`). A `roles.yaml` there adds to the role vocabulary
    (`planning/domains/roles.yaml`). Any broken file raises `DomainFileError` naming the
    file, the path inside it and the problem; nothing is half-loaded.
    """
    domains = {domain.id: domain for domain in _load_dir(BUILTIN_DIR)}
    overridden: list[str] = []
    roles = load_roles()
    if extra_dir is not None:
        directory = Path(extra_dir)
        if not directory.is_dir():
            raise DomainFileError(str(directory), [("", "the configured domains directory does not exist")])
        for domain in _load_dir(directory):
            if domain.id in domains:
                overridden.append(domain.id)
            domains[domain.id] = domain
        roles = load_roles(directory, roles)
    return DomainLibrary(domains, overridden, roles)


def load_roles(directory: Path = BUILTIN_DIR, base: RoleVocabulary | None = None) -> RoleVocabulary:
    """The role file of `directory` (added to `base`), or `base` (empty without one) when it has none."""
    paths = [directory / f"{ROLE_FILE_STEM}{suffix}" for suffix in DOMAIN_FILE_SUFFIXES]
    found = [path for path in paths if path.is_file()]
    if len(found) > 1:
        raise DomainFileError(str(found[1]), [("", f"only one role file per directory; {found[0]} is another")])
    if not found:
        return base if base is not None else RoleVocabulary(names={})
    vocabulary = parse_roles(_read_data(found[0]), str(found[0]))
    return base.extended(vocabulary) if base is not None else vocabulary


def _domain_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir()
                  if p.suffix in DOMAIN_FILE_SUFFIXES and p.is_file() and p.stem != ROLE_FILE_STEM)


def _load_dir(directory: Path) -> list[Domain]:
    loaded: list[Domain] = []
    seen: dict[str, str] = {}
    for path in _domain_files(directory):
        domain = load_domain_file(path)
        if domain.id in seen:
            raise DomainFileError(str(path), [("id", f"domain id {domain.id!r} is also used by {seen[domain.id]}")])
        seen[domain.id] = str(path)
        loaded.append(domain)
    return loaded


def load_domain_file(path: str | Path) -> Domain:
    return parse_domain(_read_data(Path(path)), str(path))


def _read_data(path: Path):
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DomainFileError(source, [("", f"cannot read the file: {error}")]) from None
    if path.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise DomainFileError(source, [("", f"not valid TOML: {error}")]) from None
    else:
        try:
            data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise DomainFileError(source, [(where, f"not valid YAML: {error.problem}")]) from None
        except yaml.YAMLError as error:
            raise DomainFileError(source, [("", f"not valid YAML: {error}")]) from None
    return data


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    mapping: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
