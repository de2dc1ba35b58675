"""The studies (issue 5): figure functions on synthetic results are byte-reproducible and survive missing
results; OOD detection on tiny predictions; the studies read the committed results layout; the paper's
reference-number file loads. No model, no LLM: everything here is synthetic and fast."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from linkner.data.types import Entity, Sentence
from linkner.data.writers import write_jsonl
from linkner.errors import DataError
from linkner.studies import linking as L
from linkner.studies import local as LO
from linkner.studies import tables as T
from linkner.studies.experiments import write_results
from linkner.studies.figures import FIGURES, make_figure
from linkner.studies.paper import load_paper_numbers, paper_vs_ours

STUDIES = ["local_models", "uncertainty", "threshold", "linking", "ablation", "in_context", "cost", "paper_vs_ours"]


def _digest(paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def _eval_json(f1: float, methods=("confidence", "entropy", "mc_dropout", "evidential")) -> dict:
    prf = {"precision": f1, "recall": f1, "f1": f1, "tp": 8, "n_pred": 10, "n_gold": 10}
    bins = [{"low": b / 10, "high": (b + 1) / 10, "count": 2 if b > 4 else 0, "confidence": b / 10 + 0.05 if b > 4 else None,
             "accuracy": b / 10 if b > 4 else None} for b in range(10)]
    return {"entity": {"micro": prf, "per_type": {"PER": prf, "LOC": {**prf, "f1": f1 / 2}}}, "sentences": 20,
            "sentences_per_second": 40.0, "mc_samples": 10, "uncertainty_methods": list(methods),
            "config": {"model": {"encoder": "minilm"}},
            "uncertainty": {"predicted": {"n": 10, "accuracy": 0.8, "ece": 0.05, "reliability": bins,
                                          "auroc": {m: 0.7 + 0.01 * i for i, m in enumerate(methods)},
                                          "aurc": {m: 0.1 + 0.01 * i for i, m in enumerate(methods)},
                                          "risk_coverage": {m: {"coverage": [0.5, 1.0], "risk": [0.1, 0.2], "aurc": 0.15} for m in methods}},
                            "gold_spans": {"n": 10, "ece": 0.07}}}


def _link_metrics(protocol: str, local: float, linkner: float, shots: int = 0, retrieve: bool = False, tuned: bool = True,
                  dev_cap: int = 5, ci: tuple[float, float] | None = None) -> dict:
    curve = [{"tau": 0.9, "routed": 0, "f1": local}, {"tau": 0.5, "routed": 3, "f1": linkner}, {"tau": -1e-9, "routed": 10, "f1": local - 0.1}]
    scores = {"local": {"micro": {"f1": local}}, "linkner": {"micro": {"f1": linkner}}, "delta_f1": linkner - local,
              "llm_on_routed": {"micro": {"llm_accuracy": 0.6, "local_accuracy": 0.3}}}
    if protocol == "paper":
        scores["paper"] = {"local": {"f1": local + 0.05}, "linkner": {"f1": linkner + 0.08}}
    if ci:  # a run that recorded the paired bootstrap (older runs did not)
        scores.update(delta_f1_ci95=list(ci), fixed=4, broken=1, bootstrap={"resamples": 1000, "seed": 13, "unit": "sentence"})
    return {"protocol": protocol, "uncertainty": "evidential",
            "threshold": {"requested": "auto" if tuned else "0", "tau": 0.5 if tuned else 0.0,
                          "tuning": {"dev_items": 10, "dev_cap": dev_cap, "tau": 0.5, "dev_routed": 3, "dev_f1": linkner,
                                     "dev_local_f1": local, "curve": curve} if tuned else None},
            "routing": {"items": 10, "routed": 3, "routed_fraction": 0.3},
            "llm": {"llm_seconds": 1.5, "seconds_per_routed_entity": 0.5, "prompt_tokens": 300 * (1 + shots), "unique": 3},
            "scores": scores,
            "config": {"shots": shots, "retrieve": retrieve, "max_routed": None, "max_calls": None, "dataset": "conll03",
                       "llm": {"backend": "llama-cpp", "model": "tiny-llm"}}}


@pytest.fixture
def results(tmp_path):
    """A results tree in the committed layout: some systems evaluated, some link runs, some missing."""
    root = tmp_path / "results"
    for model, f1 in (("ener", 0.9), ("spanner", 0.88)):
        d = root / "local" / f"conll03-{model}"
        d.mkdir(parents=True)
        for ev in ("conll03", "conll03-oov"):  # typos and ood left "not yet run"
            methods = ("confidence", "entropy", "mc_dropout") + (("evidential",) if model == "ener" else ())
            (d / f"{ev}.json").write_text(json.dumps(_eval_json(f1 - (0.2 if "oov" in ev else 0), methods)))
        write_results(d / "train.json", {"best_dev_f1": f1, "epochs_run": 3, "seconds_per_epoch": [10.0, 12.0]}, {})
        write_results(d / "ood_auroc.json", {m: {"conll03-oov": 0.8} for m in methods}, {})
    runs = {"conll03-honest-tiny-llm": _link_metrics("honest", 0.9, 0.91),
            "conll03-paper-tiny-llm": _link_metrics("paper", 0.9, 0.92),
            "conll03-oov-honest-tiny-llm": _link_metrics("honest", 0.7, 0.74, ci=(0.01, 0.07)),
            "conll03-oov-honest-tiny-llm-budget8": _link_metrics("honest", 0.7, 0.72, dev_cap=8),
            "conll03-honest-tiny-llm-icl0": _link_metrics("honest", 0.9, 0.905, tuned=False),
            "conll03-honest-tiny-llm-icl1-random": _link_metrics("honest", 0.9, 0.91, 1, False, tuned=False),
            "conll03-honest-tiny-llm-icl1-retrieved": _link_metrics("honest", 0.9, 0.915, 1, True, tuned=False)}
    for name, m in runs.items():
        d = root / "link" / "conll03-ener" / name
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(m))
    return root


def test_studies_read_the_results_layout(results):
    lm = LO.local_models(results)
    assert {(r["model"], r["evalset"]) for r in lm["rows"]} == {(m, e) for m in ("ener", "spanner") for e in ("conll03", "conll03-oov")}
    assert "conll03-ener/conll03-typos" in lm["missing"] and "wnut17-ener/train" in lm["missing"]
    assert lm["training"]["conll03-ener"]["seconds_per_epoch"] == 11.0
    un = LO.uncertainty(results)
    assert un["misclassification_auroc"]["conll03-ener/conll03"]["evidential"] == pytest.approx(0.73)
    assert un["ood_auroc"]["conll03-spanner"]["confidence"] == {"conll03-oov": 0.8}
    th = L.threshold(results)
    # the honest runs tuned on the same dev file share one dev curve: the one that asked most (cap 8) draws it
    assert [r["key"] for r in th["runs"]] == ["conll03-ener/conll03-paper-tiny-llm", "conll03-ener/conll03-oov-honest-tiny-llm-budget8"]
    assert th["runs"][0]["budget"]["routed"] == 3 and th["runs"][0]["tuned"]["routed_fraction"] == 0.3
    assert th["runs"][1]["budget"]["cap"] == 8
    li = L.linking(results)  # the in-context runs are not main runs
    assert len(li["rows"]) == 3 and next(r for r in li["rows"] if r["protocol"] == "paper")["paper_linkner_f1"] == 1.0
    by_set = {r["evalset"] + "/" + r["protocol"]: r for r in li["rows"]}
    assert by_set["conll03-oov/honest"]["delta_f1_ci95"] == [0.01, 0.07] and by_set["conll03-oov/honest"]["fixed"] == 4
    assert by_set["conll03/honest"]["delta_f1_ci95"] is None and by_set["conll03/honest"]["broken"] is None
    assert T.linking_table(li).loc[("conll03", "conll03-ener", "honest", "tiny-llm"), "delta_f1_ci95"] == "–"
    ic = L.in_context(results)
    assert len(ic["sweeps"]) == 1 and [p["selection"] for p in ic["sweeps"][0]["points"]] == ["none", "random", "retrieved"]
    co = L.cost(results)
    front = co["pareto"]["conll03"]["calls_per_1k"]
    assert front[0] == "conll03-ener/conll03/local" and front[-1].endswith("icl1-retrieved")
    pv = paper_vs_ours(results)
    c = next(c for c in pv["comparisons"] if c["id"] == "early_code/linkner_f1/conll03")
    assert {o["protocol"] for o in c["ours"]} == {"honest", "paper"}
    assert "early_code/local_f1/wnut17" in pv["missing"]
    for fn, numbers in ((T.local_table, lm), (T.uncertainty_table, un), (T.ood_table, un), (T.threshold_table, th),
                        (T.linking_table, li), (T.in_context_table, ic), (T.cost_table, co), (T.paper_table, pv)):
        assert len(fn(numbers)) > 0, fn.__name__
        assert fn({}).empty, fn.__name__


def test_every_study_figure_is_byte_reproducible(results, tmp_path):
    from linkner.studies import linking, local, paper

    for name in STUDIES:
        runner = next(getattr(m, f"run_{name}") for m in (local, linking, paper) if hasattr(m, f"run_{name}"))
        runner(results)
    assert set(STUDIES) <= set(FIGURES)
    for name in STUDIES:
        a = make_figure(name, results, tmp_path / "a")
        b = make_figure(name, results, tmp_path / "b")
        assert _digest(a) == _digest(b), name
        assert [p.suffix for p in a] == [".png", ".pdf", ".json"]


def test_figures_say_not_yet_run_instead_of_failing(tmp_path):
    from linkner.studies.figures import draw_function

    for name in STUDIES:
        fig, plotted = draw_function(name)({})
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any("not yet run" in t for t in texts) or name == "paper_vs_ours", name


def _pred(tokens, entities, gold):
    return Sentence(tokens, [Entity(s, e, lab, p, extra={"uncertainty": {"confidence": u, "evidential": u}})
                             for s, e, lab, p, u in entities],
                    meta={"gold": [{"start": s, "end": e, "label": lab} for s, e, lab in gold], "gold_scored": [],
                          "model": {"uncertainty_methods": ["confidence", "evidential"]}})


def test_ood_detection_on_tiny_predictions(tmp_path):
    # in-domain: correct entities, fairly certain; shifted: wrong entities, uncertain (+ one certain wrong one)
    ind = [_pred(["Paris", "is", "big"], [(0, 1, "LOC", 0.9, 0.1)], [(0, 1, "LOC")]),
           _pred(["Bob", "ran"], [(0, 1, "PER", 0.8, 0.2)], [(0, 1, "PER")])]
    shifted = [_pred(["Parsi", "is", "big"], [(0, 1, "PER", 0.4, 0.6)], [(0, 1, "LOC")]),
               _pred(["Bbo", "ran"], [(0, 1, "LOC", 0.5, 0.5), (1, 2, "ORG", 0.95, 0.05)], [(0, 1, "PER")])]
    write_jsonl(ind, tmp_path / "in.jsonl")
    write_jsonl(shifted, tmp_path / "shift.jsonl")
    got = LO.ood_detection(tmp_path / "in.jsonl", tmp_path / "shift.jsonl")
    assert got == {"confidence": pytest.approx(4 / 6), "evidential": pytest.approx(4 / 6)}
    assert LO.ood_detection(ind, shifted, ["confidence"], population="all") == {"confidence": pytest.approx(4 / 6)}
    assert LO.ood_detection(ind, ind, ["confidence"]) == {"confidence": None}  # no misclassified span: undefined
    doc = LO.run_ood_detection(tmp_path / "in.jsonl", {"conll03-oov": tmp_path / "shift.jsonl"}, tmp_path / "ood_auroc.json")
    assert doc["numbers"]["evidential"]["conll03-oov"] == pytest.approx(4 / 6)


def test_ood_module_writes_the_committed_extras(tmp_path):
    """``python -m linkner.studies.ood PRED_DIR OUT`` as the run list's evaluate step writes them, then the study reads it."""
    from linkner.studies import ood

    preds = tmp_path / "runs" / "preds" / "conll03-ener"
    preds.mkdir(parents=True)
    write_jsonl([_pred(["Paris", "x"], [(0, 1, "LOC", 0.9, 0.1), (1, 2, "PER", 0.6, 0.4)], [(0, 1, "LOC")])], preds / "conll03.test.jsonl")
    write_jsonl([_pred(["Prais", "x"], [(0, 1, "PER", 0.4, 0.6)], [(0, 1, "LOC")])], preds / "conll03-oov.test.jsonl")
    res = tmp_path / "results" / "local" / "conll03-ener"
    res.mkdir(parents=True)
    assert ood.main([str(preds), str(res / "ood_auroc.json")]) == 0
    rc = json.loads((res / "risk_coverage.json").read_text())["numbers"]
    assert rc["conll03"]["confidence"]["risk"][-1] == 0.5 and set(rc) == {"conll03", "conll03-oov"}
    assert json.loads((res / "ood_auroc.json").read_text())["numbers"]["confidence"]["conll03-oov"] == 1.0
    (res / "conll03.json").write_text(json.dumps(_eval_json(0.5, ("confidence", "evidential")) | {"uncertainty": {
        "predicted": {**_eval_json(0.5)["uncertainty"]["predicted"], "risk_coverage": None}, "gold_spans": {}}}))
    un = LO.uncertainty(tmp_path / "results")
    assert un["risk_coverage"]["conll03-ener/conll03"]["confidence"]["risk"][-1] == 0.5
    wnut = tmp_path / "runs" / "preds" / "wnut17-ener"  # no shifted sets: curves only, still exit 0
    wnut.mkdir()
    write_jsonl([_pred(["x"], [(0, 1, "PER", 0.6, 0.4)], [(0, 1, "PER")])], wnut / "wnut17.test.jsonl")
    assert ood.main([str(wnut), str(tmp_path / "w" / "ood_auroc.json")]) == 0
    assert (tmp_path / "w" / "risk_coverage.json").is_file() and not (tmp_path / "w" / "ood_auroc.json").exists()


