"""The artist bundle: names, round trip, atomic replacement."""

import os
import shutil

import pytest

from project_ingest.bundle import ArtistBundle, recover, replace_dir, staging_dir, validate_artist_name
from sample_library.errors import InputError


@pytest.mark.parametrize("name, rule", [("", "empty"), ("a/b", "path separator"), ("..", ".."), ("x..y", ".."),
                                        (".hidden", "starts with a dot"), ("a\\b", "path separator")])
def test_bad_artist_names_are_rejected_with_their_rule(name, rule):
    with pytest.raises(InputError, match=rule):
        validate_artist_name(name)


def test_good_name_passes():
    assert validate_artist_name("DJ Example 2") == "DJ Example 2"


def test_bundle_round_trip(tiny_bundle):
    again = ArtistBundle.load(tiny_bundle.path)
    assert again.artist == tiny_bundle.artist
    assert again.content_hash() == tiny_bundle.content_hash()
    assert len(again.corpus_songs()) == 2


def test_crash_between_renames_leaves_old_bundle_readable(tiny_bundle, tmp_path):
    dest = tmp_path / "artist"
    shutil.copytree(tiny_bundle.path, dest)
    before = ArtistBundle.load(dest).content_hash()
    staging = staging_dir(dest)
    (staging / "artist.json").write_text("{broken")
    # simulate a crash after the old bundle was moved aside and before the new one was moved in
    os.replace(dest, dest.parent / f".{dest.name}.old")
    assert not dest.exists()
    recovered = ArtistBundle.load(dest)
    assert recovered.content_hash() == before
    shutil.rmtree(staging)


def test_replace_dir_swaps_whole_folder(tmp_path):
    dest = tmp_path / "x"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    staging = staging_dir(dest)
    (staging / "new.txt").write_text("new")
    replace_dir(staging, dest)
    assert (dest / "new.txt").exists() and not (dest / "old.txt").exists()
    recover(dest)
    assert (dest / "new.txt").exists()


def test_the_bundle_hash_ignores_the_journal_another_process_keeps_beside_the_sample_index(tiny_bundle, tmp_path):
    """Two batch workers open one bundle: while one writes the SQLite index, a journal file comes and
    goes beside it; the other's hash of the bundle must neither read it nor change with it."""
    copy = tmp_path / "tiny"
    shutil.copytree(tiny_bundle.path, copy)
    before = ArtistBundle.load(copy).content_hash()
    (copy / "samples" / "index.sqlite-journal").write_bytes(b"transient")
    assert ArtistBundle.load(copy).content_hash() == before == tiny_bundle.content_hash()


def test_opening_a_current_sample_index_does_not_write_it(tiny_bundle, tmp_path):
    """Renders open the artist's sample index side by side: an index already at the current schema
    is read without a write (no journal, no lock for the other workers to wait on)."""
    from sample_library.library import SampleLibrary

    copy = tmp_path / "tiny"
    shutil.copytree(tiny_bundle.path, copy)
    index = copy / "samples" / "index.sqlite"
    before, stamp = index.read_bytes(), index.stat().st_mtime_ns
    with SampleLibrary(copy / "samples") as library:
        assert library.query(role="kick")
    assert index.read_bytes() == before and index.stat().st_mtime_ns == stamp
