"""A .dawproject (ZIP of project.xml and metadata.xml) for Bitwig, Studio One, Cubase.

Audio stems become audio tracks, the MIDI of each role becomes a note clip on an instrument track;
tempo, 4/4 and one marker per section are set. Times are in beats. The stems are referenced as
external files relative to the archive (``stems/...`` next to it), as the format allows, rather than
copied inside: the candidate folder already holds them, and a second copy doubled its size.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from project_ingest.score import BEATS_PER_BAR, Score
from sample_library.audio_io import atomic_path

FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def _ids():
    n = 0
    while True:
        n += 1
        yield f"id{n}"


def project_xml(score: Score, title: str, stems: list[tuple[str, str, float]], sample_rate: int) -> bytes:
    """project.xml. ``stems`` are (track name, path relative to the archive, duration seconds)."""
    ids = _ids()
    project = ET.Element("Project", version="1.0")
    ET.SubElement(project, "Application", name="artist-templates", version="0.1.0")
    transport = ET.SubElement(project, "Transport")
    ET.SubElement(transport, "Tempo", id=next(ids), unit="bpm", value=f"{score.bpm:g}", min="20", max="999", name="Tempo")
    ET.SubElement(transport, "TimeSignature", id=next(ids), numerator="4", denominator="4")
    structure = ET.SubElement(project, "Structure")
    master_channel_id = next(ids)
    tracks = []
    for role in score.tracks:
        tid, cid = next(ids), next(ids)
        track = ET.SubElement(structure, "Track", id=tid, name=f"{role} (MIDI)", contentType="notes", loaded="true")
        ET.SubElement(track, "Channel", id=cid, role="regular", audioChannels="2", destination=master_channel_id)
        tracks.append(("notes", tid, role))
    for name, path, seconds in stems:
        tid, cid = next(ids), next(ids)
        track = ET.SubElement(structure, "Track", id=tid, name=name, contentType="audio", loaded="true")
        ET.SubElement(track, "Channel", id=cid, role="regular", audioChannels="2", destination=master_channel_id)
        tracks.append(("audio", tid, (path, seconds)))
    master = ET.SubElement(structure, "Track", id=next(ids), name="Master", contentType="audio notes", loaded="true")
    ET.SubElement(master, "Channel", id=master_channel_id, role="master", audioChannels="2")
    arrangement = ET.SubElement(project, "Arrangement", id=next(ids))
    lanes = ET.SubElement(arrangement, "Lanes", id=next(ids), timeUnit="beats")
    song_beats = score.bars * BEATS_PER_BAR
    spb = 60.0 / score.bpm
    for kind, tid, payload in tracks:
        lane = ET.SubElement(lanes, "Lanes", id=next(ids), track=tid)
        clips = ET.SubElement(lane, "Clips", id=next(ids))
        if kind == "notes":
            clip = ET.SubElement(clips, "Clip", time="0", duration=f"{song_beats:g}", playStart="0", name=payload)
            notes = ET.SubElement(clip, "Notes", id=next(ids))
            for n in score.tracks[payload]:
                ET.SubElement(notes, "Note", time=f"{n.start:g}", duration=f"{n.duration:g}", channel="0",
                              key=str(n.pitch), vel=f"{n.velocity / 127:.4f}", rel="0.5")
        else:
            path, seconds = payload  # type: ignore[str-unpack]  # audio tracks carry (path, seconds)
            clip = ET.SubElement(clips, "Clip", time="0", duration=f"{seconds / spb:.6f}", playStart="0")
            audio = ET.SubElement(clip, "Audio", id=next(ids), channels="2", sampleRate=str(sample_rate),
                                  duration=f"{seconds:.6f}", timeUnit="seconds")
            ET.SubElement(audio, "File", path=path, external="true")
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


def write_dawproject(path: Path, score: Score, *, title: str, artist: str, stems: list[tuple[str, Path]],
                     sample_rate: int, seconds: float) -> None:
    """Write the archive atomically, with fixed timestamps; ``stems`` (track name, file) must lie at or
    below the archive's folder, and are referenced by their path relative to it."""
    entries = [(name, file.relative_to(Path(path).parent).as_posix(), seconds) for name, file in stems]
    with atomic_path(Path(path)) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in (("project.xml", project_xml(score, title, entries, sample_rate)),
                               ("metadata.xml", metadata_xml(title, artist, "Generated by artist-templates"))):
                z.writestr(zipfile.ZipInfo(name, FIXED_ZIP_TIME), data)
