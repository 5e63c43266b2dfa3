"""``slotfill data check``: what is in a data set and what may go wrong in training, before training.

Per split: sentences, tokens, slot types, intents, sentence lengths and unseen words; then the
findings, each an error or a warning. Errors (exit status 1) make training meaningless: no slot
in train, or sentences with and without an intent mixed. Warnings (status 0) are worth a look:
splits without intents beside splits with them, labels only in valid/test, rare labels, sentences
repeated across splits, the same sentence with conflicting tags or intents, I- tags that start a
chunk, characters train never had.
(A file that cannot be read stops earlier, with its ``file:line``.)
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from slotfill.core.spans import bio_spans, is_inside, repair_bio, slot_of
from slotfill.core.tokenize import normalize
from slotfill.core.vocab import split_intent
from slotfill.core.wording import counted, verb
from slotfill.data.formats import Record

RARE = 5  # a label seen fewer times than this in train is reported as rare
SHOW = 8  # examples listed per finding


@dataclass
class Finding:
    level: str  # "error" | "warning"
    message: str
    examples: list[str] = field(default_factory=list)


@dataclass
class Report:
    name: str
    stats: dict[str, dict]
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "splits": self.stats,
            "findings": [{"level": f.level, "message": f.message, "examples": f.examples} for f in self.findings],
        }


def _unseen_combinations(splits: dict[str, list[Record]]) -> list[Finding]:
    """Intent labels of valid or test whose atoms train has, but never as that set (``a#b`` when train
    has ``a`` and ``b`` apart, ``b`` when train has it only in ``a#b``): the model answers only the
    intent sets it saw in training, so these cannot be predicted either."""
    seen = {frozenset(split_intent(r.intent)) for r in splits["train"]}
    findings = []
    for s, recs in splits.items():
        if s == "train":
            continue
        known = {p for r in splits["train"] for p in split_intent(r.intent)}
        combos = Counter(
            r.intent
            for r in recs
            if r.intent and frozenset(split_intent(r.intent)) not in seen and set(split_intent(r.intent)) <= known
        )
        if combos:
            findings.append(
                Finding(
                    "warning",
                    f"{counted(len(combos), 'intent set')} only in {s} "
                    f"({counted(sum(combos.values()), 'sentence')}): train has their intents, but never as these sets, "
                    "and the model answers the sets seen in train",
                    [f"{lab} ({n})" for lab, n in combos.most_common(SHOW)],
                )
            )
    return findings


def _unseen_tags(splits: dict[str, list[Record]], slot_counts: dict[str, Counter]) -> list[Finding]:
    """Tags of valid or test whose slot type train has, but never with that tag (``I-x`` where train's
    ``x`` are all one word): the model's tag vocabulary comes from train, so it cannot predict them."""
    known = {t for r in splits["train"] for t in repair_bio(r.tags)}
    findings = []
    for s, recs in splits.items():
        if s == "train":
            continue
        only = Counter(
            t for r in recs for t in repair_bio(r.tags) if t not in known and slot_of(t) in slot_counts["train"]
        )
        if only:
            findings.append(
                Finding(
                    "warning",
                    f"{counted(len(only), 'tag')} only in {s} ({counted(sum(only.values()), 'occurrence')}), "
                    "of slot types train has: the model cannot predict them",
                    [f"{t} ({n})" for t, n in only.most_common(SHOW)],
                )
            )
    return findings


def intent_mismatch(splits: dict[str, list[Record]]) -> str | None:
    """What training makes of splits of which some have intents and others none (a forgotten label
    file or intent field), or None; a split with intents in part is another error."""
    having = {s: any(r.intent for r in recs) for s, recs in splits.items()}
    without = [s for s, has in having.items() if not has]
    if not without or len(without) == len(having):
        return None
    others = [s for s, has in having.items() if has]
    if "train" in without:
        return (
            f"train has no intents while {' and '.join(others)} {verb(len(others), 'has')} them: no intent head is "
            "learnt, nor are their intents scored (a missing label file or intent field?)"
        )
    picked = "; checkpoints are picked on slots alone" if "valid" in without else ""
    return (
        f"{' and '.join(without)} {verb(len(without), 'has')} no intents while train has them: "
        f"{'its' if len(without) == 1 else 'their'} intents are not scored{picked} (a missing label file or "
        "intent field?)"
    )


def _where(r: Record) -> str:
    return f"{r.file}:{r.line}" if r.line is not None else r.file


def _key(r: Record) -> tuple[str, ...]:
    return tuple(normalize(t) for t in r.tokens)


def split_stats(records: list[Record], train_words: set[str] | None) -> dict:
    lengths = [len(r.tokens) for r in records]
    slots = Counter(label for r in records for label, _, _ in bio_spans(r.tags))
    intents = Counter(p for r in records for p in split_intent(r.intent))
    out = {
        "sentences": len(records),
        "tokens": sum(lengths),
        "slot_types": len(slots),
        "slots": sum(slots.values()),
        "intents": len(intents),
        "without_intent": sum(1 for r in records if not r.intent),
        "length_mean": round(statistics.fmean(lengths), 2),
        "length_median": statistics.median(lengths),
        "length_max": max(lengths),
        "distinct_words": len({normalize(t) for r in records for t in r.tokens}),
    }
    if train_words is not None:
        unseen = sum(1 for r in records for t in r.tokens if normalize(t) not in train_words)
        out["unseen_word_rate"] = round(100 * unseen / max(1, out["tokens"]), 2)
    return out


def check(splits: dict[str, list[Record]], name: str = "data", rare: int = RARE) -> Report:
    """Statistics and findings for splits of BIO records (``train`` first)."""
    train = splits["train"]
    train_words = {normalize(t) for r in train for t in r.tokens}
    stats = {s: split_stats(recs, None if s == "train" else train_words) for s, recs in splits.items()}
    findings: list[Finding] = []

    slot_counts = {s: Counter(lab for r in recs for lab, _, _ in bio_spans(r.tags)) for s, recs in splits.items()}
    intent_counts = {s: Counter(p for r in recs for p in split_intent(r.intent)) for s, recs in splits.items()}

    if not slot_counts["train"]:
        findings.append(Finding("error", "train has no slots: every tag is O"))
    everything = [r for recs in splits.values() for r in recs]
    for s, recs in splits.items():  # per split, as training reads them: a test split with none is scored on slots
        missing = [r for r in recs if not r.intent]
        if missing and len(missing) < len(recs):
            findings.append(
                Finding(
                    "error",
                    f"{len(missing):,} of {counted(len(recs), s + ' sentence')} {verb(len(missing), 'has')} no "
                    "intent while the others have one (a model with an intent head refuses the split)",
                    [_where(r) for r in missing[:SHOW]],
                )
            )

    if (mismatch := intent_mismatch(splits)) is not None:  # training goes on: slots alone, and says so
        findings.append(Finding("warning", mismatch))

    for kind, counts in (("slot type", slot_counts), ("intent", intent_counts)):
        for s in splits:
            if s == "train":
                continue
            only = {lab: n for lab, n in counts[s].items() if lab not in counts["train"]}
            if only:
                findings.append(
                    Finding(
                        "warning",
                        f"{counted(len(only), kind)} only in {s} ({counted(sum(only.values()), 'occurrence')}): "
                        "the model cannot predict them",
                        [f"{lab} ({n})" for lab, n in sorted(only.items(), key=lambda x: -x[1])[:SHOW]],
                    )
                )
        if kind == "intent":  # the intent head answers whole sets seen in training (decode_intents)
            findings += _unseen_combinations(splits)
        else:
            findings += _unseen_tags(splits, counts)
        rare_labels = sorted((n, lab) for lab, n in counts["train"].items() if n < rare)
        if rare_labels:
            findings.append(
                Finding(
                    "warning",
                    f"{counted(len(rare_labels), kind)} seen fewer than {rare} times in train",
                    [f"{lab} ({n})" for n, lab in rare_labels[:SHOW]],
                )
            )

    first_in_train: dict[tuple, Record] = {}
    for r in train:
        first_in_train.setdefault(_key(r), r)
    for s, recs in splits.items():
        if s == "train":
            continue
        repeated = [r for r in recs if _key(r) in first_in_train]
        if repeated:
            findings.append(
                Finding(
                    "warning",
                    f"{len(repeated)} of {len(recs)} {s} sentences also occur in train",
                    [f"{_where(r)} = {_where(first_in_train[_key(r)])}" for r in repeated[:SHOW]],
                )
            )

    by_sentence: dict[tuple, list[Record]] = defaultdict(list)
    for r in everything:
        by_sentence[_key(r)].append(r)
    # tags compared as they are scored: an I-x that starts a chunk is the B-x elsewhere
    for what, attr in (
        ("tags", lambda r: tuple(repair_bio(r.tags))),
        ("intents", lambda r: tuple(sorted(split_intent(r.intent)))),
    ):
        conflicts = [rs for rs in by_sentence.values() if len({attr(r) for r in rs}) > 1]
        if conflicts:
            findings.append(
                Finding(
                    "warning",
                    f"{counted(len(conflicts), 'sentence')} {verb(len(conflicts), 'occurs')} more than once "
                    f"with different {what}",
                    [" vs ".join(_where(r) for r in rs[:3]) + f": {' '.join(rs[0].tokens)}" for rs in conflicts[:SHOW]],
                )
            )

    ill = [r for r in everything if any(is_inside(t) and t != b for t, b in zip(r.tags, repair_bio(r.tags)))]
    if ill:
        findings.append(
            Finding(
                "warning",
                f"{counted(len(ill), 'sentence')} {verb(len(ill), 'has')} an I- tag that starts a chunk "
                "(read as B-, as conlleval does)",
                [_where(r) for r in ill[:SHOW]],
            )
        )

    alphabet = {c for r in train for t in r.tokens for c in normalize(t)}
    for s, recs in splits.items():
        if s == "train":
            continue
        chars = Counter(c for r in recs for t in r.tokens for c in normalize(t) if c not in alphabet)
        if chars:
            findings.append(
                Finding(
                    "warning",
                    f"{counted(len(chars), 'character')} in {s} never {verb(len(chars), 'occurs')} in train",
                    [f"{c!r} ({n})" for c, n in chars.most_common(SHOW)],
                )
            )
    if "test" not in splits:
        findings.append(Finding("warning", "no test split: training will not report test scores"))
    return Report(name, stats, findings)


COLUMNS = [
    ("sentences", "sentences"),
    ("tokens", "tokens"),
    ("slot types", "slot_types"),
    ("slots", "slots"),
    ("intents", "intents"),
    ("no intent", "without_intent"),
    ("length mean", "length_mean"),
    ("median", "length_median"),
    ("max", "length_max"),
    ("words", "distinct_words"),
    ("unseen words %", "unseen_word_rate"),
]


def render(report: Report) -> str:
    """The report as text for people: a table per split, then errors and warnings."""
    splits = list(report.stats)
    width = max(len(c) for c, _ in COLUMNS)
    lines = [f"data check: {report.name}", "", f"{'':{width}}  " + "  ".join(f"{s:>9}" for s in splits)]
    for label, key in COLUMNS:
        cells = [report.stats[s].get(key, "") for s in splits]
        lines.append(f"{label:{width}}  " + "  ".join(f"{c!s:>9}" for c in cells))
    lines.append("")
    for f in report.findings:
        lines.append(f"{f.level}: {f.message}")
        lines += [f"    {e}" for e in f.examples]
    n_err, n_warn = len(report.errors), len(report.warnings)
    lines.append(f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}")
    return "\n".join(lines) + "\n"
