"""slotfill: slot filling with stacked bidirectional LSTMs.

``from slotfill import SlotTagger`` is the Python API for tagging sentences, ``SlotModel`` the
trained model itself; importing the package itself loads nothing heavy.
"""

from slotfill.version import __version__

__all__ = ["OnnxTagger", "SlotModel", "SlotTagger", "__version__", "load_tagger"]


def __getattr__(name: str):
    if name in ("SlotTagger", "SlotModel"):  # torch's: a torch-free install runs ONNX graphs on load_tagger
        try:
            import torch  # noqa: F401
        except ImportError as e:
            from slotfill.errors import MissingRequirement

            alternative = "slotfill.load_tagger('model.onnx') loads an exported model without it"
            raise MissingRequirement("torch", f"slotfill.{name} runs PyTorch models", alternative) from e
    if name == "SlotTagger":
        from slotfill.inference.tagger import SlotTagger

        return SlotTagger
    if name == "OnnxTagger":  # torch-free
        from slotfill.inference.onnx_tagger import OnnxTagger

        return OnnxTagger
    if name == "load_tagger":  # any model file; the engine comes from the file
        from slotfill.inference.loading import load_tagger

        return load_tagger
    if name == "SlotModel":
        from slotfill.models.slot_model import SlotModel

        return SlotModel
    raise AttributeError(f"module 'slotfill' has no attribute {name!r}")
