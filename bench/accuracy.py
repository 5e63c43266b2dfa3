"""Accuracy benchmark: train N seeds per configuration, test, and tabulate.

    python bench/accuracy.py                                   # every table, 5 seeds
    python bench/accuracy.py --tables default default-ablation --seeds 5 --ablation-seeds 3
    python bench/accuracy.py --report-only                     # tabulate the finished runs

Tables (``--tables``):

- ``default``: ``python train.py`` (the default model, joint) on ATIS and SNIPS;
- ``default-ablation``: the default's slot features without lexicons, without lexicon dropout,
  without the mention swap, and without word/span dropout, on ATIS and SNIPS (slots only: they
  were chosen before the default got its intent head);
- ``default-tuning``: candidate changes to the default (checkpoint averaging, learning-rate
  decay, a lower lexicon dropout), to be judged on the validation columns (slots only, as above);
- ``default-intent``: the intent heads the default could carry (none, the shared encoder
  pooled at two loss weights or detached, a separate recurrent intent encoder of three sizes, a
  word convolution), selected on ``val/joint``, judged on the validation columns and on training
  time (``bench/train_cost.py`` measures it alternated);
- ``held-out-lists``: the default trained with the names of ``data/unseen_cities`` taken out
  of its lexicon lists (so neither the lexicon features nor the mention swap ever show them);
- ``presets``: ``experiment=atis`` and ``experiment=snips``;
- ``preset-ablation``: the ATIS preset with parts switched off;
- ``preset-tuning``: both presets with and without the default's lexicons, and the ATIS preset
  without them with checkpoint averaging or smoothed selection, to be judged on the validation
  columns;
- ``preset-joint``: the presets with and without the co-interaction of the slot and intent
  features (``model.co_interaction``), to be judged on the validation columns;
- ``preset-precision``: the presets with the default's bfloat16 LSTM layers
  (``train.precision=auto``; the presets pin ``fp32``), against the ``presets`` table;
- ``as-users-run``: the default and the presets with their own seed (42) and every default
  (``threads=auto``), one run each, as a user runs them.

Each run is ``train.py <overrides> seed=<s>`` in its own folder under ``bench/runs/accuracy/``;
finished runs (with a metrics.json) are reused, so an interrupted benchmark resumes, unless the
config they ran with differs from what the overrides compose today (then they are trained again). Model
selection uses the validation split only; test numbers are reported once per run. ATIS models
are also scored on ``data/unseen_cities`` (cities ATIS never mentions): city-slot F1 overall,
for one-word and multi-word names, and, for models with lexicons, with those 30 cities taken
out of the model's lists (a name missing from the lists). Writes ``bench/results/accuracy.md``
and ``bench/results/accuracy.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, checkout_env, finished, train_command

RUNS = ROOT / "bench" / "runs" / "accuracy"
RESULTS = ROOT / "bench" / "results"
DATASETS = ("atis", "snips")
TABLES = (
    "default",
    "default-ablation",
    "default-tuning",
    "default-intent",
    "held-out-lists",
    "presets",
    "preset-ablation",
    "preset-tuning",
    "preset-joint",
    "preset-precision",
    "preset-schedule",
    "as-users-run",
)

NO_LEXICON = ["model.lexicons=null", "train.lexicon_dropout=0", "train.mention_swap=0"]
NO_SWAP = ["train.mention_swap=0"]
# the slot features were ablated and tuned on the slots-only model (the default before it was joint):
# every row of those two tables pins it, so their runs stay valid with the joint default
SLOTS_ONLY = ["model.intent=false", "monitor=val/f1"]


def _slots_only(rows: dict[str, list[str]]) -> dict[str, list[str]]:
    return {label: [*SLOTS_ONLY, *extra] for label, extra in rows.items()}


# each row switches parts of the default's slot features off; the last row has them all
DEFAULT_ABLATION = _slots_only(
    {
        "no word/span dropout, no lexicons (the default before lexicons)": [
            *NO_LEXICON,
            "train.word_dropout=0",
            "train.span_dropout=0",
        ],
        "+word/span dropout": NO_LEXICON,
        "+word/span dropout +lexicons": ["train.lexicon_dropout=0", *NO_SWAP],
        "+word/span dropout +lexicons +lexicon dropout": NO_SWAP,
        "+word/span dropout +lexicons +mention swap": ["train.lexicon_dropout=0"],
        "+word/span dropout +lexicons +lexicon dropout +mention swap (the default's slot features)": [],
    }
)
# candidate settings of the default, judged on the validation columns; every row names the settings
# it varies, so its runs stay valid whatever the default is (the last row has the default's)
BEFORE = ["train.lexicon_dropout=0.5"]  # the default before this tuning: lexicon dropout 0.5, no averaging
DEFAULT_TUNING = _slots_only(
    {
        "lexicon dropout 0.5 (the default before)": [*BEFORE, "train.average_last=1"],
        "lexicon dropout 0.5, averaging the last 3 epochs": [*BEFORE, "train.average_last=3"],
        "lexicon dropout 0.5, averaging the last 5 epochs": [*BEFORE, "train.average_last=5"],
        "lexicon dropout 0.5, cosine learning-rate decay": [*BEFORE, "train.average_last=1", "train.lr_decay=cosine"],
        "lexicon dropout 0.5, cosine decay, averaging the last 5": [
            *BEFORE,
            "train.average_last=5",
            "train.lr_decay=cosine",
        ],
        "lexicon dropout 0.25, averaging the last 5 epochs": ["train.lexicon_dropout=0.25", "train.average_last=5"],
        "lexicon dropout 0.25 (the default's)": [],
    }
)


# the intent head of the default, judged on validation and on training time; every row pins the head
# settings and the monitor, so its runs stay valid whatever the default is
def _head(encoder: str, *extra: str) -> list[str]:
    """An intent-head row's overrides: the encoder it reads, selection on val/joint, no intent->slot."""
    return [
        "model.intent=true",
        f"model.intent_encoder={encoder}",
        "model.intent_to_slot=false",
        "monitor=val/joint",
        *extra,
    ]


