"""A .dawproject (ZIP of project.xml and metadata.xml) for Bitwig, Studio One, Cubase.

Audio stems become audio tracks, the MIDI of each role becomes a note clip on an instrument track;
tempo, 4/4 and one marker per section are set. Times are in beats. The stems are referenced as
external files relative to the archive (``stems/...`` next to it), as the format allows, rather than
copied inside: the candidate folder already holds them, and a second copy doubled its size.

A stem that comes with its ``TrackChain`` (a dry stem) gets the learned chain as the format's
built-in devices: its fader level, an Equalizer of octave bells, a Compressor, and its volume
envelope as automation of the fader. Other stems (already through their chain) sit at 0 dB.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

from project_ingest.score import BEATS_PER_BAR, Score
from sample_library.audio_io import atomic_path
from template_engine.render.track_chain import OCTAVE_Q, TrackChain

FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
Envelope = tuple[tuple[float, float], ...]  # (beats, dB) points


def _ids() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"id{n}"


def _real(parent: ET.Element, tag: str, ids: Iterator[str], value: float, unit: str, **extra: str) -> ET.Element:
    return ET.SubElement(parent, tag, id=next(ids), value=f"{value:.6g}", unit=unit, **extra)


def _devices(channel: ET.Element, chain: TrackChain, ids: Iterator[str]) -> None:
    """The chain's EQ and compressor as built-in devices of ``channel``."""
    devices = ET.SubElement(channel, "Devices")
    if chain.eq_bands:
        eq = ET.SubElement(devices, "Equalizer", id=next(ids), deviceName="EQ", deviceRole="audioFX", name="Learned EQ")
        for order, (hz, db) in enumerate(chain.eq_bands):
            band = ET.SubElement(eq, "Band", type="bell", order=str(order))
            _real(band, "Freq", ids, hz, "hertz")
            _real(band, "Gain", ids, db, "decibel")
            _real(band, "Q", ids, OCTAVE_Q, "linear")
    if chain.compressor:
        c = chain.compressor
        comp = ET.SubElement(devices, "Compressor", id=next(ids), deviceName="Compressor", deviceRole="audioFX",
                             name="Learned compressor")
        _real(comp, "Attack", ids, c.attack_ms / 1000, "seconds")
        ET.SubElement(comp, "AutoMakeup", id=next(ids), value="false")
        _real(comp, "Ratio", ids, c.ratio, "linear")
        _real(comp, "Release", ids, c.release_ms / 1000, "seconds")
        _real(comp, "Threshold", ids, c.threshold_db, "decibel")


def _stem_track(structure: ET.Element, name: str, chain: TrackChain | None, ids: Iterator[str],
                master_channel_id: str) -> tuple[str, tuple[str, Envelope] | None]:
    """An audio track for a stem, with its fader, centred pan and (with a chain) its devices; returns
    its id and, where the chain has a volume envelope, (the fader's parameter id, the envelope)."""
    tid, cid = next(ids), next(ids)
    track = ET.SubElement(structure, "Track", id=tid, name=name, contentType="audio", loaded="true")
    channel = ET.SubElement(track, "Channel", id=cid, role="regular", audioChannels="2", destination=master_channel_id)
    if chain is not None:
        _devices(channel, chain, ids)
    _real(channel, "Pan", ids, 0.5, "normalized", min="0", max="1", name="Pan")
    volume = _real(channel, "Volume", ids, chain.level_db if chain else 0.0, "decibel", min="-96", max="24", name="Volume")
    return tid, ((volume.get("id", ""), chain.envelope) if chain is not None and chain.envelope else None)


def _clip(lane: ET.Element, content: str | tuple[str, float], score: Score, sample_rate: int, ids: Iterator[str]) -> None:
    """A track's one clip: a role's notes (``content`` the role) or a stem file (``content`` (path
    relative to the archive, seconds))."""
    clips = ET.SubElement(lane, "Clips", id=next(ids))
    if isinstance(content, str):
        role = content
        clip = ET.SubElement(clips, "Clip", time="0", duration=f"{score.bars * BEATS_PER_BAR:g}", playStart="0", name=role)
        notes = ET.SubElement(clip, "Notes", id=next(ids))
        for n in score.tracks[role]:
            ET.SubElement(notes, "Note", time=f"{n.start:g}", duration=f"{n.duration:g}", channel="0",
                          key=str(n.pitch), vel=f"{n.velocity / 127:.4f}", rel="0.5")
        return
    path, seconds = content
    clip = ET.SubElement(clips, "Clip", time="0", duration=f"{seconds * score.bpm / 60:.6f}", playStart="0")
    audio = ET.SubElement(clip, "Audio", id=next(ids), channels="2", sampleRate=str(sample_rate),
                          duration=f"{seconds:.6f}", timeUnit="seconds")
    ET.SubElement(audio, "File", path=path, external="true")


