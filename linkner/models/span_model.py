"""The SpanNER span classifier (method notes §3.4–§3.6), with the encoder called correctly.

Span representation for a span whose first word starts at subword ``a`` and whose last word ends at
subword ``b`` (same window)::

    r = [ h_a ; h_b ; W_width[min(b − a, L − 1)] ; ReLU(W_len[n_words]) ; Σ_p W_case[case_p] ]

and ``logits = W2 · Dropout(GELU(W1 · r))`` with K outputs, index 0 being "O".

Deviation from the original, on purpose: the attention mask is passed by keyword, so padding is
masked and a sentence's prediction does not depend on what else is in its batch (§3.6, §11.5).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from linkner.config import ModelConfig


class SpanHead(nn.Module):
    """Span features + MLP classifier on top of encoder hidden states."""

    def __init__(self, hidden: int, cfg: ModelConfig, num_labels: int) -> None:
        super().__init__()
        L = cfg.max_span_len
        self.width_emb = nn.Embedding(L, cfg.width_dim)
        self.len_emb = nn.Embedding(L + 1, cfg.len_dim, padding_idx=0)
        self.morph_emb = nn.Embedding(6, cfg.morph_dim, padding_idx=0)
        dim = 2 * hidden + cfg.width_dim + cfg.len_dim + cfg.morph_dim
        self.classifier = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Dropout(cfg.head_dropout), nn.Linear(dim, num_labels)
        )

    def forward(self, flat_hidden: torch.Tensor, batch: dict[str, Any], chunk: int | None = None) -> torch.Tensor:
        n = batch["start_index"].shape[0]
        step = chunk or max(n, 1)
        outs = []
        for i in range(0, n, step):
            sl = slice(i, i + step)
            rep = torch.cat(
                [
                    flat_hidden[batch["start_index"][sl]],
                    flat_hidden[batch["end_index"][sl]],
                    self.width_emb(batch["width"][sl]),
                    torch.relu(self.len_emb(batch["nwords"][sl])),
                    self.morph_emb(batch["morph"][sl]).sum(dim=1),
                ],
                dim=-1,
            )
            outs.append(self.classifier(rep.to(self.classifier[0].weight.dtype)))
        if not outs:
            return flat_hidden.new_zeros((0, self.classifier[-1].out_features))
        return torch.cat(outs)


class SpanModel(nn.Module):
    """Encoder + :class:`SpanHead`. ``forward(batch)`` returns logits, one row per span of the batch."""

    def __init__(self, encoder: nn.Module, cfg: ModelConfig, num_labels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_labels = num_labels
        self.encoder = encoder
        self.head = SpanHead(encoder.config.hidden_size, cfg, num_labels)

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Last hidden states ``[windows, time, hidden]``; ``chunk`` bounds windows per encoder call."""
        step = chunk or input_ids.shape[0]
        outs = [
            self.encoder(input_ids=input_ids[i : i + step], attention_mask=attention_mask[i : i + step]).last_hidden_state
            for i in range(0, input_ids.shape[0], step)
        ]
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    def forward(self, batch: dict[str, Any], window_chunk: int | None = None, span_chunk: int | None = None) -> torch.Tensor:
        hidden = self.encode(batch["input_ids"], batch["attention_mask"], window_chunk)
        flat = hidden.reshape(-1, hidden.shape[-1])
        return self.head(flat, batch, span_chunk).float()


def move_batch(batch: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
