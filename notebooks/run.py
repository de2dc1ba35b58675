"""Execute the numbered notebooks headless (nbclient), with a chosen profile, failing on any error.

    python notebooks/run.py                 # every notebook, smoke profile
    python notebooks/run.py --profile full 01_data.ipynb

The first code cell of each notebook is its parameter cell (``PROFILE = "smoke"``); this script
rewrites that one assignment, runs the notebook in a scratch copy and never writes outputs back
into the committed file (notebooks are stored without outputs; figures are files).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent


def run(path: Path, profile: str, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    if "PROFILE" not in cell.source:
        raise SystemExit(f"{path.name}: first code cell must set PROFILE")
    cell.source = re.sub(r'PROFILE\s*=\s*"[a-z]+"', f'PROFILE = "{profile}"', cell.source)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE.parent)}}).execute()
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", help="notebook file names (default: all numbered ones)")
    ap.add_argument("--profile", default="smoke", choices=["smoke", "full"])
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    args = ap.parse_args()
    paths = [HERE / n for n in args.notebooks] or sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    for p in paths:
        seconds = run(p, args.profile, args.timeout)
        print(f"ok  {p.name}  ({args.profile}, {seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