def test_paper_numbers_file_loads_and_cites_its_sources():
    p = load_paper_numbers()
    assert p["verified_from_paper"] is False
    assert p["entries"] and all(e["section"].startswith("paper-numbers.md §") and e["status"] for e in p["entries"])
    early = {e["evalset"]: e["value"] for e in p["entries"] if e["id"].startswith("early_code/local_f1/")}
    assert early["conll03"] == 0.92 and early["wnut17"] == 0.4833
    assert all(0 <= e["value"] <= 1 for e in p["entries"] if e["quantity"].endswith("_f1"))
    assert len(p["threshold_curves"]["curves"]["conll03"]["local"]) == 11


def test_pareto_front():
    pts = [{"x": 0, "f1": 0.5}, {"x": 1, "f1": 0.6}, {"x": 2, "f1": 0.55}, {"x": 2, "f1": 0.7}, {"x": 3, "f1": None}]
    assert L.pareto_front(pts, "x") == [0, 1, 3]


def test_readme_block_is_rendered_from_the_results(results):
    from linkner.studies.readme import render

    md = render(results)
    assert "**Linking**" in md and "**In-context learning**" in md
    rows = [line for line in md.splitlines() if line.startswith("| conll03 |") and "| paper |" in line]
    # the paper-protocol row shows the paper counts (local 95.00 → LinkNER 100.00) and the honest score of its output
    assert rows and "| 95.00 | 100.00 (output scored honestly: 92.00) |" in rows[0]
    assert "budget" in md and "dev calls" in md
    oov = next(line for line in md.splitlines() if line.startswith("| conll03-oov |") and "| honest |" in line)
    assert "| [+1.00, +7.00] | 4 / 1 |" in oov and "| – | – |" in rows[0]  # ΔF1 interval in points; older runs: –


