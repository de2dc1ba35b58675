"""In-process llama.cpp backend (``llama-cpp-python``): no server, the GGUF is loaded into this process.

Answers are constrained by a grammar generated from the answer's JSON schema (an enum of the options),
so the model cannot reply off-schema. llama-cpp-python keeps the KV cache of the previous prompt and
reuses its longest common prefix, which is why prompts put the fixed type definitions first. One model
instance is not thread-safe, so this backend runs one request at a time.

Multiple-choice requests (``request.choices``, for fusion) are not generated at all: the chat-templated
prompt is evaluated and the logits of its *last position* give the probability of each option key
(softmax over the keys' first tokens). This needs no ``logits_all=True`` (which would keep the logits of every
prompt token), and the tokens shared with the previous prompt (the system message with every option and
definition) stay in the KV cache, so only the question's suffix is evaluated.
"""

from __future__ import annotations

import os
import threading
import time

from linkner.errors import LLMError
from linkner.link.backend import Completion, LinkRequest
from linkner.link.config import LLMConfig
from linkner.link.first_token import is_word_keys, key_of_token
from linkner.link.gguf import resolve_gguf


class LlamaCppBackend:
    name = "llama-cpp"
    concurrency = 1

    def __init__(self, cfg: LLMConfig):
        self.cfg = cfg
        self.path, self.identity = resolve_gguf(cfg.model)
        self._llm = None
        self._lock = threading.Lock()
        self._formatter = None  # chat template, for multiple-choice scoring
        self._keys: dict[str, list[int]] = {}  # letter key -> token ids
        self._word_ids: dict[tuple[str, ...], list[list[int]]] = {}  # word keys -> each key's token ids
        self._pieces: list[str] | None = None  # the vocabulary as text, decoded once

    def health_check(self) -> None:
        """Import the binding and load the model (a broken build or file fails here, in seconds)."""
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError(
                f"the llama-cpp backend needs llama-cpp-python ({exc}); install it with "
                "pip install llama-cpp-python (or a prebuilt wheel), or use --backend openai/ollama"
            ) from None
        if self._llm is not None:
            return
        # Prompt evaluation uses n_threads_batch, which llama-cpp-python sets to *all* cores by default; on
        # a shared 2-core machine that made each prompt 10x slower (threads spin at barriers while another
        # job holds a core), so both counts are set to the same value.
        threads = self.cfg.n_threads or max(1, (os.cpu_count() or 2) // 2)
        kwargs = {"model_path": str(self.path), "n_ctx": self.cfg.n_ctx, "seed": self.cfg.seed, "verbose": False,
                  "n_threads": threads, "n_threads_batch": threads}
        try:
            self._llm = Llama(**kwargs)
        except Exception as exc:  # llama_cpp raises ValueError/RuntimeError with C-level messages
            raise LLMError(f"llama.cpp could not load {self.path}: {exc}") from None

    def complete(self, request: LinkRequest) -> Completion:
        if self._llm is None:
            self.health_check()
        if request.choices:
            return self._score(request)
        kwargs = {"messages": request.chat(), "temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens,
                  "seed": self.cfg.seed}
        if self.cfg.structured != "off":
            kwargs["response_format"] = {"type": "json_object", "schema": request.schema()}
        with self._lock:
            t0 = time.perf_counter()
            try:
                out = self._llm.create_chat_completion(**kwargs)
            except ValueError as exc:  # e.g. the prompt does not fit n_ctx: a config problem, not transient
                raise LLMError(f"llama.cpp: {exc} (raise --n-ctx?)") from None
            seconds = time.perf_counter() - t0
        usage = out.get("usage") or {}
        return Completion(out["choices"][0]["message"]["content"] or "", seconds,
                          usage.get("prompt_tokens"), usage.get("completion_tokens"))

    # --- multiple choice: one forward pass, last-position logits -----------------------------------

    def _prompt_tokens(self, messages: list[dict]) -> list[int]:
        """The chat-templated prompt as tokens, as ``create_chat_completion`` would build it."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llm = self._llm
        if self._formatter is None:
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise LLMError(f"{self.path.name} has no chat template, so its options cannot be scored; "
                               "use --decision replace")
            text = llm._model.token_get_text
            eos, bos = llm.token_eos(), llm.token_bos()
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=text(eos) if eos != -1 else "",
                                                  bos_token=text(bos) if bos != -1 else "")
        prompt = self._formatter(messages=messages).prompt
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        bos = llm.token_bos()
        if llm._model.add_bos_token() and bos != -1 and tokens[:1] != [bos]:
            tokens = [bos, *tokens]
        return tokens

    def _letter_tokens(self, key: str) -> list[int]:
        """Token ids that answer a letter key: the bare letter and the letter after a space, each one token."""
        if key not in self._keys:
            ids = set()
            for text in (key, " " + key):
                toks = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
                if len(toks) == 1:
                    ids.add(toks[0])
            if not ids:
                raise LLMError(f"option key {key!r} is not a single token for {self.path.name}; "
                               "use --option-keys words or --decision replace")
            self._keys[key] = sorted(ids)
        return self._keys[key]

    def _word_tokens(self, keys: tuple[str, ...]) -> list[list[int]]:
        """For each word key, every vocabulary token that starts it and no other key.

        The rule is :func:`linkner.link.first_token.key_of_token`, the one the OpenAI-compatible and Ollama
        backends apply to ``top_logprobs``, applied here to the whole vocabulary (its pieces are decoded
        once per model, about a second), so both ways of asking one model give the same probabilities.
        """
        if keys not in self._word_ids:
            if self._pieces is None:
                self._pieces = [self._piece(i) for i in range(self._llm.n_vocab())]
            ids: dict[str, list[int]] = {k: [] for k in keys}
            for i, piece in enumerate(self._pieces):
                k = key_of_token(piece, keys)
                if k is not None:
                    ids[k].append(i)
            for k, toks in ids.items():
                if not toks:
                    raise LLMError(f"no token of {self.path.name} starts the option {k!r} alone (another option "
                                   "starts the same way), so it cannot be scored; use --option-keys letters")
            self._word_ids[keys] = [ids[k] for k in keys]
        return self._word_ids[keys]

    def _piece(self, token: int) -> str:
        """A token's text as it would be generated (``" person"``); "" for a partial UTF-8 byte.

        (``LlamaModel.token_to_piece`` returns a NUL-padded 32-byte buffer, so the length is read here.)
        """
        import ctypes

        import llama_cpp

        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._llm._model.vocab, token, buf, 64, 0, False)
        if n < 0:  # longer than the buffer: -n bytes are needed
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._llm._model.vocab, token, buf, -n, 0, False)
        try:
            return buf.raw[:max(n, 0)].decode("utf-8")
        except UnicodeDecodeError:
            return ""

    def _choice_tokens(self, request: LinkRequest) -> list[list[int]]:
        """Each offered key's token ids: letters as before word keys existed (their runs stay reproducible);
        words by :meth:`_word_tokens` over every key of the schema (``request.keys``), so a token of an
        option that was not offered is not credited to one that was."""
        if not is_word_keys(request.choices):
            return [self._letter_tokens(k) for k in request.choices]
        space = request.keys
        ids = dict(zip(space, self._word_tokens(space)))
        return [ids[k] for k in request.choices]

    def _score(self, request: LinkRequest) -> Completion:
        import numpy as np

        llm = self._llm
        with self._lock:
            tokens = self._prompt_tokens(request.chat())
            if len(tokens) >= llm.n_ctx():
                raise LLMError(f"llama.cpp: the prompt has {len(tokens)} tokens, more than n_ctx={llm.n_ctx()} (raise --n-ctx?)")
            ids = self._choice_tokens(request)
            t0 = time.perf_counter()
            keep = 0
            for a, b in zip(llm._input_ids.tolist(), tokens):
                if a != b:
                    break
                keep += 1
            keep = min(keep, len(tokens) - 1)  # at least one token is evaluated, so its logits are fresh
            if keep and not llm._ctx.kv_cache_seq_rm(-1, keep, -1):
                keep = 0  # this model's cache cannot be cut; start over
            if not keep:
                llm.reset()
            llm.n_tokens = keep
            llm.eval(tokens[keep:])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),)).astype(np.float64)
            seconds = time.perf_counter() - t0
        top = float(logits.max())
        full = float(np.log(np.exp(logits - top).sum())) + top
        per_key = [float(np.log(np.exp(logits[i] - top).sum())) + top for i in ids]
        best = max(per_key)
        z = sum(np.exp(v - best) for v in per_key)
        probs = {k: float(np.exp(v - best) / z) for k, v in zip(request.choices, per_key)}
        mass = float(sum(np.exp(v - full) for v in per_key))
        answer = max(probs, key=probs.get)
        return Completion(answer, seconds, len(tokens), 0, {"reused_tokens": keep, "choice_mass": round(mass, 6)},
                          option_probs=probs)

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
