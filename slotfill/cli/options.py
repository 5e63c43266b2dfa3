"""Every command-line setting checked before any work: one :class:`ConfigError` line per problem.

Components that check their own settings (``NetConfig``, ``TrainConfig``, the data module,
the Trainer) are built early too; this module covers the values they do not see.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from slotfill.core.backends import is_onnx
from slotfill.core.limits import MAX_NBEST
from slotfill.core.schema import model_path, no_model_in
from slotfill.core.settings import is_number, true_or_false, whole_number
from slotfill.errors import CheckpointError, ConfigError

TRAIN_KEYS = {
    "data",
    "model",
    "optimizer",
    "trainer",
    "callbacks",
    "logger",
    "train",
    "seed",
    "monitor",
    "threads",
    "test_after_fit",
    "output_dir",
    "resume",
    "init_from",
    "overwrite",
    "plots",
}
# validation scores logged each epoch (all higher-is-better, as the callbacks' mode: max assumes)
MONITORS = tuple(
    f"val/{k}"
    for k in (
        "f1",
        "joint",
        "precision",
        "recall",
        "strict_f1",
        "sentence_accuracy",
        "slot_exact_match",
        "intent_accuracy",
        "f1_mean3",  # the mean of the last 3 epochs' val/f1 (module.SMOOTH_WINDOW)
        "joint_mean3",
    )
)


CKPT_HINT = "a run folder, its model.pt or a training .ckpt"


def require(cfg: DictConfig, key: str, hint: str) -> None:
    """A mandatory value (``???`` in the YAML) that is still missing is a one-line error."""
    if OmegaConf.is_missing(cfg, key):
        raise ConfigError(f"{key} is required: add {key}={hint}")


def whole(cfg: DictConfig, key: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``cfg[key]`` as a whole number from ``minimum`` (to ``maximum``; ``key`` may be dotted)."""
    return whole_number(OmegaConf.select(cfg, key), key, minimum, maximum)


def flag(cfg: DictConfig, key: str) -> bool:
    """``cfg[key]`` when it is true or false (``plots=maybe`` is not a yes)."""
    return true_or_false(OmegaConf.select(cfg, key), key)


def existing_checkpoint(cfg: DictConfig, key: str) -> Path:
    """The model file ``cfg[key]`` names (a run folder stands for its model.pt), refused when missing."""
    path = model_path(str(OmegaConf.select(cfg, key)))
    if path.is_dir() and key == "ckpt":  # a torch-free image's folder: its graph (backends.choose picks onnx)
        path = model_path(path, ".onnx")
    if path.is_dir():
        raise CheckpointError(no_model_in(path, f"{key}= takes {CKPT_HINT}"))
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found ({key}={path})")
    return path


def threads_setting(cfg: DictConfig) -> int:
    """The intra-op threads ``threads=`` (``auto`` or a number) gives one process."""
    from slotfill.core.threads import resolve

    return resolve(cfg.get("threads", "auto"))


def workers_setting(cfg: DictConfig) -> int:
    """How many chunks ``workers=`` (``auto`` or a number) lets ``predict`` tag at once."""
    from slotfill.core.threads import resolve_workers

    return resolve_workers(cfg.get("workers", "auto"), threads_setting(cfg))


