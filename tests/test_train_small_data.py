"""Training on small data: the planned schedule, patience that waits for a non-zero dev F1, and a
run that never leaves dev F1 0 failing loudly (exit 2) unless ``--allow-zero``."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from linkner.models.schedule import BASE_EPOCHS, HEAD_LR, LR, SMALL_DATA_SENTENCES, SMALL_HEAD_LR, SMALL_LR, plan

runner = CliRunner()


# ---------------------------------------------------------------- schedule arithmetic (unit)
def test_small_set_gets_min_steps_and_small_data_rates():
    s = plan(200, 32, min_steps=600, epoch_cap=100)
    assert s.steps_per_epoch == math.ceil(200 / 32)
    assert s.epochs == math.ceil(600 / s.steps_per_epoch) > BASE_EPOCHS
    assert s.total_steps == s.epochs * s.steps_per_epoch >= 600
    assert s.warmup_steps == int(0.1 * s.total_steps)  # a fraction: tiny runs are not all warm-up
    assert (s.lr, s.head_lr) == (SMALL_LR, SMALL_HEAD_LR)
    assert "min_steps" in s.reasons["epochs"] and "by size" in s.reasons["lr"]


def test_conll_sized_set_keeps_todays_schedule():
    s = plan(14041, 32, min_steps=600)
    assert s.epochs == BASE_EPOCHS and s.eval_every == 1 and (s.lr, s.head_lr) == (LR, HEAD_LR)
    assert s.total_steps == BASE_EPOCHS * math.ceil(14041 / 32)


def test_explicit_values_win_and_cap_binds():
    s = plan(200, 32, epochs=3, min_steps=600, lr=5e-5, head_lr=5e-4)
    assert (s.epochs, s.lr, s.head_lr, s.eval_every) == (3, 5e-5, 5e-4, 1)
    assert s.reasons["epochs"] == "set explicitly" and s.reasons["lr"] == "set explicitly"
    capped = plan(10, 32, min_steps=10_000, epoch_cap=40)
    assert capped.epochs == 40 and "capped" in capped.reasons["epochs"]
    mixed = plan(SMALL_DATA_SENTENCES, 32, lr=1e-5)  # head rate still chosen by size (large here)
    assert (mixed.lr, mixed.head_lr) == (1e-5, HEAD_LR)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 50_000), bs=st.integers(1, 128), min_steps=st.integers(0, 5000), cap=st.integers(1, 300),
       evals=st.integers(1, 60), warm=st.floats(0, 0.99))
def test_schedule_invariants(n, bs, min_steps, cap, evals, warm):
    s = plan(n, bs, None, min_steps, cap, warm, evals)
    assert s.steps_per_epoch == math.ceil(n / bs)
    assert BASE_EPOCHS <= s.epochs <= max(BASE_EPOCHS, cap)
    assert s.total_steps >= min(min_steps, cap * s.steps_per_epoch)  # min_steps reached unless the cap binds
    assert s.epochs == max(BASE_EPOCHS, min(cap, math.ceil(min_steps / s.steps_per_epoch)))
    assert 0 <= s.warmup_steps < max(1, s.total_steps)
    scored = [e for e in range(1, s.epochs + 1) if s.scores_dev_after(e)]
    assert scored[-1] == s.epochs and len(scored) <= evals + 1


# ---------------------------------------------------------------- tiny real runs
TRAIN = "Peter B-PER\nBlackburn I-PER\nvisited O\nParis B-LOC\n. O\n\nEU B-ORG\nrejects O\nGerman B-MISC\ncall O\n"
# Dev's only gold entity is 6 words long, beyond the model's longest span (5): no prediction can match it,
# so dev F1 is 0 by construction, with labels the model does know (the CLI's preflight checks those).
DEV_ZERO = "Peter B-PER\nPaul I-PER\nMary I-PER\nJohn I-PER\nGeorge I-PER\nRingo I-PER\nvisited O\nParis O\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from linkner.models.encoders import make_tiny_encoder

    root = tmp_path_factory.mktemp("small")
    (root / "train.txt").write_text(TRAIN, encoding="utf-8")
    (root / "dev.txt").write_text(DEV_ZERO, encoding="utf-8")
    return root, make_tiny_encoder(root / "enc")


def test_patience_does_not_count_while_dev_f1_is_zero(files):
    from linkner.models.config import ModelConfig, RunConfig, TrainConfig
    from linkner.models.train import train

    root, enc = files
    run = RunConfig(ModelConfig(encoder=str(enc), loss="edl"),
                    TrainConfig(data=str(root / "train.txt"), dev_split=str(root / "dev.txt"), epochs=6, patience=1,
                                batch_size=2, out=str(root / "lib"), progress=False))
    m = train(run)
    assert m["epochs_run"] == 6 and not m["early_stopped"]  # patience 1 would have stopped after epoch 2
    assert m["zero_f1"] and m["best_dev_f1"] == 0.0 and m["dev_gold_entities"] == 1
    saved = json.loads((root / "lib" / "train_metrics.json").read_text())
    assert saved["schedule"]["epochs"] == 6 and saved["schedule"]["reasons"]["epochs"] == "set explicitly"
    assert (root / "lib" / "model.safetensors").is_file()  # the zero-F1 checkpoint is still written


def _train_cli(root, enc, out, *extra):
    from linkner_cli.app import app

    return runner.invoke(app, ["train", "--data", str(root / "train.txt"), "--dev", str(root / "dev.txt"), "--model", "ener",
                               "--encoder", str(enc), "--out", str(out), "--epochs", "1", "--no-progress", *extra])


def test_cli_zero_f1_exits_2_with_advice_and_keeps_checkpoint(files):
    root, enc = files
    res = _train_cli(root, enc, root / "cli-zero")
    assert res.exit_code == 2, res.output
    text = " ".join(res.output.split())
    assert "error: dev F1 stayed 0.0000" in text and "--allow-zero" in text and "--min-steps" in text
    assert str(root / "cli-zero") in res.output  # says where the checkpoint is
    assert "Traceback" not in res.output
    assert (root / "cli-zero" / "model.safetensors").is_file()


def test_cli_allow_zero_exits_0_with_warning(files):
    root, enc = files
    res = _train_cli(root, enc, root / "cli-allow", "--allow-zero")
    assert res.exit_code == 0, res.output
    assert "dev F1 stayed 0.0000" in " ".join(res.output.split())


def test_cli_dev_without_entities_says_so(files, tmp_path):
    root, enc = files
    (tmp_path / "dev.txt").write_text("Nothing O\nhere O\n. O\n", encoding="utf-8")
    (tmp_path / "train.txt").write_text(TRAIN, encoding="utf-8")
    res = _train_cli(tmp_path, enc, tmp_path / "m")
    assert res.exit_code == 2 and "no gold entities" in " ".join(res.output.split())


def test_advice_names_unseen_dev_labels():
    from linkner.models.train import zero_f1_advice

    msg = zero_f1_advice({"dev_gold_entities": 3, "dev_labels_unseen_in_train": ["drug"], "epochs_run": 2,
                          "train_sentences": 10, "out": "runs/x", "schedule": {"steps_per_epoch": 1, "lr": 1e-4, "head_lr": 1e-3}})
    assert "drug" in msg and "same label names" in msg and "runs/x" in msg and "\n" not in msg


# ---------------------------------------------------------------- benchmark summary → README table
def test_small_data_table_is_generated_from_summary(tmp_path):
    from linkner.studies.readme import SMALL_END, SMALL_START, render_small_data, write
    from linkner.studies.small_data import compare

    rows = [{"dataset": "wnut17", "train_sentences": 200, "system": "linkner", "test_f1": 0.31, "best_dev_f1": 0.4,
             "epochs_run": 40, "planned_epochs": 86, "steps_per_epoch": 7, "lr": 1e-4, "head_lr": 1e-3},
            {"dataset": "wnut17", "train_sentences": 200, "system": "hf", "test_f1": 0.25, "best_dev_f1": 0.3,
             "epochs_run": 30, "planned_epochs": 86, "steps_per_epoch": 7, "lr": 1e-4, "head_lr": 1e-4}]
    cmp = compare(rows)
    assert len(cmp) == 1 and cmp[0]["linkner_at_least_hf"] and abs(cmp[0]["delta_f1"] - 0.06) < 1e-12
    (tmp_path / "small_data").mkdir()
    (tmp_path / "small_data" / "summary.json").write_text(json.dumps(
        {"config": {"seed": 7, "dev_sentences": 300}, "rows": rows, "seeds": 1}), encoding="utf-8")
    table = render_small_data(tmp_path)
    line = next(x for x in table.splitlines() if x.startswith("| wnut17"))
    assert "| 31.00 | 25.00 | 6.00 |" in line and "40/86 × 7" in line and "300-sentence dev" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"a\n<!-- results:start -->\nold\n<!-- results:end -->\n{SMALL_START}\nstale\n{SMALL_END}\nz\n")
    write(readme, tmp_path)
    text = readme.read_text()
    assert "stale" not in text and "| 31.00 | 25.00 |" in text and text.endswith(f"{SMALL_END}\nz\n")
