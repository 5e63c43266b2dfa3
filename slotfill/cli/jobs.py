"""What each Hydra command does once its config is composed: ``train``, ``evaluate``, ``predict``, ``export``."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from slotfill.cli import console, options
from slotfill.cli.argv import FOLDER_BEFORE_ENV
from slotfill.cli.streams import TextOutput, check_sources, chunks, in_order, iter_sentences
from slotfill.core import collector
from slotfill.core.backends import choose
from slotfill.core.limits import PREDICT_CHUNK
from slotfill.core.schema import LAST_CHECKPOINT, model_path, refuse_a_training_run
from slotfill.errors import ConfigError, MissingExtra, SlotfillError, first_line


def train(cfg: DictConfig) -> dict:
    """Fit, reload the best checkpoint by the validation ``monitor``, test it, and write the run folder.

    The folder is claimed once the data and the model are built (refused if another run's files are in
    it; ``overwrite=true`` clears them then, so data that does not load never costs the run there) and
    ``run.json`` records the run's config and how it ended; ``resume=RUN_DIR`` continues an unfinished run.
    """
    from slotfill.training import run_folder  # torch: imported by the commands that train

    out_dir = Path(cfg.output_dir)
    rank_zero = run_folder.is_rank_zero()
    fresh = rank_zero and not cfg.get("resume")  # a resumed run's folder is that run's, whatever happens
    # train.log as this job found it (it has logged nothing yet): an earlier run's lines come before ours
    earlier_log = _size(out_dir / "train.log")
    with (
        _terminate_interrupts() as release,
        _dropped_if_unused(out_dir, "train.log") if fresh else contextlib.nullcontext(),
    ):
        cfg, last_checkpoint = run_folder.resume_config(cfg)
        options.check_train(cfg)
        folder = run_folder.RunFolder(out_dir, earlier_log=earlier_log) if rank_zero else None
        with run_folder.lock(out_dir) if folder is not None else contextlib.nullcontext():
            if folder is not None and last_checkpoint is None:
                folder.check_claim(overwrite=cfg.overwrite)  # the refusal at once, before the data loads
            return _train_in(cfg, folder, out_dir, last_checkpoint, release)


@contextlib.contextmanager
def _terminate_interrupts() -> Iterator[Callable[[], None]]:
    """SIGTERM (what a scheduler or ``kill`` sends) ends a training as Ctrl-C does, wherever it lands
    until the run is recorded complete: ``run.json`` says interrupted and the resume hint is printed.
    Lightning handled it only inside ``fit`` (and finished the last batch of a test); elsewhere it
    killed the process mid-write. Yields what gives the caller's handler back (once the run is complete)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # signals are the main thread's
        yield lambda: None
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield lambda: signal.signal(signal.SIGTERM, previous)
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _dropped_if_unused(out_dir: Path, log: str) -> Iterator[None]:
    """A job that stops before it writes anything leaves no folder behind (a folder there before the command,
    in ``FOLDER_BEFORE_ENV``, stays, without Hydra's files). Hydra made the folder, its
    ``.hydra/`` and the job's ``log`` before the job could refuse a setting or its data; they go when
    the folder held nothing else as the job started (not a folder used before), holds nothing else
    now, and no other process holds its lock (two runs started in the same second share a folder)."""
    from slotfill.training.run_folder import LOCK_FILE, unlocked

    folder = out_dir if _hydra_folder() == out_dir.absolute() else None  # the job's folder is the one Hydra made
    # ...into a folder there before (a user's own, the working folder): its files go, the folder stays
    existed = os.path.abspath(out_dir) in os.environ.get(FOLDER_BEFORE_ENV, "").split(os.pathsep)
    # the lock file of a named folder this process has held since before Hydra made it is not a use
    made_now = folder is not None and _entries(folder) <= {".hydra", log, LOCK_FILE} and _size(folder / log) == 0
    made_now = made_now and (LOCK_FILE not in _entries(folder) or unlocked(folder))
    try:
        yield
    except BaseException:
        if made_now and _entries(folder) <= {".hydra", log, LOCK_FILE} and unlocked(folder):
            shutil.rmtree(folder / ".hydra", ignore_errors=True)
            for name in (log, LOCK_FILE):
                (folder / name).unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # a folder someone else writes in by now stays
                if not existed:
                    folder.rmdir()
        raise


