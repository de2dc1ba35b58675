"""Evaluation: tag with a checkpoint (:func:`~linkner.evaluation.infer.infer`, the ``linkner infer`` command
as a function) and score a labelled split into one self-describing metrics JSON
(:func:`~linkner.evaluation.report.evaluate_checkpoint`)."""

from linkner.evaluation.report import evaluate_checkpoint, fit_checkpoint_temperature, load_eval_data, uncertainty_report

__all__ = ["evaluate_checkpoint", "fit_checkpoint_temperature", "load_eval_data", "uncertainty_report"]
