"""Bag-of-words text matching: tokens, a light stemmer and TF-IDF cosine.

Pure Python on purpose: the corpora are tiny (a few domains, a few dozen task
templates per domain), so sparse dicts beat any dependency, and nothing is
downloaded.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    """a an and are as at be by for from has have in into is it its of on or our over that the their
    them then there these this those to too up via was we were will with within without all any each
    new make do done get our your you they it's can should must need needs using use one two three over
    about after before more most some such than very also just only other which who what when where how why not
    no so if but per""".split()
)
STOPWORDS = _STOPWORDS
_SUFFIXES = (
    "ations",
    "ation",
    "ments",
    "ment",
    "ates",
    "ated",
    "ate",
    "ings",
    "ing",
    "ies",
    "ied",
    "ers",
    "er",
    "ed",
    "es",
    "s",
    "ly",
)

Vector = dict[str, float]


def stem(word: str) -> str:
    """Strip one common English suffix; good enough to match 'migrating' with 'migration'."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            root = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return root + "y"
            return root
    return word


# Words that mean the same work in task names, folded onto one before stemming.
_SYNONYMS = {
    "build": "implement",
    "develop": "implement",
    "code": "implement",
    "program": "implement",
    "frontend": "ui",
    "front": "ui",
    "interface": "ui",
    "screens": "ui",
    "testing": "test",
    "tests": "test",
    "qa": "test",
    "docs": "documentation",
    "document": "documentation",
}


def tokens(text: str) -> list[str]:
    words = (_SYNONYMS.get(word, word) for word in _WORD.findall(text.lower()))
    return [stem(word) for word in words if word not in _STOPWORDS and len(word) > 1]


class TfIdf:
    """TF-IDF over a fixed corpus of named documents; `query` scores free text against each."""

    def __init__(self, documents: Mapping[str, Iterable[str]]):
        counts = {name: Counter(doc) for name, doc in documents.items()}
        total = len(counts)
        document_frequency: Counter[str] = Counter()
        for counter in counts.values():
            document_frequency.update(counter.keys())
        # Smoothed IDF: a term in every document still counts a little.
        self.idf = {term: math.log((1 + total) / (1 + df)) + 1.0 for term, df in document_frequency.items()}
        self._unseen = math.log(1 + total) + 1.0
        self.vectors = {name: self._weigh(counter) for name, counter in counts.items()}
        self._postings: dict[str, list[tuple[str, float]]] = {}
        for name, vector in self.vectors.items():
            for term, weight in vector.items():
                self._postings.setdefault(term, []).append((name, weight))

    def _weigh(self, counter: Mapping[str, int]) -> Vector:
        # A term no document has is as rare as can be: it weighs fully in the query's norm, so a
        # query sharing one word out of five does not look like a perfect match.
        vector = {term: (1.0 + math.log(count)) * self.idf.get(term, self._unseen) for term, count in counter.items()}
        norm = math.sqrt(sum(weight * weight for weight in vector.values()))
        return {term: weight / norm for term, weight in vector.items()} if norm else {}

    def query(self, words: Iterable[str]) -> dict[str, float]:
        """Cosine similarity of the words against every document (0.0 for no shared term)."""
        vector = self._weigh(Counter(words))
        scores = dict.fromkeys(self.vectors, 0.0)
        for term, weight in vector.items():
            for name, doc_weight in self._postings.get(term, ()):
                scores[name] += weight * doc_weight
        return scores
