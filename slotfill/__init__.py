"""slotfill: slot filling with stacked bidirectional LSTMs.

``from slotfill import SlotTagger`` is the Python API for tagging sentences; importing the
package itself loads nothing heavy.
"""

__version__ = "0.1.0"
__all__ = ["SlotTagger", "__version__"]


def __getattr__(name: str):
    if name == "SlotTagger":
        from .tagger import SlotTagger

        return SlotTagger
    raise AttributeError(f"module 'slotfill' has no attribute {name!r}")