def check_train(cfg: DictConfig) -> None:
    """Settings of ``slotfill train`` that are not checked where they are used."""
    unknown = sorted(set(cfg) - TRAIN_KEYS)
    if unknown:
        hint = ""
        if "ckpt_path" in unknown:
            hint = "; to continue a run use resume=RUN_DIR, to start from a trained model init_from=MODEL.pt"
        raise ConfigError(f"unknown setting {', '.join(unknown)}{hint}")
    threads_setting(cfg)
    for key in ("test_after_fit", "plots", "overwrite"):
        flag(cfg, key)
    whole(cfg, "seed", minimum=0)
    whole(cfg, "data.batch_size")
    whole(cfg, "data.eval_batch_size")
    for key, least in (("data.min_freq", 1), ("data.seed", 0), ("data.num_workers", 0)):
        if OmegaConf.select(cfg, key) is not None:
            whole(cfg, key, minimum=least)
    _check_numbers(cfg)
    epochs = OmegaConf.select(cfg, "trainer.max_epochs")
    if epochs != -1:
        whole(cfg, "trainer.max_epochs")
    scheduled = OmegaConf.select(cfg, "train.lr_decay") not in (None, "none") or OmegaConf.select(
        cfg, "train.warmup_steps"
    )
    if epochs == -1 and OmegaConf.select(cfg, "trainer.max_steps") in (None, -1) and scheduled:
        raise ConfigError(
            "trainer.max_epochs=-1: a learning-rate schedule (train.lr_decay, train.warmup_steps) needs an end: "
            "give trainer.max_epochs or trainer.max_steps"
        )
    if str(cfg.monitor) not in MONITORS:
        raise ConfigError(f"monitor={cfg.monitor}: choose one of {', '.join(MONITORS)}")
    for split, why in (("train", "nothing would be trained"), ("val", "validation selects the checkpoint")):
        key = f"trainer.limit_{split}_batches"
        value = OmegaConf.select(cfg, key)
        if value is not None and (not is_number(value) or value <= 0):
            said = f"{why}; " if is_number(value) else ""
            raise ConfigError(f"{key}={value!r}: {said}give a fraction above 0 or a number of batches")
    if not cfg.get("resume"):  # a run begun before these checks resumes as it began: its epochs are kept
        _check_new_run(cfg)
    if cfg.get("init_from") and not cfg.get("resume"):  # resumed: the run's own record (resume_argv refuses a new one)
        existing_checkpoint(cfg, "init_from")
    if OmegaConf.select(cfg, "train.distill_from"):
        existing_checkpoint(cfg, "train.distill_from")


def _check_numbers(cfg: DictConfig) -> None:
    """Numbers the optimizer and the callbacks take, named here: their own errors name no setting
    (``'<=' not supported between 'float' and 'str'``), or come after epochs were trained."""
    lr = OmegaConf.select(cfg, "optimizer.lr")
    if lr is not None and (not is_number(lr) or not lr > 0):  # not lr > 0: NaN too
        raise ConfigError(f"optimizer.lr={lr!r}: must be a number above 0")
    for key in ("optimizer.weight_decay", "optimizer.eps", "callbacks.early_stopping.min_delta"):
        value = OmegaConf.select(cfg, key)
        if value is not None and (not is_number(value) or not value >= 0):
            raise ConfigError(f"{key}={value!r}: must be a number of at least 0")
    if OmegaConf.select(cfg, "callbacks.early_stopping") is not None:
        whole(cfg, "callbacks.early_stopping.patience", minimum=0)
    for name in ("model_checkpoint", "last_checkpoint"):
        if OmegaConf.select(cfg, f"callbacks.{name}.save_top_k") is not None:
            whole(cfg, f"callbacks.{name}.save_top_k", minimum=-1)
    kept, name, versions = (
        OmegaConf.select(cfg, f"callbacks.model_checkpoint.{k}")
        for k in ("save_top_k", "filename", "enable_version_counter")
    )
    apart = name is None or versions or any(f"{{{k}" in str(name) for k in ("epoch", "step"))
    if kept not in (None, 0, 1) and not apart:
        raise ConfigError(  # one name for every epoch kept: each would overwrite the one before
            f"callbacks.model_checkpoint.filename={name}: save_top_k={kept} keeps several epochs: "
            "put {epoch} in the name (or callbacks.model_checkpoint.enable_version_counter=true)"
        )


