"""Decoding in numpy, as :meth:`slotfill.models.slot_model.SlotModel.decode` does it in torch.

BIO-constrained Viterbi over log-softmax scores (softmax models; the per-token argmax is kept
where it is already well-formed), CRF Viterbi and forward-backward marginals (CRF models), and
the likeliest set of atomic intents.
"""

from __future__ import annotations

import numpy as np

NEG = -1e4  # as slotfill.models.crf.NEG: transitions at or below NEG / 2 are forbidden


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return (np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m).squeeze(axis)


def viterbi(scores: np.ndarray, mask: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Best paths ``[B, T]`` (padding positions hold 0)."""
    B, T, K = scores.shape
    score = start + scores[:, 0]
    identity = np.broadcast_to(np.arange(K), (B, K))
    history = []
    for t in range(1, T):
        cand = score[:, :, None] + trans[None]  # [B, from, to]
        idx = cand.argmax(1)
        best = np.take_along_axis(cand, idx[:, None, :], 1)[:, 0]
        m = mask[:, t : t + 1]
        score = np.where(m, best + scores[:, t], score)
        history.append(np.where(m, idx, identity))
    last = (score + end).argmax(1)
    path = [last]
    for idx in reversed(history):
        last = np.take_along_axis(idx, last[:, None], 1)[:, 0]
        path.append(last)
    path.reverse()
    return np.where(mask, np.stack(path, 1), 0)


def decode_tags(emissions: np.ndarray, mask: np.ndarray, params: dict) -> np.ndarray:
    """Tag ids ``[B, T]``: the sidecar's ``decode`` transitions (``trans``, ``start``, ``end``, ``log_softmax``)."""
    trans, start, end = params["trans"], params["start"], params["end"]
    if not params["log_softmax"]:
        return viterbi(emissions, mask, trans, start, end)
    scores = log_softmax(emissions)
    tags = np.where(mask, scores.argmax(-1), 0)
    allowed = trans > NEG / 2
    bad = (~allowed[tags[:, :-1], tags[:, 1:]] & mask[:, 1:]).any(1) | (start[tags[:, 0]] < NEG / 2)
    if bad.any():
        tags[bad] = viterbi(scores[bad], mask[bad], trans, start, end)
    return tags


def crf_marginals(emissions: np.ndarray, mask: np.ndarray, params: dict) -> np.ndarray:
    """Posterior probability of each tag at each position ``[B, T, K]`` (forward-backward)."""
    trans, start, end = params["trans"], params["start"], params["end"]
    B, T, K = emissions.shape
    alpha = start + emissions[:, 0]
    alphas = [alpha]
    for t in range(1, T):
        nxt = logsumexp(alpha[:, :, None] + trans[None], 1) + emissions[:, t]
        alpha = np.where(mask[:, t : t + 1], nxt, alpha)
        alphas.append(alpha)
    log_z = logsumexp(alphas[-1] + end, 1)
    beta = np.broadcast_to(end, (B, K))
    betas = [beta]
    for t in range(T - 2, -1, -1):
        nxt = logsumexp(trans[None] + (emissions[:, t + 1] + beta)[:, None, :], 2)
        beta = np.where(mask[:, t + 1 : t + 2], nxt, beta)
        betas.append(beta)
    betas.reverse()
    return np.exp(np.stack(alphas, 1) + np.stack(betas, 1) - log_z[:, None, None])


def confidences(emissions: np.ndarray, mask: np.ndarray, tags: np.ndarray, params: dict) -> np.ndarray:
    """Each chosen tag's probability ``[B, T]``: CRF marginals or the softmax."""
    p = softmax(emissions) if params["log_softmax"] else crf_marginals(emissions, mask, params)
    return np.take_along_axis(p, tags[:, :, None], 2)[:, :, 0]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def decode_intents(probs: np.ndarray, intent_sets: list[list[int]] | None, threshold: float = 0.5) -> list[list[int]]:
    """Atomic intent ids per sentence, most likely first (as :func:`slotfill.models.decode_intents`)."""
    if intent_sets:
        member = np.zeros((len(intent_sets), probs.shape[1]), dtype=np.float64)
        for row, atoms in enumerate(intent_sets):
            member[row, atoms] = 1.0
        p = np.clip(probs.astype(np.float64), 1e-7, 1 - 1e-7)
        score = np.log(p) @ member.T + np.log(1 - p) @ (1 - member).T
        return [sorted(intent_sets[b], key=lambda i, q=q: -q[i]) for q, b in zip(probs.tolist(), score.argmax(1))]
    out = []
    for q in probs.tolist():
        order = sorted(range(len(q)), key=lambda i: -q[i])
        out.append([i for i in order if q[i] > threshold] or [order[0]])
    return out


def kbest(
    scores: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray, k: int
) -> list[tuple[list[int], float]]:
    """The ``k`` best tag paths of one sentence (``scores [T, K]``) with their path scores, best first.

    A k-best Viterbi: each position keeps, for every tag, the ``k`` best partial paths ending
    there. Paths through a forbidden transition (at or below NEG / 2) are never returned, so
    fewer than ``k`` come back when fewer are allowed.
    """
    T, K = scores.shape
    best = (start + scores[0])[:, None]  # [tag, rank]: scores of the best partial paths
    back = []  # per position: (previous tag, previous rank) of each [tag, rank]
    for t in range(1, T):
        ranks = best.shape[1]
        flat = (best[:, :, None] + trans[:, None, :]).reshape(-1, K)  # [(from, rank), to]
        top = np.argsort(-flat, axis=0, kind="stable")[: min(k, flat.shape[0])]  # [rank', to]
        best = np.take_along_axis(flat, top, 0).T + scores[t][:, None]  # [to, rank']
        back.append(np.stack(np.divmod(top.T, ranks), -1))  # [to, rank', (from, rank)]
    final = (best + end[:, None]).reshape(-1)
    order = np.argsort(-final, kind="stable")[:k]
    paths = []
    for flat_index in order:
        score = float(final[flat_index])
        if score <= NEG / 2:
            break
        tag, rank = divmod(int(flat_index), best.shape[1])
        path = [tag]
        for pointers in reversed(back):
            tag, rank = (int(x) for x in pointers[tag, rank])
            path.append(tag)
        paths.append((path[::-1], score))
    return paths


def log_partition(emissions: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """The CRF's log-partition of one sentence (``emissions [T, K]``): the log-sum of every path's score."""
    alpha = start + emissions[0]
    for t in range(1, len(emissions)):
        alpha = logsumexp(alpha[:, None] + trans, 0) + emissions[t]
    return float(logsumexp(alpha + end, 0))
