"""Opening an ONNX Runtime session on a graph (torch-free): one place for the threads and the errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime

from slotfill.errors import CheckpointError, MissingExtra, first_line


def open_session(graph: str | Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An ``onnxruntime.InferenceSession`` on the CPU; ``threads`` intra-op threads (None: onnxruntime's choice)."""
    try:
        import onnxruntime as ort  # optional extra
    except ImportError:
        raise MissingExtra("onnxruntime", "onnx", "backend=onnx") from None
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise CheckpointError(f"{graph}: not a readable ONNX model ({first_line(e)})") from None
