"""What every result file records about how it was made: versions, machine, time, command.

Results are only worth committing if a reader can tell which code, libraries and hardware produced
them; :func:`run_info` collects that once so every experiment writes the same block.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

VERSION = "0.1.0"  # linkner's version (pyproject.toml's [project] version says the same; a test checks)

PACKAGES = ("linkner", "torch", "transformers", "tokenizers", "numpy", "llama-cpp-python", "openai", "ollama",
            "scikit-learn", "matplotlib")


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[1]
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def versions(packages: tuple[str, ...] = PACKAGES) -> dict:
    """Python's version and those of the installed ``packages`` (absent ones are left out)."""
    return {"python": platform.python_version(), **{p: v for p in packages if (v := _version(p))}}


def llama_cpp_kernels() -> list[str] | None:
    """What the loaded llama.cpp build reports for its CPU backend: its vector kernels (``AVX2``,
    ``AVX512``, …) and build switches (``OPENMP``, ``REPACK``), those that are on; ``None`` where this
    process has not imported ``llama_cpp`` (it is not imported just to ask).

    What a wheel was built with depends on the CPU it was built on (noxfile: ``llama_cmake``), and the
    same version answers at a different speed with other kernels (``results/bench/llama-build/``), so a
    timing without it cannot be compared."""
    llama_cpp = sys.modules.get("llama_cpp")
    if llama_cpp is None:
        return None
    try:
        info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    except Exception:  # an old or broken binding: the record goes without it
        return None
    if "CPU :" not in info:
        return None
    out = []
    for i, piece in enumerate(info.split("CPU :", 1)[1].split("|")):
        if i and ":" in piece:  # the next backend's section ("Metal : …") starts here
            break
        name, _, value = piece.partition("=")
        if value.strip() == "1" and name.strip():
            out.append(name.strip())
    return out


def machine() -> dict:
    """The machine; torch's thread count and llama.cpp's kernels where the process imported them."""
    out = {"platform": platform.platform(), "processor": platform.machine(), "cpu": cpu_model(), "cpu_count": os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
    kernels = llama_cpp_kernels()
    if kernels is not None:
        out["llama_cpp_kernels"] = kernels
    return out


def environment(packages: tuple[str, ...] = PACKAGES) -> dict:
    """``{"versions", "machine"}``: the one provenance block every result file carries (training metrics,
    evaluation and linking metrics, studies, benchmarks)."""
    return {"versions": versions(packages), "machine": machine()}


def run_info() -> dict:
    """Versions, machine, time, command and commit of this run (JSON-ready)."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        **environment(),
    }