DEFAULT_INTENT = {
    "slots only, selected on val/f1 (the default before)": SLOTS_ONLY,
    "+intent head on the shared encoder, weight 0.5": _head("shared", "model.intent_weight=0.5"),
    "+intent head on the shared encoder, weight 1.0": _head("shared", "model.intent_weight=1.0"),
    "+intent head on its own encoder, weight 1.0": _head("separate", "model.intent_weight=1.0"),
    "+intent head reading the slot encoder, detached": _head("detached", "model.intent_weight=1.0"),
    "+intent head on its own encoder of hidden size 64": _head(
        "separate", "model.intent_weight=1.0", "model.intent_hidden_size=64"
    ),
    "+intent head on its own encoder of hidden size 32": _head(
        "separate", "model.intent_weight=1.0", "model.intent_hidden_size=32"
    ),
    "+intent head on its own word convolution": _head("cnn", "model.intent_weight=1.0"),
}
# candidate settings of each preset, judged on the validation columns; each row names every setting it
# varies from today's preset, so its runs stay valid when the preset changes
PRESET_TUNING = {
    "atis": {
        "experiment=atis without lexicons (the preset before)": NO_LEXICON,
        "experiment=atis without lexicons, averaging the last 5 epochs": [*NO_LEXICON, "train.average_last=5"],
        "experiment=atis without lexicons, selecting on the mean of the last 3 validations": [
            *NO_LEXICON,
            "monitor=val/joint_mean3",
        ],
        "experiment=atis (with the default's lexicons, lexicon dropout and mention swap)": [],
    },
    "snips": {
        "experiment=snips without lexicons (the preset before)": NO_LEXICON,
        "experiment=snips (with the default's lexicons, lexicon dropout and mention swap)": [],
    },
}
# the presets pin train.precision=fp32 (their figures were measured so): the default's bfloat16 LSTM
# layers (auto, on a CPU with AMX) tried on them; the float32 rows are the "Presets" table's
PRESET_PRECISION = {"experiment={ds} with train.precision=auto (bfloat16 LSTM layers on AMX)": ["train.precision=auto"]}
# a longer schedule (the accuracy issue's "longer and smoother schedules where validation supports them"):
# the cosine decay stretched over 52 epochs instead of 40, 1.3x a seed's time, inside its 10-minute budget
PRESET_SCHEDULE = {"experiment={ds}, 52 epochs (the cosine decay over all of them)": ["trainer.max_epochs=52"]}
# the joint modelling of each preset, judged on the validation columns; each row pins the setting
PRESET_JOINT = {
    "experiment={ds} with model.co_interaction=false": ["model.co_interaction=false"],
    "experiment={ds} with model.co_interaction=true": ["model.co_interaction=true"],
}
# each row switches parts of the ATIS preset off; the last row is the preset itself
NO_DROPOUT = ["train.word_dropout=0", "train.span_dropout=0"]
NO_INTENT = ["model.intent=false", "model.intent_to_slot=false"]
PRESET_ABLATION = {
    "plain BiLSTM": ["model.char_dim=0", "model.crf=false", *NO_INTENT, *NO_DROPOUT, *NO_LEXICON],
    "+char": ["model.crf=false", *NO_INTENT, *NO_DROPOUT, *NO_LEXICON],
    "+char +CRF": [*NO_INTENT, *NO_DROPOUT, *NO_LEXICON],
    "+char +CRF +intent": ["model.intent_to_slot=false", *NO_DROPOUT, *NO_LEXICON],
    "+char +CRF +intent +intent→slot": [*NO_DROPOUT, *NO_LEXICON],
    "+char +CRF +intent +intent→slot +word/span dropout": NO_LEXICON,
    "+char +CRF +intent +intent→slot +word/span dropout +lexicons (preset)": [],
}
METRICS = [
    ("slot F1", "f1"),
    ("intent acc", "intent_accuracy"),  # a multi-intent line (atis_flight#atis_airfare) as an exact set
    ("intent acc, one of gold", "intent_accuracy_one_of_gold"),  # the rule many papers use on those lines
    ("sentence acc", "sentence_accuracy"),
]
UNSEEN = [
    ("unseen-city F1", "unseen_city_f1"),
    ("one-word", "unseen_one_word_f1"),
    ("multi-word", "unseen_multi_word_f1"),
    ("not in lists", "unseen_not_listed_f1"),
]


