"""From a folder of test predictions to the per-system uncertainty extras committed under ``results/local``.

    python -m linkner.studies.ood PRED_DIR OUT/ood_auroc.json

``PRED_DIR`` is one system's prediction folder (``runs/preds/{train}-{model}``) holding
``{test set}.test.jsonl`` files with gold meta (``linkner infer --data … --out …``). Writes, beside OUT:

* ``ood_auroc.json``: ``{"numbers": {method: {shifted set: auroc}}}`` (E-NER's population, method notes
  §8.2), when the in-domain set and at least one shifted set are present (the CoNLL-2003 family);
* ``risk_coverage.json``: ``{"numbers": {test set: {method: {coverage, risk, aurc}}}}`` for every test set,
  so the risk–coverage figure can be redrawn from ``results/`` without the (large, uncommitted) predictions.

A folder without shifted sets (WNUT-17) gets only the curves; nothing here exits non-zero for a set that
has not been predicted yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

from linkner.data.predictions import model_info
from linkner.studies.layout import METHODS, SHIFTED

SUFFIX = ".test.jsonl"


def test_files(pred_dir: str | Path) -> dict[str, Path]:
    return {p.name[: -len(SUFFIX)]: p for p in sorted(Path(pred_dir).glob(f"*{SUFFIX}"))}


def write_extras(pred_dir: str | Path, out_dir: str | Path, in_domain: str | None = None, say=print) -> dict[str, Path]:
    """Write ``risk_coverage.json`` and (where possible) ``ood_auroc.json`` into ``out_dir``."""
    from linkner.data.readers import read_jsonl
    from linkner.studies.experiments import write_results
    from linkner.studies.local import risk_coverage_curves, run_ood_detection

    pred_dir, out_dir = Path(pred_dir), Path(out_dir)
    files = test_files(pred_dir)
    written: dict[str, Path] = {}
    if not files:
        say(f"no *{SUFFIX} predictions in {pred_dir}; nothing written")
        return written
    curves = {}
    for name, path in files.items():
        preds = read_jsonl(path)
        methods = (model_info(preds[0]).uncertainty_methods if preds else None) or list(METHODS)
        curves[name] = risk_coverage_curves(preds, methods)
    write_results(out_dir / "risk_coverage.json", curves, {"study": "risk_coverage", "predictions": str(pred_dir)})
    written["risk_coverage"] = out_dir / "risk_coverage.json"
    in_domain = in_domain or pred_dir.name.split("-")[0]
    shifted = {s: files[s] for s in SHIFTED if s in files}
    if in_domain in files and shifted:
        run_ood_detection(files[in_domain], shifted, out_dir / "ood_auroc.json")
        written["ood_auroc"] = out_dir / "ood_auroc.json"
    else:
        say(f"{pred_dir}: no in-domain + shifted pair ({in_domain} and one of {', '.join(SHIFTED)}); no OOD AUROC")
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for name, path in write_extras(args[0], Path(args[1]).parent).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
