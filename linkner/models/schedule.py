"""How long and how fast a training run goes, decided from the size of its data.

A fixed epoch count does not transfer across data sizes: 20 epochs of CoNLL-2003 are ~8,800
optimiser steps, 20 epochs of a 200-sentence set are 140, too few for the randomly initialised span
head (and the evidential loss, whose KL term pulls evidence down early) to leave the all-``O``
solution. :func:`plan` therefore fixes a *minimum number of optimiser steps* and derives the epochs
from it, keeps today's 20-epoch bound where that already gives more steps (CoNLL-sized data: nothing
changes there), caps the epochs so a tiny set does not loop for hours, and spaces dev scoring so it
does not dominate a run whose epochs take seconds. Learning rates left unset are chosen by data
size. Everything is pure arithmetic (no torch), so it is unit-tested and recorded with every run
(``train_metrics.json["schedule"]``) together with the reason for each choice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

# Epoch bound when ``epochs`` is left to the planner: today's default, so CoNLL-sized runs (where the
# minimum-steps rule never binds) behave exactly as before.
BASE_EPOCHS = 20
# Below this many training sentences the "small data" learning rates apply (see :func:`choose_lr`).
SMALL_DATA_SENTENCES = 2000
# Large-data rates (unchanged defaults: encoder 3e-5 as the original recipe, 10× for the new head).
LR, HEAD_LR = 3e-5, 3e-4
# Small-data rates. With a few hundred sentences the head sees a few hundred updates in all; at 3e-4
# it is still predicting ``O`` everywhere when early stopping ends the run. The encoder rate 1e-4 is
# what this project's own WNUT/CoNLL runs and the demo use with MiniLM; the head gets 10× that.
SMALL_LR, SMALL_HEAD_LR = 1e-4, 1e-3


@dataclass(frozen=True)
class Schedule:
    """The resolved plan of one run (JSON-ready through :meth:`to_dict`)."""

    train_sentences: int
    batch_size: int
    steps_per_epoch: int
    epochs: int
    total_steps: int  # length of the warm-up + linear-decay schedule (early stopping may end sooner)
    warmup_steps: int
    eval_every: int  # epochs between dev scorings (the last epoch is always scored)
    lr: float
    head_lr: float
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def scores_dev_after(self, epoch: int) -> bool:
        """Is dev scored after ``epoch`` (1-based)?"""
        return epoch % self.eval_every == 0 or epoch >= self.epochs


def choose_epochs(steps_per_epoch: int, epochs: int | None, min_steps: int, epoch_cap: int,
                  base: int = BASE_EPOCHS) -> tuple[int, str]:
    """``(epochs, why)``: an explicit count is kept; otherwise the larger of ``base`` and the epochs
    that reach ``min_steps`` optimiser steps, at most ``epoch_cap`` (never below ``base``)."""
    if epochs is not None:
        return epochs, "set explicitly"
    needed = math.ceil(min_steps / max(1, steps_per_epoch))
    if needed <= base:
        return base, f"default bound {base} already gives ≥ min_steps {min_steps}"
    if needed > epoch_cap:
        cap = max(base, epoch_cap)
        return cap, f"min_steps {min_steps} needs {needed} epochs of {steps_per_epoch} steps; capped at {cap}"
    return needed, f"raised from {base} to reach min_steps {min_steps} at {steps_per_epoch} steps per epoch"


def choose_lr(n_train: int, lr: float | None, head_lr: float | None) -> tuple[float, float, str]:
    """``(encoder lr, head lr, why)``: explicit values are kept; unset ones follow the data size."""
    small = n_train < SMALL_DATA_SENTENCES
    auto_lr, auto_head = (SMALL_LR, SMALL_HEAD_LR) if small else (LR, HEAD_LR)
    size = f"{n_train} train sentences {'<' if small else '≥'} {SMALL_DATA_SENTENCES}"
    if lr is not None and head_lr is not None:
        return lr, head_lr, "set explicitly"
    parts = [f"encoder {'set explicitly' if lr is not None else 'by size'}",
             f"head {'set explicitly' if head_lr is not None else 'by size'}"]
    return (lr if lr is not None else auto_lr), (head_lr if head_lr is not None else auto_head), f"{'; '.join(parts)} ({size})"


def plan(n_train: int, batch_size: int, epochs: int | None = None, min_steps: int = 0, epoch_cap: int = 100,
         warmup: float = 0.1, dev_evals: int = 25, lr: float | None = None, head_lr: float | None = None,
         base_epochs: int = BASE_EPOCHS) -> Schedule:
    """The schedule of a run on ``n_train`` sentences (see the module docstring for the rules).

    Warm-up stays a fraction of the schedule (``int(total × warmup)``, as before), so a small run
    is never mostly warm-up; since the schedule is at least ``min_steps`` long, warm-up also has a
    floor of ``warmup × min_steps`` steps. Dev is scored every ``ceil(epochs / dev_evals)`` epochs:
    every epoch for runs of up to ``dev_evals`` epochs (all explicit short runs, CoNLL), every few
    epochs when a tiny set needs many short ones. Patience counts dev scorings, not epochs.
    """
    steps_per_epoch = math.ceil(n_train / batch_size) if n_train > 0 else 0
    n_epochs, why_epochs = choose_epochs(steps_per_epoch, epochs, min_steps, epoch_cap, base_epochs)
    total = steps_per_epoch * n_epochs
    enc_lr, hd_lr, why_lr = choose_lr(n_train, lr, head_lr)
    eval_every = max(1, math.ceil(n_epochs / max(1, dev_evals)))
    return Schedule(
        train_sentences=n_train, batch_size=batch_size, steps_per_epoch=steps_per_epoch, epochs=n_epochs,
        total_steps=total, warmup_steps=int(total * warmup), eval_every=eval_every, lr=enc_lr, head_lr=hd_lr,
        reasons={"epochs": why_epochs, "lr": why_lr,
                 "warmup": f"{warmup:g} of {total} scheduled steps",
                 "eval_every": f"dev scored every {eval_every} epoch(s): at most ~{dev_evals} scorings per run"},
    )