def run_one(
    name: str, overrides: list[str], threads: int | str, report_only: bool = False, tree: Path = ROOT
) -> dict | None:
    """One training run of the checkout ``tree`` into ``RUNS / name``, reused when finished with today's config."""
    out = RUNS / name
    metrics = out / "metrics.json"
    if finished(out, overrides, threads, keep_stale=report_only):
        return json.loads(metrics.read_text())
    if report_only:
        return None
    out.mkdir(parents=True, exist_ok=True)
    cmd = train_command(out, overrides, threads, tree)
    start = time.perf_counter()
    with open(out / "train.stdout", "w") as log:
        proc = subprocess.run(cmd, cwd=tree, stdout=log, stderr=subprocess.STDOUT, env=checkout_env(tree))
    if proc.returncode != 0:
        raise SystemExit(f"run {name} failed (exit {proc.returncode}); see {out / 'train.stdout'}")
    result = json.loads(metrics.read_text())
    print(f"  {name}: test F1 {result['scores']['test']['f1']:.2f} in {time.perf_counter() - start:.0f} s", flush=True)
    return result


def _city_spans(tag_rows: list[list[str]], words: int | None) -> set:
    """``(sentence, type, start, end)`` of city slots, all or only those of ``words`` (1, or 2 = two or more)."""
    from slotfill.core.spans import bio_spans

    out = set()
    for i, tags in enumerate(tag_rows):
        for slot, s, e in bio_spans(tags):
            if slot.endswith("city_name") and (words is None or (e - s == 1) == (words == 1)):
                out.add((i, slot, s, e))
    return out


def _f1(gold: set, pred: set) -> float:
    hit = len(gold & pred)
    return 200 * hit / (len(gold) + len(pred)) if gold or pred else 0.0


