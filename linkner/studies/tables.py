"""Notebook tables and one-line readings of the studies' numbers (pandas), so notebooks hold no logic.

Every function takes a study's ``numbers`` block and returns a DataFrame (or text); an empty study gives
an empty frame, and :func:`missing_note` says what has not been run yet.
"""

from __future__ import annotations

import pandas as pd

from linkner.studies.layout import eval_rank, system_label


def missing_note(numbers: dict) -> str:
    miss = numbers.get("missing") or []
    return "everything expected is present" if not miss else "not yet run: " + ", ".join(miss)


def _model(system: str) -> str:
    return system_label(system)


def local_table(numbers: dict) -> pd.DataFrame:
    """Test set × model: precision, recall, F1 (percent)."""
    rows = numbers.get("rows", [])
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame([{"test set": r["evalset"], "model": _model(r["system"]), "P": 100 * r["precision"], "R": 100 * r["recall"],
                        "F1": 100 * r["f1"], "sentences": r["sentences"]} for r in rows])
    df["order"] = df["test set"].map(eval_rank)
    return df.sort_values(["order", "model"]).drop(columns="order").set_index(["test set", "model"]).round(2)


def training_table(numbers: dict) -> pd.DataFrame:
    t = numbers.get("training", {})
    return pd.DataFrame(t).T.rename_axis("system") if t else pd.DataFrame()


def uncertainty_table(numbers: dict) -> pd.DataFrame:
    """Per system/test set: accuracy and ECE of decoded entities, and AUROC/AURC per method."""
    cal = numbers.get("calibration", {})
    out = []
    for key in sorted(cal, key=lambda k: (eval_rank(k.split("/")[1]), k)):
        row = {"system": _model(key.split("/")[0]), "test set": key.split("/")[1], "entities": cal[key]["n"],
               "accuracy": cal[key]["accuracy"], "ECE": cal[key]["ece"], "ECE (gold spans)": cal[key]["gold_spans_ece"]}
        for m, v in (numbers.get("misclassification_auroc", {}).get(key) or {}).items():
            row[f"AUROC {m}"] = v
        for m, v in (numbers.get("aurc", {}).get(key) or {}).items():
            row[f"AURC {m}"] = v
        out.append(row)
    return pd.DataFrame(out).set_index(["system", "test set"]).round(4) if out else pd.DataFrame()


def ood_table(numbers: dict) -> pd.DataFrame:
    rows = [{"system": _model(s), "method": m, **v} for s, ms in sorted(numbers.get("ood_auroc", {}).items()) for m, v in ms.items()]
    return pd.DataFrame(rows).set_index(["system", "method"]).round(4) if rows else pd.DataFrame()


def threshold_table(numbers: dict) -> pd.DataFrame:
    out = []
    for r in numbers.get("runs", []):
        b = r.get("budget") or {}
        out.append({"run": r["key"], "dev items": r["dev_items"], "tuned τ": r["tuned"]["tau"], "dev F1 at τ": r["tuned"]["f1"],
                    "dev local F1": r["dev_local_f1"], "dev routed fraction": r["tuned"]["routed_fraction"],
                    "budget (dev calls)": b.get("cap"), "test local F1": r["test"]["local_f1"], "test LinkNER F1": r["test"]["linkner_f1"],
                    "test routed fraction": r["test"]["routed_fraction"]})
    return pd.DataFrame(out).set_index("run").round(4) if out else pd.DataFrame()


def linking_table(numbers: dict) -> pd.DataFrame:
    cols = ["evalset", "system", "protocol", "llm", "uncertainty", "tau", "routed", "items", "local_f1", "linkner_f1", "delta_f1",
            "delta_f1_ci95", "fixed", "broken",
            "paper_local_f1", "paper_linkner_f1", "llm_accuracy", "local_accuracy_on_routed"]
    rows = numbers.get("rows", [])

    def cell(r: dict, c: str):  # the bootstrap fields: "–" for runs made before they were recorded
        v = r.get(c)
        if c in ("delta_f1_ci95", "fixed", "broken") and v is None:
            return "–"
        return [round(x, 4) for x in v] if c == "delta_f1_ci95" else v

    return pd.DataFrame([{c: cell(r, c) for c in cols} for r in rows]).set_index(["evalset", "system", "protocol", "llm"]).round(4) \
        if rows else pd.DataFrame()


