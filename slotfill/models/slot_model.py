"""The trained slot tagger as one object: config, vocabularies, network, decoding and the model file.

:class:`SlotModel` is the only reader and writer of ``model.pt`` and of the model inside
Lightning checkpoints. Training (validation), the Python API and the ONNX exporter all turn
network outputs into labels through :meth:`SlotModel.decode`, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from slotfill.core.batch import encode_batch
from slotfill.core.files import file_state, write_atomic
from slotfill.core.fingerprint import model_fingerprint
from slotfill.core.ranking import ranked
from slotfill.core.schema import (
    CARD_KEYS,
    FORMAT_VERSION,
    MODEL_FILE,
    RUN_KEY,
    WHERE_KEYS,
    check_format,
    model_path,
    no_model_in,
    run_record,
)
from slotfill.core.settings import whole_number
from slotfill.core.vocab import Vocabularies
from slotfill.errors import CheckpointError, ConfigError, SlotfillError, first_line
from slotfill.models import NetConfig, SlotNet, decode_intents, decode_tags
from slotfill.models.encoder import RecurrentEncoder
from slotfill.models.ensemble import EnsembleNet
from slotfill.version import __version__

_RECIPE_KEYS = ("dataset", "train", "data_sha256")  # what an ensemble keeps of its first member's provenance
CHECKPOINT_KEY = "slotfill"  # where a Lightning checkpoint carries the model, in model.pt's schema
_STRUCTURE_KEYS = (
    "format",
    "slotfill_version",
    "model",
    "vocabs",
    "weights_sha256",
    "fingerprint",
    "state_dict",
    "members",
)

Forward = Callable[[dict], tuple[torch.Tensor, torch.Tensor | None]]


class SlotModel(nn.Module):
    """A slot tagger: ``SlotModel(config, vocabs)`` builds the network, sized by the vocabularies.

    ``meta`` is provenance saved with the weights (``dataset``, ``train`` settings, ...); it
    never changes what the model computes. ``members`` > 1 makes an ensemble of that many networks
    of ``config`` whose scores are averaged (:meth:`combine` builds one from trained models).
    """

    def __init__(self, config: NetConfig, vocabs: Vocabularies, meta: dict | None = None, members: int = 1) -> None:
        super().__init__()
        self.config = config
        self.vocabs = vocabs
        self.meta = dict(meta or {})
        # the file these weights were read from or saved to, their fingerprint and the file's state then
        # (load, save): what an export records it came from, while both are still as they were
        self.model_file: tuple[Path, str, tuple | None] | None = None
        n_lexicon_types = len(vocabs.lexicon) if vocabs.lexicon else 0
        sizes = (len(vocabs.words), len(vocabs.chars), vocabs.tags.itos, len(vocabs.intents), n_lexicon_types)
        whole_number(members, "members")
        self.net = SlotNet(config, *sizes) if members == 1 else EnsembleNet(config, *sizes, members=members)

    @property
    def members(self) -> int:
        """How many networks answer together (1: a single model)."""
        return len(self.net.members) if isinstance(self.net, EnsembleNet) else 1

    @classmethod
    def combine(
        cls, models: Sequence[SlotModel], sources: Sequence[str] | None = None, distinct: bool = False
    ) -> SlotModel:
        """One ensemble model of trained models of one architecture and vocabulary (seeds of one recipe);
        ``distinct``: the same weights twice (a run folder named beside its own model.pt) refused."""
        sources = [str(s) for s in sources] if sources else [f"model {i + 1}" for i in range(len(models))]
        if len(models) < 2:
            raise SlotfillError("an ensemble needs at least 2 models")
        first = models[0]
        seen: dict[str, int] = {}
        runs: dict[str, int] = {}
        for i, (model, source) in enumerate(zip(models, sources)):
            twin = seen.setdefault(model.weights_digest(), i) if distinct else i
            if twin != i:
                same = "named twice" if sources[twin] == source else f"the same weights as {sources[twin]}"
                raise SlotfillError(f"{source}: {same}: an ensemble's models are different runs")
            run = _run_of(model) if distinct else None
            twin = i if run is None else runs.setdefault(run, i)
            if twin != i:  # another epoch of one run (its model.pt and a checkpoint): nearly one model twice
                raise SlotfillError(
                    f"{source}: the same run as {sources[twin]} (the same config, seed and data): "
                    "an ensemble's models are different runs"
                )
            if model.members > 1:
                raise SlotfillError(f"{source}: already an ensemble of {model.members}; give the single models")
            if model.config != first.config:
                a, b = asdict(first.config), asdict(model.config)  # every setting, defaults too
                key = next(k for k in sorted(a) if a[k] != b[k])
                raise SlotfillError(
                    f"{source}: model.{key}={b.get(key)!r}, but {sources[0]} has {a.get(key)!r}: "
                    "an ensemble's models share one architecture"
                )
            if model.vocabs.to_dict() != first.vocabs.to_dict():
                raise SlotfillError(
                    f"{source}: its vocabularies differ from {sources[0]}'s: an ensemble's models are "
                    "trained on the same data and lexicons"
                )
        # the recipe's provenance is shared; a run's own facts (seed, time, scores, teacher) are not the ensemble's
        meta = {k: v for k, v in first.meta.items() if k in _RECIPE_KEYS}
        trains = [m.meta.get("train") if isinstance(m.meta.get("train"), dict) else {} for m in models]
        # the training settings all members share are the ensemble's recipe; one that differs (precision:
        # members of mixed arithmetic predict in fp32) is each member's own, recorded beside it
        differ = sorted({k for t in trains for k in t if any(u.get(k) != t.get(k) for u in trains)})
        if isinstance(meta.get("train"), dict):
            meta["train"] = {k: v for k, v in meta["train"].items() if k not in differ}
        meta["ensemble_of"] = [
            {"file": _member_file(m, s), "fingerprint": m.fingerprint(), "seed": m.meta.get("seed")}
            | ({"train": {k: t.get(k) for k in differ}} if differ else {})
            for m, s, t in zip(models, sources, trains)
        ]
        ensemble = cls(first.config, first.vocabs, meta, members=len(models))
        for member, model in zip(ensemble.net.members, models):
            member.load_state_dict(model.net.state_dict())
        ensemble.net.average_transitions()
        return ensemble.eval()

    @property
    def tags(self) -> list[str]:
        return self.vocabs.tags.itos

    @property
    def predicts_intent(self) -> bool:
        return self.net.intent_head is not None

    # ------------------------------------------------------------ running
    def predict_recurrent_in(self, dtype: torch.dtype | None) -> None:
        """The arithmetic of every recurrent layer's passes without gradients (None: float32, packed)."""
        for module in self.net.modules():
            if isinstance(module, RecurrentEncoder):
                module.predict_in(dtype)

    def encode(self, token_lists: Sequence[Sequence[str]]) -> dict:
        """A padded batch of id tensors for tokenised sentences (each non-empty)."""
        return {k: torch.from_numpy(v) for k, v in encode_batch(token_lists, self.vocabs).items()}

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Tag scores ``[B, T, K]`` and intent logits ``[B, I]`` (None without an intent head)."""
        return self.net(batch["words"], batch["chars"], batch["char_index"], batch["lengths"], batch.get("lexicon"))

    def loss(self, emissions: torch.Tensor, intent_logits: torch.Tensor | None, batch: dict) -> torch.Tensor:
        """Mean per-token slot loss plus the weighted intent loss, against the batch's gold labels."""
        mask = _mask(batch["lengths"], emissions.shape[1], emissions.device)
        return self.net.loss(emissions, intent_logits, batch["tags"], batch.get("intents"), mask)

    @torch.no_grad()
    def soft_labels(self, batch: dict, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What this model (a teacher) believes of a batch: tag probabilities ``[B, T, K]`` (CRF
        marginals or softmax) and intent probabilities ``[B, I]`` (None without an intent head), its
        scores divided by ``temperature`` first (a softmax tagger's: a CRF's marginals take none)."""
        emissions, intent_logits = self(batch)
        mask = _mask(batch["lengths"], emissions.shape[1], emissions.device)
        if self.net.crf is not None and temperature != 1:
            raise ConfigError(f"train.distill_temperature={temperature:g}: a CRF's marginals take no temperature")
        if self.net.crf is not None:
            tags = self.net.crf.marginals(emissions, mask)
        else:
            tags = (emissions / temperature).softmax(-1)
        return tags, torch.sigmoid(intent_logits / temperature) if intent_logits is not None else None

    def distill_loss(
        self,
        emissions: torch.Tensor,
        intent_logits: torch.Tensor | None,
        batch: dict,
        soft: tuple[torch.Tensor, torch.Tensor | None],
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """:meth:`loss` against a teacher's :meth:`soft_labels` instead of the gold labels (at ``temperature``)."""
        mask = _mask(batch["lengths"], emissions.shape[1], emissions.device)
        return self.net.soft_loss(emissions, intent_logits, soft[0], soft[1], mask, temperature)

    @torch.no_grad()
    def decode(
        self,
        emissions: torch.Tensor,
        intent_logits: torch.Tensor | None,
        lengths: torch.Tensor,
        confidence: bool = True,
    ) -> list[dict]:
        """Labels from network outputs, one dict per sentence: the path validation and prediction share.

        ``tags`` (BIO-well-formed, Viterbi), ``probs`` (each chosen tag's probability: CRF
        marginals or softmax; None unless ``confidence``), ``intent`` (the likeliest set of
        atomic intents seen in training, ``#``-joined), ``intent_confidence`` (its least
        likely atom's probability) and ``intent_ranking`` (:func:`slotfill.core.ranking.ranked`).
        """
        emissions = emissions.detach().float().cpu()
        mask = _mask(lengths, emissions.shape[1], emissions.device)
        params = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in self.net.decode_params().items()}
        tag_ids = decode_tags(emissions, mask, params)
        probs = self._confidence(emissions, mask, tag_ids).tolist() if confidence else None
        intents = self._intents(intent_logits) if intent_logits is not None else None
        itos, rows, sizes = self.tags, tag_ids.tolist(), lengths.tolist()
        out = []
        for b, n in enumerate(sizes):
            label, conf, ranking = intents[b] if intents else (None, None, [])
            out.append(
                {
                    "tags": [itos[t] for t in rows[b][:n]],
                    "probs": probs[b][:n] if probs else None,
                    "intent": label,
                    "intent_confidence": conf,
                    "intent_ranking": ranking,
                }
            )
        return out

    def predict(
        self, token_lists: Sequence[Sequence[str]], batch_size: int = 256, forward: Forward | None = None
    ) -> list[dict]:
        """:meth:`decode` results for tokenised sentences, batched by length, in input order.

        ``forward`` replaces the eager network (an ONNX Runtime session, reduced precision).
        An empty sentence gets empty tags and no intent.
        """
        whole_number(batch_size, "batch_size")
        run = forward or self
        results: list[dict | None] = [None] * len(token_lists)
        order = sorted((i for i, s in enumerate(token_lists) if len(s)), key=lambda i: len(token_lists[i]))
        was_training = self.training
        if was_training:
            self.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    batch = self.encode([token_lists[i] for i in idx])
                    emissions, intent_logits = run(batch)
                    for i, res in zip(idx, self.decode(emissions, intent_logits, batch["lengths"])):
                        results[i] = res
        finally:
            if was_training:
                self.train()
        empty = {"tags": [], "probs": [], "intent": None, "intent_confidence": None, "intent_ranking": []}
        return [r if r is not None else dict(empty) for r in results]

    def _confidence(self, emissions: torch.Tensor, mask: torch.Tensor, tag_ids: torch.Tensor) -> torch.Tensor:
        if self.net.crf is not None:
            p = self.net.crf.marginals(emissions, mask)
        else:
            p = emissions.softmax(-1)
        return p.gather(2, tag_ids.unsqueeze(2)).squeeze(2)

    def _intents(self, intent_logits: torch.Tensor) -> list[tuple]:
        probs = torch.sigmoid(intent_logits.detach().float().cpu())
        picked = decode_intents(probs, self.vocabs.intent_sets)
        return [ranked(p, ids, self.vocabs.intents) for p, ids in zip(probs.tolist(), picked)]

    # --------------------------------------------------------- the model file
    def weights_digest(self) -> str:
        """SHA-256 of the network weights (names and values)."""
        h = hashlib.sha256()
        for name, value in sorted(self.net.state_dict().items()):
            h.update(name.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    def fingerprint(self, weights_sha256: str | None = None) -> str:
        """The fingerprint of everything that decides an answer (weights, settings, vocabularies):
        what the model file and every derived file are checked against (:mod:`slotfill.core.fingerprint`)."""
        weights = weights_sha256 or self.weights_digest()
        return model_fingerprint(weights, self.config.to_dict(), self.vocabs.to_dict())

    def card(self) -> dict:
        """The keys every file written next to this model shares (see :mod:`slotfill.core.schema`)."""
        return {
            "format": FORMAT_VERSION,
            "slotfill_version": __version__,
            "dataset": self.meta.get("dataset", ""),
            "model": self.config.to_dict(),
            "train": self.meta.get("train"),
            "weights_sha256": (weights := self.weights_digest()),
            "fingerprint": self.fingerprint(weights),
            **{k: v for k, v in self.meta.items() if k not in CARD_KEYS},
        }

    def state(self) -> dict:
        """Everything that rebuilds and runs this model, as plain containers and tensors."""
        self._check_finite()
        return {
            **self.card(),
            **({"members": self.members} if self.members > 1 else {}),
            "vocabs": self.vocabs.to_dict(packed=True),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
        }

    def save(self, path: str | Path) -> Path:
        """Write ``model.pt`` atomically (never half a file, never non-finite weights)."""
        buffer = io.BytesIO()
        torch.save(self.state(), buffer)
        path = write_atomic(path, buffer.getvalue())
        self.model_file = (path, self.fingerprint(), file_state(path))
        return path

    @classmethod
    def load(cls, path: str | Path) -> SlotModel:
        """Read ``model.pt`` (or a run folder's) or a training ``.ckpt`` without executing code from it; eval mode."""
        path = model_path(path)
        before = file_state(path)
        state = _read_state(path)
        model = cls.from_state(state, path)
        # checked equal to the weights' own by from_state (a current-format file), so not computed again
        model.model_file = (path, state.get("fingerprint") or model.fingerprint(), before)
        return model

    @classmethod
    def from_state(cls, state: dict, source: str | Path = "<state>") -> SlotModel:
        """Rebuild from :meth:`state` (or an older format's) using the file's own config, never the YAML."""
        version = check_format(state.get("format", 1), source)
        state = _upgrade(state, version)
        try:
            vocabs = Vocabularies.from_dict(state["vocabs"])
            config = NetConfig.from_dict(state["model"], saved=True)
            meta = {k: v for k, v in state.items() if k not in _STRUCTURE_KEYS}
            model = cls(config, vocabs, meta, members=state.get("members", 1))
            model.net.load_state_dict(state["state_dict"])
        except (KeyError, TypeError, ValueError, RuntimeError, SlotfillError) as e:
            raise CheckpointError(f"{source}: checkpoint does not match a slotfill model ({first_line(e)})") from None
        model._check_fingerprints(state, version, source)
        model._check_finite(source)
        return model.eval()

    def _check_fingerprints(self, state: dict, version: int, source: str | Path) -> None:
        """Refuse a file whose content is not what its writer fingerprinted (damaged or edited by hand).

        Format 1 had no fingerprint; format 2 fingerprinted the weights alone; format 3 adds the
        fingerprint over weights, settings and vocabularies. A current-format file must carry both.
        """
        weights = self.weights_digest()
        recorded = state.get("weights_sha256")
        if version >= 2 and recorded != weights:
            what = "carry no fingerprint" if not recorded else "do not match their recorded fingerprint"
            raise CheckpointError(
                f"{source}: the weights {what}: the file is damaged or was edited; use the file training wrote"
            )
        if version >= 3:
            recorded = state.get("fingerprint")
            if recorded != self.fingerprint(weights):
                what = "carries no fingerprint" if not recorded else "does not match its recorded fingerprint"
                raise CheckpointError(
                    f"{source}: the model (vocabularies and settings) {what}: the file is damaged or was edited; "
                    "use the file training wrote"
                )

    def _check_finite(self, source: str | Path | None = None) -> None:
        bad = [name for name, p in self.net.state_dict().items() if p.is_floating_point() and not p.isfinite().all()]
        if bad:
            where = f"{source}: " if source else ""
            raise CheckpointError(f"{where}{len(bad)} weight tensors hold NaN or infinity (training diverged)")


def _member_file(model: SlotModel, source: str) -> str:
    """The file an ensemble member was read from, absolute (the ensemble is read from any folder), or
    ``source`` as given for weights no file holds (made in memory, or changed since they were read)."""
    if model.model_file is None or model.model_file[1] != model.fingerprint():
        return source
    return str(Path(model.model_file[0]).absolute())


def _run_of(model: SlotModel) -> str | None:
    """The run that trained a model read from a file: its config (the seed in it) and data fingerprint,
    from a checkpoint's own run record or the run.json beside a run folder's model.pt; None when unknown."""
    if model.model_file is None:
        return None
    path = Path(model.model_file[0])
    config = None
    if path.suffix == ".ckpt":  # read again: the run record is no part of the model
        raw = read_torch_file(path)
        record = raw.get(RUN_KEY) if isinstance(raw, dict) else None
        config = record.get("config") if isinstance(record, dict) else None
    elif path.name == MODEL_FILE:
        config = (run_record(path.parent) or {}).get("config")
    if not isinstance(config, dict):
        return None
    # where the run was, not what it computed; init_from stays: fine-tunes of two models are two runs
    recipe = {k: v for k, v in config.items() if k not in WHERE_KEYS or k == "init_from"}
    return json.dumps([recipe, model.meta.get("data_sha256")], sort_keys=True, default=str)


def _mask(lengths: torch.Tensor, steps: int, device: torch.device) -> torch.Tensor:
    return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]


