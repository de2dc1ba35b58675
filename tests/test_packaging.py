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


ZEN4 = ("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma f16c bmi2 avx512f avx512dq avx512cd avx512bw avx512vl "
        "avx512vbmi avx512_vnni avx512_bf16 amx_tile amx_int8\nmodel name\t: x\n")


def test_llama_kernels_follow_the_cpu_and_never_amx():
    """The llama.cpp wheel is built with the kernels this CPU has: AVX-512 ones only where every base
    AVX-512 flag is there, AVX2 alone otherwise, the old fixed set where the CPU cannot be read; never
    native (the native build adds AMX kernels that crash in VMs without AMX state)."""
    nf = _noxfile()
    assert nf.cpu_flags(ZEN4) >= {"avx512f", "avx512_vnni", "amx_tile"}
    full = nf.llama_kernels(nf.cpu_flags(ZEN4))
    assert full == ("AVX", "AVX2", "FMA", "F16C", "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16")
    # avx512f without the rest of the base set (or a VNNI flag alone) builds no AVX-512 kernel
    assert nf.llama_kernels({"avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni"}) == ("AVX", "AVX2", "FMA", "F16C")
    assert nf.llama_kernels({"sse2", "avx"}) == ("AVX",)
    assert nf.llama_kernels(set()) == nf.DEFAULT_KERNELS == ("AVX", "AVX2", "FMA", "F16C")
    assert nf.cpu_flags("Features\t: fp asimd\n") == set()  # an ARM cpuinfo: nothing x86 is claimed
    args = nf.llama_cmake(full).split()
    assert "-DGGML_NATIVE=OFF" in args and "-DGGML_AVX512_VNNI=ON" in args
    assert not any("AMX" in a for a in args)
    only_avx2 = nf.llama_cmake(nf.DEFAULT_KERNELS).split()
    assert "-DGGML_AVX2=ON" in only_avx2 and "-DGGML_AVX512=OFF" in only_avx2 and "-DGGML_AVX512_BF16=OFF" in only_avx2
