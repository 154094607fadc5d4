"""The roles of DESIGN.md and the words producers use for them in file, folder and track names."""

from __future__ import annotations

import re

ROLES = ("kick", "snare", "clap", "hats", "perc", "cymbal", "bass", "sub", "chords", "lead",
         "pluck", "pad", "arp", "vocal_chop", "fx")
DRUM_ROLES = ("kick", "snare", "clap", "hats", "perc", "cymbal")
PITCHED_ROLES = ("bass", "sub", "chords", "lead", "pluck", "pad", "arp", "vocal_chop")
SUSTAINED_ROLES = ("bass", "sub", "chords", "lead", "pad", "arp", "vocal_chop")
MONO_ROLES = ("bass", "sub")

GROUP_OF_ROLE = {
    "kick": "drums", "snare": "drums", "clap": "drums", "hats": "drums", "perc": "drums",
    "cymbal": "drums", "bass": "bass", "sub": "bass", "chords": "synths", "lead": "synths",
    "pluck": "synths", "pad": "synths", "arp": "synths", "vocal_chop": "vocals", "fx": "fx",
}

# General MIDI drum notes, and the one each drum role is written at in the normalised corpus.
GM_DRUM_ROLE = {
    35: "kick", 36: "kick", 37: "perc", 38: "snare", 40: "snare", 39: "clap", 42: "hats", 44: "hats",
    46: "hats", 49: "cymbal", 51: "cymbal", 52: "cymbal", 55: "cymbal", 57: "cymbal", 59: "cymbal",
    41: "perc", 43: "perc", 45: "perc", 47: "perc", 48: "perc", 50: "perc", 54: "perc", 56: "perc",
    60: "perc", 61: "perc", 62: "perc", 63: "perc", 64: "perc", 65: "perc", 66: "perc", 69: "perc",
    70: "perc", 75: "perc", 76: "perc", 77: "perc",
}
DRUM_ROLE_NOTE = {"kick": 36, "snare": 38, "clap": 39, "hats": 42, "perc": 37, "cymbal": 49}
OPEN_HAT_NOTE = 46

_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("vocal_chop", ("vox", "vocal", "voc", "chop", "choir", "voice", "acapella")),
    ("fx", ("riser", "rise", "uplifter", "downlifter", "sweep", "impact", "fx", "sfx", "whoosh",
            "noise", "crash fx", "reverse", "boom", "hit fx", "zap", "laser")),
    ("kick", ("kick", "kik", "bd", "bassdrum", "bass drum", "bdrum", "kck")),
    ("snare", ("snare", "snr", "sd", "sn", "rim", "rimshot")),
    ("clap", ("clap", "clp", "handclap", "snap")),
    ("hats", ("hat", "hh", "hihat", "hi hat", "hi-hat", "shaker", "oh", "ch")),
    ("cymbal", ("crash", "cymbal", "cym", "splash", "china", "ride")),
    ("perc", ("perc", "tom", "tm", "conga", "bongo", "cowbell", "clave", "tamb", "tambourine", "block",
              "timbale", "wood", "drum", "drums", "beat", "808 cl")),
    ("sub", ("sub", "808", "subbass", "sub bass")),
    ("bass", ("bass", "bassline", "reese", "wobble", "low")),
    ("chords", ("chord", "chords", "stab", "keys", "piano", "organ", "rhodes", "epiano", "harmony")),
    ("pad", ("pad", "atmos", "atmo", "strings", "string", "ambient", "drone", "texture")),
    ("arp", ("arp", "arpeggio", "sequence", "seq")),
    ("pluck", ("pluck", "plk", "bell", "marimba", "mallet", "kalimba")),
    ("lead", ("lead", "supersaw", "saw", "synth", "melody", "hook", "topline", "solo", "square")),
)


def words_of(name: str) -> list[str]:
    """Lower-case words of a name, numbering dropped: '03_Kick 2' -> ['kick']; 'HiHatOpen' -> ['hi', 'hat',
    'open']; 'SN4_07' -> ['sn'] (drum kits number their layers)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"[^A-Za-z0-9#]+", " ", spaced).lower()
    return [w.rstrip("0123456789") for w in spaced.split() if not w.isdigit()]


def role_from_name(name: str) -> tuple[str | None, float]:
    """Guess a role from a track, file or folder name.

    Returns (role or None, confidence 0..1). Whole-word matches score 0.9, prefixes of words 0.6.
    """
    words = words_of(name)
    joined = " ".join(words)
    for role, keys in _KEYWORDS:
        if any(" " in key and key in joined for key in keys):
            return role, 0.9
    for word in words:
        for role, keys in _KEYWORDS:
            if word in keys:
                return role, 0.9
    for word in words:
        for role, keys in _KEYWORDS:
            if any(len(key) >= 4 and (word.startswith(key) or word.endswith(key)) for key in keys):
                return role, 0.6
    return None, 0.0

# Which role's samples can play a role that has none of its own, nearest first.
FALLBACK_ROLES = {
    "arp": ("pluck", "lead", "chords"), "pluck": ("arp", "lead", "chords"), "lead": ("pluck", "arp", "chords"),
    "chords": ("pad", "pluck", "lead"), "pad": ("chords", "lead"), "sub": ("bass",), "bass": ("sub",),
    "vocal_chop": ("lead", "pluck"), "clap": ("snare",), "snare": ("clap",), "perc": ("snare", "hats"),
    "cymbal": ("hats",), "hats": ("perc", "cymbal"), "kick": ("perc",), "fx": ("cymbal",),
}
