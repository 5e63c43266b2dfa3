"""Read slot-filling data into ``datasets.DatasetDict``: where the data is, which format, which split.

The readers and writers live in :mod:`slotfill.data.formats` (one module per format); this module
decides what to read from a ``conf/data`` group:

* ``data.train`` / ``data.valid`` / ``data.test``: one file (or split folder) per split;
* ``data.path``: a folder of splits (``train/``, ``valid/``, ``test/`` in the folder format, or
  files named ``train.*``, ``valid.*``/``dev.*``, ``test.*``), or one file (train only); never
  together with a file per split (which would name the data twice);
* ``data.format=hub``: ``data.hub.name`` (or ``data.hub.data_files``) through ``datasets``, never
  a local copy of ``data.benchmark``;
* ``data.benchmark`` (``atis``, ``snips``): a local copy in ``$SLOTFILL_DATA_DIR/<name>`` or
  ``../shared/data/<name>``, else the published copy on the Hugging Face hub (``data.hub.name``).

Without a valid split, one is carved from train: ``min(500, 10% of train)`` sentences (or
``data.valid_size``; ``data.hub.valid_size`` for hub data) picked by a fixed-seed shuffle;
both keep the order of the file.
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slotfill.core import resources
from slotfill.core.settings import whole_number
from slotfill.core.wording import counted, verb
from slotfill.data import formats
from slotfill.data.formats import Extras, Record
from slotfill.data.formats import folder as folder_format
from slotfill.errors import ConfigError, DataError, first_line

SPLITS = ("train", "valid", "test")
SPLIT_ALIASES = {
    "train": "train",
    "valid": "valid",
    "dev": "valid",
    "validation": "valid",
    "val": "valid",
    "test": "test",
}
DEFAULT_DATA_DIR = "../shared/data"
DATA_DIR_ENV = "SLOTFILL_DATA_DIR"
MAX_CARVED_VALID = 500

DATA_KEYS = ("name", "benchmark", "format", "scheme", "path", "train", "valid", "test", "valid_size", "hub")
LOADER_KEYS = ("batch_size", "eval_batch_size", "min_freq", "num_workers", "seed")  # the datamodule's, not read here
log = logging.getLogger(__name__)


@dataclass
class Loaded:
    """The records of every split, the data set's name, and the train file's synonyms and lookup tables."""

    splits: dict[str, list[Record]]
    name: str
    extras: Extras = field(default_factory=Extras)
    carved_valid: bool = False  # no valid split: one was set aside from train


def features():
    """The typed schema of every split: tags and intents stay strings so unseen labels survive."""
    from datasets import Features, List, Value

    return Features({"tokens": List(Value("string")), "tags": List(Value("string")), "intent": Value("string")})


def data_dir() -> Path:
    """Where benchmarks live: ``$SLOTFILL_DATA_DIR`` or ``../shared/data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def benchmark_places(benchmark: str) -> list[Path]:
    """Where a local copy of a benchmark is looked for, in order, as whole paths: ``$SLOTFILL_DATA_DIR``,
    ``../shared/data`` from the working folder, then from the checkout (the same from any folder) when
    slotfill runs from one."""
    places = [Path(os.environ[DATA_DIR_ENV]) / benchmark] if os.environ.get(DATA_DIR_ENV) else []
    places.append(Path(DEFAULT_DATA_DIR) / benchmark)
    if resources.in_checkout():  # an install's CHECKOUT is site-packages' parent: no data there
        places.append(resources.CHECKOUT / DEFAULT_DATA_DIR / benchmark)
    return list(dict.fromkeys(p.resolve() for p in places))


def intent_gap(records: Sequence[Record]) -> DataError | None:
    """The error for a split whose sentences have an intent only in part (at its first without one), or None."""
    missing = [r for r in records if not r.intent]
    if not missing or len(missing) == len(records):
        return None
    given = next(r for r in records if r.intent)
    others = len(records) - len(missing)
    first = f"{given.file}:{given.line}" if given.line else given.file
    return missing[0].error(
        f"no intent, but {counted(others, 'other sentence')} of this split {verb(others, 'has')} one "
        f"(the first: {first}); give every sentence an intent, or none"
    )


def columns(records: Sequence[Record], intents: bool = True) -> dict[str, list]:
    """Records as the columns ``tokens``, ``tags``, ``intent``.

    ``intents``: whether the intents are used (a model with an intent head learns or is scored on
    them); then a split whose sentences have an intent only in part is refused, since "no intent"
    would be learnt and counted as one. Unused (``False``), they are kept as read, unchecked.
    """
    if intents and (problem := intent_gap(records)) is not None:
        raise problem
    return {
        "tokens": [list(r.tokens) for r in records],
        "tags": [list(r.tags) for r in records],
        "intent": [r.intent for r in records],
    }


