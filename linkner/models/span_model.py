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

from linkner.models.config import ModelConfig


class SpanHead(nn.Module):
    """Span features + MLP classifier on top of encoder hidden states.

    The first linear layer acts on a concatenation, so it splits into one block per part:
    ``W1·r = W_a·h_a + W_b·h_b + W_w·width + W_l·len + W_m·Σmorph``. :meth:`forward` uses that
    identity: it projects each distinct span-start and span-end subword state once and each embedding
    table once, then sums the rows each span needs, instead of multiplying a ``(2H + 260)``-wide vector for
    every enumerated span (about 5 per word). Same parameters, same function (:meth:`forward_concat` is
    the literal form, kept for the equivalence test). There is no dropout before ``W1``, so the identity
    holds in training too.
    """

    def __init__(self, hidden: int, cfg: ModelConfig, num_labels: int) -> None:
        super().__init__()
        L = cfg.max_span_len
        self.hidden = hidden
        self.width_emb = nn.Embedding(L, cfg.width_dim)
        self.len_emb = nn.Embedding(L + 1, cfg.len_dim, padding_idx=0)
        self.morph_emb = nn.Embedding(6, cfg.morph_dim, padding_idx=0)
        dim = 2 * hidden + cfg.width_dim + cfg.len_dim + cfg.morph_dim
        self.classifier = nn.Sequential(
            nn.Linear(dim, dim), nn.GELU(), nn.Dropout(cfg.head_dropout), nn.Linear(dim, num_labels)
        )

    def _blocks(self) -> list[torch.Tensor]:
        w = self.classifier[0].weight
        sizes = [self.hidden, self.hidden, self.width_emb.embedding_dim, self.len_emb.embedding_dim,
                 self.morph_emb.embedding_dim]
        return list(w.split(sizes, dim=1))

    def forward(self, flat_hidden: torch.Tensor, batch: dict[str, Any], chunk: int | None = None) -> torch.Tensor:
        n = batch["start_index"].shape[0]
        if n == 0:
            return flat_hidden.new_zeros((0, self.classifier[-1].out_features))
        w_a, w_b, w_w, w_l, w_m = self._blocks()
        # the projected boundary states are the rows of a table; under autocast the matmuls run in bf16
        # and the table takes their dtype, so the small tables below are cast to match
        pos_a, inv_a = torch.unique(batch["start_index"], return_inverse=True)
        pos_b, inv_b = torch.unique(batch["end_index"], return_inverse=True)
        proj_a = flat_hidden[pos_a] @ w_a.T
        proj_b = flat_hidden[pos_b] @ w_b.T
        # width and word count (and the bias) folded into one (L × (L+1), dim) table
        n_len = self.len_emb.num_embeddings
        table_wl = ((self.width_emb.weight @ w_w.T)[:, None, :] + (torch.relu(self.len_emb.weight) @ w_l.T)[None, :, :]
                    + self.classifier[0].bias).reshape(-1, w_a.shape[0])
        table_m = self.morph_emb.weight @ w_m.T  # row 0: padding (skipped below)
        dtype = proj_a.dtype
        rows = torch.cat([proj_a, proj_b, table_wl.to(dtype), table_m.to(dtype)])
        # W1·r for every span = the sum of 3 + L rows of that table: start row, end row, (width, words) row
        # and one case row per word slot. embedding_bag sums gathered rows in one pass, with no
        # (spans × dim) temporary per part as separate gathers and adds would make
        o_b = proj_a.shape[0]
        o_wl = o_b + proj_b.shape[0]
        o_m = o_wl + table_wl.shape[0]
        bags = torch.cat([inv_a[:, None], (inv_b + o_b)[:, None], (batch["width"] * n_len + batch["nwords"] + o_wl)[:, None],
                          batch["morph"] + o_m], dim=1)
        step = chunk or n
        outs = []
        for i in range(0, n, step):
            # padding_idx: padded word slots neither add to the sum nor train the morph padding row (as
            # nn.Embedding(padding_idx=0) in the literal form); a summed-in zero row would still get gradient
            z = torch.nn.functional.embedding_bag(bags[i : i + step], rows, mode="sum", padding_idx=o_m)
            outs.append(self.classifier[3](self.classifier[2](self.classifier[1](z))))
        return torch.cat(outs) if len(outs) > 1 else outs[0]

    def forward_concat(self, flat_hidden: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        """The literal definition (concatenate, then the MLP); reference for tests."""
        rep = torch.cat(
            [
                flat_hidden[batch["start_index"]],
                flat_hidden[batch["end_index"]],
                self.width_emb(batch["width"]),
                torch.relu(self.len_emb(batch["nwords"])),
                self.morph_emb(batch["morph"]).sum(dim=1),
            ],
            dim=-1,
        )
        return self.classifier(rep.to(self.classifier[0].weight.dtype))


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

    # The model owns its objective: the one place where SpanNER (cross-entropy) and E-NER (evidential)
    # differ, for training (loss) and for prediction (probabilities, vacuity).
    @property
    def evidential(self) -> bool:
        return self.cfg.loss == "edl"

    def loss(self, logits: torch.Tensor, batch: dict[str, Any], epoch: int) -> torch.Tensor:
        """The training loss of a batch's span logits (``epoch`` drives E-NER's annealed terms)."""
        from linkner.models.losses import edl_loss, span_ce_loss

        c = self.cfg
        if self.evidential:
            return edl_loss(logits, batch["labels"], batch["weights"], epoch, c.annealing_step, c.with_iw, c.with_uc,
                            c.with_kl, c.evidence, c.logit_clamp)
        return span_ce_loss(logits, batch["labels"], batch["weights"])

    def probabilities(self, logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """Class probabilities of span logits: softmax (SpanNER) or the Dirichlet mean α/S (E-NER)."""
        from linkner.models.losses import probabilities

        return probabilities(logits, self.cfg.loss, temperature, self.cfg.logit_clamp, self.cfg.evidence)

    def vacuity(self, logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor | None:
        """E-NER's evidential uncertainty K/S per span; ``None`` for a cross-entropy model."""
        from linkner.models.losses import vacuity

        return vacuity(logits, temperature, self.cfg.logit_clamp, self.cfg.evidence) if self.evidential else None


def move_batch(batch: dict[str, Any], device: torch.device | str) -> dict[str, Any]:
    return {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
