"""The README's results block, generated from the committed results JSON (never typed by hand).

    python -m linkner.studies.readme              # print the markdown
    python -m linkner.studies.readme --write      # replace the block between the markers in README.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from linkner.studies.layout import eval_rank, link_runs, model_label, read_numbers, system_label
from linkner.studies.linking import ablation, in_context
from linkner.studies.local import local_models, uncertainty
from linkner.uncertainty import METHODS

START, END = "<!-- results:start -->", "<!-- results:end -->"
SMALL_START, SMALL_END = "<!-- small-data:start -->", "<!-- small-data:end -->"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}"


def _ci(ci: list[float] | None) -> str:
    """A ΔF1 interval in F1 points, "[lo, hi]"; "–" where the run did not record one."""
    return "–" if not ci else f"[{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]"


def _num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|", *("| " + " | ".join(r) + " |" for r in rows)]


def render(root: str | Path = "results") -> str:
    root = Path(root)
    out: list[str] = []
    local = local_models(root)
    if local["rows"]:
        out += ["**Local models** (MiniLM-L6 encoder, entity micro F1 %, decoded entities vs all gold entities; "
                "`results/local/*/*.json`)", ""]
        systems = sorted({r["system"] for r in local["rows"]})
        by = {(r["system"], r["evalset"]): r for r in local["rows"]}
        sets = sorted({r["evalset"] for r in local["rows"]}, key=eval_rank)
        header = ["test set", *[system_label(s) for s in systems]]
        out += _table(header, [[ev, *[_pct(by[(s, ev)]["f1"]) if (s, ev) in by else "–" for s in systems]] for ev in sets])
        out.append("")
        train = [f"{k}: best dev F1 {_pct(v['best_dev_f1'])} at epoch {v['best_epoch']} of {v['epochs_run']}, "
                 f"{_num(v['seconds_per_epoch'], 0)} s/epoch" for k, v in sorted(local["training"].items())]
        out += ["Training: " + "; ".join(train) + ".", ""] if train else []
    unc = uncertainty(root)
    if unc["misclassification_auroc"]:
        methods = list(METHODS)
        out += ["**Uncertainty quality**: AUROC for telling wrong decoded entities from right ones (higher is better), "
                "and ECE of the decoded entities' probability", ""]
        rows = []
        for key in sorted(unc["misclassification_auroc"], key=lambda k: (eval_rank(k.split("/")[1]), k)):
            au = unc["misclassification_auroc"][key]
            rows.append([key.split("/")[1], key.split("/")[0], *[_num(au.get(m)) for m in methods],
                         _num(unc["calibration"][key]["ece"])])
        out += _table(["test set", "system", *[f"AUROC {m}" for m in methods], "ECE"], rows)
        out.append("")
    if unc["ood_auroc"]:
        out += ["**Shift detection** (E-NER's definition: shifted-set misclassified spans vs CoNLL-test correct ones), AUROC", ""]
        rows = [[s, m, *[_num(v.get(k)) for k in ("conll03-typos", "conll03-oov", "conll03-ood")]]
                for s, ms in sorted(unc["ood_auroc"].items()) for m, v in sorted(ms.items())]
        out += _table(["system", "method", "Typos", "OOV", "OOD"], rows)
        out.append("")
    runs = sorted((r for r in link_runs(root) if r["shots"] == 0 and r["tuning"]),
                  key=lambda x: (eval_rank(x["evalset"]), x["system"], x["protocol"], x["variant"]))
    if runs:
        out += ["**Linking** (`results/link/*/*/metrics.json`; zero-shot, τ tuned on dev; budget = the most the test run may "
                "route; dev calls = LLM calls spent tuning τ; decision = replace (the LLM's answer replaces the local label, the "
                "paper's rule) or fuse (its option probabilities pooled with the local ones, weight fitted on dev; options answered "
                "by the type's word, or by letters in runs made before word keys); honest = nothing gold reaches routing, prompts or merging; "
                "paper = the original evaluation's counts in both F1 columns (gold spans the model predicted O are sent "
                "too and rejections count as predictions; `linkner/link/merge.py`); 95 % CI = paired bootstrap over test "
                "sentences (1,000 seeded resamples) of ΔF1 between the local and the linked output, both scored honestly "
                "(for paper rows too), with the gold entities the linked output fixed/broke; – = a run made before "
                "the interval was recorded; s / routed entity = model seconds as recorded when the answers were made; a build "
                "after the LLM = the llama.cpp kernels the run recorded (runs before 2026-12-01 recorded none, and the "
                "noxfile then built AVX2 kernels only): see llama.cpp build below)", ""]
        rows = []
        for r in runs:
            local_f1, linkner_f1, delta, paper = r["local_f1"], r["linkner_f1"], r["delta_f1"], ""
            if r["protocol"] == "paper" and r["paper_local_f1"] is not None and r["paper_linkner_f1"] is not None:
                # the paper protocol's own counts side by side; its output (every non-O candidate kept, as the
                # original scored it) is also given scored honestly
                local_f1, linkner_f1 = r["paper_local_f1"], r["paper_linkner_f1"]
                delta = linkner_f1 - local_f1
                paper = f" (output scored honestly: {_pct(r['linkner_f1'])})"
            budget = (f"{100 * r['max_routed']:g} %" if r["max_routed"] is not None
                      else f"{r['max_calls']} calls" if r["max_calls"] is not None else "none")
            decision = _decision(r)
            if r["decision"] == "fuse" and r["protocol"] == "honest" and r["candidates"] != "none":
                decision += f" + {r['candidates']} candidates" + ("" if r["candidates_used"] else " (off: no dev support)")
            k = r.get("llama_cpp_kernels")
            llm = r["llm"] + ("" if not k else " (AVX-512 build)" if "AVX512" in k else " (AVX2 build)")
            rows.append([r["evalset"], model_label(r["model"], r.get("tag", "")), r["uncertainty"] or "–", r["protocol"], llm,
                         decision, budget, str((r["tuning"] or {}).get("dev_cap", "all")), f"{r['routed']}/{r['items']}",
                         _pct(local_f1), _pct(linkner_f1) + paper,
                         _pct(delta), _ci(r.get("delta_f1_ci95")),
                         "–" if r.get("fixed") is None else f"{r['fixed']} / {r['broken']}",
                         _pct(r["llm_accuracy"]), _pct(r["local_accuracy_on_routed"]),
                         _num(r["seconds_per_routed_entity"], 2)])
        out += _table(["test set", "local model", "uncertainty", "protocol", "LLM", "decision", "budget", "dev calls", "routed", "local F1",
                       "LinkNER F1", "Δ F1", "Δ F1 95 % CI", "fixed / broken", "LLM acc. on routed", "local acc. on routed",
                       "s / routed entity"], rows)
        out.append("")
    out += _ablation(root)
    out += _wording(root)
    out += _in_context(root)
    out += _bench(root)
    out += _llm_cost(root)
    if not out:
        return "No real-run results are committed yet."
    return "\n".join(out).rstrip() + "\n"


def _decision(r: dict) -> str:
    """``fuse (words)`` / ``fuse (letters)`` / ``replace``: how the LLM's answer was used and asked for."""
    return f"fuse ({r['option_keys']})" if r["decision"] == "fuse" and r.get("option_keys") else r["decision"]


