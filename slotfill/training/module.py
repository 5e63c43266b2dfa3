"""The LightningModule: loss, input dropout, logging, optimiser; seqeval of validation.

Weight averaging (:mod:`.weight_averaging`) and the random state of a resumed run
(:class:`.callbacks.ResumeRandomState`) are callbacks that :func:`slotfill.training.fit.build` adds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import pytorch_lightning as pl
import torch

from slotfill.core.lexicon import BEGIN, OUT
from slotfill.core.settings import from_mapping, whole_number
from slotfill.core.spans import is_begin
from slotfill.errors import ConfigError, TrainingDiverged
from slotfill.evaluation.metrics import all_scores, joint_score
from slotfill.models.slot_model import CHECKPOINT_KEY, SlotModel
from slotfill.training import precision
from slotfill.training.precision import PRECISIONS

log = logging.getLogger(__name__)
LR_DECAYS = ("none", "linear", "cosine")
RECENT_KEY = "slotfill_recent_val"  # the last validation scores (for the *_mean3 monitors) inside checkpoints
SMOOTH_WINDOW = 3  # val/f1 and val/joint are also logged as the mean of the last this many epochs


MAX_TEMPERATURE = 100  # distillation's: far above the 1-20 used in practice, and its square stays a float


@dataclass
class TrainConfig:
    """Training settings (``cfg.train``): plain values, saved whole with the model."""

    unk_replace: float = 0.5  # probability a training singleton is read as <unk>
    word_dropout: float = 0.0  # probability any training word is read as <unk>
    span_dropout: float = 0.0  # probability every word of a slot value is read as <unk>
    lexicon_dropout: float = 0.0  # probability a lexicon match is hidden (read as no match)
    mention_swap: float = 0.0  # probability a slot value of a lexicon type is swapped for another entry
    warmup_steps: int = 0
    lr_decay: str = "none"  # none | linear | cosine, per step after the warm-up
    average_last: int = 1  # validate, select and save the mean weights of the last this many epochs (1: none)
    distill_from: str | None = None  # a teacher model file (an ensemble): learn from its soft labels too
    distill_weight: float = 0.5  # the soft labels' share of the loss (the gold labels have the rest)
    # both models' scores divided by this before the soft labels and the student's loss against them
    # (Hinton et al. 2015; the loss times its square): above 1 the teacher's second choices weigh more
    distill_temperature: float = 1.0
    # the LSTM layers' training arithmetic: fp32 | bf16 | auto (train.precision; the run resolves auto and
    # records what it gave); fp32 here: what a model file saved before this setting was trained in
    precision: str = "fp32"

    def __post_init__(self) -> None:
        fractions = ("unk_replace", "word_dropout", "span_dropout", "lexicon_dropout", "mention_swap", "distill_weight")
        for name in fractions:
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ConfigError(f"train.{name}={getattr(self, name)}: must be in [0, 1]")
        if int(self.warmup_steps) < 0:
            raise ConfigError(f"train.warmup_steps={self.warmup_steps}: must be at least 0")
        whole_number(self.average_last, "train.average_last")
        if self.lr_decay not in LR_DECAYS:
            raise ConfigError(f"train.lr_decay={self.lr_decay!r}: choose one of {', '.join(LR_DECAYS)}")
        self.distill_temperature = _temperature(self.distill_temperature)
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision={self.precision!r}: choose one of {', '.join(PRECISIONS)}")

    @classmethod
    def from_dict(cls, d: dict, saved: bool = False) -> TrainConfig:
        """Settings given now (checked, types too), or ``saved`` with a run an earlier version started."""
        return from_mapping(cls, d, "train", check_types=not saved)

    def to_dict(self) -> dict:
        return asdict(self)


def _temperature(value) -> float:
    """``train.distill_temperature`` as a float, or a one-line :class:`ConfigError`."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = math.nan
    if not 0 < t <= MAX_TEMPERATURE:  # NaN and infinity too
        raise ConfigError(f"train.distill_temperature={value}: must be a number above 0, at most {MAX_TEMPERATURE}")
    return t


def default_optimizer(params, lr: float = 1e-3) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)


def lexicon_mask(lexicon: torch.Tensor, p: float) -> torch.Tensor:
    """Lexicon matches hidden whole: each match (a B and its I's, per type) is chosen with probability ``p``.

    The model then also learns a name's role from its context, so a name missing from the
    list is still tagged.
    """
    matched = lexicon >= BEGIN
    chunk = (lexicon == BEGIN).long().cumsum(1)  # [B, T, types]: match number within each type
    chosen = torch.rand(lexicon.shape[0], lexicon.shape[1] + 1, lexicon.shape[2], device=lexicon.device) < p
    return matched & chosen.gather(1, chunk)


