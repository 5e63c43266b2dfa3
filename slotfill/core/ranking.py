"""An intent decision and its ranking, from the per-intent probabilities of a sentence (torch-free)."""

from __future__ import annotations

from collections.abc import Sequence

from slotfill.core.vocab import Vocab, join_intent

RANKING_SIZE = 10  # intents in a ranking, as Rasa's DIET answers


def ranked(probs: Sequence[float], picked: Sequence[int], names: Vocab, size: int = RANKING_SIZE) -> tuple:
    """``(intent, confidence, ranking)`` for one sentence.

    ``picked`` is the decoded set of atomic intents (most likely first): ``intent`` joins them
    with ``#`` and its confidence is the least likely one's probability. The ranking puts that
    choice first, then the other intents by their own probability, highest first, each as
    ``{"name", "confidence"}``: what a dialogue manager falls back to.
    """
    intent, confidence = join_intent(names.decode(picked)), round(min(probs[i] for i in picked), 4)
    chosen = set(picked)
    others = sorted((i for i in range(len(probs)) if i not in chosen), key=probs.__getitem__, reverse=True)
    ranking = [{"name": intent, "confidence": confidence}]
    ranking += [{"name": names.itos[i], "confidence": round(probs[i], 4)} for i in others[: size - 1]]
    return intent, confidence, ranking
