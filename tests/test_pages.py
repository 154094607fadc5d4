"""The HTML pages (artist page, evaluation, gallery) rendered by a real browser: Debian's headless
Chromium loads each from disk, its DOM after parsing holds the charts and tables, and a screenshot
shows them drawn. Skipped where Chromium is not installed."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from template_engine.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


def _browser(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
                           *args, page.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=True)


def _dom(page: Path, tmp_path: Path):
    from lxml import html

    return html.fromstring(_browser(page, tmp_path, "--dump-dom").stdout)


def _screenshot(page: Path, tmp_path: Path, name: str) -> np.ndarray:
    from PIL import Image

    shot = tmp_path / f"{name}.png"
    _browser(page, tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars")
    return np.asarray(Image.open(shot).convert("RGB"))


def _share_of(image: np.ndarray, colour: str) -> float:
    """Share of pixels within 40 of ``colour`` (#rrggbb or #rgb) on every channel."""
    hexes = colour.lstrip("#")
    rgb = [int(c * 2, 16) for c in hexes] if len(hexes) == 3 else [int(hexes[i:i + 2], 16) for i in (0, 2, 4)]
    return float(np.mean(np.all(np.abs(image.astype(int) - rgb) < 40, axis=-1)))


@needs_chromium
def test_artist_page_draws_training_curve_eq_ducking_and_song_plans(trained_bundle, tmp_path):
    page = tmp_path / "artist.html"
    result = CliRunner().invoke(main, ["--artists-dir", str(trained_bundle.path.parent), "artists", "show",
                                       trained_bundle.name, "--html", str(page)])
    assert result.exit_code == 0, result.output
    dom = _dom(page, tmp_path)
    assert len(dom.xpath('//figure[contains(@class,"training-curve")]//*[local-name()="polyline"]')) == 2
    assert dom.xpath('//figure[contains(@class,"training-curve")]//*[local-name()="line" and @class="hline"]')
    roles = trained_bundle.mix_profile.roles
    assert len(dom.xpath('//figure[contains(@class," eq")]')) == sum(1 for p in roles.values() if p.eq_db)
    assert len(dom.xpath('//figure[contains(@class,"ducking")]')) == sum(1 for p in roles.values() if p.sidechain) > 0
    assert len(dom.xpath('//figure[contains(@class,"loudness")]//*[local-name()="rect" and @class="bar"]')) == sum(
        1 for p in roles.values() if p.relative_loudness_db is not None)
    assert len(dom.xpath('//div[@class="song"]')) == len(trained_bundle.corpus_songs())
    image = _screenshot(page, tmp_path, "artist")
    assert image.shape[:2] == (1600, 1200)
    assert _share_of(image, "#39f") > 1e-4 and _share_of(image, "#e44") > 1e-4  # curves and drop sections drawn


@needs_chromium
def test_evaluation_page_and_gallery_render_their_tables(trained_bundle, rendered, tmp_path):
    out, folder = rendered
    report = tmp_path / "evaluation.json"
    result = CliRunner().invoke(main, ["--artists-dir", str(trained_bundle.path.parent), "evaluate", "--artist",
                                       trained_bundle.name, str(out), "--json", str(report)])
    assert result.exit_code == 0, result.output
    dom = _dom(report.with_suffix(".html"), tmp_path)
    rows = dom.xpath('//table[@class="candidates"]//tr')
    assert len(rows) == 2 and rows[1].xpath("th")[0].text_content().startswith(folder.name.split("_")[0])
    assert len(dom.xpath('//table[@class="style-fit"]//tr')) > 3
    assert len(dom.xpath('//table[@class="form"]//tr')) == 4
    gallery = _dom(out / "index.html", tmp_path)
    assert len(gallery.xpath('//div[@class="card"]')) == len([p for p in out.iterdir() if (p / "render.json").is_file()])
    assert gallery.xpath('//div[@class="card"]//audio/@src')
    assert _share_of(_screenshot(out / "index.html", tmp_path, "gallery"), "#39f") > 1e-4  # the waveform
