"""transcript-qa: QA analysis of contact-centre call transcripts.

Read calls from any common transcript format, then find the stages, the resolution, sales offers
and their timing, and the agent's soft skills, with the turns that prove each finding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .sources import iter_calls, read_call, read_calls
    from .transcript import Call, Role, Turn

_LAZY = {
    "Call": "transcript", "Turn": "transcript", "Role": "transcript",
    "iter_calls": "sources", "read_call": "sources", "read_calls": "sources", "ReadOptions": "sources",
    "Analyzer": "analyzer", "CallAnalysis": "results",
    "analyze_archive": "batch", "Scorecard": "scorecard", "build_report": "report",
}


def __getattr__(name: str) -> Any:
    """Lazy imports keep ``import transcript_qa`` (and the CLI's --help) fast: torch loads on first use."""
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module 'transcript_qa' has no attribute {name!r}")


__all__ = list(_LAZY)