def test_only_five_retrieved_shots_get_the_long_context():
    from linkner.studies.runs import FULL, SMOKE, profile_runs, smoke_sizes

    # the committed in-context sweep, and the smoke one built from sizes: n_ctx is part of the answer-cache key,
    # so every run keeps the context its cached answers were made with, except 5 retrieved shots
    for sizes in (FULL, smoke_sizes(shots=(0, 1, 3, 5))):
        sweep = profile_runs(sizes)[2]
        long = {(r.shots, r.retrieve) for r in sweep if r.n_ctx > 2048}
        assert long == {(5, True)}, sizes is FULL
        assert {r.n_ctx for r in sweep if (r.shots, r.retrieve) != (5, True)} == {SMOKE.llm_n_ctx}


def test_ablation_groups_one_system_and_test_set_and_tagged_generations_stay_apart(results):
    """The ablation table sets a default run beside its -nocand/-replace runs of the same system and test set;
    a tagged (superseded) generation is another system: never compared with the untagged one, shown by label."""
    def put(system: str, name: str, m: dict, decision: str, candidates: str, **extra):
        m["config"].update(decision=decision, candidates=candidates, **extra)
        d = results / "link" / system / name
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(m))

    put("conll03-ener", "conll03-oov-honest-tiny-llm-replace", _link_metrics("honest", 0.7, 0.69, ci=(-0.03, 0.01)),
        "replace", "none")
    put("conll03-ener", "conll03-oov-honest-tiny-llm-nocand", _link_metrics("honest", 0.7, 0.73, ci=(0.0, 0.06)),
        "fuse", "none")
    put("conll03-ener", "conll03-oov-honest-tiny-llm-letters", _link_metrics("honest", 0.7, 0.71, ci=(-0.01, 0.03)),
        "fuse", "all", option_keys="letters")
    put("conll03-ener-6ep", "conll03-honest-tiny-llm-replace", _link_metrics("honest", 0.8, 0.8), "replace", "none")
    rows = L.ablation(results)["rows"]
    assert [(r["system"], r["evalset"], r["variant"]) for r in rows] == [
        ("conll03-ener", "conll03-oov", "default"), ("conll03-ener", "conll03-oov", "letters"),
        ("conll03-ener", "conll03-oov", "nocand"),
        ("conll03-ener", "conll03-oov", "replace")]  # the 6ep run has no default beside it: no group
    assert [r["delta_f1_ci95"] for r in rows] == [[0.01, 0.07], [-0.01, 0.03], [0.0, 0.06], [-0.03, 0.01]]
    # a fused run that recorded no option_keys was made before word keys: it asked with letters
    assert [r["option_keys"] for r in rows[1:]] == ["letters", "letters", None]
    table = T.ablation_table({"rows": rows})
    assert table.loc[("conll03-oov", "E-NER (conll03)", "replace"), "ΔF1 95 % CI"] == [-3.0, 1.0]
    assert table.loc[("conll03-oov", "E-NER (conll03)", "letters"), "keys"] == "letters"
    li = L.linking(results)  # the tagged generation's main runs are rows of their own system
    assert not any(r["system"] == "conll03-ener-6ep" for r in li["rows"])  # (it has only a -replace variant here)
    from linkner.studies.layout import link_runs, split_system, system_label

    tagged = next(r for r in link_runs(results) if r["system"] == "conll03-ener-6ep")
    assert (tagged["train"], tagged["model"], tagged["tag"]) == ("conll03", "ener", "6ep") == split_system("conll03-ener-6ep")
    assert system_label("conll03-ener-6ep") == "E-NER 6ep (conll03)" and system_label("wnut17-spanner") == "SpanNER (wnut17)"


