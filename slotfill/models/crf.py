"""A linear-chain CRF whose transitions make ill-formed BIO sequences impossible."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from slotfill.core.spans import is_inside, slot_of, split_tag

NEG = -1e4  # a large negative score rather than -inf keeps logsumexp and ONNX free of NaNs


def bio_allowed(tags: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of allowed transitions ``[from, to]`` and allowed first tags under BIO.

    ``I-x`` may follow only ``B-x`` or ``I-x`` and may not start a sentence.
    """
    n = len(tags)
    trans = torch.ones(n, n, dtype=torch.bool)
    start = torch.ones(n, dtype=torch.bool)
    for j, to in enumerate(tags):
        if is_inside(to):
            start[j] = False
            for i, frm in enumerate(tags):
                trans[i, j] = slot_of(frm) == slot_of(to) and split_tag(frm)[0] in ("B", "I")
    return trans, start


class CRF(nn.Module):
    """Linear-chain CRF over emission scores ``[B, T, K]`` with a boolean mask ``[B, T]``.

    Masks must be left-aligned (each sentence's real tokens come first).
    """

    def __init__(self, tags: Sequence[str]) -> None:
        super().__init__()
        n = len(tags)
        self.transitions = nn.Parameter(torch.zeros(n, n))
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))
        allowed, allowed_start = bio_allowed(tags)
        self.register_buffer("trans_penalty", (~allowed).float() * NEG, persistent=False)
        self.register_buffer("start_penalty", (~allowed_start).float() * NEG, persistent=False)

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.transitions + self.trans_penalty, self.start + self.start_penalty, self.end

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Summed negative log-likelihood of the gold ``tags`` (padding positions may hold any id)."""
        trans, start, end = self._scores()
        mask_f = mask.to(emissions.dtype)
        B, T, _ = emissions.shape
        tags = tags.clamp(min=0)
        # score of the gold path
        em = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # [B, T]
        gold = start[tags[:, 0]] + (em * mask_f).sum(1)
        if T > 1:
            tr = trans[tags[:, :-1], tags[:, 1:]]  # [B, T-1]
            gold = gold + (tr * mask_f[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        gold = gold + end[last]
        # partition function: forward algorithm, vectorised over the batch and tags
        alphas = _forward(emissions, mask, trans, start)
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)
        return (log_z - gold).sum()

    def soft_nll(self, emissions: torch.Tensor, probs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """A summed loss against soft tags ``probs [B, T, K]`` (a teacher's marginals): ``log Z`` minus
        the expected path score, the path distribution taken as independent per token (a pair of
        tags scored by the product of their marginals, over the allowed pairs and first tags, that
        mass renormalised at each position). A surrogate of the cross-entropy, exact for one-hot
        labels on an allowed path; its gradient on the emissions is this CRF's marginals minus ``probs``.

        Renormalised because ``log Z`` moves by the whole of a shift of every allowed transition: with
        the expected score moving by only the allowed share of the teacher's mass, the loss fell without
        bound as the transitions drifted down (the gold loss does not see a uniform shift).
        """
        trans, start, end = self._scores()
        mask_f = mask.to(emissions.dtype)
        probs = probs * mask_f.unsqueeze(2)
        # the pair and first-tag distributions in float64 with no tag at exactly 0: a teacher sure of an
        # ill-formed pair (O then I-x) leaves the allowed ones a mass float32 rounds to 0, and a
        # position whose allowed mass is 0 would again count a shift of the transitions for nothing
        near = probs.detach().double().clamp(min=1e-30) * mask.double().unsqueeze(2)  # 0 past the end
        first = near[:, 0] * (self.start_penalty == 0).double()  # the BIO penalty is no score
        first = (first / first.sum(1, keepdim=True).clamp(min=1e-300)).to(emissions.dtype)  # an empty row: 0
        expected = (probs * emissions).sum((1, 2)) + (first * self.start).sum(1)
        if emissions.shape[1] > 1:
            allowed = (self.trans_penalty == 0).double()
            mass = torch.einsum("bti,ij,btj->bt", near[:, :-1], allowed, near[:, 1:])
            weight = torch.where(mass > 0, 1 / mass.clamp(min=1e-300), torch.zeros_like(mass))
            pairs = torch.einsum("bti,btj->bij", near[:, :-1] * weight.unsqueeze(2), near[:, 1:]) * allowed
            expected = expected + (pairs.to(emissions.dtype) * self.transitions).sum((1, 2))
        last = (mask.sum(1) - 1).clamp(min=0)
        expected = expected + (probs[torch.arange(len(last)), last] * end).sum(1)
        alphas = _forward(emissions, mask, trans, start)
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)
        return (log_z - expected).sum()

    @torch.no_grad()
    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Posterior probability of each tag at each position ``[B, T, K]`` (forward-backward)."""
        trans, start, end = self._scores()
        B, T, K = emissions.shape
        alphas = _forward(emissions, mask, trans, start)
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)
        beta = end.expand(B, K)
        betas = [beta]
        for t in range(T - 2, -1, -1):
            nxt = _log_matmul(emissions[:, t + 1] + beta, trans.t())
            beta = torch.where(mask[:, t + 1 : t + 2], nxt, beta)
            betas.append(beta)
        betas.reverse()
        return (torch.stack(alphas, 1) + torch.stack(betas, 1) - log_z[:, None, None]).exp()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Viterbi best paths ``[B, T]`` (padding positions hold 0)."""
        trans, start, end = self._scores()
        return viterbi(emissions, mask, trans, start, end)


def _log_matmul(a: torch.Tensor, trans: torch.Tensor) -> torch.Tensor:
    """``logsumexp_i(a[b, i] + trans[i, j])`` as one matrix product in exp space (stable shifts)."""
    am = a.amax(dim=1, keepdim=True)
    tm = trans.amax()
    return torch.log((a - am).exp() @ (trans - tm).exp() + 1e-30) + am + tm


def _forward(emissions: torch.Tensor, mask: torch.Tensor, trans: torch.Tensor, start: torch.Tensor) -> list:
    """Forward-algorithm log-scores ``alpha_t`` for every position (kept at padding)."""
    alpha = start + emissions[:, 0]
    alphas = [alpha]
    for t in range(1, emissions.shape[1]):
        nxt = _log_matmul(alpha, trans) + emissions[:, t]
        alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
        alphas.append(alpha)
    return alphas


def viterbi(
    emissions: torch.Tensor, mask: torch.Tensor, trans: torch.Tensor, start: torch.Tensor, end: torch.Tensor
) -> torch.Tensor:
    """Batched Viterbi: one loop over time, vectorised over sentences and tags."""
    B, T, K = emissions.shape
    score = start + emissions[:, 0]
    history = []
    for t in range(1, T):
        cand = score.unsqueeze(2) + trans.unsqueeze(0)  # [B, from, to]
        best, idx = cand.max(dim=1)
        nxt = best + emissions[:, t]
        m = mask[:, t : t + 1]
        score = torch.where(m, nxt, score)
        # at padding, point each tag to itself so backtracking passes through unchanged
        idx = torch.where(m, idx, torch.arange(K, device=emissions.device).expand(B, K))
        history.append(idx)
    return _backtrack(score + end, history, mask)


def _backtrack(final: torch.Tensor, history: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Follow back-pointers from the best final tag; padding positions get tag 0."""
    last = final.argmax(1)
    path = [last]
    for idx in reversed(history):
        last = idx.gather(1, last.unsqueeze(1)).squeeze(1)
        path.append(last)
    path.reverse()
    return torch.stack(path, 1).masked_fill(~mask, 0)