def span_mask(tags: torch.Tensor, begins: torch.Tensor, p: float) -> torch.Tensor:
    """Tokens of slot values dropped whole: each B-/I- chunk is chosen with probability ``p``.

    Multi-word values never seen in training ("tel aviv", "rio de janeiro") arrive as a run of
    ``<unk>``; dropping single words rarely makes such runs, dropping whole values does.
    """
    in_slot = tags > 0  # tag 0 is O; IGNORE (-100) is padding or an unseen gold tag
    starts = in_slot & begins[tags.clamp(min=0)]
    chunk = starts.long().cumsum(1)  # chunk number of every token (I- tokens share their B-'s)
    chosen = torch.rand(tags.shape[0], tags.shape[1] + 1, device=tags.device) < p
    return in_slot & chosen.gather(1, chunk)


class SlotTaggerModule(pl.LightningModule):
    """Trains a :class:`SlotModel`; the model (config, vocabularies, weights) travels inside every checkpoint."""

    def __init__(
        self,
        model: SlotModel,
        train: TrainConfig | None = None,
        optimizer: Callable | None = None,
        teacher: SlotModel | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        # held in a tuple, not as a submodule: the teacher is neither trained, nor saved in checkpoints
        self._teacher = (teacher.eval(),) if teacher is not None else ()
        self.train_config = train or TrainConfig()
        self.train_in(precision.resolve(self.train_config.precision, model.config.cell))
        self.save_hyperparameters(
            {
                "model": model.config.to_dict(),
                "train": self.train_config.to_dict(),
                "dataset": model.meta.get("dataset"),
            }
        )
        self.optimizer_factory = optimizer or default_optimizer
        vocabs = model.vocabs
        singleton = torch.zeros(len(vocabs.words), dtype=torch.bool)
        singleton[vocabs.singletons] = True
        self.register_buffer("singleton", singleton, persistent=False)
        begins = torch.tensor([is_begin(t) for t in vocabs.tags.itos], dtype=torch.bool)
        self.register_buffer("tag_begins", begins, persistent=False)
        self._outputs: dict[str, list] = {}
        # per split: {"index", "gold", "pred", "pred_intents", "scores"} of the last evaluation
        self.results: dict[str, dict] = {}
        self._recent_val: dict[str, list[float]] = {}  # f1, joint: the last SMOOTH_WINDOW validation values

    def train_in(self, resolved: str) -> None:
        """Train the LSTM layers in ``resolved`` precision (``fp32`` or ``bf16``) from now on; the model
        file and the checkpoints record it (prediction's ``precision=auto`` reads it there)."""
        self.train_config = replace(self.train_config, precision=resolved)
        self.model.net.train_recurrent_in(precision.dtype(resolved))
        if isinstance(self.model.meta.get("train"), dict):
            self.model.meta["train"]["precision"] = resolved

    @property
    def scores(self) -> dict[str, dict]:
        out = {}
        for split, r in self.results.items():
            part = r.get("part")
            out[split] = {
                **r["scores"],
                **({"sentences_scored": part[0], "sentences_in_split": part[1]} if part else {}),
            }
        return out

    def on_fit_start(self) -> None:
        if self._teacher:
            self._teacher[0].to(self.device)

    # ----------------------------------------------------------------- steps
    def _drop_words(self, batch: dict) -> torch.Tensor:
        """Training input: words replaced by ``<unk>`` (singletons, word dropout, whole slot values)."""
        words, cfg, unk = batch["words"], self.train_config, self.model.vocabs.words.unk_index
        if cfg.unk_replace > 0 or cfg.word_dropout > 0:
            # singleton -> <unk> replacement (Lample et al. 2016) so <unk> has a learned embedding,
            # and word dropout so unknown words (new cities) are tagged from context and spelling
            r = torch.rand(words.shape, device=words.device)
            drop = (self.singleton[words] & (r < cfg.unk_replace)) | (r < cfg.word_dropout)
            words = words.masked_fill(drop & (words > 0), unk)
        if cfg.span_dropout > 0:
            drop = span_mask(batch["tags"], self.tag_begins, cfg.span_dropout)
            words = words.masked_fill(drop & (words > 0), unk)
        return words

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        inputs = dict(batch, words=self._drop_words(batch))
        if "lexicon" in batch and self.train_config.lexicon_dropout > 0:
            hidden = lexicon_mask(batch["lexicon"], self.train_config.lexicon_dropout)
            inputs["lexicon"] = batch["lexicon"].masked_fill(hidden, OUT)
        emissions, intent_logits = self.model(inputs)
        loss = self.model.loss(emissions, intent_logits, batch)
        if self._teacher:
            # the teacher reads the same augmented sentence (a swapped city, a dropped word) as the student:
            # on validation this beat a teacher reading the undamaged sentence (bench/RESULTS.md, "Ensembles
            # and distillation")
            temperature = self.train_config.distill_temperature
            soft = self._teacher[0].soft_labels(inputs, temperature)
            weight = self.train_config.distill_weight
            distill = self.model.distill_loss(emissions, intent_logits, inputs, soft, temperature)
            loss = (1 - weight) * loss + weight * distill
        if not torch.isfinite(loss):
            # stop before the backward pass spreads NaN into every weight
            raise TrainingDiverged(self._divergence_message(loss))
        n = len(batch["words"])
        # the progress bar shows each step's loss; loggers get the epoch mean (one metrics.csv row per epoch)
        self.log("loss", loss, prog_bar=True, logger=False, on_step=True, on_epoch=False, batch_size=n)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def _divergence_message(self, loss: torch.Tensor) -> str:
        trainer = self._trainer
        step = trainer.global_step if trainer is not None else 0
        epoch = trainer.current_epoch if trainer is not None else 0
        lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer is not None and trainer.optimizers else None
        clip = trainer.gradient_clip_val if trainer is not None else None
        hint = f"lower optimizer.lr (now {lr:g})" if lr is not None else "lower optimizer.lr"
        hint += (
            f" or clip harder (trainer.gradient_clip_val={clip / 2:g}, now {clip:g})"
            if clip
            else "; keep gradient clipping on (trainer.gradient_clip_val=5.0)"
        )
        best = getattr(getattr(trainer, "checkpoint_callback", None), "best_model_path", "") if trainer else ""
        if best:  # the epochs done are not lost: the best of them is a model
            hint += f"; the best epoch so far is kept: {best} (ckpt= to use it, init_from= to train on from it)"
        return f"training diverged: the loss is {loss.item()} at step {step} (epoch {epoch}); {hint}"

    def _eval_step(self, batch: dict, split: str) -> None:
        emissions, intent_logits = self.model(batch)
        loss = self.model.loss(emissions, intent_logits, batch)
        n = len(batch["words"])
        self.log(f"{split}/loss", loss, batch_size=n, sync_dist=self.trainer.world_size > 1)
        predictions = self.model.decode(emissions, intent_logits, batch["lengths"], confidence=False)
        self._outputs.setdefault(split, []).extend(zip(batch["index"].tolist(), predictions))

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self._score("val", "valid")

    def on_test_epoch_end(self) -> None:
        self._score("test", "test")

    def _score(self, prefix: str, split: str) -> None:
        """Corpus scores of the sentences this epoch saw (all of them unless limit_*_batches is set)."""
        outputs = self._outputs.pop(prefix, [])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # corpus F1 needs every sentence: gather the ranks' shards, not their F1s
            gathered = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, outputs)
            outputs = [o for part in gathered for o in part]
        if self.trainer.sanity_checking or not outputs:
            return
        by_index = dict(outputs)
        index = sorted(by_index)
        all_gold, all_intents = self.trainer.datamodule.gold(split)
        if len(index) < len(all_gold) and split not in self.results:
            log.info("%s: scoring the %d of %d sentences it ran on (limited batches)", split, len(index), len(all_gold))
        gold = [all_gold[i] for i in index]
        pred = [by_index[i]["tags"] for i in index]
        # a split without intent labels (no label file) scores slots only: intent accuracy 0.00
        # would be a misleading figure and would drive monitor=val/joint
        labelled = any(all_intents)
        pred_intents = [by_index[i]["intent"] for i in index] if self.model.predicts_intent and labelled else None
        gold_intents = [all_intents[i] for i in index] if pred_intents else None
        scores = all_scores(gold, pred, gold_intents, pred_intents)
        self.results[split] = {"index": index, "gold": gold, "pred": pred, "pred_intents": pred_intents}
        self.results[split]["scores"] = scores
        # limited batches (fast_dev_run, limit_*_batches): the split's record says its scores are of a part
        self.results[split]["part"] = (len(index), len(all_gold)) if len(index) < len(all_gold) else None
        for k, v in scores.items():
            self.log(f"{prefix}/{k}", v, prog_bar=k == "f1", sync_dist=False, rank_zero_only=False)
        joint = joint_score(scores)
        self.log(f"{prefix}/joint", joint, sync_dist=False, rank_zero_only=False)
        if prefix == "val" and self.trainer.state.fn == "fit":
            # monitor=val/f1_mean3: one lucky epoch between worse ones does not select itself
            for name, value in (("f1", scores["f1"]), ("joint", joint)):
                recent = self._recent_val.setdefault(name, [])
                recent[:] = [*recent, value][-SMOOTH_WINDOW:]
                self.log(f"val/{name}_mean{SMOOTH_WINDOW}", sum(recent) / len(recent), rank_zero_only=False)

    # ------------------------------------------------------------- optimiser
    def configure_optimizers(self):
        opt = self.optimizer_factory(self.parameters())
        decay, warm = self.train_config.lr_decay, int(self.train_config.warmup_steps)
        if decay == "none" and warm <= 0:
            return opt
        total = max(int(self.trainer.estimated_stepping_batches), 1)

        def factor(step: int) -> float:
            if warm and step < warm:
                return (step + 1) / warm
            progress = min((step - warm) / max(total - warm, 1), 1.0)
            if decay == "cosine":
                return 0.5 * (1 + math.cos(math.pi * progress))
            if decay == "linear":
                return 1.0 - progress
            return 1.0

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ----------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # LastEpochsAverage (a callback, so it ran first) may have put the validated mean weights there
        checkpoint.setdefault(CHECKPOINT_KEY, self.model.state())
        checkpoint[RECENT_KEY] = {k: list(v) for k, v in self._recent_val.items()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._recent_val = {k: list(v) for k, v in checkpoint.get(RECENT_KEY, {}).items()}
