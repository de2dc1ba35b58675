"""Every committed result as one declarative list of runs, executed by one runner.

A :class:`SystemRun` trains one local model and evaluates it (``results/local/{train}-{model}/``, with
predictions under ``runs/preds/``); a :class:`LinkRun` links one test set's predictions to an LLM
(``results/link/{train}-{model}/{evalset}-{protocol}-{llm}{variant}/``). :data:`SYSTEMS` and
:data:`LINKS` hold every committed one with the settings that made it; the other result files
(benchmarks, the small-data table, the data overview, the studies) are made by the commands in
:data:`COMMANDS`. Three things execute this one list, through :mod:`linkner.studies.runs`:

* ``python -m linkner.studies.runs run NAME|GLOB …`` (and ``nox -s runs -- run NAME|GLOB …``);
* the notebooks' full profile with ``RERUN = True`` (:func:`linkner.studies.runs.ensure_local` and
  :func:`~linkner.studies.runs.ensure_links`), so a re-run reproduces what is committed, not a variant;
* the smoke profile runs the same functions on runs built from its tiny sizes.

``produced_by`` names the commit whose runner made a committed file when that was not today's code:
those runs predate the fused decision (issue 11) and were made with the paper's rule, ``decision =
"replace"``, no candidates and τ tuned on the first 800 dev sentences with a dev budget of the test
budget's fraction. Running such an entry today applies today's code to those settings; its numbers then
replace the committed ones and the entry's ``produced_by`` is cleared. A test checks that every file
under ``results/`` belongs to an entry and that each entry's settings equal the config its files record.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linkner.studies.layout import EVALSETS, system_name

# The uncertainty each model routes on: E-NER's evidential vacuity, SpanNER's confidence (the paper's pairing).
UNCERTAINTY = {"ener": "evidential", "spanner": "confidence"}
LLM = "qwen2.5-coder-1.5b"
REPLACE_ERA = "996f745"  # CoNLL-2003 E-NER and the budget/in-context runs (2026-11-26), decision = replace


@dataclass(frozen=True)
class SystemRun:
    """Train one local model (MiniLM encoder) and evaluate it on its test sets."""

    train: str
    model: str  # ener | spanner
    epochs: int
    tag: str = ""  # a superseded generation kept for the studies resting on it: folders {train}-{model}-{tag}
    patience: int = 5
    threads: int | None = 2  # torch threads (None: TrainConfig's default)
    mc_samples: int = 5
    mc_seed: int = 0  # linkner infer's default
    link_dev: int | None = None  # dev predictions τ is tuned on: None = the whole dev split, N = its first N
    lr: float = 1e-4
    head_lr: float = 3e-4
    batch_size: int = 32
    seed: int = 123123
    # smoke sizes (None: whole splits; set, the run lives under its profile's root instead of runs/)
    train_sentences: int | None = None
    dev_sentences: int | None = None
    test_sentences: int | None = None
    produced_by: str = ""
    note: str = ""

    @property
    def name(self) -> str:
        return system_name(self.train, self.model, self.tag)

    @property
    def smoke(self) -> bool:
        return self.train_sentences is not None


@dataclass(frozen=True)
class LinkRun:
    """Link one test set's predictions of one system to an LLM (see :class:`linkner.link.config.LinkConfig`)."""

    train: str
    model: str
    evalset: str
    protocol: str = "honest"
    variant: str = ""  # folder suffix: -budget5, -icl3-retrieved, -nocand, …
    llm: str = LLM
    llm_threads: int | None = 2
    n_ctx: int = 2048
    threshold: str = "auto"  # "0" with a call cap: the in-context sweep's fixed routed set
    max_calls: int | None = 100
    max_routed: float | None = None
    tune_max_calls: int | None = 200
    decision: str = "fuse"
    option_keys: str = "words"  # fuse: how options are answered; "letters" before word keys (2026-12-01)
    candidates: str = "all"
    shots: int = 0
    retrieve: bool = False
    demo_sentences: int | None = None  # demonstration pool: a seeded subset of train (None: the train split)
    tag: str = ""  # the system's tag (see SystemRun.tag)
    cache: str = ""  # its own answer cache under the results root (a fresh set of answers); "": llm-answers.jsonl
    produced_by: str = ""
    note: str = ""

    @property
    def system(self) -> str:
        return system_name(self.train, self.model, self.tag)

    @property
    def folder(self) -> str:
        return f"{self.evalset}-{self.protocol}-{self.llm}{self.variant}"

    @property
    def name(self) -> str:
        return f"{self.system}/{self.folder}"

    @property
    def sweep(self) -> bool:
        """An in-context sweep run (fixed routed set, no dev tuning) rather than a tuned one."""
        return self.threshold != "auto"

    def link_config(self, dev_predictions: str | None, cache: str, demos_from: str | None, seed: int = 13):
        from linkner.link.config import LinkConfig, LLMConfig

        return LinkConfig(
            threshold=self.threshold, uncertainty=UNCERTAINTY[self.model], dataset=self.train, protocol=self.protocol,
            shots=self.shots, demos_from=demos_from, retrieve=self.retrieve, seed=seed, cache=cache,
            dev_predictions=None if self.sweep else dev_predictions, max_calls=self.max_calls,
            max_routed=self.max_routed, tune_max_calls=None if self.sweep else self.tune_max_calls,
            decision=self.decision, option_keys=self.option_keys, candidates=self.candidates,
            llm=LLMConfig(backend="llama-cpp", model=self.llm, n_threads=self.llm_threads, n_ctx=self.n_ctx))


