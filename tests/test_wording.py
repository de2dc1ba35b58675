"""The question-wording study: its paired accuracy interval, and the committed result's own arithmetic."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkner.link.options import QUESTIONS
from linkner.studies.wording import RUN, paired_accuracy

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "results" / "wording" / "question_wording.json"


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_paired_accuracy_is_the_mean_difference_inside_its_interval_bounds(pairs):
    a = np.array([x for x, _ in pairs])
    b = np.array([y for _, y in pairs])
    r = paired_accuracy(a, b, resamples=200, seed=3)
    assert r["delta"] == pytest.approx(b.mean() - a.mean())
    lo, hi = r["ci95"]
    assert -1.0 <= lo <= hi <= 1.0 and r["items"] == len(pairs)
    if (a == b).all():
        assert r["delta"] == lo == hi == 0.0  # no question differs: no draw can differ either


def test_paired_accuracy_refuses_unpaired_input():
    with pytest.raises(ValueError, match="equal-length"):
        paired_accuracy(np.array([1, 0]), np.array([1]))
    with pytest.raises(ValueError, match="non-empty"):
        paired_accuracy(np.array([]), np.array([]))


def test_the_committed_wording_study_is_consistent_with_itself():
    """Every wording asked the same dev questions; its differences from ``full`` are its own counts'."""
    doc = json.loads(RESULT.read_text())
    n = doc["numbers"]
    assert n["run"] == RUN == doc["config"]["run"]
    rows = n["questions"]
    assert set(rows) == set(QUESTIONS)
    size = rows["full"]["questions"]
    for q, r in rows.items():
        assert r["questions"] == size and r["local_right"] == rows["full"]["local_right"]  # same questions, same local answers
        assert 0 <= r["llm_right"] <= size and 0 <= r["fused_right"] <= size
        if q == "full":
            continue
        for k in ("llm", "fused"):
            d = r["vs_full"][k]
            assert d["delta"] == pytest.approx((r[f"{k}_right"] - rows["full"][f"{k}_right"]) / size)
            assert d["ci95"][0] <= d["delta"] <= d["ci95"][1] and d["items"] == size
        assert r["evaluated_tokens_per_answer"] < rows["full"]["evaluated_tokens_per_answer"]  # shorter, as meant
    cache = ROOT / n["cache"]
    keys = [json.loads(line).get("key") for line in cache.read_text().splitlines()[1:]]
    # the study's cache holds exactly the distinct questions each wording asked, once
    assert len(keys) == len(set(keys)) == sum(r["calls"] + r["cache_hits"] for r in rows.values())


@pytest.mark.slow
def test_the_wording_study_is_remade_from_its_cache_without_a_call(tmp_path):
    """Re-running the study with its committed cache asks nothing and gives the committed numbers."""
    from linkner.studies.wording import question_wording

    if not (ROOT / "runs" / "preds" / "conll03-spanner" / "dev.jsonl").is_file():
        pytest.skip("needs the CoNLL-2003 SpanNER dev predictions (runs/preds, not committed: train the system)")
    import shutil

    cache = tmp_path / "answers.jsonl"
    shutil.copyfile(ROOT / "results" / "wording" / "llm-answers.jsonl", cache)
    again = question_wording(ROOT / "results", runs_dir=ROOT / "runs", cache=cache)
    committed = json.loads(RESULT.read_text())["numbers"]["questions"]
    for q, r in again["questions"].items():
        assert r["calls"] == 0
        assert {k: v for k, v in r.items() if k != "cache_hits"} == {k: v for k, v in committed[q].items()
                                                                       if k != "cache_hits"}
