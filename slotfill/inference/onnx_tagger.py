"""``OnnxTagger``: tag raw text with ``model.onnx`` and its sidecar alone (numpy + onnxruntime, no torch).

>>> tagger = OnnxTagger.load("outputs/.../model.onnx")
>>> tagger.predict(["flights from boston to denver"])[0]["spans"]

The sidecar holds what ``model.pt`` would add: vocabularies (with the gazetteer lists), decoding
transitions and the model card. Results are those of :class:`slotfill.SlotTagger`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slotfill.core.backends import check_precision, is_onnx
from slotfill.core.batch import encode_batch
from slotfill.core.fingerprint import GRAPH_FINGERPRINT, SOURCE_FILE, file_sha256
from slotfill.core.ranking import ranked
from slotfill.core.schema import MODEL_FILE, model_path
from slotfill.core.settings import whole_number
from slotfill.core.sidecar import card_of, exported_from, onnx_path_for, read_sidecar
from slotfill.core.threads import resolve as resolve_threads
from slotfill.core.vocab import Vocabularies
from slotfill.errors import CheckpointError, ConfigError, first_line
from slotfill.inference.numpy_decode import confidences, decode_intents, decode_tags, sigmoid
from slotfill.inference.onnx_session import open_export, open_session
from slotfill.inference.pipeline import TextTagger


def graph_path(path: str | Path) -> Path:
    """The graph for ``path``: ``model.onnx`` itself, or the one beside ``model.pt``."""
    path = Path(path)
    return path if path.suffix == ".onnx" else onnx_path_for(path)


class OnnxTagger(TextTagger):
    """A tagger on an exported graph; ``card`` is the model card the sidecar carries."""

    def __init__(self, session, meta: dict, source: str = "", graph: bytes | None = None, threads=None) -> None:
        self.session = session
        self.source = source
        self._meta, self._graph, self._threads = meta, graph, threads  # what a pickled copy rebuilds from
        try:
            self.vocabs = Vocabularies.from_dict(meta["vocabs"])
            d = meta["decode"]
            self.params = {
                "trans": np.asarray(d["trans"], dtype=np.float32),
                "start": np.asarray(d["start"], dtype=np.float32),
                "end": np.asarray(d["end"], dtype=np.float32),
                "log_softmax": bool(d["log_softmax"]),
            }
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{source}.json: not a slotfill sidecar ({e})") from None
        self.card = card_of(meta)
        self.inputs = [i.name for i in session.get_inputs()]
        self.predicts_intent = len(session.get_outputs()) > 1
        # what the graph runs in: its file name's precision, which open_export checked against its own record
        self.precision = "int8" if source.endswith(".int8.onnx") else "fp32"

    @classmethod
    def load(cls, path: str | Path, threads: int | str | None = "auto", precision: str = "auto") -> OnnxTagger:
        """Load ``model.onnx`` (or the graph beside a ``model.pt`` path) and its ``.json`` sidecar;
        ``precision="int8"``: the int8 copy beside it. ``threads``: the session's intra-op threads, a
        number or ``"auto"`` (the commands' policy, :mod:`slotfill.core.threads`: one, as it is fastest
        when anything else runs); None: ONNX Runtime's own choice, every core.

        The graph must be the export of what ``path`` names: of that ``model.pt``, or of the one it
        is named after beside it when a graph is named (checked by the file's digest, which the
        sidecar records), and, for the int8 copy, of the ``model.onnx`` beside it; an export left from
        another model is refused, never served in this one's name. A graph with no ``.pt`` beside it
        (shipped alone) is its own model."""
        graph = Path(path) / Path(MODEL_FILE).with_suffix(".onnx") if Path(path).is_dir() else graph_path(path)
        int8 = onnx_path_for(graph, "int8")
        wants_int8 = precision == "int8" and not graph.name.endswith(".int8.onnx")
        if not graph.is_file() and not (wants_int8 and int8.is_file()):  # an int8 graph may stand alone
            if Path(path).is_dir():
                raise CheckpointError(f"{path}: a folder without model.onnx (export one: slotfill export ckpt={path})")
            raise CheckpointError(f"{graph}: no ONNX model (export one: slotfill export ckpt=MODEL.pt)")
        check_precision(precision, "onnx", graph)
        if threads is not None:  # a number, or "auto" (the CLI's policy: one intra-op thread)
            threads = resolve_threads(threads)
        beside = exported_from(graph)
        # no such .pt: a graph shipped alone (torch-free), or exported from last.ckpt or under another name
        model = str(beside) if beside.is_file() else "MODEL.pt (the model it was exported from)"
        if graph.name.endswith(".int8.onnx") and precision == "fp32":
            raise ConfigError(f"precision=fp32: {graph} is the int8 graph; give the model.onnx beside it")
        if wants_int8 and not int8.is_file():
            raise CheckpointError(f"{int8}: no int8 graph (export one: slotfill export ckpt={model} int8=true)")
        chosen = int8 if wants_int8 else graph
        data = chosen.read_bytes()
        session, meta = open_export(chosen, threads, model=model, data=data)
        again = f"re-export it: slotfill export ckpt={model}"
        named = model_path(path)
        # served in the name of that model file, or of the one it is named after beside it: its export only
        source = named if not is_onnx(named) and named.is_file() else beside if beside.is_file() else None
        if source is not None:
            if SOURCE_FILE not in meta:
                raise CheckpointError(
                    f"{chosen}: exported by an earlier slotfill, without the digest of {source} to check it "
                    f"against; {again}"
                )
            if meta[SOURCE_FILE] != file_sha256(source):
                raise CheckpointError(f"{chosen}: exported from another model than {source} (stale export); {again}")
        if chosen != graph or chosen.name.endswith(".int8.onnx"):  # the int8 copy: of the model.onnx beside it
            fp32 = graph if chosen != graph else onnx_path_for(beside)
            if fp32.is_file() and read_sidecar(fp32).get("fingerprint") != meta["fingerprint"]:
                raise CheckpointError(f"{chosen}: an int8 copy of another model than {fp32} (stale export); {again}")
        return cls(session, meta, str(chosen), data, threads)

    def __getstate__(self) -> dict:
        """The graph's bytes and its sidecar: a pickled tagger runs where the files are not (another
        engine's workers), and is checked again when unpickled."""
        if self._graph is None:
            raise TypeError("an OnnxTagger made from a session alone cannot be pickled: load it from its file")
        return {"graph": self._graph, "meta": self._meta, "source": self.source, "threads": self._threads}

    def __setstate__(self, state: dict) -> None:
        session = open_session(state["graph"], state["threads"], where=f"{state['source']} (pickled)")
        props = session.get_modelmeta().custom_metadata_map
        if props.get(GRAPH_FINGERPRINT) != state["meta"].get("fingerprint"):
            raise CheckpointError(f"{state['source']}: the pickled graph and sidecar do not belong together")
        self.__init__(session, state["meta"], state["source"], state["graph"], state["threads"])

    def __repr__(self) -> str:
        return f"OnnxTagger({self.source!r}, precision={self.precision!r}, threads={self._threads!r})"

    @property
    def tags(self) -> list[str]:
        return self.vocabs.tags.itos

    def _tag(self, pieces: list[list[str]], batch_size: int) -> list[dict]:
        whole_number(batch_size, "batch_size")
        results: list[dict | None] = [None] * len(pieces)
        order = sorted((i for i, s in enumerate(pieces) if s), key=lambda i: len(pieces[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            for i, res in zip(idx, self._run([pieces[i] for i in idx])):
                results[i] = res
        empty = {"tags": [], "probs": [], "intent": None, "intent_confidence": None, "intent_ranking": []}
        return [r if r is not None else dict(empty) for r in results]

    def _emissions(self, pieces: list[list[str]]) -> tuple[list[np.ndarray], dict]:
        batch = encode_batch(pieces, self.vocabs)
        try:
            emissions = self.session.run(None, {k: batch[k] for k in self.inputs})[0]
        except Exception as e:  # as in _run
            raise CheckpointError(f"{self.source}: ONNX Runtime cannot run the graph ({first_line(e)})") from None
        return [emissions[b, :n] for b, n in enumerate(batch["lengths"].tolist())], self.params

    def _run(self, token_lists: list[list[str]]) -> list[dict]:
        batch = encode_batch(token_lists, self.vocabs)
        try:
            out = self.session.run(None, {k: batch[k] for k in self.inputs})
        except Exception as e:  # onnxruntime raises its own types; a graph that cannot run this batch
            raise CheckpointError(f"{self.source}: ONNX Runtime cannot run the graph ({first_line(e)})") from None
        emissions = out[0].astype(np.float32)
        lengths = batch["lengths"]
        mask = np.arange(emissions.shape[1])[None, :] < lengths[:, None]
        tag_ids = decode_tags(emissions, mask, self.params)
        probs = confidences(emissions, mask, tag_ids, self.params).tolist()
        intents = self._intents(out[1]) if len(out) > 1 else None
        itos = self.tags
        results = []
        for b, n in enumerate(lengths.tolist()):
            label, conf, ranking = intents[b] if intents else (None, None, [])
            row = tag_ids[b, :n].tolist()
            results.append(
                {
                    "tags": [itos[t] for t in row],
                    "probs": probs[b][:n],
                    "intent": label,
                    "intent_confidence": conf,
                    "intent_ranking": ranking,
                }
            )
        return results

    def _intents(self, logits: np.ndarray) -> list[tuple]:
        probs = sigmoid(logits.astype(np.float32))
        picked = decode_intents(probs, self.vocabs.intent_sets)
        return [ranked(p, ids, self.vocabs.intents) for p, ids in zip(probs.tolist(), picked)]
