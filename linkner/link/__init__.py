"""Linking uncertain entities to an LLM: route → prompt → ask (cached) → parse → merge → score.

Modules, in data-flow order: :mod:`.config` (LinkConfig, LLMConfig), :mod:`.routing` (which spans go,
τ tuning), :mod:`.prompts` and :mod:`.demos` (what is asked), :mod:`.backend` with :mod:`.llamacpp`,
:mod:`.openai_chat`, :mod:`.ollama_chat` (who is asked; :mod:`.gguf` finds local model files),
:mod:`.classify` and :mod:`.cache` (asking, resumably), :mod:`.parse` (reading the answer),
:mod:`.merge` (final entities and scores), :mod:`.pipeline` (all of it, as ``linkner link``).
No client library (llama_cpp, openai, ollama) is imported until a backend is built.
"""