def _check_new_run(cfg: DictConfig) -> None:
    """Settings a new run may not start with: they would be ignored, or break it later."""
    smoothing = OmegaConf.select(cfg, "model.label_smoothing")
    if OmegaConf.select(cfg, "model.crf") and isinstance(smoothing, int | float) and smoothing > 0:
        raise ConfigError(
            f"model.label_smoothing={smoothing}: smooths the softmax's targets; the CRF (model.crf=true) has none"
        )
    interval = OmegaConf.select(cfg, "trainer.val_check_interval")
    # 1.0 is once an epoch; the whole number 1 is every training batch, to Lightning
    if interval is not None and not (isinstance(interval, float) and interval == 1.0):
        once = " (1.0, or leaving it out, is once an epoch; 1 is every batch)" if interval == 1 else ""
        raise ConfigError(
            f"trainer.val_check_interval={interval}{once}: slotfill validates once an epoch, at its end (the last-k "
            "weight averages and the val/*_mean3 scores count epochs); for less validation: trainer.limit_val_batches"
        )
    every = OmegaConf.select(cfg, "trainer.check_val_every_n_epoch")
    if every not in (None, 1):  # else epoch lines show old scores, last.ckpt waits for a validation
        raise ConfigError(
            f"trainer.check_val_every_n_epoch={every}: slotfill validates every epoch (the checkpoint it keeps, "
            "early stopping, last.ckpt); for less validation use trainer.limit_val_batches"
        )


def check_inference(cfg: DictConfig) -> None:
    """Settings shared by ``slotfill predict`` and ``slotfill evaluate``."""
    from slotfill.core.backends import BACKENDS, check_precision  # torch-free: an ONNX model needs no torch

    require(cfg, "ckpt", f"PATH ({CKPT_HINT})")
    if "batch_size" in cfg:  # shell has none: it tags each line as it is read
        whole(cfg, "batch_size")
    threads_setting(cfg)
    if cfg.backend not in BACKENDS:
        raise ConfigError(f"backend={cfg.backend!r}: choose one of {', '.join(BACKENDS)}")
    check_precision(str(cfg.precision), str(cfg.backend), str(cfg.ckpt))  # the backend too
    existing_checkpoint(cfg, "ckpt")


def check_evaluate(cfg: DictConfig) -> None:
    check_inference(cfg)
    whole(cfg, "max_errors", minimum=0)
    whole(cfg, "top_k")
    flag(cfg, "plots")
    if cfg.get("split_dir") and not Path(str(cfg.split_dir)).exists():
        raise ConfigError(f"split_dir={cfg.split_dir}: no such file or folder")


def check_export(cfg: DictConfig) -> None:
    """``slotfill export``'s settings, before the model loads."""
    from slotfill.models.onnx_export import MIN_OPSET, max_opset  # torch: export needs it anyway

    require(cfg, "ckpt", f"PATH ({CKPT_HINT})")
    whole(cfg, "opset", minimum=MIN_OPSET, maximum=max_opset())
    for key in ("int8", "check"):
        flag(cfg, key)
    ckpt = existing_checkpoint(cfg, "ckpt")
    if is_onnx(ckpt):
        raise ConfigError(f"ckpt={ckpt}: already an ONNX graph; export takes the model.pt it comes from")
    output = cfg.get("output")
    if output is not None:
        if not str(output).endswith(".onnx"):  # never over model.pt, never a graph read as something else
            raise ConfigError(f"output={output}: a graph's file name ends in .onnx")
        if str(output).endswith(".int8.onnx"):  # the float32 graph would be read as the int8 one
            raise ConfigError(f"output={output}: .int8.onnx names the int8 copy; give the float32 graph's name")
        if Path(str(output)).is_dir():
            raise ConfigError(f"output={output}: a folder; give the graph's file name (.onnx)")


def decisions(cfg: DictConfig) -> dict:
    """``min_confidence=`` (0 to 1; 0 keeps every span) and ``nbest=`` (1: the best sequence only),
    as keyword arguments of ``predict``."""
    from slotfill.inference.pipeline import check_confidence

    whole(cfg, "nbest", maximum=MAX_NBEST)
    return {"min_confidence": check_confidence(cfg.get("min_confidence", 0.0)), "nbest": int(cfg.get("nbest", 1))}


ENGINES = ("local", "ray")


