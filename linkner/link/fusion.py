"""Fusion: the LLM's option probabilities become evidence next to the local model's, not a replacement.

Why: on routed entities a small LLM is right about as often as the local model (offline assets §9: 72 vs
77 of 150), so letting its answer *replace* the local label is a coin flip, while combining the two
distributions fixed 16 and broke 6. The combination is log-linear pooling over the offered options::

    p(o) ∝ p_local(o)^(1−w) · p_llm(o)^w

``w = 0`` is the local model, ``w = 1`` the LLM alone. ``w`` is fitted on dev (a grid, maximising the
number of routed dev items whose fused decision is correct; ties go to the smaller w, i.e. towards the
model we already trust). Labels that were not offered (outside the local top-k) are not candidates: the
LLM could not vote for them and the local model ranked k others above them, so the decision is among
the offered options, with the local probabilities renormalised over them. The key ``"O"`` stands for
"not an entity"; its local probability is the local model's P(O) for the span.

Where the backend gives no token log-probabilities, the LLM's distribution is a smoothed one-hot of its
parsed answer: ``r`` on the answer and ``(1−r)/(K−1)`` elsewhere, with ``r`` the LLM's accuracy on the
dev items (Laplace-smoothed). An answer outside the options keeps the local distribution ("unparsed").
Without dev data, ``w`` and ``r`` take the stated defaults and the report says they were not fitted.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

from linkner.link.decision import LABEL, REJECT, UNPARSED, Decision

NONE = "O"  # the "not an entity" option inside distributions
EPS = 1e-6  # probabilities are floored here before taking logs (a zero must not veto an option forever)
GRID = tuple(round(0.1 * i, 1) for i in range(11))
DEFAULT_W = 0.5  # unfitted: the geometric mean, equal trust in both
DEFAULT_R = 0.5  # unfitted reliability of a parsed answer
LOGPROBS, PARSED, NO_ANSWER = "logprobs", "parsed", "unparsed"


def normalise(p: dict[str, float]) -> dict[str, float]:
    """``p`` scaled to sum to 1 (uniform if it sums to 0)."""
    total = sum(max(v, 0.0) for v in p.values())
    if total <= 0:
        return {k: 1.0 / len(p) for k in p}
    return {k: max(v, 0.0) / total for k, v in p.items()}


def pool(local: dict[str, float], llm: dict[str, float] | None, w: float) -> dict[str, float]:
    """Log-linear pooling over the keys of ``local`` (the offered options); ``llm=None`` keeps ``local``."""
    local = normalise(local)
    if llm is None:
        return local
    logs = {k: (1 - w) * math.log(max(p, EPS)) + w * math.log(max(llm.get(k, 0.0), EPS)) for k, p in local.items()}
    top = max(logs.values())
    return normalise({k: math.exp(v - top) for k, v in logs.items()})


def argmax(fused: dict[str, float], local: dict[str, float]) -> str:
    """The fused argmax; exact ties go to the higher local probability, then to the option order."""
    return max(fused, key=lambda k: (round(fused[k], 12), round(local.get(k, 0.0), 12)))


def smoothed_onehot(answer: str, keys: list[str], r: float) -> dict[str, float]:
    """The parsed answer as a distribution: ``r`` on it, the rest spread evenly over the other options."""
    if len(keys) == 1:
        return {answer: 1.0}
    return {k: (r if k == answer else (1 - r) / (len(keys) - 1)) for k in keys}


@dataclass(frozen=True)
class Choice:
    """One routed item's material for fusion, and (once fused) the result.

    ``local``: local probabilities over the offered options (``"O"`` = not an entity), normalised;
    ``llm``: the backend's option probabilities when it gave log-probabilities, else ``None``;
    ``answer``: the parsed answer (a label, ``"O"``, or ``None`` when outside the options).
    """

    local: dict[str, float]
    llm: dict[str, float] | None
    answer: str | None
    local_label: str
    fused: dict[str, float] = field(default_factory=dict)
    llm_used: dict[str, float] | None = None
    w: float | None = None

    @property
    def source(self) -> str:
        if self.llm is not None:
            return LOGPROBS
        return PARSED if self.answer is not None else NO_ANSWER

    def llm_distribution(self, r: float) -> dict[str, float] | None:
        """What the LLM contributes: its probabilities, a smoothed one-hot of its answer, or nothing."""
        if self.llm is not None:
            return normalise({k: self.llm.get(k, 0.0) for k in self.local})
        if self.answer is not None:
            return smoothed_onehot(self.answer, list(self.local), r)
        return None

    @property
    def llm_answer(self) -> str | None:
        """The LLM's own choice: the argmax of its probabilities, else its parsed answer."""
        if self.llm is not None:
            return max(self.local, key=lambda k: self.llm.get(k, 0.0))
        return self.answer

    def record(self) -> dict:
        """What ``linked.jsonl`` keeps: the source, the LLM's answer, w and per-option probabilities."""
        def r4(d):
            return None if d is None else {k: round(v, 4) for k, v in d.items()}

        return {"source": self.source, "llm_answer": self.llm_answer, "w": self.w,
                "local": r4(self.local), "llm": r4(self.llm_used), "fused": r4(self.fused)}