def unseen_city_scores(model_file: str) -> dict:
    """City-slot F1 on data/unseen_cities: all names, one-word, multi-word, and names missing from the lists."""
    from slotfill.core.lexicon import Lexicon
    from slotfill.data.load import read_split
    from slotfill.inference.tagger import SlotTagger

    cols = read_split(ROOT / "data" / "unseen_cities" / "test")
    tagger = SlotTagger.load(model_file, precision="fp32")  # as training scores its splits, in float32

    def city_f1(words: int | None) -> float:
        pred = [r["tags"] for r in tagger.predict_tokens(cols["tokens"])]
        return _f1(_city_spans(cols["tags"], words), _city_spans(pred, words))

    out = {"unseen_city_f1": city_f1(None), "unseen_one_word_f1": city_f1(1), "unseen_multi_word_f1": city_f1(2)}
    lexicon = tagger.vocabs.lexicon
    if lexicon is not None:
        cities = _unseen_city_names()
        tagger.vocabs.lexicon = Lexicon({k: [e for e in lexicon.entries[k] if e not in cities] for k in lexicon.types})
        out["unseen_not_listed_f1"] = city_f1(None)
    return out


def _unseen_city_names() -> set[str]:
    from slotfill.data.load import read_split

    cols = read_split(ROOT / "data" / "unseen_cities" / "test")
    return {" ".join(cols["tokens"][i][s:e]) for i, _, s, e in _city_spans(cols["tags"], None)}


def lists_without_unseen_cities() -> str:
    """The default lexicon lists less the names of data/unseen_cities, written once; the override naming them.

    Trained with these, the model meets those cities neither in a lexicon feature nor in a
    mention swap: the strictest form of "a city missing from the list".
    """
    from omegaconf import OmegaConf

    from slotfill.core.lexicon import entry_tokens
    from slotfill.core.lines import read_lines

    sys.path.insert(0, str(ROOT / "data"))
    from make_lexicons import fold  # the lists hold accented names and their ASCII folds

    folder = RUNS / "lists-without-unseen-cities"
    folder.mkdir(parents=True, exist_ok=True)
    names = _unseen_city_names()
    lists = OmegaConf.load(ROOT / "conf" / "model" / "bilstm.yaml").lexicons
    for kind, name in lists.items():
        kept = [line for line in read_lines(ROOT / name) if fold(" ".join(entry_tokens(line))) not in names]
        target = folder / f"{kind}.txt"
        if not target.exists() or target.read_text() != "\n".join(kept) + "\n":
            target.write_text("\n".join(kept) + "\n")
    return "model.lexicons={" + ",".join(f"{kind}:{folder / f'{kind}.txt'}" for kind in lists) + "}"