def _versus(v: dict | None, variant: str) -> str:
    """A variant's paired ΔF1 over the default run, ``+0.12 [-0.30, +0.55]``; the default row itself is blank."""
    if variant == "default":
        return ""
    return "–" if not v else f"{100 * v['delta_f1']:+.2f} {_ci(v['ci95'])}"


def _ablation(root: Path) -> list[str]:
    """Today's default beside its ablations, per system and test set (``linking.ablation``)."""
    rows = ablation(root)["rows"]
    if not rows:
        return []
    out = ["**Ablation** (`results/studies/ablation.json`; honest protocol, one system and test set per group, so every "
           "row links the same local predictions: default = fuse + honest candidates (used only where dev supports "
           "them), letters = the options answered by letters instead of the type's word, nocand = fuse without "
           "candidates, replace = the paper's rule, avx512 = the default asked again from scratch (answer cache "
           "`results/llm-answers-avx512.jsonl`) by a llama.cpp build with AVX-512 kernels, as its metrics.json records "
           "(the other runs predate that record: see Linking), whose option probabilities differ slightly; ΔF1 and its 95 % paired-bootstrap CI "
           "in F1 points; fixed / broken = gold entities the linked output gets right that the local one did not, and the "
           "reverse; vs default = the variant's ΔF1 over the default run itself, paired over the same test sentences, "
           "each run with its own dev-tuned settings (a run with fewer dev calls differs in that too; – where a run "
           "predates the per-sentence counts it needs); one seed, not corrected for the number of rows)", ""]
    body = []
    for r in rows:
        cand = r["candidates"] if r["candidates"] == "none" else r["candidates"] + ("" if r["candidates_used"] else " (off: no dev support)")
        body.append([r["evalset"], model_label(r["model"], r["tag"]), r["variant"], _decision(r), cand,
                     str(r["tune_max_calls"] if r["tune_max_calls"] is not None else "all"), str(r["routed"]),
                     _pct(r["delta_f1"]), _ci(r["delta_f1_ci95"]),
                     "–" if r["fixed"] is None else f"{r['fixed']} / {r['broken']}",
                     "–" if r["fp_removed"] is None else f"{r['fp_removed']} / {r['fp_added']}",
                     _versus(r.get("vs_default"), r["variant"])])
    out += _table(["test set", "local model", "variant", "decision", "candidates", "dev calls", "routed", "Δ F1",
                   "Δ F1 95 % CI", "fixed / broken", "false pos. removed / added", "vs default (95 % CI)"], body)
    out.append("")
    return out


