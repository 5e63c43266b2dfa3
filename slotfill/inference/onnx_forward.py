"""The model's forward pass in ONNX Runtime, for :class:`slotfill.SlotTagger` (``backend=onnx``), and
the export's parity check: ONNX Runtime and PyTorch must give the same tags and intents."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from slotfill.core.sidecar import onnx_path_for
from slotfill.errors import CheckpointError, SlotfillError, first_line
from slotfill.inference.onnx_session import open_export, open_session
from slotfill.models.slot_model import SlotModel


class OnnxEmissions:
    """The model's forward pass (emissions and intent logits) in ONNX Runtime."""

    def __init__(self, path: Path, threads: int | None = None, session=None, graph: bytes | None = None) -> None:
        self.path = path
        self.graph = graph  # the bytes the session was made from, when known: what a pickled tagger carries
        self.session = session or open_session(path, threads)
        self.outputs = [o.name for o in self.session.get_outputs()]
        # a model without char features has no "chars"/"char_index" inputs: the exporter drops unused inputs
        self.inputs = [i.name for i in self.session.get_inputs()]

    @classmethod
    def for_model(
        cls, model: SlotModel, ckpt: str | Path, threads: int | None = None, precision: str = "fp32"
    ) -> OnnxEmissions:
        """The graph exported from ``model`` next to its checkpoint; a graph of another model is refused."""
        path = onnx_path_for(ckpt, precision)
        if not path.is_file():
            raise CheckpointError(f"{path}: no ONNX model next to the checkpoint (run: slotfill export ckpt={ckpt})")
        graph = path.read_bytes()
        session, _ = open_export(path, threads, fingerprint=model.fingerprint(), model=ckpt, data=graph)
        return cls(path, session=session, graph=graph)

    def __call__(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        feeds = {k: batch[k].numpy() for k in self.inputs}
        try:
            res = self.session.run(None, feeds)
        except Exception as e:  # onnxruntime raises its own types; a graph that cannot run this batch
            raise CheckpointError(f"{self.path}: ONNX Runtime cannot run the graph ({first_line(e)})") from None
        emissions = torch.from_numpy(res[0])
        intent = torch.from_numpy(res[1]) if len(res) > 1 else None
        return emissions, intent


def check_parity(
    model: SlotModel, graph: str | Path, sentences: int = 64, seed: int = 0, name: str | Path | None = None
) -> None:
    """Tag sentences drawn from the model's own vocabulary eagerly and in ONNX Runtime: same tags, same
    intents (``name``: the graph's name in the error, when ``graph`` is a file still to be renamed)."""
    rng = random.Random(seed)
    words = [w for w in model.vocabs.words.itos if w not in model.vocabs.words.specials] or ["x"]
    token_lists = [[rng.choice(words) for _ in range(rng.randint(1, 30))] for _ in range(sentences)]
    token_lists.append(["a-word-the-model-never-saw", *words[:3]])
    eager = model.predict(token_lists)
    onnx = model.predict(token_lists, forward=OnnxEmissions(Path(graph)))
    differ = sum(a["tags"] != b["tags"] or a["intent"] != b["intent"] for a, b in zip(eager, onnx))
    if differ:
        raise SlotfillError(
            f"{name or graph}: ONNX Runtime and PyTorch disagree on {differ} of {len(eager)} sentences; not written"
        )
