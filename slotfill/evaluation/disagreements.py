"""Errors that are label disagreements: where the training set labels the same words as the model did.

Benchmark test sets carry annotation noise (ATIS: a careful re-annotation removed a fifth to a
half of every model's errors). A wrong span counts as a *label disagreement* when the training
split labels the very same words between the very same neighbours (one word each side, or the
sentence's edge) the way the model predicted at least once and never the way the test gold
does ("before noon" at a sentence's end: ``depart_time.time`` 20 times in ATIS train,
``depart_time.period_of_day`` in a test line); a wrong intent, when the training split holds the
same sentence with the predicted intent and never with the gold one. A sentence is a label
disagreement when each of its differences is. Boundary differences (a span cut otherwise)
always count as the model's errors: the count is a lower bound on the noise, not an estimate.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from slotfill.core.spans import bio_spans
from slotfill.core.vocab import split_intent
from slotfill.evaluation.metrics import same_intent

NONE = "O"  # the label of words that are no slot
MAX_WORDS = 6  # longer runs of no-slot words are not counted (slot values are, at any length)


class PhraseLabels:
    """How a labelled split labels each phrase in its context: ``counts[(left, words, right)][slot type or "O"]``
    (``left``/``right``: the neighbouring word, ``<s>``/``</s>`` at the edges), and each sentence's intents."""

    def __init__(self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], intents=None) -> None:
        self.counts: dict[tuple, Counter] = defaultdict(Counter)
        self.intents: dict[tuple[str, ...], Counter] = defaultdict(Counter)  # counts of each set of atoms
        for i, (tok, tag) in enumerate(zip(tokens, tags)):
            words = tuple(w.lower() for w in tok)
            for slot, s, e in bio_spans(tag):
                self.counts[_in_context(words, s, e)][slot] += 1
            for s in range(len(words)):
                for e in range(s + 1, min(len(words), s + MAX_WORDS) + 1):
                    if tag[e - 1] != NONE:
                        break
                    self.counts[_in_context(words, s, e)][NONE] += 1
            if intents is not None and intents[i]:
                self.intents[words][_atoms(intents[i])] += 1

    def sides_with(self, words: tuple[str, ...], s: int, e: int, model: str, gold: str) -> tuple[bool, int, int]:
        """Whether ``words[s:e]`` in their context are labelled ``model`` (at least once) and never ``gold``;
        both counts."""
        seen = self.counts.get(_in_context(words, s, e), Counter())
        return seen[model] > 0 and seen[gold] == 0, seen[model], seen[gold]


def _atoms(intent: str) -> frozenset:
    """An intent label as its set of atoms (``a#b`` is ``b#a``)."""
    return frozenset(split_intent(intent))


def _in_context(words: tuple[str, ...], s: int, e: int) -> tuple:
    return (words[s - 1] if s > 0 else "<s>", words[s:e], words[e] if e < len(words) else "</s>")


def _differences(gold: Sequence[str], pred: Sequence[str]) -> list[tuple[int, int, str, str] | None]:
    """``(start, end, gold label, model label)`` of each differing span (None: cut otherwise)."""
    g = {(s, e): t for t, s, e in bio_spans(gold)}
    p = {(s, e): t for t, s, e in bio_spans(pred)}
    out: list[tuple[int, int, str, str] | None] = []
    for (s, e), t in g.items():
        if p.get((s, e)) == t:
            continue
        if (s, e) in p:
            out.append((s, e, t, p[(s, e)]))
        elif all(x == NONE for x in pred[s:e]):
            out.append((s, e, t, NONE))
        else:
            out.append(None)
    for (s, e), t in p.items():
        if (s, e) in g:
            continue  # a type difference, listed above
        out.append((s, e, NONE, t) if all(x == NONE for x in gold[s:e]) else None)
    return out


def label_disagreements(errors: Sequence[dict], reference: PhraseLabels) -> list[dict]:
    """The error sentences (``evaluate_predictions``' ``errors``) whose every difference is a label disagreement,
    each with its ``evidence``: ``{words, gold, model, train_model, train_gold}`` per difference."""
    found = []
    for err in errors:
        words = tuple(w.lower() for w in err["tokens"])
        evidence = []
        agreed = True
        for diff in _differences(err["gold"], err["pred"]):
            if diff is None:
                agreed = False
                break
            s, e, gold, model = diff
            sides, n_model, n_gold = reference.sides_with(words, s, e, model, gold)
            if not sides:
                agreed = False
                break
            evidence.append(
                {
                    "words": " ".join(words[s:e]),
                    "gold": gold,
                    "model": model,
                    "train_model": n_model,
                    "train_gold": n_gold,
                }
            )
        if agreed and err.get("gold_intent") is not None and not same_intent(err["gold_intent"], err["pred_intent"]):
            seen = reference.intents.get(words, Counter())
            n_model, n_gold = seen[_atoms(err["pred_intent"])], seen[_atoms(err["gold_intent"])]
            if n_model > 0 and n_gold == 0:
                evidence.append(
                    {
                        "words": " ".join(words),
                        "gold": err["gold_intent"],
                        "model": err["pred_intent"],
                        "train_model": n_model,
                        "train_gold": n_gold,
                    }
                )
            else:
                agreed = False
        if agreed and evidence:
            found.append({"index": err["index"], "tokens": err["tokens"], "evidence": evidence})
    return found
