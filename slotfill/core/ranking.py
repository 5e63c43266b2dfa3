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
    itos = names.itos
    intent, confidence = join_intent(itos[i] for i in picked), round(min(probs[i] for i in picked), 4)
    ranking = [{"name": intent, "confidence": confidence}]
    if size > 1:
        chosen = set(picked)
        # sorted is stable: equal probabilities keep the intents' order
        for i in sorted(range(len(probs)), key=probs.__getitem__, reverse=True):
            if i not in chosen:
                ranking.append({"name": itos[i], "confidence": round(probs[i], 4)})
                if len(ranking) == size:
                    break
    return intent, confidence, ranking