def _hydra_folder() -> Path | None:
    """The folder Hydra made for this job (None outside a Hydra run: the job called from Python)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    folder = OmegaConf.select(HydraConfig.get(), "runtime.output_dir", default=None)
    return Path(folder).absolute() if folder else None


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.is_dir() else {"(gone)"}


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _train_in(cfg: DictConfig, folder, out_dir: Path, last_checkpoint: Path | None, release=lambda: None):
    from slotfill.training import fit  # Lightning and datasets: seconds of imports predict and evaluate do not need

    def claim() -> None:
        if folder is not None:
            if last_checkpoint is None:
                folder.claim(overwrite=cfg.overwrite)
            folder.start(cfg, resumed_from=last_checkpoint)

    completed = False
    try:
        run = fit.fit(cfg, ckpt_path=last_checkpoint, before_fit=claim)
        if not run.trainer.is_global_zero:
            return {}
        metrics = fit.write_run(run, out_dir)
        # a Ctrl-C or SIGTERM landing after run.json was replaced but before the run knew it rewrote a
        # finished run as interrupted: held until it is recorded, then the caller's (the summary, the figures)
        with _interrupts_deferred(then=release):
            if folder is not None:
                folder.finish("completed")
            completed = True
    except KeyboardInterrupt:
        if completed:  # after the record: nothing of the run to resume
            raise
        _record_end(folder, "interrupted")
        if folder is not None and folder.started and (out_dir / LAST_CHECKPOINT).is_file():  # this run's epoch
            raise KeyboardInterrupt(f"continue the run with slotfill train resume={out_dir}") from None
        raise
    except BaseException as e:
        if not completed:
            _record_end(folder, "failed", error=f"{type(e).__name__}: {first_line(e, limit=300)}")
        raise
    report = out_dir / "test_report.txt"
    print(console.training_summary(metrics, report.read_text() if report.exists() else None, str(out_dir)))
    _draw_learning_curves(cfg, out_dir)  # last: a figure that cannot be drawn never fails a trained run
    return metrics


def _record_end(folder, status: str, error: str | None = None) -> None:
    """``run.json``'s end of a run that did not complete; a record that cannot be written (the disk that
    failed the run) is said, and the failure that ended the run stays the one reported."""
    if folder is None or not folder.started:  # before it started, the folder is another run's still
        return
    try:
        folder.finish(status, error=error)
    except (OSError, SlotfillError) as e:
        print(f"warning: could not record the run as {status} in run.json: {first_line(e)}", file=sys.stderr)


def _draw_learning_curves(cfg: DictConfig, out_dir: Path) -> None:
    if not cfg.get("plots", True):
        return
    if not any((out_dir / "logs").glob("metrics*.csv")):  # parts of a resumed run too
        fast_dev_run = OmegaConf.select(cfg, "trainer.fast_dev_run")  # Lightning turns the loggers off
        why = "trainer.fast_dev_run logs nothing" if fast_dev_run else "the logger removed"
        print(f"warning: no logs/metrics.csv ({why}): learning curves not drawn", file=sys.stderr)
        return
    from slotfill.evaluation.plots import learning_curves  # matplotlib: only when figures are asked for

    try:
        learning_curves([out_dir], out_dir / "learning_curves")
    except (OSError, SlotfillError, ValueError) as e:
        print(
            f"warning: learning curves not drawn ({first_line(e)}); the run is complete: "
            f"slotfill plot {out_dir} -o {out_dir / 'learning_curves'} draws them",
            file=sys.stderr,
        )


def objective(metrics: dict) -> float | None:
    """The monitored validation score of the selected epoch (what a sweeper optimises); None off rank 0."""
    if not metrics:
        return None
    if metrics.get("best_val_score") is not None:
        return float(metrics["best_val_score"])
    valid = metrics.get("scores", {}).get("valid", {})  # no checkpoint (fast_dev_run): the last validation
    name = str(metrics.get("monitor") or "val/f1").split("/")[-1]
    if name == "joint" and "f1" in valid:
        from slotfill.evaluation.metrics import joint_score

        return joint_score(valid)
    return valid.get(name, valid.get("f1"))


def load_tagger(cfg: DictConfig):
    """The tagger that ``ckpt``, ``backend``, ``precision`` and ``threads`` of a predict/evaluate config name."""
    from slotfill.inference.loading import load_tagger as load

    tagger = load(cfg.ckpt, str(cfg.backend), options.threads_setting(cfg), str(cfg.precision))
    if collector.in_command():  # torch and the model are loaded (slotfill.core.collector)
        collector.settled()
    return tagger


def evaluate(cfg: DictConfig) -> dict:
    """Score a checkpoint on a labelled split; write metrics.json, report.md, errors.jsonl and figures.

    Every file is made beside the folder's own first and they are moved in together at the end, ``metrics.json``
    last: an evaluation that fails or is interrupted leaves an earlier one's files (and Hydra record) whole."""
    from slotfill.data.load import load_split
    from slotfill.evaluation.report import (
        evaluate_predictions,
        intent_coverage_warning,
        label_coverage_warning,
        write_outputs,
    )

    with _dropped_if_unused(Path(cfg.output_dir), "evaluate.log"):
        refuse_a_training_run(cfg.output_dir, "output_dir")  # a sweep job's folder, or a caller's outside the CLI
        options.check_evaluate(cfg)
        tagger = load_tagger(cfg)  # first: whether the split's intents are scored is the model's
        data = OmegaConf.to_container(cfg.data, resolve=True)
        cols, name = load_split(data, str(cfg.split), cfg.get("split_dir"), intents=tagger.predicts_intent)
    start = time.perf_counter()
    results = tagger.predict_tokens(cols["tokens"], batch_size=cfg.batch_size)
    engine = choose(str(cfg.backend), str(cfg.ckpt))  # what ran it: backend=auto resolved, as precision is
    model_file = str(Path(str(cfg.ckpt)).absolute())  # found from any folder, as train's model_file is
    facts = {"model_file": model_file, "data": name, "backend": engine, "precision": tagger.precision}
    facts["seconds"] = round(time.perf_counter() - start, 3)
    pred_intents = [r["intent"] for r in results] if tagger.predicts_intent else None
    known_intents = list(tagger.vocabs.intents.itos) if tagger.predicts_intent else None
    warnings = [label_coverage_warning(cols["tags"], tagger.tags)]
    if known_intents is not None:
        warnings.append(intent_coverage_warning(cols["intent"], known_intents))
    for warning in filter(None, warnings):
        print(f"warning: {warning}", file=sys.stderr)
    result = evaluate_predictions(
        cols["tokens"],
        cols["tags"],
        [r["tags"] for r in results],
        cols["intent"],
        pred_intents,
        results,
        top_k=int(cfg.get("top_k", 15)),  # the confusion matrices' size: the figure's title says top_k
        reference=_training_labels(cfg, intents=tagger.predicts_intent),
        known=(tagger.tags, known_intents),
    )
    out_dir = Path(cfg.output_dir)
    card = tagger.card if hasattr(tagger, "card") else tagger.model.card()  # OnnxTagger: its sidecar's
    if card.get("seed") is not None:  # the model's training seed (slotfill compare's column), not evaluate's own
        facts["seed"] = card["seed"]
    staging = _staging_folder(out_dir)
    try:
        metrics = write_outputs(result, staging, card, _scored_split(cfg), facts, int(cfg.max_errors))
        if cfg.get("plots", True):
            from slotfill.evaluation.plots import evaluation_figures  # matplotlib: only when drawn

            evaluation_figures(_drawable(result), staging, top_k=int(cfg.get("top_k", 15)))
        _move_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(console.evaluation_summary(result, name, str(out_dir / "report.md")))
    return metrics