def constraint_structure(trans: torch.Tensor) -> dict[str, torch.Tensor]:
    """For 0/-inf style transitions: which tags any tag may precede (``free``) and, for the
    others (``I-x``), their at most two allowed predecessors (``B-x``, ``I-x``)."""
    allowed = trans > NEG / 2
    free = allowed.all(dim=0)
    K = trans.shape[0]
    p1 = torch.arange(K)
    p2 = torch.arange(K)
    for j in torch.nonzero(~free).flatten().tolist():
        preds = torch.nonzero(allowed[:, j]).flatten().tolist()
        if not preds or len(preds) > 2:
            raise ValueError("transitions are not BIO constraints")
        p1[j], p2[j] = preds[0], preds[-1]
    return {"free": free, "p1": p1, "p2": p2}


def constrained_viterbi(
    scores: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, structure: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Viterbi when transitions are only BIO constraints: O(B*K) per step instead of O(B*K*K)."""
    B, T, K = scores.shape
    free, p1, p2 = structure["free"], structure["p1"], structure["p2"]
    score = start + scores[:, 0]
    identity = torch.arange(K).expand(B, K)
    history = []
    for t in range(1, T):
        best_all, arg_all = score.max(dim=1, keepdim=True)
        c1, c2 = score[:, p1], score[:, p2]
        take1 = c1 >= c2
        best = torch.where(free, best_all, torch.where(take1, c1, c2))
        idx = torch.where(free, arg_all, torch.where(take1, p1, p2))
        m = mask[:, t : t + 1]
        score = torch.where(m, best + scores[:, t], score)
        history.append(torch.where(m, idx, identity))
    return _backtrack(score, history, mask)