def mean_std(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


HEADER = (
    "| model | seeds | trained in | slot F1 | intent acc (exact set) | intent acc (one of gold) | sentence acc "
    "| valid slot F1 | valid intent acc | train time (s) | unseen-city F1 | one-word | multi-word | not in lists |"
)
RULE = "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def row(label: str, results: list[dict | None]) -> str:
    results = [r for r in results if r is not None]
    cells = [mean_std([r["scores"]["test"].get(key) for r in results]) for _, key in METRICS]
    # the validation scores the configurations were chosen on, beside the test scores they are reported on
    cells += [mean_std([r["scores"]["valid"].get(key) for r in results]) for _, key in METRICS[:2]]
    cells.append(mean_std([r["train_time_s"] for r in results]))
    cells += [mean_std([r.get(key) for r in results]) for _, key in UNSEEN]
    # train.precision=auto trains in bfloat16 on AMX CPUs only: the row says what its runs did
    trained_in = ", ".join(sorted({str((r.get("train") or {}).get("precision") or "fp32") for r in results}))
    return f"| {label} | {len(results)} | {trained_in or '—'} | " + " | ".join(cells) + " |"


def dataset_of(runs_of_row: list[tuple[str, list[str]]]) -> str:
    """The data set a row's runs train on, from their overrides (``data=snips``, ``experiment=snips``; else ATIS)."""
    overrides = runs_of_row[0][1]
    named = [o.split("=", 1)[1] for o in overrides if o.startswith(("data=", "experiment="))]
    return next((n for n in named if n in DATASETS), "atis")


def plan(args) -> dict[str, dict[str, list[tuple[str, list[str]]]]]:
    """Runs per table and row: ``{table: {row label: [(run name, overrides), ...]}}``."""
    seeds = range(1, args.seeds + 1)
    ablation_seeds = range(1, (args.ablation_seeds or args.seeds) + 1)
    tables: dict[str, dict[str, list[tuple[str, list[str]]]]] = {}
    data = {ds: [] if ds == "atis" else [f"data={ds}"] for ds in args.datasets}
    if "default" in args.tables:
        tables["default"] = {
            f"{ds}: python train.py" + (f" data={ds}" if ds != "atis" else ""): [
                (f"{ds}-default-seed{s}", [*data[ds], f"seed={s}"]) for s in seeds
            ]
            for ds in args.datasets
        }
    if "default-ablation" in args.tables:
        rows = {
            label: extra
            for n, (label, extra) in enumerate(DEFAULT_ABLATION.items(), 1)
            if not args.ablation_rows or n in args.ablation_rows
        }
        tables["default-ablation"] = {
            f"{ds}: {label}": runs
            for ds in args.datasets
            for label, runs in _variants(f"{ds}-default", data[ds], rows, ablation_seeds).items()
        }
    if "default-tuning" in args.tables:
        tables["default-tuning"] = {
            f"{ds}: {label}": runs
            for ds in args.datasets
            for label, runs in _variants(f"{ds}-default", data[ds], DEFAULT_TUNING, ablation_seeds).items()
        }
    if "default-intent" in args.tables:
        rows = {
            label: extra
            for n, (label, extra) in enumerate(DEFAULT_INTENT.items(), 1)
            if not args.ablation_rows or n in args.ablation_rows
        }
        tables["default-intent"] = {
            f"{ds}: {label}": runs
            for ds in args.datasets
            for label, runs in _variants(f"{ds}-default", data[ds], rows, ablation_seeds).items()
        }
    if "held-out-lists" in args.tables and "atis" in args.datasets:
        lists = lists_without_unseen_cities()
        tables["held-out-lists"] = {
            "atis: python train.py, the unseen cities out of its lists": [
                (f"atis-default-held-out-lists-seed{s}", [f"seed={s}", lists]) for s in ablation_seeds
            ]
        }
    if "presets" in args.tables:
        tables["presets"] = {
            f"experiment={ds}": [(f"{ds}-preset-seed{s}", [f"experiment={ds}", f"seed={s}"]) for s in seeds]
            for ds in args.datasets
        }
    if "preset-ablation" in args.tables and "atis" in args.datasets:
        preset = ["experiment=atis"]
        tables["preset-ablation"] = _variants("atis-preset", preset, PRESET_ABLATION, ablation_seeds, "atis-ablation")
    if "preset-tuning" in args.tables:
        tables["preset-tuning"] = {
            label: runs
            for ds in args.datasets
            for label, runs in _variants(
                f"{ds}-preset",
                [f"experiment={ds}"],
                PRESET_TUNING[ds],
                ablation_seeds,
            ).items()
        }
    if "preset-precision" in args.tables:
        tables["preset-precision"] = {
            label.format(ds=ds): runs
            for ds in args.datasets
            for label, runs in _variants(f"{ds}-preset", [f"experiment={ds}"], PRESET_PRECISION, ablation_seeds).items()
        }
    if "preset-schedule" in args.tables:
        tables["preset-schedule"] = {
            f"experiment={ds}, 40 epochs (the preset)": [
                (f"{ds}-preset-seed{s}", [f"experiment={ds}", f"seed={s}"]) for s in seeds
            ]
            for ds in args.datasets
        }
        tables["preset-schedule"].update(
            {
                label.format(ds=ds): runs
                for ds in args.datasets
                for label, runs in _variants(
                    f"{ds}-preset", [f"experiment={ds}"], PRESET_SCHEDULE, ablation_seeds
                ).items()
            }
        )
    if "preset-joint" in args.tables:
        tables["preset-joint"] = {
            label.format(ds=ds): runs
            for ds in args.datasets
            for label, runs in _variants(f"{ds}-preset", [f"experiment={ds}"], PRESET_JOINT, seeds).items()
        }
    if "as-users-run" in args.tables:
        users = {f"{ds}: python train.py" + (f" data={ds}" if ds != "atis" else ""): data[ds] for ds in args.datasets}
        users.update({f"python train.py experiment={ds}": [f"experiment={ds}"] for ds in args.datasets})
        tables["as-users-run"] = {
            label: [(f"users-{_slug(extra) or 'atis-default'}", extra)] for label, extra in users.items()
        }
    return tables


def _variants(
    name: str, base: list[str], variants: dict[str, list[str]], seeds, varied: str | None = None
) -> dict[str, list[tuple[str, list[str]]]]:
    """Runs per row of a table of variants of ``base``: ``{label: [(run name, overrides), ...]}``.

    The unchanged base is ``{name}-seed{s}``; a variant ``{varied or name}-{its overrides}-seed{s}``.
    """
    return {
        label: [
            (
                f"{varied or name}-{_slug(extra)}-seed{s}" if extra else f"{name}-seed{s}",
                [*base, f"seed={s}", *extra],
            )
            for s in seeds
        ]
        for label, extra in variants.items()
    }


def _seed_of(overrides: list[str]) -> int:
    return next((int(e.split("=", 1)[1]) for e in overrides if e.startswith("seed=")), 0)


def _slug(overrides: list[str]) -> str:
    """``train.lexicon_dropout=0.25 data=snips`` -> ``lexicon_dropout0.25-datasnips`` (part of a run folder name)."""
    parts = []
    for e in overrides:
        key, _, value = e.partition("=")
        parts.append(key.split(".")[-1] + value.replace("/", ""))
    return "-".join(parts)


TITLES = {
    "default": "Default model (`python train.py`)",
    "default-ablation": "Ablation of the default's slot features (slots only)",
    "default-tuning": "Candidate changes to the default model (chosen on validation, slots only)",
    "presets": "Presets",
    "preset-ablation": "Ablation of the ATIS preset",
    "preset-tuning": "Candidate settings of the presets (chosen on validation)",
    "preset-joint": "The two tasks informing each other (chosen on validation)",
    "preset-precision": "The presets with bfloat16 LSTM layers (train.precision=auto)",
    "preset-schedule": "A longer schedule for the presets (chosen on validation)",
    "default-intent": "The intent head of the default model (chosen on validation)",
    "held-out-lists": "The unseen cities out of the lists from the start",
    "as-users-run": "As users run them (seed 42, every default, one run each)",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--ablation-seeds", type=int, default=None, help="seeds per ablation row (default: --seeds)")
    p.add_argument(
        "--ablation-rows",
        type=int,
        nargs="+",
        help="only these rows (1 = first) of the default's ablation or intent tables",
    )
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    p.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--jobs", type=int, default=2, help="runs at once (with --threads 1, 2 jobs use both cores)")
    p.add_argument("--report-only", action="store_true", help="tabulate finished runs, train nothing")
    p.add_argument(
        "--results", default="accuracy", help="the tables' file under bench/results/ (NAME.md and NAME.json)"
    )
    args = p.parse_args()
    sys.path.insert(0, str(ROOT))
    tables = plan(args)
    runs: dict[str, tuple[list[str], int]] = {}
    for table, rows in tables.items():
        for runs_of_row in rows.values():
            for name, overrides in runs_of_row:
                # as users run it: the default threads=auto, the config's own seed; elsewhere the benchmark's setting
                runs.setdefault(name, (overrides, "auto" if table == "as-users-run" else args.threads))
    # seed-major: the rows of a table alternate, so the training times they are compared on shared the
    # machine's load alike
    runs = dict(sorted(runs.items(), key=lambda kv: _seed_of(kv[1][0])))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = dict(zip(runs, pool.map(lambda kv: run_one(kv[0], kv[1][0], kv[1][1], args.report_only), runs.items())))
    for name, r in done.items():
        if r is not None and r.get("dataset") == "atis":
            # the run folder's own model: a run trained in a worktree and moved here names its old place
            here = RUNS / name / "model.pt"
            r.update(unseen_city_scores(str(here) if here.exists() else r["model_file"]))
    command = f"python bench/accuracy.py --tables {' '.join(args.tables)} --seeds {args.seeds}"
    if args.ablation_seeds:
        command += f" --ablation-seeds {args.ablation_seeds}"
    if args.ablation_rows:
        command += f" --ablation-rows {' '.join(map(str, args.ablation_rows))}"
    command += f" --datasets {' '.join(args.datasets)} --threads {args.threads} --jobs {args.jobs}"
    command += " --report-only" * args.report_only
    command += f" --results {args.results}" if args.results != "accuracy" else ""
    about = (
        f"Command: `{command}`. Test-set mean ± std over seeds (validation columns: the same runs' selected "
        "checkpoints on the validation split); each run selects its checkpoint on the validation split only "
        f"(its `monitor`). {args.jobs} run(s) at a time with {args.threads} torch thread(s) each on this machine "
        f"({os.cpu_count()} cores), except the as-users-run rows (`threads=auto`, one thread here): training "
        "times include that sharing. "
        "Unseen-city columns: city-slot F1 on `data/unseen_cities` (ATIS-style queries about 30 cities ATIS never "
        "mentions) for all names, one-word names and multi-word names (whole names: a name tagged in part counts "
        "as wrong); *not in lists*: the same with those 30 cities taken out of the model's lexicon lists "
        "(models with lexicons only). Intent accuracy two ways on multi-intent lines (`atis_flight#atis_airfare`, "
        "15 in ATIS test, none in SNIPS): *exact set*, slotfill's rule, and *one of gold*, the rule many papers "
        "use (right when the predicted intent is one of the line's)."
    )
    empty = [label for rows in tables.values() for label, runs in rows.items() if not any(done[n] for n, _ in runs)]
    if args.report_only and empty:  # a row of no runs would replace the measured one
        raise SystemExit(
            f"no finished run of today's config for {len(empty)} row(s) ({'; '.join(empty[:5])}): "
            "nothing written (train them: the same command without --report-only)"
        )
    sections = {}
    for table, rows in tables.items():
        # a section per table and dataset: a run on one dataset keeps the other's rows and command
        by_title: dict[str, list[str]] = {}
        for label, runs_of_row in rows.items():
            title = f"{TITLES[table]}, {dataset_of(runs_of_row).upper()}"
            by_title.setdefault(title, []).append(row(label, [done[name] for name, _ in runs_of_row]))
        for title, lines in by_title.items():
            sections[title] = "\n".join([about, "", HEADER, RULE, *lines]) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = merge_sections(RESULTS / f"{args.results}.md", sections)
    (RESULTS / f"{args.results}.md").write_text(text)
    keep = ("seed", "scores", "train_time_s", "epochs", *(k for _, k in UNSEEN), "unseen_city_f1")
    slim = {
        f"{table}/{label}": [{m: done[name].get(m) for m in keep} for name, _ in runs_of_row if done[name]]
        for table, rows in tables.items()
        for label, runs_of_row in rows.items()
    }
    data = RESULTS / f"{args.results}.json"
    old = json.loads(data.read_text()) if data.exists() else {}
    data.write_text(json.dumps({**old, **slim}, indent=2) + "\n")
    print(text)


def merge_sections(path, sections: dict[str, str]) -> str:
    """The results file with ``sections`` (title -> body) replaced or added; other tables keep their runs."""
    old = path.read_text() if path.exists() else "# Accuracy benchmark\n"
    parts = old.split("\n## ")
    kept = {}
    for part in parts[1:]:
        title, _, body = part.partition("\n")
        kept[title.strip()] = body.strip("\n") + "\n"
    kept.update(sections)
    return "# Accuracy benchmark\n" + "".join(
        f"\n## {title}\n\n{body.strip(chr(10))}\n" for title, body in kept.items()
    )


if __name__ == "__main__":
    main()