def ablation_table(numbers: dict) -> pd.DataFrame:
    """Per system and test set: the default against its ablations (ΔF1 in F1 points with its 95 % CI, over
    the local model and, paired, over the default run)."""
    rows = [{"evalset": r["evalset"], "system": _model(r["system"]), "variant": r["variant"], "decision": r["decision"],
             "keys": r.get("option_keys") or "–",
             "candidates": r["candidates"] + ("" if r["candidates"] == "none" or r["candidates_used"] else " (off on dev)"),
             "dev calls": r["tune_max_calls"], "routed": r["routed"], "ΔF1": None if r["delta_f1"] is None else 100 * r["delta_f1"],
             "ΔF1 95 % CI": "–" if not r["delta_f1_ci95"] else [round(100 * x, 2) for x in r["delta_f1_ci95"]],
             "fixed / broken": "–" if r["fixed"] is None else f"{r['fixed']} / {r['broken']}",
             "false pos. removed / added": "–" if r.get("fp_removed") is None else f"{r['fp_removed']} / {r['fp_added']}",
             "ΔF1 vs default": None if not r.get("vs_default") else 100 * r["vs_default"]["delta_f1"],
             "vs default 95 % CI": "–" if not r.get("vs_default") else [round(100 * x, 2) for x in r["vs_default"]["ci95"]]}
            for r in numbers.get("rows", [])]
    return pd.DataFrame(rows).set_index(["evalset", "system", "variant"]).round(2) if rows else pd.DataFrame()


def in_context_table(numbers: dict) -> pd.DataFrame:
    rows = [{"sweep": f"{s['evalset']} · {_model(s['system'])} · {s['llm']}", "shots": p["shots"], "selection": p["selection"],
             "routed": p["routed"], "LinkNER F1": p["linkner_f1"], "LLM accuracy on routed": p["llm_accuracy"],
             "prompt tokens per answer": p["prompt_tokens_per_answer"]}
            for s in numbers.get("sweeps", []) for p in s["points"]]
    return pd.DataFrame(rows).set_index(["sweep", "shots", "selection"]).round(4) if rows else pd.DataFrame()


def cost_table(numbers: dict) -> pd.DataFrame:
    fronts = numbers.get("pareto", {})
    rows = []
    for p in numbers.get("points", []):
        f = fronts.get(p["evalset"], {})
        rows.append({"test set": p["evalset"], "configuration": p["label"], "LLM calls / 1k sent.": p["calls_per_1k"],
                     "LLM s / 1k sent.": p["llm_seconds_per_1k"], "local s / 1k sent.": p["local_seconds_per_1k"], "F1": p["f1"],
                     "Pareto (calls)": p["key"] in f.get("calls_per_1k", []), "Pareto (time)": p["key"] in f.get("seconds_per_1k", [])})
    return pd.DataFrame(rows).set_index(["test set", "configuration"]).round(4) if rows else pd.DataFrame()


def wording_table(numbers: dict) -> pd.DataFrame:
    """The question-wording study (:mod:`linkner.studies.wording`): per wording, its cost and how often the
    LLM alone and the fused decision (cross-fitted, and in sample) were right on the same dev questions, the
    paired difference from the full question, and what dev tuning certified."""
    from linkner.link.options import WORDINGS

    got = numbers.get("wordings") or {}
    rows = []
    for q in [x for x in WORDINGS if x in got]:
        r = got[q]
        v, t = (r.get("vs_full") or {}).get("fused"), r["tuning"]
        rows.append({"wording": q, "evaluated tokens / answer": r["evaluated_tokens_per_answer"],
                     "s / answer": r["seconds_per_answer"], "questions": r["questions"], "LLM right": r["llm_right"],
                     "fused right (cross-fitted)": r["fused_right"], "fused right (in sample)": r["fused_right_in_sample"],
                     "w": r["w"], "fused vs full": None if v is None else v["delta"],
                     "vs full 95 % CI": None if v is None else tuple(round(x, 4) for x in v["ci95"]),
                     "tuning routes none": t["route_none"], "dev ΔF1": t["dev_delta_f1"]})
    return pd.DataFrame(rows).set_index("wording").round(4) if rows else pd.DataFrame()


def paper_table(numbers: dict) -> pd.DataFrame:
    """One row per (reference number, our matching number); references without ours show a blank."""
    rows = []
    for c in numbers.get("comparisons", []):
        base = {"quantity": c["quantity"], "test set": c["evalset"], "reference": c["paper"], "reference id": c["id"],
                "section": c["section"], "status": c["status"]}
        for o in c["ours"] or [None]:
            rows.append({**base, "ours": None if o is None else o["value"], "our system": "not yet run" if o is None else o["what"],
                         "our protocol": None if o is None else o["protocol"]})
    return pd.DataFrame(rows) if rows else pd.DataFrame()


def differences(numbers: dict) -> str:
    return "\n".join(f"- {d}" for d in numbers.get("differences", []))


def build_table(build: dict | None) -> pd.DataFrame:
    """The llama.cpp build comparison (:func:`linkner.studies.llama_build.compare`): one row per build."""
    if not build:
        return pd.DataFrame()
    return pd.DataFrame([{"build": b, "kernels": ", ".join(v["kernels"] or []), "runs": ", ".join(v["runs"]),
                          "model s / question per run": ", ".join(f"{x:.2f}" for x in v["model_seconds_per_question"])}
                         for b, v in build["builds"].items()])


def shared_table(shared: dict) -> pd.DataFrame:
    """Routed entities per main honest run, and how many share a sentence with an earlier routed one
    (:func:`linkner.studies.linking.shared_sentences`)."""
    return pd.DataFrame([{"run": r["key"], "routed": r["routed"], "after the first in their sentence": r["after_first_in_sentence"]}
                         for r in shared["runs"]])
