"""How often does a test split label a phrase differently from how its training split labels it?

    python bench/label_drift.py                   # ATIS and SNIPS under ../shared/data
    python bench/label_drift.py --datasets atis --context 2

For every gold slot span in test, the key is the span's words plus the ``--context`` words before
it. Where training holds the same key at least ``--min-count`` times and never with the test
span's slot type, the test span is a candidate for annotation drift ("leave before [noon]" is
``depart_time.time`` in ATIS train, ``depart_time.period_of_day`` in test). Some candidates are
real context effects further left ("... lake city [utah]": from or to), so the count is a
measure of how often training teaches the other label, not a bound. Intents are compared on
whole sentences (exact match). Reads only the data, no model.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def span_keys(tokens: list[str], tags: list[str], context: int):
    from slotfill.core.spans import bio_spans

    for kind, s, e in bio_spans(tags):
        yield (tuple(tokens[max(0, s - context) : s]), tuple(tokens[s:e])), kind


def drift(data: Path, context: int, min_count: int) -> dict:
    from slotfill.data.load import read_split

    train, test = read_split(data / "train"), read_split(data / "test")
    seen: dict[tuple, Counter] = defaultdict(Counter)
    for tokens, tags in zip(train["tokens"], train["tags"]):
        for key, kind in span_keys(tokens, tags, context):
            seen[key][kind] += 1
    gold = contradicted = 0
    examples: Counter = Counter()
    for tokens, tags in zip(test["tokens"], test["tags"]):
        for key, kind in span_keys(tokens, tags, context):
            gold += 1
            counts = seen.get(key)
            if counts and sum(counts.values()) >= min_count and kind not in counts:
                contradicted += 1
                examples[(" ".join(key[0] + ("[",) + key[1] + ("]",)), kind, counts.most_common(1)[0][0])] += 1
    intents: dict[str, Counter] = defaultdict(Counter)
    for tokens, intent in zip(train["tokens"], train["intent"]):
        intents[" ".join(tokens)][intent] += 1
    intent_contradicted = 0
    for tokens, intent in zip(test["tokens"], test["intent"]):
        counts = intents.get(" ".join(tokens))
        intent_contradicted += bool(counts) and intent not in counts
    return {
        "gold_spans": gold,
        "contradicted_spans": contradicted,
        "test_sentences": len(test["tokens"]),
        "contradicted_intents": intent_contradicted,
        "examples": examples.most_common(8),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sys.path.insert(0, str(ROOT))
    from slotfill.data.load import data_dir

    p.add_argument("--data-dir", default=str(data_dir()), help="default: $SLOTFILL_DATA_DIR or ../shared/data")
    p.add_argument("--datasets", nargs="+", default=["atis", "snips"])
    p.add_argument("--context", type=int, default=2, help="words before the span that are part of the key")
    p.add_argument("--min-count", type=int, default=2, help="training occurrences a key needs to count")
    args = p.parse_args()
    for ds in args.datasets:
        r = drift(Path(args.data_dir) / ds, args.context, args.min_count)
        print(
            f"{ds}: {r['contradicted_spans']} of {r['gold_spans']} test slot spans carry a type that training never "
            f"gives the same words after the same {args.context} words (seen >= {args.min_count} times); "
            f"{r['contradicted_intents']} of {r['test_sentences']} test sentences occur in training with another intent"
        )
        for (phrase, test_kind, train_kind), n in r["examples"]:
            print(f"  {n:3d} x  {phrase}: test {test_kind}, train {train_kind}")


if __name__ == "__main__":
    main()
