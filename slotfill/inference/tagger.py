"""The Python API: load a trained tagger and tag raw sentences.

>>> from slotfill import SlotTagger
>>> tagger = SlotTagger.load("outputs/.../model.pt")
>>> tagger.predict(["i want to leave taipei and arrive in boston"])[0]["spans"]
[{'slot': 'fromloc.city_name', 'text': 'taipei', ...}, {'slot': 'toloc.city_name', 'text': 'boston', ...}]

Only torch and slotfill's model code are imported here (no Lightning, Hydra or datasets),
so a cold start stays short.
"""

from __future__ import annotations

from pathlib import Path

import torch

from slotfill.core.schema import model_path
from slotfill.core.settings import whole_number
from slotfill.errors import ConfigError, first_line
from slotfill.inference.pipeline import MAX_TOKENS, TextTagger
from slotfill.models.slot_model import Forward, SlotModel

__all__ = ["MAX_TOKENS", "SlotTagger"]
PRECISIONS = ("fp32", "bf16", "int8")
BACKENDS = ("torch", "onnx")


def _bf16(model: SlotModel) -> Forward:
    """The eager network under bfloat16 autocast; scores come back in float32 for decoding.

    Tried once on a one-word sentence first: oneDNN refuses a bfloat16 LSTM on some CPUs (without
    native bfloat16) for some layer sizes, and that is a one-line error here, not a traceback on
    the first sentence.
    """

    def forward(batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            emissions, intent = model(batch)
        return emissions.float(), intent.float() if intent is not None else None

    try:
        with torch.inference_mode():
            forward(model.eval().encode([["a"]]))
    except RuntimeError as e:
        raise ConfigError(
            f"precision=bf16: this CPU cannot run the model's LSTM in bfloat16 ({first_line(e)[:90]}); "
            "use precision=fp32"
        ) from None
    return forward


class SlotTagger(TextTagger):
    """A trained slot tagger: raw sentences in, tokens, tags, spans and intent out (see :class:`TextTagger`)."""

    def __init__(self, model: SlotModel, forward: Forward | None = None) -> None:
        self.model = model
        self._forward = forward  # None: the eager float32 network
        self._how = {"backend": "torch", "precision": "fp32", "threads": None}  # what a pickled copy runs on

    def __getstate__(self) -> dict:
        """The model's own state (and, on ONNX Runtime, the graph's bytes): a pickled tagger runs where
        the model files are not (another engine's workers)."""
        graph = None
        if self._how["backend"] == "onnx":
            graph = Path(self._forward.path).read_bytes()
        return {"state": self.model.state(), "how": dict(self._how), "graph": graph}

    def __setstate__(self, d: dict) -> None:
        model = SlotModel.from_state(d["state"], "<pickled tagger>")
        how = d["how"]
        if how["threads"] is not None:
            torch.set_num_threads(how["threads"])
        forward = None
        if how["backend"] == "onnx":
            from slotfill.inference.onnx_forward import OnnxEmissions
            from slotfill.inference.onnx_session import open_session

            forward = OnnxEmissions(Path("<pickled graph>"), session=open_session(d["graph"], how["threads"]))
        elif how["precision"] == "bf16":
            forward = _bf16(model)
        self.__init__(model, forward)
        self._how = how

    @classmethod
    def load(
        cls, path: str | Path, backend: str = "torch", threads: int | None = None, precision: str = "fp32"
    ) -> SlotTagger:
        """Load ``model.pt`` or a training ``.ckpt`` (``backend="onnx"``: the exported ``.onnx`` beside it).

        ``precision`` trades exactness for speed, decoding always stays in float32:
        ``"bf16"`` runs the eager network in bfloat16 (fast on CPUs with native bfloat16,
        AVX512-BF16 or AMX); ``"int8"`` runs the int8-quantized ONNX graph (``backend="onnx"``).
        Tags can differ from fp32 on near-ties; the speed benchmark measures the agreement.
        """
        if backend not in BACKENDS:
            raise ConfigError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
        if precision not in PRECISIONS:
            raise ConfigError(f"precision={precision!r}: choose one of {', '.join(PRECISIONS)}")
        if precision == "bf16" and backend != "torch":
            raise ConfigError("precision='bf16' needs backend=torch (the ONNX graphs are float32 or int8)")
        if precision == "int8" and backend != "onnx":
            raise ConfigError("precision='int8' needs backend=onnx (the int8 graph slotfill export writes)")
        if threads is not None:
            torch.set_num_threads(whole_number(threads, "threads"))
        path = model_path(path)
        model = SlotModel.load(path)
        forward = None
        if backend == "onnx":
            from slotfill.inference.onnx_forward import OnnxEmissions  # onnxruntime: imported only when asked for

            forward = OnnxEmissions.for_model(model, path, threads=threads, precision=precision)
        elif precision == "bf16":
            forward = _bf16(model)
        tagger = cls(model, forward)
        tagger._how = {"backend": backend, "precision": precision, "threads": threads}
        return tagger

    @property
    def vocabs(self):
        return self.model.vocabs

    @property
    def tags(self) -> list[str]:
        return self.model.tags

    @property
    def predicts_intent(self) -> bool:
        return self.model.predicts_intent

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The network's outputs for an encoded batch, on this tagger's backend and precision."""
        return (self._forward or self.model)(batch)

    def _tag(self, pieces: list[list[str]], batch_size: int) -> list[dict]:
        return self.model.predict(pieces, batch_size, forward=self._forward)

    def _emissions(self, pieces: list[list[str]]) -> tuple[list, dict]:
        with torch.inference_mode():
            batch = self.model.encode(pieces)
            emissions, _ = self.forward(batch)
        rows = [emissions[b, :n].float().numpy() for b, n in enumerate(batch["lengths"].tolist())]
        params = self.model.net.decode_params()
        plain = {k: params[k].detach().double().numpy() for k in ("trans", "start", "end")}
        return rows, {**plain, "log_softmax": bool(params["log_softmax"])}
