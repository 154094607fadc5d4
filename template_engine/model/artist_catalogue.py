"""What writing takes from an artist's corpus, learned once: the copy guard's catalogue (every phrase
pattern with the songs it is in, and the artist's self-borrowing), the lines a phrase must not lift
whole, and the habits the sampler keeps to (``Habits``).

Learning them reads every note of the corpus, about a second for twelve songs at every render, so a
render keeps them in the model folder (``model/.catalogue.json``), valid while the corpus files, the
tokenizer and the code that learns them are unchanged. Where the folder cannot be written (a
read-only bundle) they are learned each time."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import project_ingest.form
import project_ingest.score
import sample_library.roles
from project_ingest.corpus import corpus_signature, write_cache
from project_ingest.score import Score
from template_engine.model.copy_guard import catalogue, line_catalogue
from template_engine.model.role_habits import Habits
from template_engine.model.tokens import ArtistTokenizer

CACHE = ".catalogue.json"


@dataclass
class ArtistCatalogue:
    """``table``: (role, pattern) -> titles of the songs it is in; ``self_borrow``: the share of the
    artist's role-phrases found in another of their songs; ``lines``: every (role, pattern) of a
    pitched track over a phrase, from every bar; ``habits``: what each role may write."""

    table: dict[tuple, set[str]]
    self_borrow: float
    lines: set[tuple]
    habits: Habits

    @classmethod
    def learn(cls, tok: ArtistTokenizer, corpus: list[tuple[str, Score]]) -> ArtistCatalogue:
        table, self_borrow = catalogue(corpus)
        return cls(table, self_borrow, line_catalogue(corpus), Habits.learn(tok, [s for _, s in corpus]))

    @classmethod
    def of_bundle(cls, bundle_dir: Path, tok: ArtistTokenizer, corpus: list[tuple[str, Score]]) -> ArtistCatalogue:
        """The catalogue of the bundle at ``bundle_dir`` (whose ``corpus`` is loaded), kept in its
        model folder where it was learned from these corpus files, tokenizer and code."""
        path = Path(bundle_dir, "model", CACHE)
        key = cache_key(Path(bundle_dir))
        try:
            kept = json.loads(path.read_text())
            if kept.get("key") == key:
                return cls.from_dict(tok, kept)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        learned = cls.learn(tok, corpus)
        write_cache(path, {"key": key, **learned.to_dict()})
        return learned

    def to_dict(self) -> dict:
        return {"table": [[role, pattern, sorted(titles)] for (role, pattern), titles in self.table.items()],
                "self_borrow": self.self_borrow, "lines": [[role, pattern] for role, pattern in self.lines],
                "habits": self.habits.to_dict()}

    @classmethod
    def from_dict(cls, tok: ArtistTokenizer, d: dict) -> ArtistCatalogue:
        return cls({(role, _pattern(p)): set(titles) for role, p, titles in d["table"]}, float(d["self_borrow"]),
                   {(role, _pattern(p)) for role, p in d["lines"]}, Habits.from_dict(tok, d["habits"]))


def _pattern(notes: list[list[int]]) -> tuple:
    return tuple(tuple(n) for n in notes)


def cache_key(bundle_dir: Path) -> str:
    """sha256 (hex) of what the catalogue depends on: the corpus files' names, sizes and times, the
    tokenizer's file and the source of the modules that learn it (this package's, the score's, the
    form's and the roles')."""
    h = hashlib.sha256(json.dumps(corpus_signature(bundle_dir)).encode())
    h.update(Path(bundle_dir, "model", "tokenizer.json").read_bytes())
    modules = (project_ingest.score, project_ingest.form, sample_library.roles)
    for source in [*sorted(Path(__file__).parent.glob("*.py")), *(Path(str(m.__file__)) for m in modules)]:
        h.update(source.read_bytes())
    return h.hexdigest()

