"""The run list accounts for every committed result, and what is derived from results/ is up to date.

* every file under ``results/`` belongs to a run-list entry or a listed command, and every entry's
  files are there;
* each entry's settings are the ones its committed files record (so the notebooks' ``RERUN``, which
  executes the list, reproduces what is committed rather than a variant of it);
* the studies, the README's result blocks and the figures' plotted numbers recomputed from
  ``results/`` equal the committed ones (a stale ``studies/cost.json`` fails here).
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from linkner.studies.layout import system_name
from linkner.studies.runlist import COMMANDS, LINKS, SYSTEMS, UNCERTAINTY

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _committed() -> list[str]:
    out = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = out.split()
    if not files:
        pytest.skip("not a git checkout")
    return [f for f in files if (ROOT / f).exists()]  # a file deleted in the work tree is not committed any more


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_committed_result_belongs_to_the_run_list():
    owned = []
    for f in _committed():
        parts = f.split("/")
        if parts[1] == "local" and any(s.name == parts[2] for s in SYSTEMS):
            continue
        if parts[1] == "link" and any(r.system == parts[2] and r.folder == parts[3] for r in LINKS):
            continue
        if any(fnmatch.fnmatch(f, g) for c in COMMANDS for g in c.paths):
            continue
        owned.append(f)
    assert owned == [], "results files no run-list entry accounts for"


def test_every_run_list_entry_has_its_committed_files():
    missing = [s.name for s in SYSTEMS if not (RESULTS / "local" / s.name / "train.json").is_file()]
    missing += [r.name for r in LINKS if not (RESULTS / "link" / r.system / r.folder / "metrics.json").is_file()]
    assert missing == []
    assert len({r.name for r in LINKS}) == len(LINKS), "two entries for one folder"


@pytest.mark.parametrize("run", SYSTEMS, ids=lambda s: s.name)
def test_system_entries_match_what_their_files_record(run):
    train = _load(RESULTS / "local" / run.name / "train.json")["config"]
    expect = {"data": run.train, "epochs": run.epochs, "lr": run.lr, "head_lr": run.head_lr, "batch_size": run.batch_size,
              "patience": run.patience, "seed": run.seed, "threads": run.threads}
    assert {k: train["train"][k] for k in expect} == expect
    assert train["model"]["loss"] == {"ener": "edl", "spanner": "ce"}[run.model]
    assert train["model"]["encoder"] == "minilm"
    from linkner.studies.layout import EVALSETS

    for ev in EVALSETS[run.train]:
        m = _load(RESULTS / "local" / run.name / f"{ev}.json")
        assert m["mc_samples"] == run.mc_samples
        assert m.get("mc_seed") in (None, run.mc_seed)  # None: written before MC dropout was seeded


@pytest.mark.parametrize("run", LINKS, ids=lambda r: r.name)
def test_link_entries_match_what_their_files_record(run):
    m = _load(RESULTS / "link" / run.system / run.folder / "metrics.json")
    cfg, llm = m["config"], m["config"]["llm"]
    # a tagged (superseded) generation was made before tags existed, under the system's plain name
    made_as = system_name(run.train, run.model) if run.tag and run.produced_by else run.system
    assert m["predictions"] == f"runs/preds/{made_as}/{run.evalset}.test.jsonl"
    assert cfg["dev_predictions"] == (None if run.sweep else f"runs/preds/{made_as}/dev.jsonl")
    got = {"threshold": cfg["threshold"], "uncertainty": cfg["uncertainty"], "protocol": cfg["protocol"],
           "max_calls": cfg["max_calls"], "max_routed": cfg["max_routed"], "shots": cfg["shots"],
           "retrieve": cfg["retrieve"], "llm": llm["model"], "llm_threads": llm["n_threads"], "n_ctx": llm["n_ctx"]}
    want = {"threshold": run.threshold, "uncertainty": UNCERTAINTY[run.model], "protocol": run.protocol,
            "max_calls": run.max_calls, "max_routed": run.max_routed, "shots": run.shots, "retrieve": run.retrieve,
            "llm": run.llm, "llm_threads": run.llm_threads, "n_ctx": run.n_ctx}
    assert got == want
    if cfg.get("cache") is not None:  # (the earliest runs did not record it)
        assert cfg["cache"] == f"results/{run.cache or 'llm-answers.jsonl'}"
    if run.cache:  # a re-asked run says which llama.cpp kernels answered it
        assert "AVX512" in m["machine"]["llama_cpp_kernels"], m["machine"]
    if "decision" in cfg:  # made by today's pipeline: every setting is recorded
        assert (cfg["decision"], cfg["candidates"]) == (run.decision, run.candidates)
        if cfg["decision"] == "fuse":  # fused runs made before word keys recorded none: they asked with letters
            assert cfg.get("option_keys", "letters") == run.option_keys
        if not run.sweep:
            assert cfg["tune_max_calls"] == run.tune_max_calls
    else:  # made before the fused decision: the list says which commit, and the rule it used
        assert run.produced_by and (run.decision, run.candidates) == ("replace", "none")


def test_full_profile_executes_the_run_list():
    from linkner.studies.runs import FULL, profile_runs

    systems, main, sweep = profile_runs(FULL)
    assert systems == SYSTEMS and sorted(r.name for r in main + sweep) == sorted(r.name for r in LINKS)
    assert all(r.sweep for r in sweep) and not any(r.sweep for r in main)


@pytest.fixture(scope="module")
def recomputed(tmp_path_factory) -> Path:
    """A copy of the committed results/ with every study recomputed from it."""
    from linkner.studies.runs import recompute_studies

    root = tmp_path_factory.mktemp("recomputed") / "results"
    shutil.copytree(RESULTS, root, ignore=shutil.ignore_patterns("llm-answers.jsonl", "linked.jsonl"))
    recompute_studies(root)
    return root


@pytest.mark.parametrize("study", sorted(p.stem for p in (RESULTS / "studies").glob("*.json")))
def test_committed_studies_equal_their_recomputation(recomputed, study):
    committed = _load(RESULTS / "studies" / f"{study}.json")
    again = _load(recomputed / "studies" / f"{study}.json")
    assert again["numbers"] == committed["numbers"], f"results/studies/{study}.json is stale: python -m linkner.studies.runs studies"


def test_readme_result_blocks_equal_their_rendering():
    from linkner.studies import readme

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for start, end, body in ((readme.START, readme.END, readme.render(RESULTS)),
                             (readme.SMALL_START, readme.SMALL_END, readme.render_small_data(RESULTS))):
        block = text.split(start, 1)[1].split(end, 1)[0]
        assert block == "\n" + body, f"README block {start} is stale: python -m linkner.studies.readme --write"


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "figures").glob("*.json")))
def test_committed_figures_plot_the_committed_numbers(name, tmp_path):
    from linkner.studies.figures import make_figure

    made = make_figure(name, RESULTS, tmp_path)
    plotted = next(p for p in made if p.suffix == ".json")
    assert _load(plotted) == _load(ROOT / "figures" / f"{name}.json"), f"figures/{name} is stale: linkner figures"
