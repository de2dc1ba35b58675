"""What linking decided about one question: the one :class:`Decision` type and its kinds.

A reply (generated text, option probabilities, or a failed request) becomes a ``Decision`` in
:mod:`linkner.link.parse`, :mod:`linkner.link.fusion` and :mod:`linkner.link.classify`; merging
(:mod:`linkner.link.merge`) and the candidate gate turn decisions into edits. The kinds live here, once:

* ``LABEL``: the span is an entity of type ``label``;
* ``REJECT``: the span is not an entity;
* ``UNPARSED``: the reply named no option (the local label is kept, and the case counted);
* ``ERROR``: no reply after retries (the local label is kept, and a rerun retries it);
* ``NOT_ROUTED``: never asked (:data:`NOT_ROUTED` stands for every such item when merging).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LABEL, REJECT, UNPARSED, ERROR, NOT_ASKED = "label", "reject", "unparsed", "error", "not_routed"
KINDS = (LABEL, REJECT, UNPARSED, ERROR, NOT_ASKED)


@dataclass(frozen=True)
class Decision:
    """What the reply means: ``kind`` is one of :data:`KINDS` (``label`` is set for LABEL).

    ``detail`` is set by fusion (a :class:`linkner.link.fusion.Choice`: the option probabilities behind
    the decision); it takes no part in equality or hashing, so decisions compare as before.
    """

    kind: str
    label: str | None = None
    detail: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown decision kind {self.kind!r}; one of {', '.join(KINDS)}")
        if (self.kind == LABEL) != (self.label is not None):
            raise ValueError("a LABEL decision needs a label, and only a LABEL decision has one")


NOT_ROUTED = Decision(NOT_ASKED)  # the one "never asked" decision (compared by identity when merging)
