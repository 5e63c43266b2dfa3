"""Plain functions behind the command-line entry points: ``train(cfg)`` and friends."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import torch
from omegaconf import DictConfig

from .errors import SlotfillError


def _quiet_lightning() -> None:
    # Lightning's advice about dataloader workers does not apply: batches are pre-encoded tensors.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*sync_dist=True.*")


def _instantiate_dict(cfg: DictConfig | None) -> list:
    from hydra.utils import instantiate

    if not cfg:
        return []
    return [instantiate(c) for c in cfg.values() if c is not None and "_target_" in c]


def build(cfg: DictConfig):
    """Data module, LightningModule and Trainer from a composed config."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from .models import NetConfig
    from .module import SlotTaggerModule

    torch.set_num_threads(int(cfg.threads))
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    datamodule.prepare()
    net_cfg = instantiate(cfg.model)
    if not isinstance(net_cfg, NetConfig):
        raise SlotfillError(f"model config must instantiate slotfill.models.NetConfig, got {type(net_cfg).__name__}")
    module = SlotTaggerModule(
        net=net_cfg.to_dict(),
        vocabs=datamodule.vocabs,
        optimizer=instantiate(cfg.optimizer),
        unk_replace=float(cfg.train.unk_replace),
        word_dropout=float(cfg.train.get("word_dropout", 0.0)),
        span_dropout=float(cfg.train.get("span_dropout", 0.0)),
        warmup_steps=int(cfg.train.warmup_steps),
        lr_decay=str(cfg.train.lr_decay),
        dataset=str(cfg.data.name),
    )
    from pytorch_lightning.callbacks import ProgressBar

    callbacks = _instantiate_dict(cfg.get("callbacks"))
    if not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=_instantiate_dict(cfg.get("logger")))
    return datamodule, module, trainer


def _checkpoint_callback(trainer):
    from pytorch_lightning.callbacks import ModelCheckpoint

    return next((c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)), None)