WORDING_TEXT = {"full": "full (what runs ask)", "no-list": "no key list", "marked-only": "no key list, no Span line"}


def _wording(root: Path) -> list[str]:
    """The question-wording study (``results/wording``): a cheaper question against accuracy, on dev."""
    from linkner.link.options import WORDINGS

    w = read_numbers(root / "wording" / "question_wording.json")
    if not w:
        return []
    rows_in = w["wordings"]
    out = [f"**Question wording** (dev only, `results/wording/question_wording.json`; the {rows_in['full']['questions']} "
           f"dev questions that tuning {system_label(w['system'])} on {w['evalset']} asks, candidates off, in each wording; "
           "right = equals the gold label (O when the span is no entity): the LLM alone / the fused decision "
           f"cross-fitted ({w['folds']} folds: w fitted on the others) / fused in sample (w fitted on all, what tuning "
           "maximises); vs full = the difference in cross-fitted fused accuracy, 95 % paired bootstrap over the same "
           "questions; tuning = the dev ΔF1 its τ rule certifies, or none; tokens = evaluated after the cached "
           "system message, the cost to compare; seconds as measured when the answers were made)", ""]
    rows = []
    for q in [x for x in WORDINGS if x in rows_in]:
        r = rows_in[q]
        v = (r.get("vs_full") or {}).get("fused")
        t = r["tuning"]
        rows.append([WORDING_TEXT.get(q, q), _num(r["evaluated_tokens_per_answer"], 1), _num(r["seconds_per_answer"], 2),
                     f"{r['llm_right']} / {r['fused_right']} / {r['fused_right_in_sample']} (w = {r['w']:g})",
                     "" if v is None else f"{100 * v['delta']:+.1f} [{100 * v['ci95'][0]:+.1f}, {100 * v['ci95'][1]:+.1f}]",
                     "routes none" if t["route_none"] else f"{_pct(t['dev_delta_f1'])} {_ci(t['dev_delta_f1_ci95'])}"])
    out += _table(["question", "evaluated tokens / answer", "s / answer", "right: LLM / fused / in sample",
                   "fused vs full (accuracy points, 95 % CI)", "tuning: dev Δ F1 (95 % CI)"], rows)
    out.append("")
    return out