@dataclass(frozen=True)
class Command:
    """Result files made by a command outside the train/evaluate/link runs."""

    paths: tuple[str, ...]  # globs under the repository root
    command: str
    note: str = ""
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- the list
SYSTEMS: list[SystemRun] = [
    SystemRun("conll03", "ener", epochs=6, link_dev=800, tag="6ep", produced_by=REPLACE_ERA,
              note="superseded (peaked at its last epoch); kept for the replace-era, budget and in-context runs"),
    SystemRun("conll03", "ener", epochs=12, patience=3,
              note="WNUT-17's epoch budget (12, patience 3): best dev F1 93.52 at epoch 12, within 0.31 of it from "
                   "epoch 7 on (the learning rate decays to 0 at the budget's end)"),
    SystemRun("conll03", "spanner", epochs=4, link_dev=800, tag="4ep", produced_by="ec1bf25",
              note="superseded (peaked at its last epoch); kept for its replace-era rows"),
    SystemRun("conll03", "spanner", epochs=12, patience=3,
              note="E-NER's epoch budget (12, patience 3): best dev F1 93.70 at epoch 12, within 0.15 of it from "
                   "epoch 8 on"),
    SystemRun("wnut17", "ener", epochs=12, patience=3, threads=1,
              note="trained to convergence: best dev F1 59.99 at epoch 11, flat within 0.001 from epoch 8"),
    SystemRun("wnut17", "spanner", epochs=12, patience=3,
              note="E-NER's epoch budget (12, patience 3); replaced a 6-epoch model that peaked at its last epoch"),
]

_CONLL_SETS = EVALSETS["conll03"]
_REPLACE = dict(decision="replace", candidates="none", tune_max_calls=None)
_LETTERS = dict(option_keys="letters")  # fused runs made before word keys: their prompts, byte for byte
AVX512_CACHE = "llm-answers-avx512.jsonl"  # the -avx512 runs' answers (under the results root)
_LETTER_ABLATION = dict(variant="-letters", note="ablation: options answered by letters (the default before word keys)",
                        **_LETTERS)