def fuse(choice: Choice, w: float, r: float) -> Decision:
    """The fused decision of one item: LABEL (re-typed or kept), REJECT ("not an entity"), or UNPARSED.

    An unparsed answer without probabilities leaves the local distribution unchanged and is reported
    as UNPARSED, so merging keeps the local label and counts it, exactly as in replace mode.
    """
    llm = choice.llm_distribution(r)
    fused = pool(choice.local, llm, w)
    done = replace(choice, fused=fused, llm_used=llm, w=w)
    if llm is None:
        return Decision(UNPARSED, None, done)
    label = argmax(fused, choice.local)
    return Decision(REJECT, None, done) if label == NONE else Decision(LABEL, label, done)


def is_correct(decision: Decision, gold: str) -> bool:
    """Whether merging ``decision`` leaves the item right: its gold label, or removed when gold is O."""
    c = decision.detail
    if decision.kind == LABEL:
        return decision.label == gold
    if decision.kind == REJECT:
        return gold == NONE
    return (c.local_label if c is not None else None) == gold


def estimate_reliability(choices: list[Choice], gold: list[str]) -> tuple[float | None, int]:
    """The LLM's dev accuracy on its answered items, Laplace-smoothed ``(correct+1)/(n+2)``, and n."""
    pairs = [(c.llm_answer, g) for c, g in zip(choices, gold, strict=True) if c.llm_answer is not None]
    if not pairs:
        return None, 0
    return (sum(a == g for a, g in pairs) + 1) / (len(pairs) + 2), len(pairs)


def fit_weight(choices: list[Choice], gold: list[str], r: float, grid: tuple[float, ...] = GRID) -> tuple[float, list[dict]]:
    """The grid w with most correct fused decisions on dev (ties: the smaller w) and the whole curve."""
    curve = []
    for w in grid:
        correct = sum(is_correct(fuse(c, w, r), g) for c, g in zip(choices, gold, strict=True))
        curve.append({"w": w, "correct": correct, "n": len(choices)})
    best = max(curve, key=lambda row: (row["correct"], -row["w"]))
    return best["w"], curve


@dataclass
class Fusion:
    """The fusion state of one run: w and r (fitted on dev, fixed by the user, or defaults), and counts.

    ``fixed_w`` (``--fusion-weight``) overrides fitting. ``note`` is the one-line fallback message when
    some answers came without log-probabilities; the caller says it once.
    """

    fixed_w: float | None = None
    w: float = DEFAULT_W
    r: float = DEFAULT_R
    fitted: bool = False
    dev: dict = field(default_factory=dict)
    sources: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.fixed_w is not None:
            self.w = self.fixed_w

    def fit(self, choices: list[Choice], gold: list[str]) -> None:
        """Estimate r, then w, on the routed dev items (``gold``: their gold label or ``"O"``)."""
        r, n = estimate_reliability(choices, gold)
        if r is not None:
            self.r = r
        if self.fixed_w is None and choices:
            self.w, curve = fit_weight(choices, gold, self.r)
            self.fitted = True
        else:
            curve = [{"w": self.w, "correct": sum(is_correct(fuse(c, self.w, self.r), g) for c, g in zip(choices, gold)),
                      "n": len(choices)}]
        self.dev = {"items": len(choices), "answered": n, "curve": curve,
                    "sources": dict(Counter(c.source for c in choices))}

    def decide(self, choice: Choice) -> Decision:
        self.sources[choice.source] += 1
        return fuse(choice, self.w, self.r)

    def probability_source(self) -> str | None:
        """``logprobs``, ``parsed+reliability``, ``mixed`` (some of each), or ``None`` before any answer."""
        used = {s for s in self.sources if s != NO_ANSWER}
        if not used:
            return None
        if used == {LOGPROBS}:
            return LOGPROBS
        return "parsed+reliability" if used == {PARSED} else "mixed"

    def report(self) -> dict:
        w_from = "flag" if self.fixed_w is not None else ("dev" if self.fitted else "default (no dev data)")
        return {"w": self.w, "w_from": w_from, "reliability": round(self.r, 4),
                "reliability_from": "dev" if self.dev.get("answered") else "default (no dev answers)",
                "probability_source": self.probability_source(), "test_sources": dict(self.sources),
                "dev": self.dev or None}