def _in_context(root: Path) -> list[str]:
    """The in-context sweeps (runs that differ only in shots and demonstration selection)."""
    out: list[str] = []
    for sw in in_context(root)["sweeps"]:
        out += [f"**In-context learning** ({system_label(sw['system'])} on {sw['evalset']}, {sw['llm']}, {sw['protocol']} protocol; the same "
                f"{sw['points'][0]['routed']} most uncertain test entities asked in every run; local F1 {_pct(sw['local_f1'])})", ""]
        rows = [[str(p["shots"]), p["selection"], _pct(p["linkner_f1"]), _pct(p["llm_accuracy"]),
                 _num(p["prompt_tokens_per_answer"], 0)] for p in sw["points"]]
        out += _table(["shots per type", "demonstrations", "LinkNER F1", "LLM acc. on routed", "prompt tokens / call"], rows)
        out.append("")
    return out


def _bench(root: Path) -> list[str]:
    """Inference and training speed from ``results/bench`` (written by ``linkner bench``)."""
    inf, train = read_numbers(root / "bench" / "inference.json"), read_numbers(root / "bench" / "training.json")
    out: list[str] = []
    if inf and inf.get("table"):
        env = inf.get("environment") or {}
        out += [f"**Speed** (`results/bench/*.json`; {env.get('cpu', '?')}, {env.get('torch_threads', '?')} torch threads; "
                "medians of repeats, ratios within the same run)", ""]
        rows = [[k, _num(v["linkner_sentences_per_s"], 1), _num(v["raw_sentences_per_s"], 1), _num(v["linkner_over_raw"], 2),
                 _num(v.get("linkner_over_raw_in_run"), 2), _num(v["peak_rss_mb"], 0)] for k, v in sorted(inf["table"].items())]
        out += _table(["precision", "linkner sentences/s", "raw encoder sentences/s", "linkner / raw",
                       "linkner / raw (encoder timed in-run)", "peak RSS (MB)"], rows)
        mc = inf.get("mc_dropout") or {}
        if mc:
            out += ["", f"MC dropout (T = {mc.get('mc_samples')}): {_num(mc['sentences_per_s']['mc_dropout'], 1)} sentences/s "
                    f"({_num(mc.get('mc_over_plain_time'), 1)}× the time of one pass)."]
        out.append("")
    base = read_numbers(root / "bench" / "baselines.json")
    if base and base.get("table"):
        names = {"linkner": "LinkNER E-NER (fp32)", "linkner-bf16": "LinkNER E-NER (bf16)",
                 "hf-pipeline": "HF token classification, pipeline", "hf-direct": "HF token classification, direct calls",
                 "spacy-ner": "spaCy en_core_web_sm (ner only)", "spacy-full": "spaCy en_core_web_sm (full pipeline)"}
        out += ["**Against the alternatives** (same CoNLL-2003 test sentences, cores and run; `results/bench/baselines.json`; "
                "spaCy's OntoNotes labels mapped to CoNLL types)", ""]
        rows = [[names.get(k, k), _pct(v.get("f1")),
                 _num(v.get("sentences_per_s"), 1), _num(v.get("peak_rss_mb"), 0)] for k, v in base["table"].items()]
        out += _table(["system", "entity F1", "sentences/s", "peak RSS (MB)"], rows)
        r = base.get("ratios") or {}
        if r.get("linkner_over_hf_pipeline") is not None:
            out += ["", f"LinkNER / HF pipeline speed: {_num(r['linkner_over_hf_pipeline'], 2)}×."]
        out.append("")
    scal = read_numbers(root / "bench" / "scaling.json")
    if scal and scal.get("table"):
        lin = scal.get("linearity_tokens") or {}
        sized = [r for r in scal["table"] if str(r.get("case", "")).startswith("n=") and r.get("tokens")
                 and r["sentences"] >= (lin.get("min_size_sentences") or 0)]
        per = ", ".join(f"{r['sentences']:,}: {_num(1000 * r['median_s'] / r['tokens'], 3)}" for r in sized)
        out += [f"Scaling (`results/bench/scaling.json`), ms per token by input size in sentences — {per}; "
                f"strictly linear (±{int(100 * (lin.get('tolerance') or 0))} %): {scal.get('linear_after_warmup')}, "
                f"at most linear: {scal.get('at_most_linear_after_warmup')}; peak RSS at most {_num(scal.get('peak_rss_mb_max'), 0)} MB.", ""]
    if train and train.get("table"):
        rows = [[k, _num(v["seconds_per_epoch"], 0), _num(v["mean_step_s"], 3), _num(v["step_over_raw"], 2)]
                for k, v in sorted(train["table"].items())]
        out += _table(["model", "s / CoNLL epoch (extrapolated)", "s / step (batch 32)", "step / raw encoder fwd+bwd"], rows)
        out.append("")
    return out


