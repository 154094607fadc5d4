"""Tokens round-trip per track, the numpy decoder gives the trained model's logits, training really learns, the grammar holds."""

import numpy as np
import torch

from project_ingest.corpus import load_corpus
from project_ingest.score import Key
from template_engine.model.config import ModelConfig
from template_engine.model.dataset import song_phrases
from template_engine.model.decoder import Decoder, load_decoder
from template_engine.model.generate import generate_songs
from template_engine.model.phrases import SamplingSettings, _sample_top_p, expected_tokens, split_work, write_phrases
from template_engine.model.tokens import ArtistTokenizer, Phrase, advance, allowed_mask, start_state
from template_engine.model.transformer import MusicTransformer
from template_engine.threads import THREADS_ENV


def _tokenizer_for(bundle) -> ArtistTokenizer:
    tok = ArtistTokenizer()
    corpus = load_corpus(bundle.path)
    base = [tok.track_base_ids(n) for _, s in corpus for ph in song_phrases(s) for n in ph.tracks.values()]
    tok.train_bpe(base, 500)
    return tok


def test_every_track_comes_back_separately_on_the_grid(tiny_bundle):
    tok = _tokenizer_for(tiny_bundle)
    _, score = load_corpus(tiny_bundle.path)[0]
    phrase = next(p for p in song_phrases(score) if len(p.tracks) >= 4)
    ids = tok.encode_phrase(phrase)
    back = tok.decode_phrase(ids)
    assert set(back) == set(phrase.tracks)
    for role, notes in phrase.tracks.items():
        want = sorted((round(n.start * 4), n.pitch) for n in notes)
        got = sorted((round(n.start * 4), n.pitch) for n in back[role])
        assert got == want, role
        assert all(abs(n.start * 4 - round(n.start * 4)) < 1e-6 for n in back[role])


def test_the_numpy_decoder_writes_with_the_trained_models_logits():
    """Fed in chunks through its key/value cache (growing it past its first capacity, and dropping a
    row on the way), the decoder gives the logits of the torch model's full forward pass."""
    torch.manual_seed(0)
    model = MusicTransformer(ModelConfig(vocab_size=50, context=400, n_layer=2, n_head=2, d_model=32, dropout=0.0)).eval()
    ids = torch.randint(0, 50, (3, 300))
    with torch.no_grad():
        full = model(ids).numpy()
    decoder = Decoder(model.cfg, {k: v.numpy() for k, v in model.state_dict().items()})
    cache, ids = decoder.cache(3), ids.numpy()
    logits = [decoder.next_logits(ids[:, :4], cache, 0), decoder.next_logits(ids[:, 4:7], cache, 4)]
    logits += [decoder.next_logits(ids[:, t:t + 1], cache, t) for t in range(7, 200)]
    np.testing.assert_allclose(np.stack(logits, axis=1), full[:, [3, 6, *range(7, 200)]], atol=1e-4)
    cache.keep(np.array([2, 0]))
    np.testing.assert_allclose(decoder.next_logits(ids[[2, 0], 200:300], cache, 200), full[[2, 0], 299], atol=1e-4)


