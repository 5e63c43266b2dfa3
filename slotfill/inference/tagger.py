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

from slotfill.core.backends import check_precision, is_onnx
from slotfill.core.fingerprint import GRAPH_FINGERPRINT
from slotfill.core.schema import model_path
from slotfill.core.threads import resolve as resolve_threads
from slotfill.errors import CheckpointError, ConfigError, first_line
from slotfill.inference.pipeline import MAX_TOKENS, TextTagger
from slotfill.models.bfloat16 import hardware_bf16
from slotfill.models.slot_model import Forward, SlotModel

__all__ = ["MAX_TOKENS", "SlotTagger"]
BACKENDS = ("torch", "onnx")


def resolve_precision(setting: str, model: SlotModel) -> str:
    """``fp32`` or ``bf16``: what ``setting`` runs ``model`` in on PyTorch. ``auto`` is ``bf16`` for a
    model whose LSTM layers trained in bfloat16 (``train.precision`` recorded in the file) on a CPU
    with AMX, where it tags the same and batches run faster (``bench/infer_precision.py``), else ``fp32``."""
    if setting != "auto":
        return setting
    trained = (model.meta.get("train") or {}).get("precision")
    return "bf16" if trained == "bf16" and model.config.cell == "lstm" and hardware_bf16() else "fp32"


def _bf16(model: SlotModel, asked: bool = True) -> str:
    """Run ``model``'s recurrent layers in bfloat16, as ``train.precision=bf16`` trains them: one fused
    oneDNN call per layer and direction on bfloat16 copies of the inputs and weights; every other layer
    and the decoding stay float32.

    Tried once on a one-word sentence first: oneDNN refuses a bfloat16 LSTM on some CPUs (without
    native bfloat16) for some layer sizes, and that is a one-line error here (``asked``: the user
    chose bf16), not a traceback on the first sentence; under ``auto`` it is float32 instead.
    Returns the precision the model now runs in.
    """
    model.predict_recurrent_in(torch.bfloat16)
    try:
        with torch.inference_mode():
            model.eval()(model.encode([["a"]]))
    except RuntimeError as e:
        model.predict_recurrent_in(None)
        if not asked:
            return "fp32"
        raise ConfigError(
            f"precision=bf16: this CPU cannot run the model's LSTM in bfloat16 ({first_line(e)[:90]}); "
            "use precision=fp32"
        ) from None
    return "bf16"


def _runs_in(model: SlotModel, backend: str, setting: str) -> str:
    """Set ``model`` up for ``setting`` on ``backend``; the precision it then runs in."""
    if backend == "onnx":
        return "int8" if setting == "int8" else "fp32"
    if setting == "bf16" and model.config.cell != "lstm":
        raise ConfigError(
            f"precision=bf16: only the LSTM's layers run in bfloat16 (model.cell={model.config.cell}); "
            "use precision=fp32 or auto"
        )
    resolved = resolve_precision(setting, model)
    return _bf16(model, asked=setting == "bf16") if resolved == "bf16" else "fp32"


class SlotTagger(TextTagger):
    """A trained slot tagger: raw sentences in, tokens, tags, spans and intent out (see :class:`TextTagger`)."""

    def __init__(self, model: SlotModel, forward: Forward | None = None) -> None:
        self.model = model
        self._forward = forward  # None: the eager network (its recurrent layers as the model says)
        self._how = {"backend": "torch", "precision": "fp32", "threads": None}  # what a pickled copy runs on
        self.precision = "fp32"  # what the network runs in: fp32, bf16 or int8 (``auto`` resolved)

    def __getstate__(self) -> dict:
        """The model's own state (and, on ONNX Runtime, the graph's bytes): a pickled tagger runs where
        the model files are not (another engine's workers)."""
        graph = None
        if self._how["backend"] == "onnx":
            graph = self._forward.graph  # as loaded and checked, not the file as it may be now
            if graph is None:
                raise TypeError("a SlotTagger on an ONNX session made by hand cannot be pickled: load it from its file")
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

            session = open_session(d["graph"], how["threads"], where="<pickled tagger>")
            if session.get_modelmeta().custom_metadata_map.get(GRAPH_FINGERPRINT) != model.fingerprint():
                raise CheckpointError("<pickled tagger>: its graph and its model do not belong together")
            forward = OnnxEmissions(Path("<pickled graph>"), session=session, graph=d["graph"])
        self.__init__(model, forward)
        self._how = how
        self.precision = _runs_in(model, how["backend"], how["precision"])  # auto: as this machine allows

    @classmethod
    def load(
        cls, path: str | Path, backend: str = "torch", threads: int | str | None = None, precision: str = "auto"
    ) -> SlotTagger:
        """Load ``model.pt`` or a training ``.ckpt`` (``backend="onnx"``: the exported ``.onnx`` beside it).

        ``precision`` trades exactness for speed, decoding always stays in float32:
        ``"bf16"`` runs the recurrent layers in bfloat16 (fast on CPUs with native bfloat16,
        AVX512-BF16 or AMX; the other layers stay float32); ``"int8"`` runs the int8-quantized ONNX
        graph (``backend="onnx"``); ``"auto"`` (the default) is ``"bf16"`` for a model trained with
        bfloat16 LSTM layers on a CPU with AMX (:func:`resolve_precision`), else ``"fp32"``. Tags can
        differ from fp32 on near-ties; ``bench/infer_precision.py`` measures the agreement.

        ``threads``: a number or ``"auto"`` (the commands' policy: one) sets torch's intra-op threads
        for the whole process (``torch.set_num_threads``), here and again wherever a pickled copy is
        unpickled; None (the default) leaves them as they are (torch's own: every core).
        """
        if backend not in BACKENDS:
            raise ConfigError(f"backend={backend!r}: choose one of {', '.join(BACKENDS)}")
        if is_onnx(path):  # the graph alone runs without torch, on the tagger made for it
            raise ConfigError(
                f"{path}: an ONNX graph; load it with slotfill.load_tagger(path) or OnnxTagger.load(path) "
                "(SlotTagger.load takes the model.pt it was exported from)"
            )
        check_precision(precision, backend, path)
        if threads is not None:  # a number, or "auto" (the CLI's policy: one intra-op thread); process-wide
            threads = resolve_threads(threads)
            torch.set_num_threads(threads)
        path = model_path(path)
        model = SlotModel.load(path)
        forward = None
        if backend == "onnx":
            from slotfill.inference.onnx_forward import OnnxEmissions  # onnxruntime: imported only when asked for

            forward = OnnxEmissions.for_model(model, path, threads=threads, precision=precision)
        tagger = cls(model, forward)
        tagger._how = {"backend": backend, "precision": precision, "threads": threads}
        tagger.precision = _runs_in(model, backend, precision)
        return tagger

    def __repr__(self) -> str:
        source = str(self.model.model_file[0]) if self.model.model_file else None  # None: made or unpickled here
        how = self._how
        return (
            f"SlotTagger({source!r}, backend={how['backend']!r}, precision={self.precision!r}, "
            f"threads={how['threads']!r})"
        )

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