AGAIN = ": copy it again, or train again"


def _hide_protocol_remark() -> None:
    """Hide torch's remark on a file pickled with a protocol other than torch.save's (2): the
    weights-only reader reads it all the same (or refuses it, a one-line error), so the remark says
    nothing to act on. This one message only, installed once: a ``catch_warnings`` around each load
    would silence every other thread's warnings meanwhile (the filter list is the process's)."""
    warnings.filterwarnings(
        "ignore", message=r"Detected pickle protocol \d+ in the checkpoint", category=UserWarning, module="torch"
    )


_hide_protocol_remark()


def read_torch_file(path: str | Path) -> object:
    """What a torch file holds, read as tensors and plain data only: nothing in it runs."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message advises loading the file unsafely: never pass that on
        if not zipfile.is_zipfile(path) and "Unsupported global" not in str(e):
            raise CheckpointError(f"{path}: not a readable checkpoint (not a file torch.save wrote){AGAIN}") from None
        raise CheckpointError(
            f"{path}: holds Python objects besides tensors and plain data; refused, as loading them "
            "could run code (use a file slotfill wrote)"
        ) from None
    except Exception:  # corrupt, truncated, not a torch file: torch's own words say how, not what to do
        try:
            with open(path, "rb") as f:
                started = f.read(4) == b"PK\x03\x04"  # a zip file's first bytes: what torch.save writes
        except OSError as e:
            raise CheckpointError(f"{path}: cannot read ({e.strerror})") from None
        why = "cut short or damaged" if started else "not a file torch.save wrote"
        raise CheckpointError(f"{path}: not a readable checkpoint ({why}){AGAIN}") from None


def _read_state(path: Path) -> dict:
    """The model state inside ``model.pt`` or a Lightning checkpoint (weights only: no pickled code)."""
    if path.is_dir():
        raise CheckpointError(no_model_in(path, "give a run folder, a model.pt or a .ckpt"))
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    if path.suffix == ".onnx":
        raise CheckpointError(f"{path}: an ONNX graph; give the model.pt it was exported from")
    raw = read_torch_file(path)
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: not a slotfill checkpoint")
    if CHECKPOINT_KEY in raw:  # a Lightning checkpoint written during training
        state = dict(raw[CHECKPOINT_KEY])
        if "state_dict" not in state:  # format 1 kept the weights in Lightning's own state_dict
            prefix = "net."
            weights = raw.get("state_dict", {})
            state["state_dict"] = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
        return state
    if {"vocabs", "state_dict"} <= set(raw):
        return raw
    raise CheckpointError(f"{path}: not a slotfill checkpoint (no slotfill model or vocabularies inside)")


def _upgrade(state: dict, version: int) -> dict:
    """A state in the current format's keys; older formats that still load are converted here."""
    if version == 1:  # format 1 (slotfill 0.1 before the model file had a card): "net" for "model"
        state = dict(state)
        state["model"] = state.pop("net", None)
        state["format"] = FORMAT_VERSION
    return state