def _envelope(lane: ET.Element, parameter: str, envelope: Envelope, ids: Iterator[str]) -> None:
    points = ET.SubElement(lane, "Points", id=next(ids), unit="decibel")
    ET.SubElement(points, "Target", parameter=parameter)
    for beats, db in envelope:
        ET.SubElement(points, "RealPoint", time=f"{beats:g}", value=f"{db:g}", interpolation="linear")


def project_xml(score: Score, title: str, stems: list[tuple[str, str, float, TrackChain | None]],
                sample_rate: int) -> bytes:
    """project.xml. ``stems`` are (track name, path relative to the archive, duration seconds, the
    chain to rebuild on it or None)."""
    ids = _ids()
    project = ET.Element("Project", version="1.0")
    ET.SubElement(project, "Application", name="artist-templates", version="0.1.0")
    transport = ET.SubElement(project, "Transport")
    ET.SubElement(transport, "Tempo", id=next(ids), unit="bpm", value=f"{score.bpm:g}", min="20", max="999", name="Tempo")
    ET.SubElement(transport, "TimeSignature", id=next(ids), numerator="4", denominator="4")
    structure = ET.SubElement(project, "Structure")
    master_channel_id = next(ids)
    tracks: list[tuple[str, str | tuple[str, float]]] = []
    for role in score.tracks:
        tid, cid = next(ids), next(ids)
        track = ET.SubElement(structure, "Track", id=tid, name=f"{role} (MIDI)", contentType="notes", loaded="true")
        ET.SubElement(track, "Channel", id=cid, role="regular", audioChannels="2", destination=master_channel_id)
        tracks.append((tid, role))
    envelopes = {}
    for name, path, seconds, chain in stems:
        tid, envelope = _stem_track(structure, name, chain, ids, master_channel_id)
        if envelope is not None:
            envelopes[tid] = envelope
        tracks.append((tid, (path, seconds)))
    master = ET.SubElement(structure, "Track", id=next(ids), name="Master", contentType="audio notes", loaded="true")
    ET.SubElement(master, "Channel", id=master_channel_id, role="master", audioChannels="2")
    arrangement = ET.SubElement(project, "Arrangement", id=next(ids))
    lanes = ET.SubElement(arrangement, "Lanes", id=next(ids), timeUnit="beats")
    for tid, content in tracks:
        lane = ET.SubElement(lanes, "Lanes", id=next(ids), track=tid)
        _clip(lane, content, score, sample_rate, ids)
        if tid in envelopes:
            _envelope(lane, *envelopes[tid], ids)
    markers = ET.SubElement(arrangement, "Markers", id=next(ids))
    for s in score.sections:
        ET.SubElement(markers, "Marker", time=f"{s.start_bar * BEATS_PER_BAR:g}", name=s.kind)
    ET.indent(project)
    return ET.tostring(project, encoding="utf-8", xml_declaration=True)


def metadata_xml(title: str, artist: str, comment: str) -> bytes:
    meta = ET.Element("MetaData")
    for tag, text in (("Title", title), ("Artist", artist), ("Comment", comment)):
        ET.SubElement(meta, tag).text = text
    ET.indent(meta)
    return ET.tostring(meta, encoding="utf-8", xml_declaration=True)


def write_dawproject(path: Path, score: Score, *, title: str, artist: str,
                     stems: list[tuple[str, Path, TrackChain | None]], sample_rate: int, seconds: float) -> None:
    """Write the archive atomically, with fixed timestamps; ``stems`` (track name, file, chain or None)
    must lie at or below the archive's folder, and are referenced by their path relative to it."""
    entries = [(name, file.relative_to(Path(path).parent).as_posix(), seconds, chain) for name, file, chain in stems]
    with atomic_path(Path(path)) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in (("project.xml", project_xml(score, title, entries, sample_rate)),
                               ("metadata.xml", metadata_xml(title, artist, "Generated by artist-templates"))):
                z.writestr(zipfile.ZipInfo(name, FIXED_ZIP_TIME), data)
