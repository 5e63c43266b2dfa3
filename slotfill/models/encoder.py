"""Word and character embeddings and the stacked (bi)directional recurrent encoder."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class CharCNN(nn.Module):
    """Character CNN word features: embed characters, convolve, max-pool over the word."""

    def __init__(self, n_chars: int, char_dim: int, filters: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.dropout = nn.Dropout(dropout)
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
    """Stacked recurrent layers over packed sequences, so padding never reaches either direction."""

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
        self.out_dim = hidden_size * (2 if bidirectional else 1)
        if cell == "lstm":
            self._init_forget_bias(forget_bias)

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
        """``x [B, T, D]``, ``lengths [B]`` (CPU int64, all > 0) -> ``[B, T, out_dim]``."""
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out
