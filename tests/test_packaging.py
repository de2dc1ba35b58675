"""environment.yml (for conda users) must list the same packages as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda package name → PyPI name


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_name(r) for r in dep["pip"] if not r.startswith("-e")}
        elif _name(dep) not in ("python", "pip"):
            listed.add(CONDA_NAMES.get(_name(dep), _name(dep)))
    assert listed == wanted


def test_cli_package_is_not_a_top_level_cli():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert cfg["tool"]["setuptools"]["package-dir"] == {"linkner_cli": "cli"}
    assert cfg["project"]["scripts"]["linkner"] == "linkner_cli.app:main"


def _noxfile():
    import importlib.util

    spec = importlib.util.spec_from_file_location("linkner_noxfile", ROOT / "noxfile.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


XEON_AMX = ("processor\t: 0\nflags\t\t: fpu sse2 sse4_2 avx avx2 fma f16c bmi2 avx512f avx512dq avx512cd avx512bw "
            "avx512vl avx512vbmi avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16\nmodel name\t: x\n")


def test_llama_kernels_follow_the_cpu_and_never_amx():
    """The llama.cpp wheel is built with the kernels this CPU has and no other: AVX-512 ones only where
    every base AVX-512 flag is there, SSE4.2 and BMI2 only where present (ggml turns them on by default),
    the old fixed set where an x86 CPU cannot be read; AMX always off (the native build adds AMX kernels
    that crash in VMs without AMX state); off x86 the native build, which has no AMX to avoid."""
    nf = _noxfile()
    assert nf.cpu_flags(XEON_AMX) >= {"avx512f", "avx512_vnni", "amx_tile"}
    full = nf.llama_kernels(nf.cpu_flags(XEON_AMX))
    assert full == ("SSE42", "AVX", "AVX2", "BMI2", "FMA", "F16C", "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16")
    base = {"sse4_2", "avx", "avx2", "bmi2", "fma", "f16c"}
    # avx512f without the rest of the base set (or a VNNI flag alone) builds no AVX-512 kernel
    assert nf.llama_kernels(base | {"avx512f", "avx512_vnni"}) == nf.DEFAULT_KERNELS
    assert nf.llama_kernels(base | {"avx_vnni"}) == (*nf.DEFAULT_KERNELS, "AVX_VNNI")
    assert nf.llama_kernels({"sse4_2", "avx"}) == ("SSE42", "AVX")  # an AVX-only CPU: no BMI2, no AVX2
    assert nf.llama_kernels(set()) == nf.DEFAULT_KERNELS
    assert nf.cpu_flags("Features\t: fp asimd\n") == set()  # an ARM cpuinfo has no x86 flags
    args = dict(a.split("=") for a in nf.llama_cmake(full).split())
    assert args["-DGGML_NATIVE"] == "OFF" and args["-DGGML_AVX512_VNNI"] == "ON" and args["-DGGML_AVX_VNNI"] == "OFF"
    assert {args[f"-DGGML_{k}"] for k in ("AMX_TILE", "AMX_INT8", "AMX_BF16")} == {"OFF"}
    old = dict(a.split("=") for a in nf.llama_cmake(nf.DEFAULT_KERNELS).split())
    assert old["-DGGML_AVX2"] == old["-DGGML_BMI2"] == "ON" and old["-DGGML_AVX512"] == old["-DGGML_AVX512_BF16"] == "OFF"
    avx_only = dict(a.split("=") for a in nf.llama_cmake(("SSE42", "AVX")).split())
    assert avx_only["-DGGML_BMI2"] == avx_only["-DGGML_AVX2"] == avx_only["-DGGML_FMA"] == "OFF"
    # off x86: no kernel switches at all (llama.cpp's native build)
    assert "GGML" not in nf.llama_cmake(None)
    assert nf.is_x86("x86_64") and nf.is_x86("AMD64") and not nf.is_x86("aarch64") and not nf.is_x86("arm64")
