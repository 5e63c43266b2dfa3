"""Fingerprints of what decides a model's answers, computed the same way with and without torch.

A model's ``fingerprint`` covers its weights (through their digest, ``weights_sha256``), its
network settings (``model``) and its vocabularies (``vocabs``: words, characters, tags, intents,
the gazetteer lists). ``model.pt`` carries it; an exported graph carries it in its ONNX
``metadata_props`` together with the digest of its sidecar, so a graph copied from another
export, or a sidecar edited by hand, is refused before it answers anything. The sidecar also holds
the digest of the model file exported (``source_sha256``): a graph served in the name of a
``model.pt`` is checked against that file without torch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

GRAPH_FINGERPRINT = "slotfill_fingerprint"  # ONNX metadata_props key: the model's fingerprint
GRAPH_SIDECAR = "slotfill_sidecar_sha256"  # ONNX metadata_props key: digest of the sidecar's content
GRAPH_PRECISION = "slotfill_precision"  # ONNX metadata_props key: fp32 or int8 (the graph's, not its file name's)
SOURCE_FILE = "source_sha256"  # sidecar key: the digest of the model file exported (model.pt)


def digest(value: object) -> str:
    """SHA-256 of a JSON value in one canonical spelling (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def model_fingerprint(weights_sha256: str, model: dict, vocabs: dict) -> str:
    """The fingerprint of a model from its weights' digest, network settings and vocabularies."""
    return digest({"weights_sha256": weights_sha256, "model": model, "vocabs": vocabs})


def sidecar_digest(meta: dict) -> str:
    """The digest of a sidecar's content (as read back from its JSON)."""
    return digest(meta)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (a model file: what an export was made from)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