LINKS: list[LinkRun] = [
    # CoNLL-2003, both systems, both protocols: the paper's rule (replace), before fusion existed
    *[LinkRun("conll03", "ener", ev, p, llm_threads=None, tag="6ep", produced_by=REPLACE_ERA, **_REPLACE)
      for ev in _CONLL_SETS for p in ("honest", "paper")],
    *[LinkRun("conll03", "spanner", ev, p, tag="4ep", produced_by="ec1bf25", **_REPLACE)
      for ev in _CONLL_SETS for p in ("honest", "paper")],
    # a 5 % budget with 300 dev calls to tune τ (cost study)
    *[LinkRun("conll03", "ener", ev, "honest", "-budget5", max_calls=None, max_routed=0.05, tag="6ep",
              produced_by="7cb330d", **{**_REPLACE, "tune_max_calls": 300}) for ev in ("conll03", "conll03-oov")],
    # the in-context sweep (notebook 06): the 100 most uncertain test entities, 0/1/3/5 shots, random or retrieved
    LinkRun("conll03", "ener", "conll03", variant="-icl0", threshold="0", tag="6ep", produced_by="7cb330d", **_REPLACE),
    *[LinkRun("conll03", "ener", "conll03", variant=f"-icl{k}-{'retrieved' if r else 'random'}", threshold="0", shots=k,
              retrieve=r, n_ctx=4096 if (k >= 5 and r) else 2048, tag="6ep", produced_by="ec1bf25", **_REPLACE)
      for k in (1, 3, 5) for r in (False, True)],
    # CoNLL-2003 E-NER (12 epochs, patience 3; retrained with the same seed to re-link it with word keys) on its
    # four test sets: today's default, and its ablations on the same predictions (letter keys: the runs made
    # before word keys, re-made from the answer cache; no candidates; the paper's rule on 100 dev calls)
    *[LinkRun("conll03", "ener", ev, "honest") for ev in _CONLL_SETS],
    *[LinkRun("conll03", "ener", ev, "honest", **_LETTER_ABLATION) for ev in _CONLL_SETS],
    *[LinkRun("conll03", "ener", ev, "honest", "-nocand", candidates="none", note="ablation: no honest candidates")
      for ev in _CONLL_SETS],
    *[LinkRun("conll03", "ener", ev, "honest", "-replace", decision="replace", tune_max_calls=100,
              note="ablation: the paper's rule (the LLM's answer replaces the local label)") for ev in _CONLL_SETS],
    LinkRun("conll03", "ener", "conll03", "paper", tune_max_calls=100),
    # CoNLL-2003 SpanNER (12 epochs, patience 3; retrained with the same seed to re-link it with word keys) on
    # its four test sets: today's default, and its ablations on the same predictions (letter keys, no
    # candidates: one setting changed; the paper's rule, which also tunes on 100 dev calls, as on WNUT-17)
    *[LinkRun("conll03", "spanner", ev, "honest") for ev in _CONLL_SETS],
    *[LinkRun("conll03", "spanner", ev, "honest", **_LETTER_ABLATION) for ev in _CONLL_SETS],
    *[LinkRun("conll03", "spanner", ev, "honest", "-nocand", candidates="none", note="ablation: no honest candidates")
      for ev in _CONLL_SETS],
    *[LinkRun("conll03", "spanner", ev, "honest", "-replace", decision="replace", tune_max_calls=100,
              note="ablation: the paper's rule (the LLM's answer replaces the local label)") for ev in _CONLL_SETS],
    LinkRun("conll03", "spanner", "conll03", "paper", tune_max_calls=100),
    # WNUT-17 E-NER (trained to convergence), today's default: fuse with word keys, candidates dev-gated, 200 dev
    # calls; its ablations (letter keys, no candidates, the paper's rule)
    LinkRun("wnut17", "ener", "wnut17", "honest"),
    LinkRun("wnut17", "ener", "wnut17", "honest", **_LETTER_ABLATION),
    LinkRun("wnut17", "ener", "wnut17", "paper", tune_max_calls=100),
    LinkRun("wnut17", "ener", "wnut17", "honest", "-nocand", candidates="none", tune_max_calls=100,
            note="ablation: no honest candidates"),
    LinkRun("wnut17", "ener", "wnut17", "honest", "-replace", decision="replace", tune_max_calls=100,
            note="ablation: the paper's rule (the LLM's answer replaces the local label)"),
    # WNUT-17 SpanNER (retrained with E-NER's epoch budget), today's default and the letter-key ablation
    *[LinkRun("wnut17", "spanner", "wnut17", p) for p in ("honest", "paper")],
    LinkRun("wnut17", "spanner", "wnut17", "honest", **_LETTER_ABLATION),
    # The two SpanNER defaults that route, asked again from scratch by the llama.cpp build with AVX-512 kernels (the
    # noxfile's build on a CPU that has them; every run above was answered by the AVX2-only build): their own cache
    *[LinkRun(t, "spanner", t, "honest", "-avx512", cache=AVX512_CACHE, note="re-asked: the AVX-512 llama.cpp build, "
              "a fresh answer cache (needs that build installed: metrics.json machine.llama_cpp_kernels)")
      for t in ("conll03", "wnut17")],
]