def ray_settings(cfg: DictConfig):
    """``ray.*`` of a predict config as :class:`RaySettings` (checked)."""
    from slotfill.integrations.ray_engine import RaySettings

    return RaySettings(**OmegaConf.to_container(cfg.ray, resolve=True))  # Hydra refuses unknown keys


def check_predict(cfg: DictConfig) -> None:
    from slotfill.cli.console import FORMATS

    check_inference(cfg)
    decisions(cfg)
    engine = str(cfg.get("engine", "local"))
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine}: choose one of {', '.join(ENGINES)}")
    workers_setting(cfg)
    if engine == "local":
        from slotfill.integrations.ray_engine import RaySettings

        given, default = vars(ray_settings(cfg)), vars(RaySettings())
        changed = [f"ray.{k}={v}" for k, v in given.items() if v != default[k]]
        if changed:  # else a file the user meant for a cluster is tagged here, without a word
            raise ConfigError(f"{changed[0]}: engine=ray's; add engine=ray, or drop it to tag here")
    if engine == "ray":
        if str(cfg.get("workers", "auto")) != "auto":  # else a setting silently ignored
            raise ConfigError(f"workers={cfg.workers}: plain predict's; engine=ray runs ray.concurrency actors")
        ray_settings(cfg)
        if cfg.get("input") in (None, "-"):
            raise ConfigError("engine=ray tags files: add input=FILE, FOLDER or GLOB (and output=FOLDER)")
        return  # the files and the output folder are the engine's to check
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format}: choose one of {', '.join(FORMATS)}")
    source = cfg.get("input")
    if source is not None and str(source) != "-":
        check_input_file(str(source))
    output = cfg.get("output")
    if output is None:
        return
    if (source is not None and str(source) != "-" and _same_file(source, output)) or _is_standard_input(source, output):
        raise ConfigError(f"output={output} is the input file: results would replace the sentences: write elsewhere")
    from slotfill.core.sidecar import export_files, exported_from

    model = existing_checkpoint(cfg, "ckpt")
    source = exported_from(model) if is_onnx(model) else model
    for kept in (model, source, *export_files(source)):
        if _same_file(kept, output):
            raise ConfigError(f"output={output} is the model's own file ({kept}): write elsewhere")


def _is_standard_input(source: object, output: object) -> bool:
    """Whether ``input=-`` reads the very file ``output=`` names (``< x.txt``): it would be emptied first."""
    import os

    if str(source) != "-" and source is not None or not Path(str(output)).is_file():
        return False
    try:
        given, named = os.fstat(0), os.stat(str(output))
    except OSError:
        return False
    return (given.st_dev, given.st_ino) == (named.st_dev, named.st_ino)


def check_input_file(source: str) -> None:
    """Plain ``predict``'s ``input=``: one local file (a parquet file's footer read here, before the
    model loads)."""
    import glob

    from slotfill.core.file_systems import is_url
    from slotfill.core.sentence_files import kind_of, row_ranges

    path = Path(source)
    if is_url(source):
        raise ConfigError(f"input={source}: plain predict reads a local file; engine=ray reads URLs")
    if path.is_dir() or not path.exists() and glob.glob(source, recursive=True):
        raise ConfigError(f"input={source}: plain predict reads one file; engine=ray reads folders and globs")
    if path.exists() and not path.is_file():
        raise ConfigError(
            f"input={source}: not a regular file (a pipe or a device): send it on standard input, input=-"
        )
    if not path.is_file():
        raise ConfigError(f"input={source}: file not found")
    if kind_of(path) == "parquet":
        row_ranges(source)


def input_is_empty(source: str) -> bool:
    """Whether a checked ``input=`` file holds no sentence at all (no bytes, or a parquet file of no rows)."""
    from slotfill.core.sentence_files import kind_of, row_ranges

    return row_ranges(source)[1] == 0 if kind_of(source) == "parquet" else Path(source).stat().st_size == 0


def _same_file(a: object, b: object) -> bool:
    a, b = Path(str(a)), Path(str(b))
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False