def test_ablation_rows_carry_a_paired_interval_against_the_default_run(results):
    """A variant and the default that linked the same predictions are compared with each other, paired over
    the same sentences, from the per-sentence counts their metrics.json recorded; a run without the counts gets
    none, and a run of other predictions is an error."""
    from linkner.metrics import counts_record, paired_bootstrap, sentence_counts

    rng = np.random.default_rng(0)
    gold = [{(i, i + 1, "PER")} for i in range(40)]
    local = [g if rng.random() < 0.7 else set() for g in gold]
    default = [g if rng.random() < 0.85 else set() for g in gold]
    variant = [g if rng.random() < 0.75 else {(0, 9, "ORG")} for g in gold]

    def put(name: str, linked: list, base: list = local, counts: bool = True, seed: int = 13, system="wnut17-ener"):
        m = _link_metrics("honest", 0.7, 0.72, ci=(-0.01, 0.05))
        m["config"].update(decision="fuse", candidates="none", option_keys="words")
        m["predictions"] = "runs/preds/wnut17-ener/wnut17.test.jsonl"
        m["scores"]["bootstrap"]["seed"] = seed
        if counts:
            m["scores"]["per_sentence"] = counts_record(sentence_counts(gold, base), sentence_counts(gold, linked))
        d = results / "link" / system / name
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(m))
        return d

    put("wnut17-honest-tiny-llm", default)
    put("wnut17-honest-tiny-llm-letters", variant, seed=99)  # the draws follow the default run's seed
    put("wnut17-honest-tiny-llm-replace", variant, counts=False)  # made before the counts were recorded
    put("wnut17-honest-tiny-llm-letters", variant, system="wnut17-spanner")  # no default beside it
    rows = {r["variant"]: r for r in L.ablation(results)["rows"] if r["system"] == "wnut17-ener"}
    want = paired_bootstrap(gold, default, variant, 1000, 13)
    assert rows["default"]["vs_default"] is None
    assert rows["letters"]["vs_default"]["delta_f1"] == want.delta_f1
    assert rows["letters"]["vs_default"]["ci95"] == list(want.delta_f1_ci95)
    assert rows["replace"]["vs_default"] is None
    assert not any(r["system"] == "wnut17-spanner" for r in L.ablation(results)["rows"])
    table = T.ablation_table({"rows": list(rows.values())})
    assert table.loc[("wnut17", "E-NER (wnut17)", "letters"), "vs default 95 % CI"] == [
        round(100 * x, 2) for x in want.delta_f1_ci95]
    from linkner.studies.readme import render

    line = next(x for x in render(results).splitlines() if x.startswith("| wnut17 |") and "| letters |" in x)
    assert line.rstrip(" |").endswith(f"{100 * want.delta_f1:+.2f} [{100 * want.delta_f1_ci95[0]:+.2f}, "
                                      f"{100 * want.delta_f1_ci95[1]:+.2f}]")
    # a variant that linked other local predictions is a broken tree: an error naming both runs, not a "–"
    put("wnut17-honest-tiny-llm-nocand", variant, base=default)
    with pytest.raises(DataError, match="did not link the same local predictions"):
        L.ablation(results)