def test_model_overfits_a_tiny_fixture():
    torch.manual_seed(0)
    model = MusicTransformer(ModelConfig(vocab_size=20, context=32, n_layer=2, n_head=2, d_model=64, dropout=0.0))
    seq = torch.tensor([[1, 5, 7, 3, 9, 2, 5, 7, 3, 9, 2, 11, 4, 6, 8, 10]])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = model.loss(seq[:, :-1], seq[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_trained_model_beats_bigram(trained_bundle):
    import json

    summary = json.loads((trained_bundle.model_dir / "training_summary.json").read_text())
    assert summary["valid_loss"] < summary["bigram_valid_loss"]


def test_same_seed_same_songs(trained_bundle):
    model, tok = load_decoder(trained_bundle)
    corpus = load_corpus(trained_bundle.path)
    a = generate_songs(model, tok, corpus, count=2, seed=4, bpm=None, key=None, bars=None)
    b = generate_songs(model, tok, corpus, count=2, seed=4, bpm=None, key=None, bars=None)
    assert [s.score.tracks for s in a.songs] == [s.score.tracks for s in b.songs]


def test_grammar_mask_never_lets_an_invalid_sequence_through(trained_bundle):
    """Fuzz: sample uniformly among allowed tokens (ignoring the model) and check miditok's own
    error count on the decoded base tokens stays zero and bars never exceed the phrase."""
    _, tok = load_decoder(trained_bundle)
    rng = np.random.default_rng(0)
    for trial in range(60):
        role = ["kick", "bass", "lead", "hats", "pad"][trial % 5]
        state, ids = start_state(role), []
        for _ in range(120):
            mask = allowed_mask(tok, [state])[0]
            choice = int(rng.choice(np.nonzero(mask)[0]))
            if choice == tok.track_end:
                break
            ids.append(choice)
            state = advance(tok, state, choice)
        base = [tok.base_names[b] for i in ids for b in tok.pieces[i]]
        if base:
            assert tok.remi._tokens_errors(base) == 0
        assert sum(t.startswith("Bar") for t in base) <= 4
        tok.decode_track(ids)


def test_generated_song_has_roles_in_their_sections(trained_bundle):
    model, tok = load_decoder(trained_bundle)
    corpus = load_corpus(trained_bundle.path)
    (song,) = generate_songs(model, tok, corpus, count=1, seed=1, bpm=128, key=Key(5, "minor"), bars=16).songs
    score, novelty = song.score, song.novelty
    assert score.bars == 16 and score.bpm == 128
    drop = next(s for s in score.sections if s.kind == "drop")
    kicks = [n for n in score.tracks.get("kick", []) if drop.start_bar * 4 <= n.start < drop.end_bar * 4]
    assert kicks, "the artist's drops have a kick"
    assert 0.0 <= novelty.copy_rate <= 1.0


def test_training_resumes_from_its_checkpoint_after_a_kill(tiny_bundle, tmp_path):
    import json
    import shutil

    from project_ingest.bundle import ArtistBundle
    from template_engine.model.train import TrainSettings, train
    from tests.kill_at import run_and_kill_at_checkpoint

    path = tmp_path / "resume"
    shutil.copytree(tiny_bundle.path, path)
    for leftover in ("model", ".model.work"):
        shutil.rmtree(path / leftover, ignore_errors=True)
    small = "ModelConfig(n_layer=1, d_model=64, n_head=2, dropout=0.0)"
    code = ("from pathlib import Path; from project_ingest.bundle import ArtistBundle; "
            "from template_engine.model.config import ModelConfig; from template_engine.model.train import TrainSettings, train; "
            f"train(ArtistBundle.load(Path({str(path)!r})), TrainSettings(minutes=5, eval_every=5, patience=1000, "
            f"model={small}), progress=False)")
    killed_at = run_and_kill_at_checkpoint(code, path / ".model.work" / "checkpoint.json")
    assert killed_at >= 10 and not (path / "model" / "model.safetensors").exists()
    summary = train(ArtistBundle.load(path), TrainSettings(minutes=0.1, eval_every=5, patience=1000,
                                                           model=ModelConfig(n_layer=1, d_model=64, n_head=2, dropout=0.0)),
                    progress=False)
    assert summary.steps > killed_at
    log = [json.loads(line) for line in (path / "model" / "training_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log][: killed_at // 5] == list(range(5, killed_at + 1, 5))


def test_a_kill_between_the_weights_and_the_progress_file_resumes_the_weights_own_step(tiny_bundle, tmp_path):
    """The checkpoint's state lives in its weights file: a run killed after writing step 20's weights
    but before ``checkpoint.json`` (still at step 10) resumes at step 20, the step of its weights."""
    import json

    from template_engine.model.checkpoint import TrainState, resume, save_checkpoint

    tok = _tokenizer_for(tiny_bundle)
    model = MusicTransformer(ModelConfig(vocab_size=tok.vocab_size, n_layer=1, d_model=32, n_head=2, dropout=0.0))
    opt = torch.optim.AdamW(model.parameters())
    work = tmp_path / "work"
    work.mkdir()
    save_checkpoint(work, model, opt, TrainState(step=20, best=1.5, best_step=20))
    (work / "checkpoint.json").write_text(json.dumps({"step": 10, "best": 2.0, "best_step": 10, "bad": 0}))
    resumed = MusicTransformer(ModelConfig(vocab_size=tok.vocab_size, n_layer=1, d_model=32, n_head=2, dropout=0.0))
    state = resume(work, resumed, torch.optim.AdamW(resumed.parameters()), tok)
    assert (state.step, state.best_step) == (20, 20)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), resumed.state_dict().values()))


def test_generation_reports_the_tokens_it_sampled(trained_bundle):
    model, tok = load_decoder(trained_bundle)
    batch = generate_songs(model, tok, load_corpus(trained_bundle.path), count=1, seed=0, bpm=None, key=None, bars=8)
    assert batch.tokens_sampled > 0 and batch.phrases_written >= 2


def test_generation_keeps_only_the_roles_asked_for(trained_bundle):
    model, tok = load_decoder(trained_bundle)
    (song,) = generate_songs(model, tok, load_corpus(trained_bundle.path), count=1, seed=0, bpm=None, key=None,
                             bars=16, roles=("kick", "bass", "lead")).songs
    assert song.score.tracks and set(song.score.tracks) <= {"kick", "bass", "lead"}


def test_same_seed_and_steps_give_the_same_weights(tiny_bundle, tmp_path):
    import shutil

    from click.testing import CliRunner
    from safetensors.torch import load_file

    from project_ingest.bundle import ArtistBundle
    from template_engine.cli import main
    from tests.same_weights import assert_same_weights

    weights = []
    for run in ("a", "b"):
        root = tmp_path / run
        shutil.copytree(tiny_bundle.path, root / "tiny")
        for leftover in ("model", ".model.work"):
            shutil.rmtree(root / "tiny" / leftover, ignore_errors=True)
        result = CliRunner().invoke(main, ["--artists-dir", str(root), "--quiet", "train", "--artist", "tiny",
                                           "--minutes", "5", "--max-steps", "6", "--seed", "2"])
        assert result.exit_code == 0, result.output
        assert "6 steps" in result.output
        weights.append(load_file(str(ArtistBundle.load(root / "tiny").model_dir / "model.safetensors")))
    assert_same_weights(weights[0], weights[1])


def test_learning_rate_warms_up_over_a_fifth_of_a_short_run_and_ends_at_a_tenth():
    from template_engine.model.train import FINAL_LR_SHARE, WARMUP_STEPS, TrainSettings, get_lr

    short = TrainSettings(max_steps=100, lr=1e-3)
    rates = [get_lr(short, s) for s in range(100)]
    assert int(np.argmax(rates)) == 19 and rates[19] == 1e-3
    assert rates[0] < rates[10] < rates[19] and abs(rates[-1] - 1e-3 * FINAL_LR_SHARE) < 1e-5
    long = TrainSettings(max_steps=3600, lr=1e-3)
    assert get_lr(long, WARMUP_STEPS - 2) < 1e-3
    assert get_lr(long, WARMUP_STEPS - 1) == 1e-3


def test_micro_batches_pad_less_and_give_the_one_batch_gradient():
    from torch.nn import functional as F

    from template_engine.model.train import get_batch, micro_batches
    from template_engine.model.transformer import IGNORE_INDEX

    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 50, size=n).tolist() for n in (9, 400, 11, 380, 10, 410)]
    runs = micro_batches(seqs, context=512)
    assert sorted(map(len, (s for run in runs for s in run))) == sorted(map(len, seqs))
    assert [sorted(len(s) for s in run) for run in runs] == [[9, 10, 11], [380, 400, 410]]

    torch.manual_seed(0)
    model = MusicTransformer(ModelConfig(vocab_size=50, context=512, n_layer=2, n_head=2, d_model=32, dropout=0.0))

    def gradient(groups: list[list[list[int]]]) -> torch.Tensor:
        model.zero_grad()
        targets = sum(len(s) - 1 for s in seqs)
        for group in groups:
            x, y = get_batch(group, 512, 0)
            logits = model(x)
            (F.cross_entropy(logits.reshape(-1, 50), y.reshape(-1), ignore_index=IGNORE_INDEX,
                             reduction="sum") / targets).backward()
        return torch.cat([p.grad.reshape(-1) for p in model.parameters()])

    assert torch.allclose(gradient(runs), gradient([seqs]), atol=1e-6)


