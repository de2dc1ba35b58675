"""Choosing a backend by name. Kept apart from :mod:`linkner.link.backend` (the protocol and the retry
rule every backend imports) so the concrete backends import the protocol and this module imports them,
never the other way round; each client library is imported only when its backend is chosen."""

from __future__ import annotations

from linkner.errors import LLMError
from linkner.link.backend import Backend
from linkner.link.config import LLMConfig


def make_backend(cfg: LLMConfig) -> Backend:
    """Build the backend named by ``cfg.backend`` (client libraries are imported only here, lazily)."""
    cfg = cfg.resolved()
    if cfg.backend == "llama-cpp":
        from linkner.link.llamacpp import LlamaCppBackend

        return LlamaCppBackend(cfg)
    if cfg.backend == "openai":
        from linkner.link.openai_chat import OpenAIBackend

        return OpenAIBackend(cfg)
    if cfg.backend == "ollama":
        from linkner.link.ollama_chat import OllamaBackend

        return OllamaBackend(cfg)
    raise LLMError(f"unknown backend {cfg.backend!r}")