def carve_valid(train: list[Record], size: int | None = None, seed: int = 0) -> tuple[list[Record], list[Record]]:
    """Split ``size`` sentences (default ``min(500, 10%)``, at least 1) off train by a seeded shuffle, in file order."""
    n = len(train)
    if size is None:
        size = max(1, min(MAX_CARVED_VALID, n // 10))
    size = int(size)
    if n < 2 or not 1 <= size < n:
        where = train[0].file if train else "<train>"
        raise DataError(
            where, None, f"cannot carve {size} valid sentences out of {n} training sentences; give data.valid=FILE"
        )
    order = list(range(n))
    random.Random(seed).shuffle(order)
    picked = set(order[:size])
    return [r for i, r in enumerate(train) if i not in picked], [r for i, r in enumerate(train) if i in picked]


def split_of(name: str) -> str | None:
    """The split a file or folder name stands for (``train.conll`` -> train, ``atis.dev.iob`` -> valid)."""
    for part in re.split(r"[._\-]", name.lower()):
        if part in SPLIT_ALIASES:
            return SPLIT_ALIASES[part]
    return None


def find_splits(root: Path, fmt: str = "auto", ambiguous: str = "set data.{split}=...") -> dict[str, Path]:
    """The split files or split folders inside ``root`` (a folder of splits); ``ambiguous``: what to do
    about two files for one split, as the caller takes its input."""
    found: dict[str, list[Path]] = {}
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        split = split_of(child.name)
        if split is None:
            continue
        if child.is_dir() and folder_format.is_split_dir(child) and fmt in ("auto", folder_format.NAME):
            found.setdefault(split, []).append(child)
        elif child.is_file() and fmt != folder_format.NAME:
            found.setdefault(split, []).append(child)
    for split, paths in found.items():
        if len(paths) > 1:
            names = " and ".join(p.name for p in paths)
            what = ambiguous.format(split=split)
            raise DataError(root, None, f"ambiguous: {names} both look like the {split} split; {what}")
    return {split: paths[0] for split, paths in found.items()}


def _existing(path: str | Path, what: str) -> Path:
    p = resources.resolve(path)  # data/sample works from any folder and when installed
    if not p.exists():
        raise DataError(
            p,
            None,
            f"{what} not found (looked at {p.resolve()}); set data.path=... or ${DATA_DIR_ENV} to the folder "
            "that holds atis/ and snips/",
        )
    return p


def locate(data: dict) -> tuple[str, Path | None]:
    """Where to read from: ``("files", None)``, ``("path", folder or file)`` or ``("hub", None)``."""
    files = [s for s in SPLITS if data.get(s)]
    if files and data.get("path"):  # neither wins: the files alone dropped data.path's other splits unsaid
        raise ConfigError(
            f"data.path={data['path']} and {', '.join('data.' + s for s in files)} name the data twice: give one "
            "or the other (data.path=null reads the files alone)"
        )
    if files:
        return "files", None
    if data.get("path"):
        return "path", _existing(data["path"], "data.path")
    if data.get("format") == "hub":  # the hub copy asked for: a local copy of the benchmark would differ by machine
        return "hub", None
    benchmark = data.get("benchmark")
    if benchmark:
        for place in benchmark_places(benchmark):
            if place.is_dir():
                return "path", place
        if (data.get("hub") or {}).get("name"):
            if not _offline():  # said before the hub client's retries: with no network, ~30 s before its error
                log.warning(
                    "%s: no local copy (looked in %s); loading %s from the Hugging Face hub (or set data.path=...)",
                    benchmark,
                    ", ".join(str(p) for p in benchmark_places(benchmark)),
                    data["hub"]["name"],
                )
            return "hub", None
        looked = ", ".join(str(p) for p in benchmark_places(benchmark))
        raise DataError(
            benchmark, None, f"no local copy (looked in {looked}); set data.path=... or ${DATA_DIR_ENV}=..."
        )
    raise ConfigError("no data: set data.path=..., data.train=... (data.valid=..., data.test=...) or data=atis|snips")


def _offline() -> bool:
    """Whether the hub client is told to stay offline (it then answers from its cache at once)."""
    return any(
        os.environ.get(v, "").strip().lower() not in ("", "0", "false")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _load_hub(data: dict) -> dict[str, list[Record]]:
    hub = dict(data.get("hub") or {})
    name, data_files = hub.get("name"), hub.get("data_files")
    if not name and not data_files:
        raise ConfigError(
            "data.hub.name is not set: give data.hub.name=OWNER/NAME or data.hub.data_files={train: FILE}"
        )
    try:
        raw = formats.hub.load(name, data_files)
    except DataError as e:
        # the benchmark's hub copy read for want of a local one (data.format=hub never looks for one)
        benchmark = data.get("benchmark") if data.get("format") != "hub" else None
        offline = _offline()
        if data_files:
            raise
        if not benchmark:
            remedy = (
                "it is not in the cache and HF_HUB_OFFLINE is set: unset it to download, or give data.hub.data_files="
                if offline
                else "check data.hub.name, or give data.hub.data_files="
            )
            raise DataError(e.path, None, f"{e.problem}; {remedy}") from None
        looked = ", ".join(str(p) for p in benchmark_places(benchmark))
        reason = "offline (HF_HUB_OFFLINE is set) and not cached" if offline else e.problem
        raise DataError(
            benchmark,
            None,
            f"no local copy (looked in {looked}) and the hub copy {name} cannot be loaded: {reason}; "
            f"set data.path=/path/to/{benchmark} or ${DATA_DIR_ENV}=/folder/holding/{benchmark}",
        ) from None
    return {split: formats.finish(records, data.get("scheme") or "auto") for split, records in raw.items()}


def load_splits(data: dict) -> tuple[dict[str, list[Record]], str]:
    """The records of every split of a data config (valid carved when absent) and the data set's name."""
    loaded = load_data(data)
    return loaded.splits, loaded.name


def load_data(data: dict) -> Loaded:
    """:func:`load_splits` with the train file's :class:`Extras` (what a model learns from the file
    besides its sentences); those of a valid or test file are reported, never used."""
    unknown = sorted(set(data) - set(DATA_KEYS) - set(LOADER_KEYS))
    if unknown:
        raise ConfigError(f"unknown setting {', '.join('data.' + k for k in unknown)}")
    fmt, scheme = data.get("format") or "auto", data.get("scheme") or "auto"
    if fmt not in formats.FORMATS:
        raise ConfigError(f"data.format={fmt}: choose one of {', '.join(formats.FORMATS)}")
    if scheme not in formats.READ_SCHEMES:
        raise ConfigError(f"data.scheme={scheme}: choose one of {', '.join(formats.READ_SCHEMES)}")
    kind, where = locate(data)
    hub = dict(data.get("hub") or {})
    valid_size, seed = data.get("valid_size"), 0
    if valid_size is not None:
        valid_size = whole_number(valid_size, "data.valid_size")
    extras: dict[str, Extras] = {}

    def read(split: str, path: Path) -> list[Record]:
        records, extras[split] = formats.read_file(path, fmt, scheme)
        return records

    if kind == "hub":
        splits = _load_hub(data)
        valid_size = whole_number(hub["valid_size"], "data.hub.valid_size") if hub.get("valid_size") else valid_size
        seed = whole_number(hub.get("seed") or 0, "data.hub.seed", minimum=0)
    elif kind == "files":
        splits = {s: read(s, _existing(data[s], f"data.{s}")) for s in SPLITS if data.get(s)}
    elif where.is_dir() and not folder_format.is_split_dir(where):
        paths = find_splits(where, fmt)
        if not paths:
            saved = (where / "dataset_dict.json").is_file()
            hint = "; a Hugging Face dataset saved with save_to_disk: data=atis_hub data.hub.name=FOLDER reads it"
            raise DataError(
                where,
                None,
                "no splits found (expected train/ valid/ test/ folders with seq.in, or files named train.*, "
                f"valid.*/dev.*, test.*){hint if saved else ''}",
            )
        splits = {s: read(s, p) for s, p in paths.items()}
    else:
        splits = {"train": read("train", where)}
    if "train" not in splits:
        raise DataError(where or "<data>", None, f"no train split (found {', '.join(sorted(splits)) or 'none'})")
    carved = "valid" not in splits
    if carved:
        splits["train"], splits["valid"] = carve_valid(splits["train"], valid_size, seed)
        size_key = "data.hub.valid_size" if kind == "hub" and hub.get("valid_size") else "data.valid_size"
        log.info("no valid split: %d training sentences set aside as valid (%s)", len(splits["valid"]), size_key)
    ordered = {s: splits[s] for s in SPLITS if s in splits}
    for split, found in extras.items():
        if split != "train" and found:
            log.warning(
                "data.%s: the synonyms and lookup tables of a %s file are not used (only those of train are)",
                split,
                split,
            )
    return Loaded(ordered, dataset_name(data, kind, where), extras.get("train", Extras()), carved)


def dataset_name(data: dict, kind: str = "path", where: Path | None = None) -> str:
    """``data.name``, else the name of the folder or file the data came from, else the benchmark's."""
    if data.get("name"):
        return str(data["name"])
    if kind == "files":
        return _name_of(Path(next(data[s] for s in SPLITS if data.get(s))))
    if kind == "path" and where is not None:
        return _name_of(where)
    return str(data.get("benchmark") or (data.get("hub") or {}).get("name") or "data")


def _name_of(path: Path) -> str:
    path = path.resolve()
    stem = path.name.split(".")[0] if path.is_file() else path.name
    if stem.lower() in SPLIT_ALIASES:
        return path.parent.name  # train.conll, train/: the folder names the data set
    return stem


def to_datasetdict(splits: dict[str, list[Record]], intents: bool = True):
    """Splits of records as a ``datasets.DatasetDict`` with typed features (``intents``: as :func:`columns`)."""
    from datasets import Dataset, DatasetDict

    return DatasetDict({s: Dataset.from_dict(columns(r, intents), features=features()) for s, r in splits.items()})


def load_benchmark(data: dict):
    """A data config's splits as a DatasetDict (train, valid, and test when there is one) and its name."""
    splits, name = load_splits(data)
    return to_datasetdict(splits), name


def load_split(
    data: dict, split: str, split_dir: str | Path | None = None, intents: bool = True
) -> tuple[dict[str, list], str]:
    """Columns of one labelled split and its name: ``split_dir`` (a file or split folder) or a data config's
    split (``intents``: as :func:`columns`)."""
    if split_dir:
        records = formats.read(Path(split_dir), data.get("format") or "auto", data.get("scheme") or "auto")
        return columns(records, intents), str(split_dir)
    if data.get(split) and not data.get("path"):  # a file of its own (data.test=FILE): no train split needed
        records, _ = formats.read_file(
            _existing(data[split], f"data.{split}"), data.get("format") or "auto", data.get("scheme") or "auto"
        )
        return columns(records, intents), f"{dataset_name(data, 'files')}/{split}"
    files = [s for s in SPLITS if data.get(s)]
    if files and not data.get("path") and "train" not in files:  # no train split to set a valid split aside from
        given = ", ".join(f"data.{s}={data[s]}" for s in files)
        holds = " and ".join(files)
        raise ConfigError(
            f"split={split}: no data.{split} given ({given} {'alone holds' if len(files) == 1 else 'hold'} "
            f"only the {holds} split{'s' if len(files) > 1 else ''})"
        )
    splits, name = load_splits(data)
    if split not in splits:
        raise DataError(name, None, f"no split {split!r} (has {', '.join(splits)})")
    return columns(splits[split], intents), f"{name}/{split}"


def read_split(split_dir: str | Path) -> dict[str, list]:
    """Read one split folder into columns ``tokens``, ``tags``, ``intent`` (intent '' if no label file)."""
    return columns(formats.read(Path(split_dir), folder_format.NAME, "auto"))


def data_config(overrides: Sequence[str] = ()) -> dict:
    """The data settings that ``slotfill train`` would use with these overrides (``data=snips``, ``data.path=...``)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    bad = [o for o in overrides if not o.lstrip("+~").startswith("data")]
    if bad:
        raise ConfigError(f"{bad[0]}: expected data settings (data=NAME, data.path=..., data.train=...)")
    conf = resources.conf_dir()
    try:
        with initialize_config_dir(version_base="1.3", config_dir=str(conf)):
            cfg = compose("train", overrides=list(overrides))
    except Exception as e:  # Hydra's override and missing-config errors
        names = sorted(p.stem for p in (conf / "data").glob("*.yaml"))
        given = next((o for o in overrides if o.lstrip("+~").startswith("data=")), None)
        if given and given.split("=", 1)[1] not in names:
            choices = ", ".join(names)
            raise ConfigError(f"{given}: no such data set (choose one of {choices}, or give data.path=)") from None
        raise ConfigError(first_line(e, limit=400)) from e  # the cause: for the command line's did-you-mean
    values = OmegaConf.to_container(cfg.data, resolve=True)
    return {k: v for k, v in values.items() if k in DATA_KEYS}