def test_a_song_is_labelled_in_the_mode_it_was_written_in():
    """Asked for minor, a model that wrote C major's notes gives a song labelled major on the same
    tonic; notes that fit minor keep minor, and a tie keeps the asked mode."""
    from project_ingest.score import BeatNote
    from template_engine.model.generate import written_mode

    major = {"lead": [BeatNote(i, 1, 60 + p, 100) for i, p in enumerate((0, 4, 7, 9, 11, 4))], "kick": [BeatNote(0, 1, 37, 100)]}
    minor = {"lead": [BeatNote(i, 1, 60 + p, 100) for i, p in enumerate((0, 3, 7, 8, 10, 3))]}
    assert written_mode(major, "minor") == "major"
    assert written_mode(minor, "major") == "minor"
    assert written_mode({"lead": [BeatNote(0, 1, 60, 100)]}, "minor") == "minor"


def test_nucleus_sampling_draws_only_the_top_tokens_in_their_proportions():
    """With probabilities 0.5, 0.3, 0.15, 0.05 and top_p 0.7 only the first two are drawn, at
    0.5 / 0.8 and 0.3 / 0.8 of the draws; a masked (-inf) token never is."""
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05, 0.0]], np.float32).repeat(20000, axis=0) + 1e-30)
    logits[:, 4] = -np.inf
    drawn = _sample_top_p(logits, 0.7, np.random.default_rng(0).random(len(logits)))
    share = np.bincount(drawn, minlength=5) / len(drawn)
    assert share[2:].sum() == 0
    assert abs(share[0] - 0.625) < 0.01 and abs(share[1] - 0.375) < 0.01
    uniform = np.random.default_rng(1).random(3)
    assert (_sample_top_p(logits[:3], 0.7, uniform) == _sample_top_p(logits[:3], 0.7, uniform)).all()


