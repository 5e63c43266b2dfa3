"""Word and character embeddings and the stacked (bi)directional recurrent encoder."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
# one layer, one direction, whole padded batch: torch.lstm / torch.gru / torch.rnn_tanh
_LAYER_FN = {"lstm": torch.lstm, "gru": torch.gru, "rnn": torch.rnn_tanh}


def keep_mask(shape: torch.Size, p: float, device: torch.device | None = None) -> torch.Tensor:
    """A boolean mask whose entries are True with probability ``1 - p`` (to 1/65,536).

    Each 64-bit draw of the generator gives four 16-bit uniforms, where ``rand`` draws one float per
    activation (``bench/profile_train_step.py``: its ``aten::uniform_`` was 4.5% of a float32 step,
    these masks' ``aten::random_`` is ~2.4%); ``bernoulli_`` was slower still.
    """
    dropped = round(p * 65536)  # of 65,536 equally likely values
    if dropped <= 0 or dropped >= 65536:  # the threshold would not fit an int16
        return torch.full(shape, dropped <= 0, dtype=torch.bool, device=device)
    n = math.prod(shape)
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_(-(2**63), None)
    return bits.view(torch.int16)[:n].view(shape) >= dropped - 32768


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout, as ``F.dropout``, with its mask from :func:`keep_mask`."""
    if not training or p <= 0:
        return x
    return x * (keep_mask(x.shape, p, x.device).to(x.dtype) * (1.0 / (1.0 - p)))


class Dropout(nn.Module):
    """:func:`dropout` as a layer (``nn.Dropout``'s place; no parameters, so model files are unchanged)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class CharCNN(nn.Module):
    """Character CNN word features: embed characters, convolve, max-pool over the word."""

    def __init__(self, n_chars: int, char_dim: int, filters: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.dropout = Dropout(dropout)
        self.out_dim = filters

    def forward(self, chars: torch.Tensor, char_index: torch.Tensor) -> torch.Tensor:
        """``chars [U, L]`` (one row per word type), ``char_index [B, T]`` -> ``[B, T, filters]``."""
        x = self.dropout(self.embed(chars)).transpose(1, 2)  # [U, C, L]
        h = self.conv(x)
        pad = (chars == 0).unsqueeze(1)
        h = h.masked_fill(pad, -1e4).amax(dim=2)
        # all-padding rows (the padding word) would carry -1e4: zero them
        h = h.masked_fill(pad.all(dim=2), 0.0)
        return h[char_index]


class WordCNN(nn.Module):
    """Convolution over a sentence's word vectors (n-gram features per token): one operation a
    batch, where a recurrent layer takes one step per token."""

    def __init__(self, input_dim: int, filters: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(input_dim, filters, kernel, padding=kernel // 2)
        self.out_dim = filters

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x [B, T, D]`` -> ``[B, T, filters]`` (padding positions are zero before the convolution)."""
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        h = self.conv(x.masked_fill(~mask.unsqueeze(2), 0.0).transpose(1, 2))
        return torch.relu(h).transpose(1, 2)


class RecurrentEncoder(nn.Module):
    """Stacked recurrent layers whose padding never reaches either direction: packed sequences in
    float32 prediction and ONNX export, one fused call per layer and direction over the padded batch
    in training and in bfloat16 prediction (:meth:`_by_layer`). An LSTM predicting a batch with no
    padding (a lone sentence, sentences of one length) runs unpacked, all its layers in one call."""

    def __init__(
        self,
        input_dim: int,
        cell: str = "lstm",
        hidden_size: int = 200,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.3,
        forget_bias: float = 1.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CELLS)}")
        kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.rnn = CELLS[cell](
            input_dim,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
            **kwargs,
        )
        self.cell = cell
        self.out_dim = hidden_size * (2 if bidirectional else 1)
        # each layer's arithmetic, weights staying float32 (None: float32): while training (set by
        # train.precision) and while predicting (set by the tagger's precision)
        self.train_dtype: torch.dtype | None = None
        self.predict_dtype: torch.dtype | None = None
        self._low_copies: dict[tuple, tuple] = {}  # prediction's low-precision weights, kept while unchanged
        if cell == "lstm":
            self._init_forget_bias(forget_bias)

    def predict_in(self, dtype: torch.dtype | None) -> None:
        """The arithmetic of passes without gradients from now on (None: float32, :meth:`_packed`)."""
        self.predict_dtype = dtype
        self._low_copies.clear()

    def _init_forget_bias(self, value: float) -> None:
        # PyTorch orders LSTM gates (input, forget, cell, output) and adds bias_ih and bias_hh:
        # put the whole forget-gate bias in bias_ih so the gate starts open (remembers by default).
        h = self.rnn.hidden_size
        for name, p in self.rnn.named_parameters():
            if name.startswith("bias_ih"):
                with torch.no_grad():
                    p[h : 2 * h].fill_(value)
            elif name.startswith("bias_hh"):
                with torch.no_grad():
                    p[h : 2 * h].fill_(0.0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x [B, T, D]``, ``lengths [B]`` (CPU int64, all > 0) -> ``[B, T, out_dim]`` (padding zero)."""
        if torch.onnx.is_in_onnx_export():
            return self._packed(x, lengths)
        if torch.is_grad_enabled():
            return self._by_layer(x, lengths, self.train_dtype)
        if self.predict_dtype is not None:  # oneDNN's fused kernel: bfloat16 runs it, the packed path cannot
            return self._by_layer(x, lengths, self.predict_dtype)
        return self._packed(x, lengths)

    def _packed(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        unpadded = bool((lengths == x.shape[1]).all())
        if unpadded and self.cell == "lstm" and not (self.training or torch.onnx.is_in_onnx_export()):
            # an LSTM batch with no padding (a lone sentence): the same numbers as packing to the last
            # digit, in one fused call over all layers, ~0.15 ms less a sentence (bench/RESULTS.md, "One
            # sentence without packing"); a GRU's or plain RNN's kernel rounds differently unpacked
            return self.rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out

    def _by_layer(self, x: torch.Tensor, lengths: torch.Tensor, low: torch.dtype | None = None) -> torch.Tensor:
        """The packed computation as one fused call per layer and direction over the padded batch.

        Why: with gradients, a packed RNN's backward pass zero-fills a whole-batch gradient buffer at
        every time step (O(T^2) work; 7-15% of a training step in ``bench/profile_train_step.py``),
        while a padded batch runs as one oneDNN kernel each way. Padding never reaches a real token:
        the forward direction reaches it only after a sentence's last word, and the backward direction
        reads each sentence reversed in place (padding left where it is), so it too meets padding only
        after the sentence. Same weights, same numbers as :meth:`_packed` (to float rounding;
        tests/test_encoder.py), unless ``low`` (bfloat16: ``train.precision=bf16`` while training, the
        tagger's ``precision="bf16"`` while predicting) runs the layers in it.
        """
        rnn, (B, T) = self.rnn, x.shape[:2]
        lengths = lengths.to(x.device)
        layer_fn = _LAYER_FN[self.cell]
        directions = ("", "_reverse") if rnn.bidirectional else ("",)
        if not (torch.is_grad_enabled() or self.training) and bool((lengths == T).all()):
            # no padding to keep out (a lone sentence): every layer and direction in one fused call,
            # the same numbers as the loop below (tests/test_encoder.py)
            names = [f"_l{layer}{suffix}" for layer in range(rnn.num_layers) for suffix in directions]
            weights = [w for name in names for w in self._weights(name, low)]
            inp = x if low is None else x.to(low)
            h0 = inp.new_zeros(len(names), B, rnn.hidden_size)
            hx = (h0, h0) if self.cell == "lstm" else h0
            out = layer_fn(inp, hx, weights, True, rnn.num_layers, 0.0, False, rnn.bidirectional, True)[0]
            return out if low is None else out.float()
        steps = torch.arange(T, device=x.device)[None, :]
        real = steps < lengths[:, None]  # [B, T]
        reverse = torch.where(real, lengths[:, None] - 1 - steps, steps)  # its own inverse
        # whole rows copied (index_select), not every element looked up through a tensor-sized index (gather)
        rows = (reverse + T * torch.arange(B, device=x.device)[:, None]).reshape(-1)

        def flip(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(B * T, -1).index_select(0, rows).view(B, T, -1)

        h = x
        for layer in range(rnn.num_layers):
            inp = h if low is None else h.to(low)
            h0 = inp.new_zeros(1, B, rnn.hidden_size)
            outs = []
            for suffix in directions:
                weights = self._weights(f"_l{layer}{suffix}", low)
                out = layer_fn(
                    flip(inp) if suffix else inp,
                    (h0, h0) if self.cell == "lstm" else h0,
                    weights,
                    True,
                    1,
                    0.0,
                    self.training,
                    False,
                    True,
                )[0]
                outs.append(flip(out) if suffix else out)
            h = torch.cat(outs, 2) if len(outs) > 1 else outs[0]
            if low is not None:
                h = h.float()
            if layer < rnn.num_layers - 1 and rnn.dropout > 0:
                h = dropout(h, rnn.dropout, self.training)
        return h.masked_fill(~real[:, :, None], 0.0)

    def _weights(self, name: str, low: torch.dtype | None) -> list[torch.Tensor]:
        """One layer and direction's weights (``name``: ``_l0``, ``_l0_reverse``, ...), in ``low`` if given.

        With gradients the cast is made at every step (it is differentiable: gradients reach the float32
        weights); without, the copy is kept while the same weight tensors are unchanged (an optimiser
        step or ``load_state_dict`` bumps their version counter; an edit through ``.data`` does not, and
        is not seen), which spares a lone sentence's prediction ~0.4 ms of casts. Weights made under
        ``torch.inference_mode`` keep no version counter: they are cast at every call.
        """
        weights = [getattr(self.rnn, f"{n}{name}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if low is None:
            return weights
        if torch.is_grad_enabled() or any(w.is_inference() for w in weights):
            return [w.to(low) for w in weights]
        kept = self._low_copies.get((name, low))
        if kept is None or any(a is not w or v != w._version for (a, v), w in zip(kept[0], weights)):
            stamp = [(w, w._version) for w in weights]
            kept = self._low_copies[(name, low)] = (stamp, [w.detach().to(low) for w in weights])
        return kept[1]
