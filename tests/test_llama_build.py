"""The llama.cpp build comparison (:mod:`linkner.studies.llama_build`) and the kernel record
(:func:`linkner.provenance.llama_cpp_kernels`), on hand-made bench files and a stand-in binding."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from linkner.provenance import llama_cpp_kernels, machine
from linkner.studies.llama_build import compare

KERNELS = {"avx2": ["AVX", "AVX2", "FMA"], "avx512": ["AVX", "AVX2", "FMA", "AVX512", "AVX512_VNNI"]}


def _write(root, run: str, seconds: list[float], probs: list[dict], keys: list[str] | None = None) -> None:
    build = run.rsplit("-r", 1)[0]
    keys = keys or [f"q{i}" for i in range(len(seconds))]
    answers = [{"key": k, "probs": p, "seconds": s} for k, p, s in zip(keys, probs, seconds, strict=True)]
    fresh = {"answers": answers, "wall_seconds_per_entity": sum(seconds) / len(seconds)}
    doc = {"run": {}, "numbers": {"environment": {"cpu": "Test CPU"}, "cases": {
        "predictions": {"sentences": 10},
        "local-m": {"model": "m", "threads": 2, "kernels": KERNELS[build], "fresh": fresh}}}}
    path = root / "bench" / "llama-build" / run / "linking.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))


P = [{"person": 0.7, "none": 0.3}, {"person": 0.2, "none": 0.8}, {"person": 0.55, "none": 0.45}]


def test_compare_pairs_the_same_questions_across_alternated_runs(tmp_path):
    _write(tmp_path, "avx2-r1", [2.0, 2.0, 2.0], P)
    _write(tmp_path, "avx512-r1", [1.0, 1.0, 1.0], P)
    _write(tmp_path, "avx2-r2", [4.0, 4.0, 4.0], P)
    flipped = [P[0], P[1], {"person": 0.45, "none": 0.55}]  # the near tie flips
    _write(tmp_path, "avx512-r2", [1.0, 1.0, 1.0], flipped)
    ab = compare(tmp_path)
    # per question, mean over rounds: 3.0 vs 1.0 s, so 3x; every resample of equal ratios is 3x
    assert ab["speedup"] == pytest.approx(3.0) and ab["speedup_ci95"] == pytest.approx([3.0, 3.0])
    assert ab["round_speedups"] == pytest.approx([2.0, 4.0])  # the drift between rounds, which the CI does not cover
    assert ab["builds"]["avx2"]["runs"] == ["avx2-r1", "avx2-r2"]
    assert ab["builds"]["avx2"]["model_seconds_per_question"] == [2.0, 4.0]
    assert ab["builds"]["avx512"]["kernels"] == KERNELS["avx512"]
    assert ab["questions"] == ab["compared"] == 3
    assert ab["same_choice"] == 2 and ab["max_abs_prob_diff"] == pytest.approx(0.1)
    assert (ab["model"], ab["threads"], ab["cpu"]) == ("m", 2, "Test CPU")


def test_compare_pairs_questions_by_key_not_by_position(tmp_path):
    """Slow and fast questions differ 10x, the build 2x on every one: paired by question the ratio never
    varies (an unpaired resample would), and a run that asked in another order is still paired right."""
    slow = [1.0, 5.0, 10.0, 2.0]
    probs = [{"a": 0.6, "b": 0.4}] * 4
    _write(tmp_path, "avx2-r1", slow, probs)
    _write(tmp_path, "avx512-r1", [x / 2 for x in reversed(slow)], probs, keys=["q3", "q2", "q1", "q0"])
    ab = compare(tmp_path)
    assert ab["speedup"] == pytest.approx(2.0) and ab["speedup_ci95"] == pytest.approx([2.0, 2.0])


def test_compare_refuses_other_questions_or_another_model(tmp_path):
    p = [{"a": 1.0}] * 2
    _write(tmp_path, "avx2-r1", [1.0, 1.0], p)
    _write(tmp_path, "avx512-r1", [1.0, 1.0], p, keys=["q0", "other"])
    assert compare(tmp_path) is None


def test_compare_interval_comes_from_resampled_questions(tmp_path):
    rng = np.random.default_rng(3)
    slow = list(1.0 + rng.random(30))
    fast = [s / 1.3 * f for s, f in zip(slow, 0.9 + 0.2 * rng.random(30))]
    probs = [{"a": 0.6, "b": 0.4}] * 30
    _write(tmp_path, "avx2-r1", slow, probs)
    _write(tmp_path, "avx512-r1", fast, probs)
    ab = compare(tmp_path)
    lo, hi = ab["speedup_ci95"]
    assert lo < ab["speedup"] < hi and 1.1 < lo and hi < 1.6
    assert compare(tmp_path) == ab  # seeded: the same interval every time


def test_compare_needs_both_builds_and_the_same_questions(tmp_path):
    assert compare(tmp_path) is None
    _write(tmp_path, "avx2-r1", [1.0, 1.0, 1.0], P)
    assert compare(tmp_path) is None  # one build only
    _write(tmp_path, "avx512-r1", [1.0, 1.0], P[:2])
    assert compare(tmp_path) is None  # 3 questions against 2: not the same questions
    for f in (tmp_path / "bench" / "llama-build").glob("*/linking.json"):
        f.unlink()
    _write(tmp_path, "avx2-r10", [1.0], P[:1])  # round 10 sorts after round 2, by number
    _write(tmp_path, "avx2-r2", [1.0], P[:1])
    _write(tmp_path, "avx512-r2", [1.0], P[:1])
    assert compare(tmp_path)["builds"]["avx2"]["runs"] == ["avx2-r2", "avx2-r10"]


def test_llama_cpp_kernels_read_from_the_loaded_binding(monkeypatch):
    monkeypatch.delitem(__import__("sys").modules, "llama_cpp", raising=False)
    assert llama_cpp_kernels() is None and "llama_cpp_kernels" not in machine()  # not imported just to ask
    info = b"CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 0 | AVX512_VNNI = 1 | REPACK = 1 | Metal : BF16 = 1 | "
    fake = types.SimpleNamespace(llama_print_system_info=lambda: info)
    monkeypatch.setitem(__import__("sys").modules, "llama_cpp", fake)
    assert llama_cpp_kernels() == ["SSE3", "AVX", "AVX2", "AVX512_VNNI", "REPACK"]
    assert machine()["llama_cpp_kernels"] == llama_cpp_kernels()

    monkeypatch.setitem(__import__("sys").modules, "llama_cpp", types.SimpleNamespace(llama_print_system_info=lambda: b"?"))
    assert llama_cpp_kernels() is None  # no CPU section: nothing is claimed

    def broken():
        raise RuntimeError("old binding")

    monkeypatch.setitem(__import__("sys").modules, "llama_cpp", types.SimpleNamespace(llama_print_system_info=broken))
    assert llama_cpp_kernels() is None
