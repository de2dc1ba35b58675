"""Checkpoint folders: everything needed to run a trained span model anywhere, offline.

Layout::

    DIR/model.safetensors    span head + encoder weights (the whole SpanModel state dict)
    DIR/config.json          resolved ModelConfig + TrainConfig (linkner.configio)
    DIR/labels.json          label schema, "O" first (index order = output order)
    DIR/encoder/             encoder config.json + tokenizer files (no weights: they are above)
    DIR/calibration.json     optional: {"temperature": T} fitted on dev
    DIR/train_log.jsonl      per epoch: loss, dev P/R/F1, seconds (written by training)

The encoder architecture is rebuilt from ``encoder/config.json`` with random weights, then the state
dict is loaded, so loading needs neither the original encoder package nor the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from linkner.configio import from_dict, save_config
from linkner.errors import ModelError
from linkner.models.config import RunConfig

WEIGHTS = "model.safetensors"


def save_checkpoint(path: str | Path, model: Any, tokenizer: Any, run: RunConfig, labels: list[str],
                    temperature: float | None = None) -> Path:
    from safetensors.torch import save_file

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(out / WEIGHTS), metadata={"format": "pt", "linkner": "span-model"})
    save_config(run, out / "config.json")
    (out / "labels.json").write_text(json.dumps(labels, ensure_ascii=False) + "\n", encoding="utf-8")
    enc_dir = out / "encoder"
    enc_dir.mkdir(exist_ok=True)
    model.encoder.config.save_pretrained(str(enc_dir))
    tokenizer.save_pretrained(str(enc_dir))
    if temperature is not None:
        write_temperature(out, temperature)
    return out


def write_temperature(path: str | Path, temperature: float) -> None:
    """Store a fitted temperature; written whole or not at all (a torn file would break every later load)."""
    from linkner.outputs import atomic_output

    with atomic_output(Path(path) / "calibration.json") as tmp:
        tmp.write_text(json.dumps({"temperature": float(temperature)}) + "\n", encoding="utf-8")


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path.parent} is not a LinkNER checkpoint: {path.name} ({what}) is missing") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"checkpoint file {path} is unreadable ({exc})") from None


def checkpoint_labels(path: str | Path) -> list[str]:
    """The label schema of a checkpoint ("O" first), read without loading the model: cheap enough to
    compare with the data before any weights are touched."""
    root = Path(path)
    if not root.is_dir():
        raise ModelError(f"checkpoint {root} is not a folder (expected a folder written by 'linkner train')")
    labels = read_json(root / "labels.json", "the label schema")
    if (not isinstance(labels, list) or not labels or labels[0] != "O"
            or not all(isinstance(x, str) and x for x in labels) or len(set(labels)) != len(labels)):
        raise ModelError(f"{root / 'labels.json'} must be a list of distinct label names starting with 'O'")
    return labels


def _check_shapes(root: Path, model: Any, state: dict, labels: list[str]) -> None:
    """Weights whose shapes differ from the model built from config.json and labels.json: a ModelError
    that says which file disagrees (torch's own error is a multi-line RuntimeError)."""
    expected = model.state_dict()
    wrong = [(k, tuple(v.shape), tuple(expected[k].shape)) for k, v in state.items()
             if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    if not wrong:
        return
    for key, got, want in wrong:
        # the head's output layer has one row per label: a mismatch there is labels.json disagreeing
        if key.startswith("head.") and len(want) >= 1 and want[0] == len(labels) and got[0] != len(labels):
            raise ModelError(
                f"{root / 'labels.json'} lists {len(labels)} labels (O included) but the weights in "
                f"{root / WEIGHTS} were trained for {got[0]}; the checkpoint's files do not belong together"
            )
    key, got, want = wrong[0]
    raise ModelError(f"{root / WEIGHTS} does not fit {root / 'config.json'}: {key} has shape {list(got)}, "
                     f"the config gives {list(want)} ({len(wrong)} tensor(s) differ)")


def load_checkpoint(path: str | Path, device: str = "cpu") -> tuple[Any, Any, RunConfig, list[str], float]:
    """``(model, tokenizer, run_config, labels, temperature)``; the model is in eval mode."""
    import torch
    from safetensors.torch import load_file

    from linkner.models.encoders import load_config, load_tokenizer
    from linkner.models.span_model import SpanModel

    root = Path(path)
    if not root.is_dir():
        raise ModelError(f"checkpoint {root} is not a folder (expected a folder written by 'linkner train')")
    run = from_dict(RunConfig, read_json(root / "config.json", "the run configuration"), str(root / "config.json"))
    labels = checkpoint_labels(root)
    if not (root / WEIGHTS).is_file():
        raise ModelError(f"{root} is not a LinkNER checkpoint: {WEIGHTS} is missing")
    enc_dir = root / "encoder"
    if not (enc_dir / "config.json").is_file():
        raise ModelError(f"{root} is not a LinkNER checkpoint: encoder/config.json is missing")
    tokenizer = load_tokenizer(str(enc_dir))
    config = load_config(str(enc_dir))
    from transformers import AutoModel

    encoder = AutoModel.from_config(config)
    model = SpanModel(encoder, run.model, len(labels))
    try:
        state = load_file(str(root / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelError(f"{root / WEIGHTS} is unreadable ({exc})") from None
    _check_shapes(root, model, state, labels)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Buffers such as position_ids may legitimately be absent; real parameters may not.
    missing = [m for m in missing if not m.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ModelError(
            f"{root / WEIGHTS} does not fit its config: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    temperature = 1.0
    if (root / "calibration.json").is_file():
        cal = read_json(root / "calibration.json", "the calibration")
        t = cal.get("temperature", 1.0) if isinstance(cal, dict) else None
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise ModelError(f"{root / 'calibration.json'} must hold {{\"temperature\": a positive number}}")
        temperature = float(t)
    model.to(torch.device(device)).eval()
    return model, tokenizer, run, labels, temperature