STAGING_PREFIX = ".evaluation-"  # the folder an evaluation makes its files in, in its output folder


def _staging_folder(out_dir: Path) -> Path:
    """A new folder in ``out_dir`` (the same file system: its files are renamed into place); one that a killed
    evaluation left there over an hour ago goes."""
    import tempfile

    for left in out_dir.glob(f"{STAGING_PREFIX}*"):
        with contextlib.suppress(OSError):
            if time.time() - left.stat().st_mtime > 3600:
                shutil.rmtree(left, ignore_errors=True)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    except OSError as e:
        raise SlotfillError(f"{out_dir}: cannot write ({e.strerror})") from None


def _move_in(staging: Path, out_dir: Path) -> None:
    """The evaluation's files into ``out_dir`` in place of an earlier one's (figures it did not draw go),
    ``metrics.json`` last, with Ctrl-C held: then the folder's Hydra record is this evaluation's."""
    from slotfill.core.schema import EARLIER_RECORD
    from slotfill.evaluation.plots import EVALUATION_FIGURES

    made = sorted((p for p in staging.iterdir() if not p.name.startswith(".")), key=lambda p: p.name == "metrics.json")
    figures = [out_dir / f"{name}.{fmt}" for name in EVALUATION_FIGURES for fmt in ("png", "svg")]
    stale = [p for p in figures if p.name not in {m.name for m in made}]
    for target in [*(out_dir / p.name for p in made), *stale]:  # refused before anything is replaced
        if target.is_dir() and not target.is_symlink():
            raise SlotfillError(f"{target}: a folder is in the way of a file (nothing written)")
    with _interrupts_deferred():
        try:
            for path in stale:
                path.unlink(missing_ok=True)
            for path in made:
                path.replace(out_dir / path.name)
        except OSError as e:  # a rename in one folder: next to never
            said = f"{out_dir}: cannot write ({e.strerror}); files partly this evaluation's, partly the earlier's"
            raise SlotfillError(said) from e
        hydra = _hydra_folder()
        if hydra is not None:  # the files are this evaluation's: the earlier one's record must not come back
            shutil.rmtree(hydra / EARLIER_RECORD, ignore_errors=True)