def test_shared_sentences_counts_routed_spans_after_a_sentences_first(tmp_path, monkeypatch):
    """Kept, rejected and candidate spans marked routed count once each; only main honest runs count."""
    run = tmp_path / "link" / "sys" / "run"
    run.mkdir(parents=True)
    r = {"routed": True}
    sents = [{"entities": [{"start": 0, "end": 1, **r}, {"start": 2, "end": 3, "routed": False}],
              "rejected": [{"start": 4, "end": 5, **r}], "candidates": [{"start": 0, "end": 1, **r}, {"start": 6, "end": 8, **r}]},
             {"entities": [{"start": 1, "end": 2, **r}]}, {"entities": []}]
    (run / "linked.jsonl").write_text("\n".join(json.dumps(s) for s in sents) + "\n")
    rec = {"key": "sys/run", "evalset": "x", "main": True, "protocol": "honest"}
    monkeypatch.setattr(L, "link_runs", lambda root: [rec, {**rec, "main": False}, {**rec, "protocol": "paper"}])
    out = L.shared_sentences(tmp_path)
    # sentence 1: (0,1) kept and also listed as a candidate, (4,5) rejected, (6,8) a candidate: 3 routed, 2 after the first
    assert out["runs"] == [{"key": "sys/run", "evalset": "x", "routed": 4, "after_first_in_sentence": 2}]
    assert out["fraction"] == 0.5 and out["missing"] == []
    assert L.run_shared_sentences(tmp_path)["numbers"] == out
    # without any linked.jsonl (a fresh clone) the run is listed as missing and the written file is kept
    (run / "linked.jsonl").unlink()
    assert L.shared_sentences(tmp_path)["missing"] == ["sys/run"]
    assert L.run_shared_sentences(tmp_path) is None
    assert json.loads((tmp_path / "cost" / "shared_sentences.json").read_text())["numbers"] == out


def test_shared_sentences_agree_with_each_committed_runs_routed_count():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "results"
    out = json.loads((root / "cost" / "shared_sentences.json").read_text())["numbers"]
    main = {r["key"] for r in L.link_runs(root) if r["main"] and r["protocol"] == "honest"}
    assert {r["key"] for r in out["runs"]} | set(out["missing"]) == main  # every main honest run, counted or listed
    assert out["runs"]
    for row in out["runs"]:
        metrics = json.loads((root / "link" / row["key"] / "metrics.json").read_text())
        assert row["routed"] == metrics["routing"]["routed"], row
