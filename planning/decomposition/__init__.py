"""Goal decomposition: a domain knowledge library (HTN methods in data files) and six strategies.

    library = load_domain_library(extra_dir=settings.domains_dir)
    network = decompose(goal, settings, library)

See docs/decomposition.md for the strategies, the domain file format and the
resource and risk-tag vocabularies.
"""

from planning.decomposition.decompose import decompose
from planning.decomposition.library import DomainLibrary, load_domain_file, load_domain_library
from planning.decomposition.schema import DomainFileError
from planning.decomposition.vocabulary import RESOURCE_TYPES, RISK_TAGS

__all__ = [
    "RESOURCE_TYPES",
    "RISK_TAGS",
    "DomainFileError",
    "DomainLibrary",
    "decompose",
    "load_domain_file",
    "load_domain_library",
]
