"""The model's forward pass in ONNX Runtime, for :class:`slotfill.SlotTagger` (``backend=onnx``), and
the export's checks: the graph and its sidecar must give PyTorch's tags, intents and confidences, and
the int8 copy the float32 graph's tags and intents on most sentences."""

from __future__ import annotations

import random
from pathlib import Path

import torch

from slotfill.core.sidecar import onnx_path_for, read_sidecar
from slotfill.core.vocab import Vocabularies
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


# the share of the parity sentences on which an int8 copy must give its float32 graph's tags and intent:
# random strings of the model's words, 1 to 30 long, are harder than real text (the int8 copies of six
# trained ATIS models agreed on 82-100% of them, and default42's on 891 of 893 ATIS test sentences)
INT8_AGREEMENT = 0.7


def parity_sentences(vocabs: Vocabularies, sentences: int = 64, seed: int = 0) -> list[list[str]]:
    """Token lists drawn from the model's own vocabulary, and one with a word it never saw."""
    rng = random.Random(seed)
    # a training token of invisible characters alone is "" once normalised: a word, but no token to tag
    words = [w for w in vocabs.words.itos if w not in vocabs.words.specials and w.split() == [w]] or ["x"]
    token_lists = [[rng.choice(words) for _ in range(rng.randint(1, 30))] for _ in range(sentences)]
    token_lists.append(["a-word-the-model-never-saw", *words[:3]])
    return token_lists


def _same(a: dict, b: dict) -> bool:
    """The same tags and intent, and confidences within 0.001 (two runtimes' float sums differ in the last bits)."""
    if a["tags"] != b["tags"] or a["intent"] != b["intent"]:
        return False
    pairs = [(s["confidence"], t["confidence"]) for s, t in zip(a["spans"], b["spans"])]
    pairs.append((a["intent_confidence"] or 0.0, b["intent_confidence"] or 0.0))
    return all(abs(x - y) <= 1e-3 for x, y in pairs)


def check_parity(
    model: SlotModel, graph: str | Path, sentences: int = 64, seed: int = 0, name: str | Path | None = None
) -> int:
    """Tag sentences drawn from the model's own vocabulary with :class:`SlotTagger` (eager PyTorch) and
    with :class:`OnnxTagger` on the graph and the sidecar written beside it (numpy decoding, as a
    torch-free deployment runs it): the same tags, intents and confidences; how many were compared
    (``name``: the graph's name in the error, when ``graph`` is a file still to be renamed)."""
    from slotfill.inference.onnx_tagger import OnnxTagger
    from slotfill.inference.tagger import SlotTagger

    token_lists = parity_sentences(model.vocabs, sentences, seed)
    session, meta = open_export(Path(graph), fingerprint=model.fingerprint(), model=name or graph)
    onnx = OnnxTagger(session, meta, str(name or graph)).predict_tokens(token_lists)
    eager = SlotTagger(model).predict_tokens(token_lists)
    differ = sum(not _same(a, b) for a, b in zip(eager, onnx))
    if differ:
        raise SlotfillError(
            f"{name or graph}: ONNX Runtime (with its sidecar) and PyTorch disagree on {differ} of "
            f"{len(eager)} sentences; not written"
        )
    return len(eager)


def check_int8(
    fp32: str | Path, int8: str | Path, sentences: int = 64, seed: int = 0, name: str | Path | None = None
) -> tuple[int, int]:
    """On the parity sentences, how many the int8 graph (its sidecar beside it) tags with the float32
    graph's tags and intent, and of how many; fewer than :data:`INT8_AGREEMENT` of them is refused
    (``name``: the int8 graph's name, when ``int8`` is a file still to be renamed)."""
    from slotfill.inference.onnx_tagger import OnnxTagger

    name = name or int8
    reference = OnnxTagger(*open_export(Path(fp32)), str(fp32))
    token_lists = parity_sentences(reference.vocabs, sentences, seed)
    # the int8 file was signed for this sidecar a moment ago; its temporary name says no precision to check
    copy = OnnxTagger(open_session(Path(int8)), read_sidecar(int8), str(name))
    a, b = reference.predict_tokens(token_lists), copy.predict_tokens(token_lists)
    agree = sum(x["tags"] == y["tags"] and x["intent"] == y["intent"] for x, y in zip(a, b))
    if agree < INT8_AGREEMENT * len(a):
        raise SlotfillError(
            f"int8=true: {name}: the int8 graph gives the float32 graph's tags and intent on only {agree} of "
            f"{len(a)} sentences ({agree / len(a):.0%}; at least {INT8_AGREEMENT:.0%} needed); no int8 copy kept: "
            "export with int8=false"
        )
    return agree, len(a)
