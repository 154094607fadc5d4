"""``render-template``: write new candidates of an artist, each into its own folder (``candidate``).

A batch reads as its steps: check the settings, write every song's notes in one pass of the model
(one song's in a forked process, while this one prepares to mix), name each candidate's folder (refusing to
replace one without ``--force``), then mix, master and export each song in turn (or each as a Ray
task with ``--ray``), and write the gallery. The mixing side (``batch_mixing``) is loaded once the
notes are being written: the forked process that writes them never loads it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from project_ingest.bundle import ArtistBundle
from project_ingest.corpus import load_corpus
from project_ingest.score import Score
from sample_library.processes import map_on_ray
from template_engine.forked import ForkedCall
from template_engine.model.artist_catalogue import ArtistCatalogue
from template_engine.model.decoder import load_decoder
from template_engine.model.generate import generate_songs
from template_engine.process_memory import tune_malloc_for_render
from template_engine.render.gallery import write_gallery
from template_engine.render.settings import RenderSettings

MAX_SONGS_WRITTEN_ASIDE = 1  # one song's notes leave a core idle (mostly one row at a time), written in a
# forked process one candidate took 0.3 s less; ten songs' keep both cores busy, and forked they took 0.4 s more


def render_batch(bundle: ArtistBundle, out_dir: Path, settings: RenderSettings, *, progress: bool = True,
                 ray_address: str | None = None) -> list[Path]:
    """Write ``settings.count`` candidates of ``bundle``'s artist under ``out_dir``; returns their folders.
    With ``ray_address`` the songs are written here and each is mixed, mastered and exported as a Ray
    task (the bundle and ``out_dir`` on a path every node shares): the same bytes."""
    settings.check()
    tune_malloc_for_render()
    corpus = load_corpus(bundle.path)
    with ForkedCall(write_songs, bundle, settings, corpus, fork=settings.count <= MAX_SONGS_WRITTEN_ASIDE) as written:
        # the mixing side, loaded while the notes are written
        from template_engine.render.batch_mixing import bundle_provenance, finish_at, mix_and_write, name_candidates, prepare_to_mix

        tqdm.monitor_interval = 0  # no monitor thread beside the bar: the phrase writer forks a process of one thread
        bar = tqdm(total=settings.count * 2 + 1, desc=f"rendering {bundle.name}", unit="step", disable=not progress)
        try:
            bar.set_postfix_str("writing MIDI")
            provenance = bundle_provenance(bundle) if ray_address else prepare_to_mix(bundle, settings, corpus)
            songs = written.result()
            bar.update(1)
            jobs = name_candidates(bundle, Path(out_dir), settings, songs)
            if ray_address:
                folders = map_on_ray(finish_at, [(str(bundle.path), job, settings, provenance) for job in jobs],
                                     address=ray_address, desc="candidates", unit="song", progress=progress)
            else:
                folders = mix_and_write(bundle, jobs, settings, bar, provenance)
        finally:
            bar.close()
    write_gallery(Path(out_dir))
    return folders


def write_songs(bundle: ArtistBundle, settings: RenderSettings, corpus: list[tuple[str, Score]]) -> list[tuple[Score, dict]]:
    """Every song's notes in one pass of the model (the artist's ``corpus`` its material), with its
    novelty figures; the model is let go on return."""
    model, tok = load_decoder(bundle)
    batch = generate_songs(model, tok, corpus, count=settings.count, seed=settings.seed, bpm=settings.bpm,
                           key=settings.parsed_key(), bars=settings.bars, sampling=settings.sampling, form=bundle.form,
                           learned=ArtistCatalogue.of_bundle(bundle.path, tok, corpus))
    return [(s.score, asdict(s.novelty)) for s in batch.songs]