def _kernels(k: list[str] | None) -> str:
    """A llama.cpp build's widest vector kernels, in words (``AVX-512`` / ``AVX2 only``)."""
    if not k:
        return "kernels not recorded"
    return "AVX-512 kernels" if "AVX512" in k else "AVX2 kernels only" if "AVX2" in k else "no AVX2 kernels"


def _llm_cost(root: Path) -> list[str]:
    """What a routed entity costs (``results/bench/linking.json``) and what the llama.cpp build changes
    (``results/bench/llama-build/``, :func:`linkner.studies.llama_build.compare`)."""
    from linkner.studies.llama_build import compare

    out: list[str] = []
    ln = read_numbers(root / "bench" / "linking.json")
    local = {m: v for m, v in ((ln or {}).get("local") or {}).items() if v.get("seconds_per_routed_entity")}
    if local:
        env = ln.get("environment") or {}
        kernels = {_kernels(v.get("kernels")) for v in local.values()}
        out += [f"**Linking cost** (`results/bench/linking.json`; {env.get('cpu', '?')}, llama.cpp in process with "
                f"{', '.join(sorted(kernels))}; the {ln.get('entities_asked')} most uncertain entities in the first "
                f"{(ln.get('routing') or {}).get('pool_sentences') or 0:,} CoNLL-2003 test sentences, fused multiple "
                "choice, each asked once with an empty answer cache, then again from it)", ""]
        rows = [[m, str(v.get("threads")), _num(v["seconds_per_routed_entity"], 2), _num(v.get("cached_seconds_per_entity"), 4),
                 _num(v.get("load_s"), 1), _num(v.get("peak_rss_mb"), 0)] for m, v in local.items()]
        out += _table(["LLM (GGUF, in process)", "llama.cpp threads", "s / routed entity", "s / entity from the cache",
                       "load s", "peak RSS (MB)"], rows)
        srv = ln.get("server") or {}
        if srv.get("seconds_per_routed_entity"):
            per = ", ".join(f"{k[1:]} at a time {_num(v, 2)}" for k, v in srv["seconds_per_routed_entity"].items())
            out += ["", f"`python -m llama_cpp.server` ({srv['model']}, llama.cpp threads: {srv.get('threads')}, median of "
                    f"{srv.get('rounds')} rounds), s per routed entity with requests sent {per}."]
        out.append("")
    shared = read_numbers(root / "cost" / "shared_sentences.json")
    if shared and shared["routed"]:
        out += [f"One prompt per sentence, asking about all of its routed spans at once, was not built: in the main honest "
                f"runs ({len(shared['runs'])} of {len(shared['runs']) + len(shared.get('missing') or [])}: those whose `linked.jsonl` "
                f"was at hand; `results/cost/shared_sentences.json`), {shared['after_first_in_sentence']} of "
                f"{shared['routed']} routed entities share their sentence with an earlier routed one, so it could spare "
                "the sentence's tokens on those questions only; and with option scoring one prompt yields the first answer "
                "token's probabilities for one span, so the later spans would be generated answers.", ""]
    ab = compare(root)
    if ab:
        a, b = ab["builds"]["avx2"], ab["builds"]["avx512"]
        out += [f"**llama.cpp build** (`results/bench/llama-build/`, `nox -s llama_build`; {ab['model']}, {ab['threads']} "
                f"threads, {ab['cpu']}; the same {ab['questions']} questions, the two builds of the same llama-cpp-python "
                f"installed in turn and alternated): model seconds per question with AVX2 kernels only "
                f"{', '.join(_num(x, 2) for x in a['model_seconds_per_question'])}, with AVX-512 kernels "
                f"{', '.join(_num(x, 2) for x in b['model_seconds_per_question'])}. The AVX-512 build answers "
                f"{_num(ab['speedup'], 2)}× as fast (95 % CI [{_num(ab['speedup_ci95'][0], 2)}, "
                f"{_num(ab['speedup_ci95'][1], 2)}], paired bootstrap over the questions, which does not cover the "
                f"machine's drift between runs: per round {', '.join(_num(x, 2) for x in ab['round_speedups'])}×), so "
                f"`nox` builds the wheel with the kernels the CPU has. Its answers are not bit-identical: the favoured "
                f"option is the same on {ab['same_choice']} of the {ab['compared']} questions with option probabilities, "
                f"which differ by up to {_num(ab['max_abs_prob_diff'], 3)}; committed numbers are re-made from the "
                "answer cache, not by asking again.", ""]
    return out


