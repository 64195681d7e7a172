"""Format readers: one module per format, chosen by content (the suffix is a hint), or forced by name."""

from __future__ import annotations

from .assemblyai import AssemblyAIReader
from .aws_transcribe import AwsTranscribeReader
from .base import Document, RawCall, RawTurn, Reader, ReaderError, ReadProblem, SkipDocument
from .contact_lens import ContactLensReader
from .csvfile import CsvReader
from .deepgram import DeepgramReader
from .genesys import GenesysReader
from .google_ccai import GoogleCcaiReader
from .harper_valley import HarperValleyReader
from .native import NativeReader
from .srt import SrtReader
from .text import TextReader
from .twilio import TwilioReader
from .vtt import VttReader
from .whisper import WhisperReader

# Order matters only for ties: specific formats first, the generic ones (native, text) last.
READERS: list[Reader] = [
    VttReader(),
    SrtReader(),
    CsvReader(),
    AwsTranscribeReader(),
    ContactLensReader(),
    DeepgramReader(),
    AssemblyAIReader(),
    GoogleCcaiReader(),
    GenesysReader(),
    TwilioReader(),
    HarperValleyReader(),
    WhisperReader(),
    NativeReader(),
    TextReader(),
]


def register(reader: Reader, first: bool = True) -> None:
    """Add a reader (a plug-in format); ``first`` puts it ahead of the built-in ones."""
    READERS.insert(0, reader) if first else READERS.append(reader)


def reader_names() -> list[str]:
    return [r.name for r in READERS]


def get_reader(name: str) -> Reader:
    for r in READERS:
        if r.name == name:
            return r
    raise KeyError(f"unknown format {name!r}; known formats: {', '.join(sorted(reader_names()))}")


def detect(doc: Document) -> Reader:
    """The reader most sure of ``doc``; the suffix breaks ties. ReaderError when none fits."""
    best: tuple[float, int, Reader] | None = None
    for i, r in enumerate(READERS):
        try:
            score = r.sniff(doc)
        except Exception:  # a sniffer must never stop detection
            score = 0.0
        if score <= 0:
            continue
        if doc.suffix in r.suffixes:
            score += 0.05
        key = (score, -i, r)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        kind = "JSON" if doc.json is not None else "text"
        raise ReaderError(
            f"unrecognised {kind} transcript format; pass --format with one of: {', '.join(sorted(reader_names()))}"
        )
    return best[2]


__all__ = [
    "Document", "RawCall", "RawTurn", "Reader", "ReaderError", "ReadProblem", "SkipDocument",
    "READERS", "register", "reader_names", "get_reader", "detect",
]
