"""ONNX export of the network's emissions and an ONNX Runtime backend for :class:`SlotTagger`.

The graph holds embeddings, char CNN, the packed recurrent encoder and the heads; BIO-constrained
Viterbi (and the CRF's transitions) run outside it, in the same code as the eager path, so both
backends decode identically. ``<name>.onnx.json`` beside the graph holds the vocabularies, tag
and intent labels and the decoding transitions, for consumers that do not read the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from .errors import CheckpointError

INPUTS = ["words", "chars", "char_index", "lengths"]


class _EmissionGraph(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, words, chars, char_index, lengths):
        emissions, intent = self.net(words, chars, char_index, lengths)
        return (emissions,) if intent is None else (emissions, intent)


def onnx_path_for(ckpt: str | Path, precision: str = "fp32") -> Path:
    """``model.onnx`` (float32) or ``model.int8.onnx`` (int8 weights) next to the checkpoint."""
    return Path(ckpt).with_suffix(".int8.onnx" if precision == "int8" else ".onnx")


def quantize_onnx(graph: str | Path, output: str | Path | None = None) -> Path:
    """Write an int8 copy of a float32 graph (dynamic quantization: int8 weights, activations
    quantized per batch), with the same sidecar; LSTM and matrix products then use integer kernels."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = Path(graph)
    out = Path(output) if output else graph.with_suffix(".int8.onnx")
    quantize_dynamic(str(graph), str(out), weight_type=QuantType.QInt8)
    Path(str(out) + ".json").write_text(Path(str(graph) + ".json").read_text())
    return out


def export_onnx(ckpt: str | Path, output: str | Path | None = None, opset: int = 17) -> Path:
    """Write ``<ckpt>.onnx`` (dynamic batch and sequence axes) and its ``.onnx.json`` sidecar."""
    from .tagger import build_net, read_checkpoint

    state = read_checkpoint(ckpt)
    net, vocabs = build_net(state, ckpt)
    out = Path(output) if output else onnx_path_for(ckpt)
    out.parent.mkdir(parents=True, exist_ok=True)
    words = torch.tensor([[2, 3, 4], [2, 3, 0]])
    chars = torch.tensor([[0, 0, 0, 0], [2, 3, 0, 0], [2, 3, 4, 5]])
    char_index = torch.tensor([[1, 2, 1], [2, 1, 0]])
    lengths = torch.tensor([3, 2])
    outputs = ["emissions"] + (["intent_logits"] if net.intent_head is not None else [])
    axes = {
        "words": {0: "batch", 1: "tokens"},
        "chars": {0: "word_types", 1: "word_chars"},
        "char_index": {0: "batch", 1: "tokens"},
        "lengths": {0: "batch"},
        "emissions": {0: "batch", 1: "tokens"},
        "intent_logits": {0: "batch"},
    }
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the RNN-with-batch-size tracer warnings do not apply to packed inputs
        torch.onnx.export(
            _EmissionGraph(net),
            (words, chars, char_index, lengths),
            str(out),
            input_names=INPUTS,
            output_names=outputs,
            dynamic_axes={k: v for k, v in axes.items() if k in INPUTS + outputs},
            opset_version=opset,
            dynamo=False,
        )
    params = net.decode_params()
    sidecar = {
        "format": state.get("format"),
        "net": state["net"],
        "vocabs": vocabs.to_dict(),
        "decode": {
            "trans": params["trans"].tolist(),
            "start": params["start"].tolist(),
            "end": params["end"].tolist(),
            "log_softmax": params["log_softmax"],
        },
        "inputs": INPUTS,
        "outputs": outputs,
    }
    Path(str(out) + ".json").write_text(json.dumps(sidecar))
    return out


class OnnxEmissions:
    """Computes emissions (and intent logits) with ONNX Runtime."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise CheckpointError("backend=onnx needs onnxruntime: pip install 'slotfill[onnx]'") from None
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise CheckpointError(f"{path}: not a readable ONNX model ({str(e).splitlines()[0][:200]})") from None
        self.outputs = [o.name for o in self.session.get_outputs()]
        # a model without char features has no "chars"/"char_index" inputs: the exporter drops unused inputs
        self.inputs = [i.name for i in self.session.get_inputs()]

    @classmethod
    def for_checkpoint(cls, ckpt: str | Path, threads: int | None = None, precision: str = "fp32") -> OnnxEmissions:
        path = onnx_path_for(ckpt, precision)
        if not path.is_file():
            raise CheckpointError(f"{path}: no ONNX model next to the checkpoint (run: python export.py ckpt={ckpt})")
        return cls(path, threads)

    def __call__(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        feeds = {k: batch[k].numpy() for k in self.inputs}
        res = self.session.run(None, feeds)
        emissions = torch.from_numpy(res[0])
        intent = torch.from_numpy(res[1]) if len(res) > 1 else None
        return emissions, intent
