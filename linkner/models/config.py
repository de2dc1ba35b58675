"""Typed configs of the local span model and of its training run.

Both are plain dataclasses: :mod:`linkner.configio` reads them from TOML/YAML/JSON (unknown keys are
errors) and the resolved pair is written as ``config.json`` beside every checkpoint, so a checkpoint
always says exactly how it was built and trained.

Defaults follow the original LinkNER/SpanNER recipe (method notes §3, §4, §9) except where a
deviation is argued in a comment below.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linkner.configio import check_fields
from linkner.errors import ConfigError

LOSS_ALIASES = {"ce": "ce", "spanner": "ce", "edl": "edl", "ener": "edl", "e-ner": "edl"}
EVIDENCE_FUNCTIONS = ("exp", "softplus", "relu")


@dataclass
class ModelConfig:
    """The span classifier: encoder, span representation, head, and training objective.

    ``loss`` is ``"ce"`` (SpanNER; alias ``"spanner"``) or ``"edl"`` (E-NER evidential loss; alias
    ``"ener"``). Aliases are normalised on construction, so a saved config always holds ce/edl.
    """

    encoder: str = "minilm"
    loss: str = "edl"
    max_span_len: int = 5  # L: spans of 1..L words (LinkNER uses 5)
    width_dim: int = 60  # subword-width bucket embedding (SpanNER tokenLen_emb_dim)
    len_dim: int = 100  # word-count embedding, ReLU'd as in the original
    morph_dim: int = 100  # summed case-shape embeddings
    head_dropout: float = 0.2
    # Applied to the encoder config's hidden *and* attention dropout, as the original's bert_dropout.
    encoder_dropout: float = 0.15
    evidence: str = "exp"  # e = g(logits); exp is E-NER's default, clamped (see linkner.models.losses)
    logit_clamp: float = 30.0  # exp(30) ≈ 1e13: far from fp32 overflow (~88), still "certain"
    with_iw: bool = True  # importance weight (1 − b_y) on the evidential CE term
    with_uc: bool = True  # uncertainty term −a_t(1−acc)ln(u)
    with_kl: bool = True  # KL(Dir(α̃) ‖ Dir(1)) regulariser
    # a_t = min(1, epoch / annealing_step). The original LinkNER script uses 100, but runs stop early
    # after ~10–20 epochs, so a_t never exceeded ~0.2 there and the KL/uncertainty terms stayed
    # nearly off (method notes §4.2, §11.10). E-NER's own span parser uses 10, which lets both terms
    # reach full weight within a normal run; we follow E-NER.
    annealing_step: int = 10
    # Encoder window length in subwords, special tokens included. Longer sentences are encoded in
    # overlapping windows (never truncated); the encoder's own position limit caps this further.
    max_subwords: int = 512
    # Subwords kept per word (first ones plus the last one): bounds a single pathological "word"
    # (a URL, a 5,000-character token) so every span of L words still fits one window.
    max_word_subwords: int = 24

    def __post_init__(self) -> None:
        check_fields(self)  # types first: the range checks below must never meet a str or a float
        key = self.loss.lower()
        if key not in LOSS_ALIASES:
            raise ConfigError(f"unknown loss {self.loss!r}; use ce (alias spanner) or edl (alias ener)")
        self.loss = LOSS_ALIASES[key]
        if self.evidence not in EVIDENCE_FUNCTIONS:
            raise ConfigError(f"unknown evidence function {self.evidence!r}; use one of {', '.join(EVIDENCE_FUNCTIONS)}")
        if self.max_span_len < 1:
            raise ConfigError("max_span_len must be at least 1")
        if self.max_subwords < 8:
            raise ConfigError("max_subwords must be at least 8")
        if self.annealing_step < 1:
            raise ConfigError("annealing_step must be at least 1")
        for name in ("head_dropout", "encoder_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must lie in [0, 1)")


@dataclass
class TrainConfig:
    """One training run.

    ``batch_size`` counts **sentences**, not tokens. With length bucketing (sentences of similar
    length share a batch) the padding waste that token budgets are meant to remove is already small,
    and a sentence count keeps the number of optimiser steps per epoch, and so the warm-up/decay
    schedule and the learning rate, independent of the data's length profile and comparable to the
    original (batch 64). 32 is the CPU sweet spot measured here: per-step overhead is amortised and
    a step stays under ~1 s with MiniLM on 2 cores.
    """

    data: str = "conll03"  # a named dataset (linkner.data.registry) or a file path
    train_split: str = "train"  # split name, or a file path
    dev_split: str = "dev"  # split name, or a file path
    # Upper bound on epochs (early stopping usually ends the run sooner). None: planned from the data
    # size (linkner.models.schedule): 20, or more when 20 epochs give fewer than ``min_steps`` optimiser
    # steps, at most ``epoch_cap``. A 200-sentence set gets ~7 steps per epoch; a fixed 20 epochs
    # left its randomly initialised head predicting O everywhere.
    epochs: int | None = None
    # Minimum optimiser steps when ``epochs`` is planned (0: off). 600 steps is ~5 min with MiniLM on
    # 2 cores; CoNLL-2003 (439 steps per epoch) is unaffected.
    min_steps: int = 600
    epoch_cap: int = 100  # most epochs the min_steps rule may plan
    batch_size: int = 32
    eval_batch_size: int = 64
    # Encoder learning rate. None: by data size (linkner.models.schedule.choose_lr): 3e-5 as the original
    # recipe from 2,000 training sentences up, 1e-4 below (a few hundred updates in all need bigger ones).
    lr: float | None = None
    # The span head is randomly initialised; at the encoder's rate it learns slowly. A 10× larger
    # head rate (common practice for new heads on pretrained encoders) converges in fewer epochs.
    # None: 3e-4 from 2,000 sentences up, 1e-3 below.
    head_lr: float | None = None
    warmup: float = 0.1  # fraction of all scheduled steps spent in linear warm-up
    # Dev is scored every ceil(epochs / dev_evals) epochs, so a tiny set's many short epochs are not
    # dominated by scoring; every epoch whenever epochs <= dev_evals (CoNLL, explicit short runs).
    dev_evals: int = 25
    weight_decay: float = 0.01  # not applied to biases and LayerNorm weights
    grad_clip: float = 1.0  # max gradient norm (0 = off); the original had none, SpanNER used 1.0
    neg_span_weight: float = 0.6  # loss weight of non-entity spans
    # Stop after this many dev scorings without a dev-F1 improvement. The count only starts once dev
    # F1 has risen above 0: a small set can need many updates before the first entity is right.
    patience: int = 5
    seed: int = 123123
    bf16: bool = False  # bf16 autocast (pays on CPUs with AMX-bf16, and on GPUs)
    max_train_sentences: int | None = None  # a seeded random subset, for quick runs
    max_dev_sentences: int | None = None
    threads: int | None = None  # torch.set_num_threads for this run (None: torch's default)
    out: str = "runs/model"
    device: str = "auto"  # auto (cuda when available), cpu, cuda
    progress: bool = True
    # Sentences per length-bucketing mega-batch = batch_size × this. Shuffle globally, sort inside
    # each mega-batch by length, cut into batches, shuffle the batches: near-uniform lengths per
    # batch, yet a different mix of batches every epoch.
    bucket_factor: int = 50
    extra: dict = field(default_factory=dict)  # free-form notes stored with the run

    def __post_init__(self) -> None:
        check_fields(self)  # types first: the range checks below must never meet a str or a float
        if (self.epochs is not None and self.epochs < 1) or self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError("epochs, batch_size and eval_batch_size must be positive")
        if self.min_steps < 0 or self.epoch_cap < 1 or self.dev_evals < 1:
            raise ConfigError("min_steps must be >= 0, epoch_cap and dev_evals at least 1")
        if not 0.0 <= self.warmup < 1.0:
            raise ConfigError("warmup is a fraction of the steps in [0, 1)")
        if (self.lr is not None and self.lr <= 0) or (self.head_lr is not None and self.head_lr <= 0):
            raise ConfigError("learning rates must be positive")
        for name in ("max_train_sentences", "max_dev_sentences", "threads"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be at least 1 when set")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError("device must be auto, cpu or cuda")
        if self.bucket_factor < 1:
            raise ConfigError("bucket_factor must be at least 1")
        if self.grad_clip < 0 or self.weight_decay < 0 or self.neg_span_weight < 0:
            raise ConfigError("grad_clip, weight_decay and neg_span_weight must be >= 0")


@dataclass
class RunConfig:
    """What ``config.json`` beside a checkpoint holds: the model and the run that trained it."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_fields(self)
