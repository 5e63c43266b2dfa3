"""ONNX export of a :class:`SlotModel`'s forward pass, its sidecar, and the int8 copy.

The graph holds embeddings, char CNN, the packed recurrent encoder and the heads; BIO-constrained
Viterbi (and the CRF's transitions) run outside it, in :meth:`SlotModel.decode`, so both
backends decode identically. ``<name>.onnx.json`` beside the graph is the sidecar: the model's
card (:mod:`slotfill.core.schema`, with the model's fingerprint), vocabularies and decoding
transitions. The graph's ``metadata_props`` hold the model's fingerprint and the sidecar's digest
(:mod:`slotfill.core.fingerprint`), so a graph is used only with its own sidecar and model.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from slotfill.core import native_stderr
from slotfill.core.files import check_writable, file_state, temporary_beside
from slotfill.core.fingerprint import (
    GRAPH_FINGERPRINT,
    GRAPH_PRECISION,
    GRAPH_SIDECAR,
    SOURCE_FILE,
    file_sha256,
    sidecar_digest,
)
from slotfill.core.sidecar import onnx_path_for, read_sidecar, sidecar_path
from slotfill.errors import SlotfillError, first_line
from slotfill.models.slot_model import SlotModel

__all__ = ["drop_stale_int8", "export_onnx", "onnx_path_for", "quantize_onnx"]

INPUTS = ["words", "chars", "char_index", "lengths"]
MIN_OPSET = 11  # opset 10 and below: torch cannot write the packed sequences' sort, or ONNX Runtime cannot load it


def max_opset() -> int:
    """The newest ONNX opset torch's TorchScript exporter writes (``dynamo=False``: the exporter used here)."""
    from torch.onnx import _constants

    return int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


class _Graph(nn.Module):
    """:meth:`SlotModel.forward` with positional tensors, as the ONNX exporter calls it."""

    def __init__(self, model: SlotModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, words, chars, char_index, lengths, lexicon=None):
        batch = {"words": words, "chars": chars, "char_index": char_index, "lengths": lengths, "lexicon": lexicon}
        emissions, intent = self.model(batch)
        return (emissions,) if intent is None else (emissions, intent)


def sidecar(model: SlotModel, inputs: list[str], outputs: list[str]) -> dict:
    """The ``.onnx.json`` content: the model's card, vocabularies, decoding transitions, graph names."""
    params = model.net.decode_params()
    return {
        **model.card(),
        "vocabs": model.vocabs.to_dict(),
        "decode": {
            "trans": params["trans"].tolist(),
            "start": params["start"].tolist(),
            "end": params["end"].tolist(),
            "log_softmax": params["log_softmax"],
        },
        "inputs": inputs,
        "outputs": outputs,
    }


