"""The artist's one-shots: import, analysis, index, kit selection and the sampler that plays them."""

from sample_library.errors import InputError
from sample_library.library import SampleLibrary, SampleRecord
from sample_library.sampler import Instrument, Note, Zone

__all__ = ["InputError", "Instrument", "Note", "SampleLibrary", "SampleRecord", "Zone"]
