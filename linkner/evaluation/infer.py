"""``linkner infer`` as a library function: tag raw text or a dataset split with a checkpoint.

Everything that can be checked without the model is checked before it is loaded: the input, the output
paths, and the data's labels against the checkpoint's ``labels.json``. Predictions are streamed: ``out``
receives each chunk of 2,048 sentences as soon as it is decoded
(:meth:`linkner.models.predict.LocalModel.iter_predict_sentences`), so memory does not grow with the input.
The stream goes to a temporary file beside ``out`` that is renamed only when complete
(:func:`linkner.outputs.atomic_output`): an interrupted run leaves the old file, or none, never a
truncated one that looks finished. With ``metrics`` (labelled data only) the split is scored by
:func:`linkner.evaluation.report.evaluate_checkpoint`, which needs all predictions at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from linkner.data.types import Sentence
from linkner.errors import DataError

ProgressBar = Callable[[int, str], contextlib.AbstractContextManager[Callable[[int], None]]]


@dataclass
class InferResult:
    """What a tagging run did: counts, the source's name, the scores (with ``metrics``), and the tagged
    sentences when ``keep`` asked for them (raw text, for a table)."""

    source: str
    sentences: int = 0
    entities: int = 0
    metrics: dict | None = None
    temperature: float | None = None
    kept: list[Sentence] = field(default_factory=list)


@contextlib.contextmanager
def _no_bar(total: int, description: str) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


def infer(checkpoint: str | Path, *, text: str | None = None, data: str | None = None, split: str = "test",
          out: str | Path | None = None, metrics: str | Path | None = None, mc_samples: int = 0, mc_seed: int = 0,
          batch_size: int = 64, fit_temperature: str | None = None, device: str = "cpu", keep: bool = False,
          progress_bar: ProgressBar | None = None) -> InferResult:
    """Tag ``text`` (raw) or ``data``/``split`` with ``checkpoint``; write JSONL to ``out``, scores to ``metrics``.

    ``fit_temperature`` (a split of ``data``, or of the model's training data) fits and stores a softmax
    temperature first. ``progress_bar(total, description)`` is a context manager yielding ``advance(n)``.
    """
    from linkner.data.schema import check_labels_within
    from linkner.data.types import labels_of
    from linkner.data.writers import write_jsonl
    from linkner.evaluation.report import evaluate_checkpoint, fit_checkpoint_temperature, load_eval_data
    from linkner.models.checkpoint import checkpoint_labels
    from linkner.models.predict import load, text_sentences
    from linkner.outputs import check_output_file

    if (text is None) == (data is None):
        raise DataError("give raw text (TEXT/--input) or --data, not both" if text is not None else
                        "nothing to tag: give TEXT, '-' (stdin), --input FILE or --data NAME|PATH")
    if metrics is not None and data is None:
        raise DataError("--metrics needs labelled --data")
    if mc_samples < 0 or batch_size < 1:
        raise DataError("--mc-samples must be ≥ 0 and --batch-size ≥ 1")
    for path, flag in ((out, "--out"), (metrics, "--metrics")):
        if path is not None:
            check_output_file(path, flag)
    labels = checkpoint_labels(checkpoint)[1:]
    if data is not None:
        sentences, source = load_eval_data(data, split), f"{data}/{split}"
        check_labels_within(labels_of(sentences), labels, source, f"checkpoint {checkpoint}",
                            "tag data of the schema the model was trained on")
    else:
        sentences, source = text_sentences(text), "text"
        if not sentences:
            raise DataError("the input holds no tokens")
    result = InferResult(source)
    model = load(checkpoint, device=device)
    if fit_temperature:
        result.temperature = fit_checkpoint_temperature(model, data or model.run.train.data, fit_temperature)

    def counted(stream: Iterable[Sentence]) -> Iterator[Sentence]:
        for s in stream:
            result.sentences += 1
            result.entities += len(s.entities)
            if keep:
                result.kept.append(s)
            yield s

    with (progress_bar or _no_bar)(len(sentences), f"tagging {source}") as advance:
        if metrics is not None:
            result.metrics, preds = evaluate_checkpoint(model, data, split, metrics, mc_samples=mc_samples,
                                                        batch_size=batch_size, progress=advance, mc_seed=mc_seed,
                                                        gold=sentences)
            stream = counted(preds)
        else:
            stream = counted(model.iter_predict_sentences(sentences, mc_samples=mc_samples, batch_size=batch_size,
                                                          has_gold=None if data is not None else False,
                                                          progress=advance, mc_seed=mc_seed))
        if out is not None:
            write_jsonl(stream, out)  # under a temporary name, renamed when complete
        else:
            for _ in stream:
                pass
    return result