COMMANDS: list[Command] = [
    Command(("results/bench/inference.json", "results/bench/training.json", "results/bench/scaling.json"),
            "linkner bench --checkpoint runs/conll03-ener-minilm --only inference,training,scaling --sentences 1000 "
            "--repeats 5 --threads 2 --out results/bench"),
    Command(("results/bench/baselines.json",),
            "linkner bench --checkpoint runs/conll03-ener-minilm --only baselines --repeats 3 --threads 2 --out results/bench"),
    Command(("results/bench/linking.json",),
            "linkner bench --checkpoint runs/conll03-ener-minilm --only linking --link-entities 40 --repeats 3 "
            "--threads 2 --llm-threads 2 --out results/bench"),
    Command(("results/bench/llama-build/*",), "nox -s llama_build",
            note="the same llama-cpp-python built with AVX2 kernels only and with this CPU's AVX-512 ones too (the "
                 "noxfile's llama_cmake), installed in turn, builds alternated over two rounds; read by "
                 "linkner.studies.llama_build.compare"),
    Command(("results/bench/hf_tagger_train.json",),
            "python -m linkner.baselines.hf_tagger --out runs/hf-tagger-minilm --threads 2 && "
            "cp runs/hf-tagger-minilm/train_metrics.json results/bench/hf_tagger_train.json"),
    Command(("results/bench/summary.json",), "written by every linkner bench run (merges results/bench/*.json)"),
    Command(("results/small_data/*.json",), "python -m linkner.studies.small_data"),
    Command(("results/data/overview.json",), "python -c 'from linkner.studies.experiments import run_data_overview; "
            "run_data_overview()'"),
    Command(("results/studies/*.json",), "python -m linkner.studies.runs studies",
            note="recomputed from results/local and results/link; a test checks they equal the committed files"),
    Command(("results/wording/*",), "python -m linkner.studies.wording",
            note="dev only: the CoNLL-2003 SpanNER run's dev tuning questions in each wording; answers from its own "
                 "cache (results/wording/llm-answers.jsonl); needs that system's dev predictions under runs/preds"),
    Command(("results/cost/shared_sentences.json",), "python -c 'from linkner.studies.linking import "
            "run_shared_sentences; run_shared_sentences()'",
            note="routed entities sharing a sentence, from the link runs' linked.jsonl (not committed: their size)"),
    Command(("results/llm-answers.jsonl",), "every link run without a cache of its own appends its LLM answers here (the answer cache)"),
    Command((f"results/{AVX512_CACHE}",), "the -avx512 link runs append theirs here (a cache of their own)"),
    Command(("results/demo_reference/*",), "linkner demo --out /tmp/demo-ref && "
            "cp /tmp/demo-ref/{summary.json,demo.json,demo.png} results/demo_reference/",
            note="the main job's reference output on its defaults (WNUT-17, Qwen2.5-Coder-0.5B)"),
]
