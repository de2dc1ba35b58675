"""Uncertainty: per-span estimators (functions of probability arrays) and their quality metrics.

``estimators`` turns a model's span probabilities into uncertainty scores; ``quality`` measures how
well a score separates right from wrong entities (ECE, AUROC, risk–coverage). Neither knows any model,
so the model's predictor uses the estimators and the studies use the quality metrics.
"""

# Every per-span uncertainty method, in the order results and figures list them (importable without numpy).
METHODS = ("confidence", "entropy", "mc_dropout", "evidential")
