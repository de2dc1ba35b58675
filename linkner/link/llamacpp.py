"""In-process llama.cpp backend (``llama-cpp-python``): no server, the GGUF is loaded into this process.

Answers are constrained by a grammar generated from the answer's JSON schema (an enum of the options),
so the model cannot reply off-schema. llama-cpp-python keeps the KV cache of the previous prompt and
reuses its longest common prefix, which is why prompts put the fixed type definitions first. One model
instance is not thread-safe, so this backend runs one request at a time.
"""

from __future__ import annotations

import os
import threading
import time

from linkner.errors import LLMError
from linkner.link.backend import Completion, LinkRequest
from linkner.link.config import LLMConfig
from linkner.link.gguf import resolve_gguf


class LlamaCppBackend:
    name = "llama-cpp"
    concurrency = 1

    def __init__(self, cfg: LLMConfig):
        self.cfg = cfg
        self.path, self.identity = resolve_gguf(cfg.model)
        self._llm = None
        self._lock = threading.Lock()

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

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
            self._llm = None