def test_phrases_write_the_same_notes_in_one_process_or_two(trained_bundle, monkeypatch, forked_batches):
    """A call's phrases are written in two batches: with two cores the second in a forked process, on
    one core both here. The same seed writes the same notes either way, and each phrase draws from
    its own stream, so the first phrase writes alone what it writes beside the others."""
    model, tok = load_decoder(trained_bundle)
    phrases = [Phrase(kind, energy, "main", 0, "minor", {r: [] for r in roles}) for kind, energy, roles in
               (("drop", 1.0, ("kick", "hats", "bass", "lead")), ("intro", 0.5, ("kick", "pad")),
                ("build", 0.7, ("snare", "hats")), ("breakdown", 0.3, ("pad",)))]
    sampling = SamplingSettings(temperature=1.5)
    assert len(split_work([expected_tokens(p, sampling) for p in phrases])) == 2
    monkeypatch.setenv(THREADS_ENV, "2")
    on_two = write_phrases(model, tok, phrases, seed=4, sampling=sampling)
    monkeypatch.setenv(THREADS_ENV, "1")
    assert write_phrases(model, tok, phrases, seed=4, sampling=sampling) == on_two
    assert forked_batches == [True, False]
    assert sum(len(notes) for notes in on_two[0][0].values()) > 0
    alone, _ = write_phrases(model, tok, phrases[:1], seed=4, sampling=sampling)
    assert alone[0] == on_two[0][0]


def test_the_two_batches_take_about_equal_time():
    """The demo's second pass, its drop's end phrase of 579 tokens and eight others of 62-334: each
    batch costs its longest phrase plus all its phrases (steps, and work per step), and neither costs
    more than 60 % of writing them all in one batch (the old way); one phrase stays one batch."""
    work = [579.0, 220.0, 220.0, 333.0, 334.0, 62.0, 62.0, 221.0, 221.0]
    groups = split_work(work)
    assert sorted(i for g in groups for i in g) == list(range(len(work)))
    costs = [max(work[i] for i in g) + sum(work[i] for i in g) for g in groups]
    assert len(groups) == 2 and max(costs) <= 0.6 * (max(work) + sum(work))
    assert split_work([5.0]) == [[0]]
