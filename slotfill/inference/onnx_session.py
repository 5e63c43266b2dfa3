"""Opening an ONNX Runtime session on an exported graph (torch-free): threads, errors, and the check
that graph, sidecar and model belong together (:mod:`slotfill.core.fingerprint`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime

from slotfill.core.fingerprint import GRAPH_FINGERPRINT, GRAPH_PRECISION, GRAPH_SIDECAR, sidecar_digest
from slotfill.core.sidecar import read_sidecar, sidecar_path
from slotfill.errors import CheckpointError, MissingExtra, first_line


def open_session(
    graph: str | Path | bytes, threads: int | None = None, where: str | Path | None = None, again: str = ""
) -> onnxruntime.InferenceSession:
    """An ``onnxruntime.InferenceSession`` on the CPU for a graph file (or its bytes); ``threads``
    intra-op threads (None: onnxruntime's choice). An unreadable graph is a one-line error naming
    ``where`` (the file its bytes were read from), followed by ``again`` (what to do)."""
    try:
        import onnxruntime as ort  # optional extra
    except ImportError:
        raise MissingExtra("onnxruntime", "onnx", "backend=onnx") from None
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            graph if isinstance(graph, bytes) else str(graph), opts, providers=["CPUExecutionProvider"]
        )
    except Exception as e:
        where = where or ("<graph bytes>" if isinstance(graph, bytes) else graph)
        advice = f"; {again}" if again else ""
        raise CheckpointError(f"{where}: not a readable ONNX model ({first_line(e)}){advice}") from None


def open_export(
    graph: str | Path,
    threads: int | None = None,
    fingerprint: str | None = None,
    model: str | Path = "MODEL.pt",
    data: bytes | None = None,
) -> tuple[onnxruntime.InferenceSession, dict]:
    """The session and sidecar of an export, refused unless they belong together (and, given a
    ``fingerprint``, to that model): a graph copied from another export, an edited sidecar or an
    export of other weights never answers. ``data``: the graph's bytes as already read (the session is
    made from them, so what is checked is what runs)."""
    graph = Path(graph)
    meta = read_sidecar(graph)
    again = f"re-export it: slotfill export ckpt={model}"
    session = open_session(graph if data is None else data, threads, where=graph, again=again)
    props = session.get_modelmeta().custom_metadata_map
    if GRAPH_FINGERPRINT not in props or not meta.get("fingerprint"):
        raise CheckpointError(f"{graph}: exported without a slotfill fingerprint (an older slotfill?); {again}")
    if props.get(GRAPH_SIDECAR) != sidecar_digest(meta) or props[GRAPH_FINGERPRINT] != meta["fingerprint"]:
        raise CheckpointError(
            f"{sidecar_path(graph)}: not the sidecar of {graph} (one of the two was edited or copied from "
            f"another export); {again}"
        )
    named = "int8" if graph.name.endswith(".int8.onnx") else "fp32"
    recorded = props.get(GRAPH_PRECISION, named)  # exports before the record: the file name's
    if recorded != named:  # a graph copied under the other precision's name is never served as it
        raise CheckpointError(f"{graph}: holds the {recorded} graph under the {named} graph's name; {again}")
    if fingerprint is not None and props[GRAPH_FINGERPRINT] != fingerprint:
        raise CheckpointError(f"{graph}: exported from another model than {model} (stale export); {again}")
    return session, meta
