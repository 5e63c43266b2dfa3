"""The ONNX graph's ``.json`` sidecar: path and reading (torch-free; written by :mod:`slotfill.models.onnx_export`)."""

from __future__ import annotations

import json
from pathlib import Path

from slotfill.core.schema import check_format
from slotfill.errors import CheckpointError

NOT_CARD = ("vocabs", "decode", "inputs", "outputs")  # the sidecar's keys beyond the model card


def sidecar_path(graph: str | Path) -> Path:
    return Path(str(graph) + ".json")


def read_sidecar(graph: str | Path) -> dict:
    path = sidecar_path(graph)
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: the graph's sidecar is missing; re-export the model") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable sidecar ({e})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: not a slotfill sidecar")
    check_format(meta.get("format"), path)
    return meta


def card_of(meta: dict) -> dict:
    """The model card inside a sidecar."""
    return {k: v for k, v in meta.items() if k not in NOT_CARD}


def onnx_path_for(ckpt: str | Path, precision: str = "fp32") -> Path:
    """``model.onnx`` (float32) or ``model.int8.onnx`` (int8 weights) next to the checkpoint."""
    return Path(ckpt).with_suffix(".int8.onnx" if precision == "int8" else ".onnx")


def exported_from(graph: str | Path) -> Path:
    """The model file a graph is named after: ``model.pt`` for ``model.onnx`` and ``model.int8.onnx``."""
    return Path(str(graph).removesuffix(".onnx").removesuffix(".int8") + ".pt")


def export_files(model_file: str | Path) -> list[Path]:
    """What ``slotfill export ckpt=MODEL_FILE`` writes beside it besides the model card: the graph,
    its int8 copy and their sidecars."""
    graph = onnx_path_for(model_file)
    int8 = onnx_path_for(graph, "int8")
    return [graph, sidecar_path(graph), int8, sidecar_path(int8)]
