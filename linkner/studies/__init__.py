"""The paper's studies beyond data statistics, one module per concern.

* :mod:`~linkner.studies.layout`: where the committed results live and how to read them;
* :mod:`~linkner.studies.local`: local models table, uncertainty quality, OOD detection;
* :mod:`~linkner.studies.linking`: threshold, linking, in-context learning, cost;
* :mod:`~linkner.studies.paper`: the paper's recovered numbers beside ours;
* :mod:`~linkner.studies.runs`: producing those results (the smoke profile's tiny end-to-end run, and
  the full re-run behind the notebooks' ``RERUN`` flag);
* :mod:`~linkner.studies.plots`, :mod:`~linkner.studies.tables`: figures and notebook tables.

Each ``run_*`` function reads ``<root>/local`` and ``<root>/link`` and writes
``<root>/studies/<study>.json`` through :func:`linkner.studies.experiments.write_results`; whatever has not
been run yet is listed under ``missing`` instead of failing the study.
"""