@contextlib.contextmanager
def _interrupts_deferred(then: Callable[[], None] | None = None) -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done, then act as they would have (``then``, after a
    block that succeeded, runs first: it may hand SIGTERM back to the caller). Blocking them with
    ``pthread_sigmask`` is not enough: the kernel gives a signal to any thread that does not block it
    (torch's pool threads), and Python runs the handler in the main thread wherever it is."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        if then is not None:
            then()
        return
    caught: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:  # a failed block too: the Ctrl-C it held still ends the command as Ctrl-C does
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        failed = sys.exc_info()[1]
        if failed is None and then is not None:
            then()
        if caught and isinstance(failed, SlotfillError):  # said before the signal ends the command unsaid
            print(f"error: {failed}", file=sys.stderr)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


def _drawable(result: dict) -> dict:
    """The result as the figures take it: a calibration panel only for what was predicted (no ECE of nothing)."""
    calibration = {k: v for k, v in (result.get("calibration") or {}).items() if v["n"]}
    return {**result, "calibration": calibration or None}


def _scored_split(cfg: DictConfig) -> str:
    """The split's name in metrics.json: ``split=``, or for ``split_dir=`` the split its name says
    (``.../test``, ``dev.conll``), ``test`` when it says none (``split=`` does not apply to it)."""
    if not cfg.get("split_dir"):
        return str(cfg.split)
    from slotfill.data.load import split_of

    return split_of(Path(str(cfg.split_dir)).name) or "test"


def _training_labels(cfg: DictConfig, intents: bool = True) -> tuple[str, object] | None:
    """The data set's training split as :class:`PhraseLabels` (for the label-disagreement count), or
    None when the split scored is train itself, comes from ``split_dir`` or the data set has no training split."""
    from slotfill.data.load import load_split
    from slotfill.errors import DataError
    from slotfill.evaluation.disagreements import PhraseLabels

    if str(cfg.split) == "train" or cfg.get("split_dir"):
        return None
    try:
        cols, name = load_split(OmegaConf.to_container(cfg.data, resolve=True), "train", None, intents=intents)
    except (DataError, ConfigError):  # no training split (data.test=FILE alone)
        return None
    return name, PhraseLabels(cols["tokens"], cols["tags"], cols["intent"])


def predict(cfg: DictConfig, texts: list[str] | None = None) -> int:
    """Tag sentences and write them for people (``format=text``) or programs (jsonl, conll, seq.out, rasa).

    Streams: :data:`~slotfill.core.limits.PREDICT_CHUNK` sentences are read, tagged and written at a
    time, in input order, ``workers`` chunks tagged at once (``format=rasa`` groups each chunk's
    sentences by intent: an item per intent and chunk).
    Every setting and path is checked before the model is loaded. Returns the number of
    sentences tagged.
    """
    options.check_predict(cfg)
    if str(cfg.get("engine", "local")) == "ray":
        return _predict_on_ray(cfg, list(texts or []))
    texts = list(texts or [])
    check_sources(texts, cfg.get("text"), cfg.get("input"))
    source = cfg.get("input")
    if not texts and cfg.get("text") is None and source not in (None, "-") and options.input_is_empty(str(source)):
        raise SlotfillError(f"input={source}: no lines to tag")  # before the model loads
    with TextOutput(cfg.get("output")) as out:
        tagger = load_tagger(cfg)
        if cfg.format == "rasa" and not tagger.predicts_intent:
            raise ConfigError("format=rasa groups sentences by intent: the model has no intent head (model.intent)")
        n, size = 0, PREDICT_CHUNK
        decisions, fmt = options.decisions(cfg), str(cfg.format)
        rasa = _RasaFile(out) if fmt == "rasa" else None

        def tag(chunk: list[str]) -> str:
            return "".join(console.predictions(tagger.predict(chunk, batch_size=cfg.batch_size, **decisions), fmt))

        sentences = chunks(iter_sentences(texts, cfg.get("text"), cfg.get("input")), size)
        for chunk, text in in_order(tag, sentences, options.workers_setting(cfg), size):
            (rasa or out).write(text)
            n += len(chunk)
        if n == 0:
            raise SlotfillError(f"input={cfg.get('input')}: no lines to tag")
        if rasa is not None:
            rasa.close()
    return n


class _RasaFile:
    """``format=rasa`` as it streams: the version line first, ``nlu:`` before the first chunk's items,
    and ``nlu: []`` if no line gave an example (blank lines only): a file that reads back either way."""

    def __init__(self, out) -> None:
        from slotfill.data.formats.rasa import VERSION

        self.out, self.started = out, False
        out.write(VERSION)

    def write(self, items: str) -> None:
        if items and not self.started:
            self.out.write("nlu:\n")
            self.started = True
        self.out.write(items)

    def close(self) -> None:
        from slotfill.data.formats.rasa import NO_EXAMPLES

        if not self.started:
            self.out.write(NO_EXAMPLES)


def _predict_on_ray(cfg: DictConfig, texts: list[str]) -> int:
    from slotfill.integrations.ray_engine import predict_on_ray

    if texts or cfg.get("text") is not None:
        raise ConfigError("engine=ray tags files (input=); sentences on the command line need engine=local")
    return predict_on_ray(
        str(cfg.ckpt),
        str(cfg.input),
        cfg.get("output"),
        options.ray_settings(cfg),
        options.decisions(cfg),
        backend=str(cfg.backend),
        threads=options.threads_setting(cfg),
        precision=str(cfg.precision),
        fmt=str(cfg.format) if cfg.format != "text" else "jsonl",
        batch_size=int(cfg.batch_size),
    )


def export(cfg: DictConfig) -> Path:
    """Write the ONNX graph and its sidecar (and an int8 copy) and MODEL_CARD.md; check the graph and its
    sidecar against PyTorch, and the int8 copy against the graph."""
    from slotfill.evaluation.model_card import write_model_card
    from slotfill.inference.onnx_forward import INT8_AGREEMENT, check_int8, check_parity  # onnxruntime
    from slotfill.models.onnx_export import drop_stale_int8, export_onnx, onnx_path_for, quantize_onnx  # torch.onnx

    options.check_export(cfg)
    for module in ("onnx", "onnxruntime"):  # torch.onnx's own message for a missing onnx is a long traceback
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(module, "onnx", "slotfill export")
    from slotfill.models.slot_model import SlotModel

    ckpt = model_path(cfg.ckpt)
    model = SlotModel.load(ckpt)
    out = Path(cfg.get("output") or onnx_path_for(ckpt))
    checked: dict = {}  # what each check compared, said once it passed; each runs before its graph is installed
    check = (lambda graph: checked.update(fp32=check_parity(model, graph, name=out))) if cfg.check else None
    export_onnx(model, out, int(cfg.opset), source=ckpt, check=check)
    print(f"wrote {out} and {out}.json")
    if cfg.check:
        print(
            f"check: {out} and its sidecar (ONNX Runtime, numpy decoding) give PyTorch's tags, intents and "
            f"confidences on {checked['fp32']} sentences"
        )
    print(f"wrote {write_model_card(ckpt, model.card(), model.vocabs.to_dict())}")
    stale = drop_stale_int8(out)
    if stale is not None:
        print(f"removed {stale}: an int8 copy of an earlier export")
    if cfg.int8:
        int8 = onnx_path_for(out, "int8")
        check = (lambda copy: checked.update(int8=check_int8(out, copy, name=int8))) if cfg.check else None
        print(f"wrote {quantize_onnx(out, check=check)} (int8 weights; use backend=onnx precision=int8)")
        if cfg.check:
            agree, total = checked["int8"]
            print(
                f"check: {int8} gives the float32 graph's tags and intents on {agree} of {total} sentences "
                f"({agree / total:.0%}; at least {INT8_AGREEMENT:.0%} needed)"
            )
    return out