def train(cfg: DictConfig) -> dict:
    """Fit, reload the best checkpoint by the validation ``monitor``, test it, and write the run's reports."""
    from .metrics import slot_report

    _quiet_lightning()
    out_dir = Path(cfg.output_dir)
    datamodule, module, trainer = build(cfg)
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    fit_time = time.perf_counter() - start
    ckpt_cb = _checkpoint_callback(trainer)
    best = ckpt_cb.best_model_path if ckpt_cb is not None and ckpt_cb.best_model_path else None
    if best:
        state = torch.load(best, map_location="cpu", weights_only=True)
        module.load_state_dict(state["state_dict"])
    results: dict = {
        "dataset": str(cfg.data.name),
        "seed": int(cfg.seed),
        "epochs": int(trainer.current_epoch),
        "world_size": int(trainer.world_size),
        "train_time_s": round(fit_time, 1),
        "best_checkpoint": best,
        "monitor": str(ckpt_cb.monitor) if ckpt_cb is not None else None,
        "best_val_score": float(ckpt_cb.best_model_score) if best else None,  # of the monitored metric
    }
    from .callbacks import Throughput

    for cb in trainer.callbacks:
        if isinstance(cb, Throughput):
            results.update(cb.summary)
    trainer.validate(module, datamodule=datamodule, verbose=False)
    results["valid"] = module.scores.get("valid")
    if cfg.get("test_after_fit", True):
        trainer.test(module, datamodule=datamodule, verbose=False)
        results["test"] = module.scores.get("test")
    if trainer.is_global_zero:
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(module.export_state(), out_dir / "model.pt")
        results["model"] = str(out_dir / "model.pt")
        for split in ("valid", "test"):
            if split in module.predictions:
                gold, _ = datamodule.gold(split)
                report = slot_report(gold, module.predictions[split][0])
                (out_dir / f"{split}_report.txt").write_text(report)
        (out_dir / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
        _print_summary(results, out_dir)
    return results


def _print_summary(results: dict, out_dir: Path) -> None:
    lines = [f"trained {results['dataset']} in {results['train_time_s']:.0f} s ({results['epochs']} epochs)"]
    for split in ("valid", "test"):
        s = results.get(split)
        if s:
            extra = f"  intent acc {s['intent_accuracy']:.2f}" if "intent_accuracy" in s else ""
            lines.append(
                f"{split:5s} slot F1 {s['f1']:.2f}  P {s['precision']:.2f}  R {s['recall']:.2f}  "
                f"strict F1 {s['strict_f1']:.2f}  sentence acc {s['sentence_accuracy']:.2f}{extra}"
            )
    report = out_dir / "test_report.txt"
    if report.exists():
        lines.append(report.read_text())
    lines.append(f"model: {results['model']}\nreports: {out_dir}")
    print("\n".join(lines))


def load_tagger(cfg: DictConfig):
    """The tagger that ``ckpt``, ``backend``, ``precision`` and ``threads`` of a predict/evaluate config name."""
    from .tagger import SlotTagger

    return SlotTagger.load(cfg.ckpt, backend=str(cfg.backend), threads=int(cfg.threads), precision=str(cfg.precision))


def evaluate(cfg: DictConfig) -> dict:
    """Score a checkpoint on a labelled split; write metrics.json, report.md and errors.jsonl."""
    from .data import load_benchmark, read_split
    from .evaluation import evaluate_predictions, write_outputs

    tagger = load_tagger(cfg)
    if cfg.get("split_dir"):
        cols = read_split(cfg.split_dir)
        name = str(cfg.split_dir)
    elif cfg.data.source == "folder":
        cols = read_split(Path(cfg.data.path) / str(cfg.split))
        name = f"{cfg.data.name}/{cfg.split}"
    else:
        ds = load_benchmark(cfg.data.source, cfg.data.get("path"), **(cfg.data.get("hub") or {}))
        if str(cfg.split) not in ds:
            raise SlotfillError(f"{cfg.data.name}: no split {cfg.split!r} (has {sorted(ds)})")
        cols = ds[str(cfg.split)].to_dict()
        name = f"{cfg.data.name}/{cfg.split}"
    start = time.perf_counter()
    results = tagger.predict_tokens(cols["tokens"], batch_size=int(cfg.batch_size))
    seconds = time.perf_counter() - start
    pred_tags = [r["tags"] for r in results]
    pred_intents = [r["intent"] for r in results] if tagger.predicts_intent else None
    result = evaluate_predictions(cols["tokens"], cols["tags"], pred_tags, cols["intent"], pred_intents)
    meta = {
        "checkpoint": str(cfg.ckpt),
        "data": name,
        "backend": str(cfg.backend),
        "dtype": str(cfg.precision),
        "seconds": round(seconds, 3),
    }
    out_dir = Path(cfg.output_dir)
    metrics = write_outputs(result, out_dir, meta, int(cfg.max_errors))
    s = result["scores"]
    line = (
        f"{name}: slot F1 {s['f1']:.2f} (P {s['precision']:.2f} R {s['recall']:.2f}; strict F1 "
        f"{s['strict']['f1']:.2f})  sentence acc {s['sentence_accuracy']:.2f}"
    )
    if "intent_accuracy" in s:
        line += f"  intent acc {s['intent_accuracy']:.2f}"
    d = result["direction"]
    print(result["report"])
    print(line)
    print(
        f"departure->arrival confusions {d['fromloc_as_toloc']}, arrival->departure {d['toloc_as_fromloc']}; "
        f"{len(result['errors'])} sentences with errors"
    )
    print(f"report: {out_dir / 'report.md'}")
    return metrics


def read_sentences(cfg: DictConfig, texts: list[str]) -> list[str]:
    """Sentences from the command line (``text=``/positional) and ``input=FILE`` (``-``: stdin)."""
    import sys

    from .data import decode_lines, read_lines

    sentences = list(texts)
    if cfg.get("text") is not None:
        sentences.append(str(cfg.text))
    if cfg.get("input") is not None:
        src = str(cfg.input)
        sentences += decode_lines(sys.stdin.buffer.read(), "<stdin>") if src == "-" else read_lines(Path(src))
    if not sentences:
        raise SlotfillError('nothing to tag: give a sentence ("..." or text="..."), or input=FILE (input=- for stdin)')
    return sentences


def format_human(result: dict) -> str:
    lines = [result["text"] if result["text"].strip() else "(empty sentence: nothing to tag)"]
    if result["intent"] is not None:
        lines.append(f"  intent: {result['intent']} ({result['intent_confidence']:.2f})")
    for s in result["spans"]:
        lines.append(f"  {s['slot']}: {s['text']} ({s['confidence']:.2f})")
    if result["tokens"] and not result["spans"]:
        lines.append("  (no slots)")
    return "\n".join(lines)


def predict(cfg: DictConfig, texts: list[str] | None = None) -> list[dict]:
    """Tag sentences and print them for people (``format=text``) or programs (``format=jsonl``)."""
    import sys

    if cfg.format not in ("text", "jsonl"):
        raise SlotfillError(f"format={cfg.format}: expected text or jsonl")
    sentences = read_sentences(cfg, texts or [])
    tagger = load_tagger(cfg)
    results = tagger.predict(sentences, batch_size=int(cfg.batch_size))
    if cfg.format == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    else:
        text = "\n".join(format_human(r) for r in results) + "\n"
    if cfg.get("output"):
        Path(cfg.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return results


def export(cfg: DictConfig) -> Path:
    """Write the ONNX graph and its sidecar; optionally check tags against eager PyTorch."""
    from .onnx_backend import export_onnx, quantize_onnx
    from .tagger import SlotTagger

    out = export_onnx(cfg.ckpt, cfg.get("output"), int(cfg.opset))
    print(f"wrote {out} and {out}.json")
    if cfg.get("int8", True):
        q = quantize_onnx(out)
        print(f"wrote {q} (int8 weights; use backend=onnx precision=int8)")
    if cfg.get("check", True) and not cfg.get("output"):
        sentences = ["i want to leave taipei and arrive in boston", "show me flights from denver to dallas on monday"]
        eager = SlotTagger.load(cfg.ckpt).predict(sentences)
        onnx = SlotTagger.load(cfg.ckpt, backend="onnx").predict(sentences)
        same = [a["tags"] == b["tags"] and a["intent"] == b["intent"] for a, b in zip(eager, onnx)]
        if not all(same):
            raise SlotfillError(f"{out}: ONNX Runtime and PyTorch disagree on {same.count(False)} test sentences")
        print("check: ONNX Runtime and PyTorch give the same tags")
    return out
