"""The question-wording study: its paired accuracy interval, its cross-fitting, and the committed result."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkner.link.fusion import Choice
from linkner.link.options import WORDINGS
from linkner.studies.runlist import LINKS
from linkner.studies.wording import RUN, cross_fitted, paired_accuracy

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "results" / "wording" / "question_wording.json"


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_paired_accuracy_is_the_mean_difference_and_its_interval_stays_in_range(pairs):
    a = np.array([x for x, _ in pairs])
    b = np.array([y for _, y in pairs])
    r = paired_accuracy(a, b, resamples=200, seed=3)
    assert r["delta"] == pytest.approx(b.mean() - a.mean())
    lo, hi = r["ci95"]
    assert -1.0 <= lo <= hi <= 1.0 and r["items"] == len(pairs)
    assert paired_accuracy(a, b, resamples=200, seed=3) == r  # seeded: the same draws every time
    if (a == b).all():
        assert r["delta"] == lo == hi == 0.0  # no question differs: no draw can differ either


def test_paired_accuracy_of_a_uniform_difference_has_no_spread_and_unpaired_input_is_refused():
    r = paired_accuracy(np.zeros(30), np.ones(30))
    assert r["delta"] == 1.0 and r["ci95"] == [1.0, 1.0]
    with pytest.raises(ValueError, match="equal-length"):
        paired_accuracy(np.array([1, 0]), np.array([1]))
    with pytest.raises(ValueError, match="non-empty"):
        paired_accuracy(np.array([]), np.array([]))


def test_cross_fitting_scores_each_question_with_a_w_fitted_on_the_other_folds():
    """An LLM that is always right and sure earns w > 0 on every training fold, so every held-out fused
    decision follows it; one that always names a wrong option earns w = 0, so the local label stands."""
    gold = ["PER", "ORG", "LOC", "O"] * 10
    local = [{"PER": 0.4, "ORG": 0.35, "LOC": 0.15, "O": 0.1} for _ in gold]  # the local model always says PER
    sure = [Choice(p, {k: (0.97 if k == g else 0.01) for k in p}, g, "PER") for p, g in zip(local, gold)]
    right = cross_fitted(sure, gold, folds=4)
    assert right.dtype == bool and right.all()
    bad = {"PER": "ORG", "ORG": "LOC", "LOC": "O", "O": "PER"}  # a sure answer, always a wrong one
    wrong = [Choice(p, {k: (0.97 if k == bad[g] else 0.01) for k in p}, bad[g], "PER") for p, g in zip(local, gold)]
    assert cross_fitted(wrong, gold, folds=4).tolist() == [g == "PER" for g in gold]  # w = 0: the local label


def test_the_committed_wording_study_is_consistent_with_itself():
    """Every wording asked the same dev questions; its differences from ``full`` are its own counts'."""
    doc = json.loads(RESULT.read_text())
    n = doc["numbers"]
    assert n["run"] == RUN == doc["config"]["run"] and f"{n['system']}/{n['evalset']}" in RUN
    rows = n["wordings"]
    assert set(rows) == set(WORDINGS)
    size = rows["full"]["questions"]
    for q, r in rows.items():
        assert r["questions"] == size and r["local_right"] == rows["full"]["local_right"]  # same questions, same local answers
        assert 0 <= r["llm_right"] <= size and 0 <= r["fused_right"] <= size and 0 <= r["fused_right_in_sample"] <= size
        assert max(x["correct"] for x in r["w_curve"]) == r["fused_right_in_sample"]  # in sample: the best w of the grid
        if q == "full":
            continue
        for k in ("llm", "fused"):
            d = r["vs_full"][k]
            assert d["delta"] == pytest.approx((r[f"{k}_right"] - rows["full"][f"{k}_right"]) / size)
            assert d["ci95"][0] <= d["delta"] <= d["ci95"][1] and d["items"] == size
        assert r["evaluated_tokens_per_answer"] < rows["full"]["evaluated_tokens_per_answer"]  # shorter, as meant
    lines = (ROOT / n["cache"]).read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines[1:]]
    # the study's cache holds exactly the distinct questions each wording asked, once
    assert len(keys) == len(set(keys)) == sum(r["unique"] for r in rows.values())
    # and the full wording is what the run itself asked, byte for byte: its questions are in the main cache
    main = {json.loads(line).get("key") for line in (ROOT / "results" / "llm-answers.jsonl").read_text().splitlines()}
    assert sum(k in main for k in keys) == rows["full"]["unique"]


@pytest.mark.slow
def test_the_wording_study_is_remade_from_its_cache_without_a_call(tmp_path):
    """Re-running the study with its committed cache asks nothing and gives the committed numbers."""
    import shutil

    from linkner.studies.wording import question_wording

    run = next(r for r in LINKS if r.name == RUN)
    if not (ROOT / "runs" / "preds" / run.system / "dev.jsonl").is_file():
        pytest.skip(f"needs the {run.system} dev predictions (runs/preds, not committed: train the system)")
    cache = tmp_path / "answers.jsonl"
    shutil.copyfile(ROOT / "results" / "wording" / "llm-answers.jsonl", cache)
    again = question_wording(ROOT / "results", runs_dir=ROOT / "runs", cache=cache)
    committed = json.loads(RESULT.read_text())["numbers"]["wordings"]
    for q, r in again["wordings"].items():
        assert r["calls"] == 0
        assert {k: v for k, v in r.items() if k != "cache_hits"} == {k: v for k, v in committed[q].items()
                                                                       if k != "cache_hits"}
