"""The artist's catalogue and habits are learned once and kept in the model folder: what a render
reads back is what it would have learned, and a changed corpus, a damaged file or a folder that
refuses the file make it learn them again."""

import json
import os
import shutil

import numpy as np
import pytest

from project_ingest.corpus import load_corpus
from template_engine.model.artist_catalogue import CACHE, ArtistCatalogue
from template_engine.model.tokens import ArtistTokenizer


@pytest.fixture
def bundle_copy(trained_bundle, tmp_path):
    """The corpus and tokenizer of the tiny trained bundle, in a folder of the test's own."""
    shutil.copytree(trained_bundle.path / "corpus", tmp_path / "corpus")
    (tmp_path / "model").mkdir()
    shutil.copy(trained_bundle.model_dir / "tokenizer.json", tmp_path / "model")
    return tmp_path


def _same(a: ArtistCatalogue, b: ArtistCatalogue) -> bool:
    ha, hb = a.habits, b.habits
    return (a.table == b.table and a.lines == b.lines and a.self_borrow == b.self_borrow
            and np.array_equal(ha.role_tokens, hb.role_tokens) and ha.section_tokens.keys() == hb.section_tokens.keys()
            and all(np.array_equal(ha.section_tokens[k], hb.section_tokens[k]) for k in ha.section_tokens)
            and ha.chord_roles == hb.chord_roles and np.array_equal(ha.spans, hb.spans)
            and np.array_equal(ha.pitch_range, hb.pitch_range))


def _learning_counted(monkeypatch) -> list[int]:
    calls = []
    learn = ArtistCatalogue.learn.__func__

    def counted(cls, tok, corpus):
        calls.append(1)
        return learn(cls, tok, corpus)

    monkeypatch.setattr(ArtistCatalogue, "learn", classmethod(counted))
    return calls


def test_the_kept_catalogue_is_the_learned_one_and_is_read_back(bundle_copy, monkeypatch):
    tok = ArtistTokenizer.load(bundle_copy / "model")
    corpus = load_corpus(bundle_copy)
    fresh = ArtistCatalogue.learn(tok, corpus)
    assert fresh.table and fresh.lines and fresh.habits.role_tokens.any()
    calls = _learning_counted(monkeypatch)
    first = ArtistCatalogue.of_bundle(bundle_copy, tok, corpus)
    again = ArtistCatalogue.of_bundle(bundle_copy, tok, corpus)
    assert (bundle_copy / "model" / CACHE).is_file()
    assert len(calls) == 1
    assert _same(first, fresh) and _same(again, fresh)


def test_a_changed_corpus_file_is_learned_again(bundle_copy, monkeypatch):
    tok = ArtistTokenizer.load(bundle_copy / "model")
    corpus = load_corpus(bundle_copy)
    calls = _learning_counted(monkeypatch)
    ArtistCatalogue.of_bundle(bundle_copy, tok, corpus)
    song = sorted((bundle_copy / "corpus").glob("[!.]*.json"))[0]
    stat = song.stat()
    os.utime(song, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    ArtistCatalogue.of_bundle(bundle_copy, tok, corpus)
    assert len(calls) == 2


@pytest.mark.parametrize("damage", ["not json", "bits"])
def test_a_damaged_catalogue_file_is_learned_again(bundle_copy, damage):
    tok = ArtistTokenizer.load(bundle_copy / "model")
    corpus = load_corpus(bundle_copy)
    fresh = ArtistCatalogue.of_bundle(bundle_copy, tok, corpus)
    path = bundle_copy / "model" / CACHE
    if damage == "not json":
        path.write_text("{")
    else:
        kept = json.loads(path.read_text())
        kept["habits"]["role_tokens"] = "00"
        path.write_text(json.dumps(kept))
    assert _same(ArtistCatalogue.of_bundle(bundle_copy, tok, corpus), fresh)
    assert json.loads(path.read_text())["habits"]["role_tokens"] != "00"


def test_a_folder_that_refuses_the_file_still_gets_the_catalogue(bundle_copy):
    tok = ArtistTokenizer.load(bundle_copy / "model")
    corpus = load_corpus(bundle_copy)
    (bundle_copy / "model" / CACHE).mkdir()
    assert _same(ArtistCatalogue.of_bundle(bundle_copy, tok, corpus), ArtistCatalogue.learn(tok, corpus))
    assert sorted(p.name for p in (bundle_copy / "model").iterdir()) == [CACHE, "tokenizer.json"]
