"""Fingerprints of what decides a model's answers, computed the same way with and without torch.

A model's ``fingerprint`` covers its weights (through their digest, ``weights_sha256``), its
network settings (``model``) and its vocabularies (``vocabs``: words, characters, tags, intents,
the gazetteer lists). ``model.pt`` carries it; an exported graph carries it in its ONNX
``metadata_props`` together with the digest of its sidecar, so a graph copied from another
export, or a sidecar edited by hand, is refused before it answers anything.
"""

from __future__ import annotations

import hashlib
import json

GRAPH_FINGERPRINT = "slotfill_fingerprint"  # ONNX metadata_props key: the model's fingerprint
GRAPH_SIDECAR = "slotfill_sidecar_sha256"  # ONNX metadata_props key: digest of the sidecar's content


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
