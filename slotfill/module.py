"""The LightningModule: loss, <unk> replacement, and seqeval over the whole split each epoch."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytorch_lightning as pl
import torch

from .metrics import all_scores
from .models import NetConfig, SlotNet, decode_intents
from .vocab import Vocabularies, join_intent

CHECKPOINT_KEY = "slotfill"
FORMAT_VERSION = 1


def default_optimizer(params, lr: float = 1e-3) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)


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
    """Trains a :class:`SlotNet`; vocabularies and the net's config travel inside every checkpoint."""

    def __init__(
        self,
        net: dict,
        vocabs: Vocabularies,
        optimizer: Callable | None = None,
        unk_replace: float = 0.5,
        word_dropout: float = 0.0,
        span_dropout: float = 0.0,
        warmup_steps: int = 0,
        lr_decay: str = "none",
        dataset: str = "",
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            {
                "net": dict(net),
                "unk_replace": unk_replace,
                "word_dropout": word_dropout,
                "span_dropout": span_dropout,
                "lr_decay": lr_decay,
                "warmup_steps": warmup_steps,
                "dataset": dataset,
            }
        )
        self.net_config = NetConfig.from_dict(dict(net))
        self.vocabs = vocabs
        self.net = SlotNet(self.net_config, len(vocabs.words), len(vocabs.chars), vocabs.tags.itos, len(vocabs.intents))
        self.optimizer_factory = optimizer or default_optimizer
        self.unk_replace = unk_replace
        self.word_dropout = word_dropout
        self.span_dropout = span_dropout
        self.warmup_steps = warmup_steps
        self.lr_decay = lr_decay
        self.dataset = dataset
        singleton = torch.zeros(len(vocabs.words), dtype=torch.bool)
        singleton[vocabs.singletons] = True
        self.register_buffer("singleton", singleton, persistent=False)
        begins = torch.tensor([t.startswith("B-") for t in vocabs.tags.itos], dtype=torch.bool)
        self.register_buffer("tag_begins", begins, persistent=False)
        self._outputs: dict[str, list] = {}
        self.predictions: dict[str, tuple[list[list[str]], list[str] | None]] = {}
        self.scores: dict[str, dict] = {}

    # ----------------------------------------------------------------- steps
    def _mask(self, batch: dict) -> torch.Tensor:
        T = batch["words"].shape[1]
        return torch.arange(T, device=self.device)[None, :] < batch["lengths"].to(self.device)[:, None]

    def _forward(self, batch: dict, words: torch.Tensor | None = None):
        words = batch["words"] if words is None else words
        return self.net(words, batch["chars"], batch["char_index"], batch["lengths"])

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        words = batch["words"]
        if self.unk_replace > 0 or self.word_dropout > 0:
            # singleton -> <unk> replacement (Lample et al. 2016) so <unk> has a learned embedding,
            # and word dropout so unknown words (new cities) are tagged from context and spelling
            r = torch.rand(words.shape, device=words.device)
            drop = (self.singleton[words] & (r < self.unk_replace)) | (r < self.word_dropout)
            words = words.masked_fill(drop & (words > 0), self.vocabs.words.unk_index)
        if self.span_dropout > 0:
            drop = span_mask(batch["tags"], self.tag_begins, self.span_dropout)
            words = words.masked_fill(drop & (words > 0), self.vocabs.words.unk_index)
        emissions, intent_logits = self._forward(batch, words)
        loss = self.net.loss(emissions, intent_logits, batch["tags"], batch["intents"], self._mask(batch))
        self.log("train/loss", loss, prog_bar=True, batch_size=len(words))
        return loss

    def _eval_step(self, batch: dict, split: str) -> None:
        mask = self._mask(batch)
        emissions, intent_logits = self._forward(batch)
        loss = self.net.loss(emissions, intent_logits, batch["tags"], batch["intents"], mask)
        self.log(f"{split}/loss", loss, batch_size=len(mask), sync_dist=self.trainer.world_size > 1)
        tags = self.net.decode(emissions, mask).cpu()
        lengths = batch["lengths"].tolist()
        intents = None
        if intent_logits is not None:
            intents = decode_intents(torch.sigmoid(intent_logits).cpu(), self.vocabs.intent_sets)
        out = self._outputs.setdefault(split, [])
        for b, i in enumerate(batch["index"].tolist()):
            out.append((i, tags[b, : lengths[b]].tolist(), intents[b] if intents else None))

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self._score("val", "valid")

    def on_test_epoch_end(self) -> None:
        self._score("test", "test")

    def _score(self, prefix: str, split: str) -> None:
        outputs = self._outputs.pop(prefix, [])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # corpus F1 needs every sentence: gather the ranks' shards, not their F1s
            gathered = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, outputs)
            outputs = [o for part in gathered for o in part]
        if self.trainer.sanity_checking:
            return
        dm = self.trainer.datamodule
        gold_tags, gold_intents = dm.gold(split)
        by_index = {i: (t, it) for i, t, it in outputs}
        if len(by_index) != len(gold_tags):
            raise RuntimeError(f"{split}: predictions for {len(by_index)} of {len(gold_tags)} sentences")
        pred_tags = [self.vocabs.tags.decode(by_index[i][0]) for i in range(len(gold_tags))]
        pred_intents = None
        if self.net.intent_head is not None:
            pred_intents = [join_intent(self.vocabs.intents.decode(by_index[i][1])) for i in range(len(gold_tags))]
        scores = all_scores(gold_tags, pred_tags, gold_intents if pred_intents else None, pred_intents)
        self.predictions[split] = (pred_tags, pred_intents)
        self.scores[split] = scores
        for k, v in scores.items():
            self.log(f"{prefix}/{k}", v, prog_bar=k == "f1", sync_dist=False, rank_zero_only=False)
        # a checkpoint-selection score for joint models (monitor=val/joint): slot F1 and intent
        # accuracy weighted equally; without an intent head it is slot F1
        joint = (scores["f1"] + scores["intent_accuracy"]) / 2 if "intent_accuracy" in scores else scores["f1"]
        self.log(f"{prefix}/joint", joint, sync_dist=False, rank_zero_only=False)

    # ------------------------------------------------------------- optimiser
    def configure_optimizers(self):
        opt = self.optimizer_factory(self.parameters())
        if self.lr_decay == "none" and self.warmup_steps <= 0:
            return opt
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        warm = self.warmup_steps

        def factor(step: int) -> float:
            if warm and step < warm:
                return (step + 1) / warm
            progress = min((step - warm) / max(total - warm, 1), 1.0)
            if self.lr_decay == "cosine":
                return 0.5 * (1 + math.cos(math.pi * progress))
            if self.lr_decay == "linear":
                return 1.0 - progress
            return 1.0

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    # ----------------------------------------------------------- checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = self.export_state(with_weights=False)

    def export_state(self, with_weights: bool = True) -> dict:
        """Everything needed to rebuild and run the tagger, as plain containers."""
        state = {
            "format": FORMAT_VERSION,
            "net": self.net_config.to_dict(),
            "vocabs": self.vocabs.to_dict(),
            "dataset": self.dataset,
        }
        if with_weights:
            state["state_dict"] = {k: v.detach().cpu() for k, v in self.net.state_dict().items()}
        return state