def export_onnx(
    model: SlotModel,
    output: str | Path,
    opset: int = 17,
    source: str | Path | None = None,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """Write the graph (dynamic batch and sequence axes) and its sidecar. ``source``: the model file
    exported, whose digest the sidecar records (by default the file the model was loaded from or
    saved to, while the weights are still that file's); ``check(graph)`` runs on the new graph, its
    sidecar beside it, before it takes the name, so a graph that fails it never replaces an earlier export."""
    out = Path(output)
    if source is None and model.model_file is not None:
        path, fingerprint, state = model.model_file
        source = path if model.fingerprint() == fingerprint and file_state(path) == state else None
    words = torch.tensor([[2, 3, 4], [2, 3, 0]])
    chars = torch.tensor([[0, 0, 0, 0], [2, 3, 0, 0], [2, 3, 4, 5]])
    char_index = torch.tensor([[1, 2, 1], [2, 1, 0]])
    lengths = torch.tensor([3, 2])
    inputs, args = list(INPUTS), [words, chars, char_index, lengths]
    if model.vocabs.lexicon is not None:  # gazetteer features [batch, tokens, types]
        inputs.append("lexicon")
        args.append(torch.ones(2, 3, len(model.vocabs.lexicon), dtype=torch.long))
    outputs = ["emissions"] + (["intent_logits"] if model.predicts_intent else [])
    axes = {
        "words": {0: "batch", 1: "tokens"},
        "chars": {0: "word_types", 1: "word_chars"},
        "char_index": {0: "batch", 1: "tokens"},
        "lengths": {0: "batch"},
        "lexicon": {0: "batch", 1: "tokens"},
        "emissions": {0: "batch", 1: "tokens"},
        "intent_logits": {0: "batch"},
    }
    check_writable(out.parent)
    tmp = temporary_beside(out)
    try:
        with warnings.catch_warnings(), native_stderr.filtered(_PACKING_SHAPES):
            warnings.simplefilter("ignore")  # the RNN-with-batch-size tracer warnings do not apply to packed inputs
            torch.onnx.export(
                _Graph(model.eval()),
                tuple(args),
                str(tmp),
                input_names=inputs,
                output_names=outputs,
                dynamic_axes={k: v for k, v in axes.items() if k in inputs + outputs},
                opset_version=opset,
                dynamo=False,
            )
        meta = sidecar(model, inputs, outputs)
        if source is not None:
            meta[SOURCE_FILE] = _digest_of_source(model, source)
        _sign(tmp, meta)
        text = json.dumps(meta)
        _checked(tmp, text, check)
        _install(tmp, out, text)
    finally:
        tmp.unlink(missing_ok=True)  # never half a graph beside the model
    return out


def _checked(graph: Path, sidecar_text: str, check: Callable[[Path], None] | None) -> None:
    """Run ``check(graph)`` with the sidecar to be installed written beside the temporary graph: what is
    checked is the pair a loader reads, the sidecar's vocabularies and decoding included."""
    if check is None:
        return
    side = sidecar_path(graph)
    try:
        try:
            side.write_text(sidecar_text)
        except OSError as e:
            raise SlotfillError(f"{side}: cannot write ({e.strerror})") from None
        check(graph)
    finally:
        side.unlink(missing_ok=True)


def _digest_of_source(model: SlotModel, source: str | Path) -> str:
    """The digest of the model file exported. For the file the model was read from (or saved to), it
    must still be that file: one rewritten since (a run saving into it) is refused, never recorded as
    the source of weights it no longer holds."""
    digest = file_sha256(source)
    loaded = model.model_file
    if loaded is not None and Path(loaded[0]) == Path(source) and file_state(source) != loaded[2]:
        raise SlotfillError(f"{source}: changed since the model was read from it (a run writing it?); export again")
    return digest


def _install(graph: Path, out: Path, sidecar_text: str) -> None:
    """The new graph and its sidecar under their names. The graph's rename comes first: if it fails the
    earlier export stays as it was; the sidecar's follows at once (a graph beside another export's
    sidecar is refused when loaded, never answers)."""
    side = temporary_beside(sidecar_path(out))
    try:
        side.write_text(sidecar_text)
        try:
            graph.replace(out)
        except OSError as e:
            raise SlotfillError(f"{out}: cannot write the graph there ({e.strerror})") from None
        side.replace(sidecar_path(out))
    except OSError as e:
        raise SlotfillError(f"{sidecar_path(out)}: cannot write ({e.strerror})") from None
    finally:
        side.unlink(missing_ok=True)


def _sign(graph: Path, meta: dict, precision: str = "fp32") -> None:
    """Record the model's fingerprint, the sidecar's digest and the graph's precision in its ``metadata_props``."""
    import onnx  # the export extra

    proto = onnx.load(str(graph))
    props = {p.key: p.value for p in proto.metadata_props}
    props.update(
        {GRAPH_FINGERPRINT: meta["fingerprint"], GRAPH_SIDECAR: sidecar_digest(meta), GRAPH_PRECISION: precision}
    )
    del proto.metadata_props[:]
    for key, value in sorted(props.items()):
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(graph))


# the exporter's C++ side warns that prim::PackPadded/PadPacked have no shape inference: true and harmless
# here (the axes are declared dynamic, and parity is checked), but printed straight to descriptor 2
_PACKING_SHAPES = re.compile(rb"prim::PackPadded|prim::PadPacked")


class _DropMessage(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


@contextlib.contextmanager
def _without_quantization_advice() -> Iterator[None]:
    """onnxruntime advises "pre-processing before quantization" on the root logger: shape inference
    that this graph (packed sequences) does not need, and that a user cannot act on."""
    drop = _DropMessage("pre-processing before quantization")
    logging.getLogger().addFilter(drop)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(drop)


def quantize_onnx(
    graph: str | Path, output: str | Path | None = None, check: Callable[[Path], None] | None = None
) -> Path:
    """Write an int8 copy of a float32 graph (dynamic quantization: int8 weights, activations
    quantized per batch), with the same sidecar; LSTM and matrix products then use integer kernels.
    ``check(copy)`` runs on the new copy, its sidecar beside it, before it takes the name: a copy that
    fails it is not written, and an earlier one under that name (the same quantization of this graph,
    or a stale one) is removed."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # optional extra: slotfill[onnx]

    graph = Path(graph)
    out = Path(output) if output else onnx_path_for(graph, "int8")
    tmp = temporary_beside(out)
    try:
        try:
            with _without_quantization_advice():
                quantize_dynamic(str(graph), str(tmp), weight_type=QuantType.QInt8)
        except Exception as e:  # onnxruntime's own types: a graph its quantizer cannot take
            raise SlotfillError(
                f"int8=true: ONNX Runtime cannot quantize {graph} ({first_line(e)}); export it with int8=false"
            ) from None
        text = sidecar_path(graph).read_text()
        _sign(tmp, json.loads(text), "int8")
        try:
            _checked(tmp, text, check)
        except SlotfillError:
            out.unlink(missing_ok=True)
            sidecar_path(out).unlink(missing_ok=True)
            raise
        _install(tmp, out, text)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def drop_stale_int8(graph: str | Path) -> Path | None:
    """Remove the int8 copy beside ``graph`` unless it is a copy of this very export (its sidecar the
    same: an earlier export's, of another model or file, goes); the path removed, or None."""
    old = onnx_path_for(graph, "int8")
    if not old.is_file():
        return None
    try:  # the same sidecar: the same model, exported from the same file
        same = read_sidecar(old) == read_sidecar(graph)
    except SlotfillError:
        same = False
    if same:
        return None
    old.unlink()
    sidecar_path(old).unlink(missing_ok=True)
    return old