def render_small_data(root: str | Path = "results") -> str:
    """The small-data table (``results/small_data/summary.json``, written by ``linkner.studies.small_data``)."""
    summary = read_numbers(Path(root) / "small_data" / "summary.json")
    if not summary or not summary.get("rows"):
        return "No small-data results are committed yet.\n"
    cfg = summary.get("config") or {}
    by = {(r["dataset"], r["train_sentences"], r["system"]): r for r in summary["rows"]}
    rows = []
    for ds, n in sorted({(r["dataset"], r["train_sentences"]) for r in summary["rows"]}, key=lambda k: (k[0] != "wnut17", k)):
        lk, hf = by.get((ds, n, "linkner")), by.get((ds, n, "hf"))
        delta = lk["test_f1"] - hf["test_f1"] if lk and hf else None
        plan = (f"{lk['epochs_run']}/{lk['planned_epochs']} × {lk['steps_per_epoch']}, lr {lk['lr']:g} / {lk['head_lr']:g}"
                if lk else "–")
        rows.append([ds, f"{n:,}", _pct(lk and lk["test_f1"]), _pct(hf and hf["test_f1"]), _pct(delta),
                     _pct(lk and lk["best_dev_f1"]), _pct(hf and hf["best_dev_f1"]), plan])
    dev = cfg.get("dev_sentences")
    out = [f"Test entity micro F1 % on the whole test split; seeded training subsets (seed {cfg.get('seed')}), early stopping "
           f"on a seeded {'all' if dev is None else f'{dev:,}'}-sentence dev subset; {summary.get('seeds', 1)} seed per run, "
           "no confidence interval (`results/small_data/*.json`)", ""]
    out += _table(["dataset", "train sentences", "linkner train (E-NER, defaults)", "HF token classification", "Δ F1",
                   "dev F1 linkner", "dev F1 HF", "linkner epochs run/planned × steps, lr enc / head"], rows)
    return "\n".join(out) + "\n"


def _replace_block(text: str, start: str, end: str, body: str) -> str:
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def write(readme: str | Path = "README.md", root: str | Path = "results") -> None:
    p = Path(readme)
    text = p.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{p} has no {START} … {END} block")
    text = _replace_block(text, START, END, render(root))
    if SMALL_START in text and SMALL_END in text:
        text = _replace_block(text, SMALL_START, SMALL_END, render_small_data(root))
    p.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        print(render())
