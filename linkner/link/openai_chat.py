"""OpenAI-compatible chat backend (OpenAI, llama.cpp's ``llama-server``, ``python -m llama_cpp.server``,
vLLM, Ollama's ``/v1``…) through the official ``openai`` client.

Structured output differs between servers, so ``structured="auto"`` tries, once, in order: the OpenAI
``json_schema`` response format, llama.cpp's ``json_object`` + ``schema``, then plain text (parsed by
the tolerant parser); the first mode the server accepts is kept for the rest of the run. Retries are
ours (the client's own are switched off) so that back-off and the error budget are the same for every
backend.
"""

from __future__ import annotations

import threading
import time

from linkner.errors import LLMError
from linkner.link.backend import Completion, LinkRequest, TransientLLMError
from linkner.link.config import LLMConfig

_MODES = {"auto": ("json_schema", "json_object", "off"), "json_schema": ("json_schema",),
          "json_object": ("json_object",), "off": ("off",)}


def _response_format(mode: str, schema: dict) -> dict | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "entity_type", "schema": schema, "strict": True}}
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


class OpenAIBackend:
    name = "openai"

    def __init__(self, cfg: LLMConfig):
        try:
            import httpx
            import openai
        except ImportError:
            raise LLMError("the openai backend needs the openai client: pip install openai") from None
        if not cfg.base_url and not cfg.api_key:
            raise LLMError("the openai backend needs --base-url (or OPENAI_BASE_URL) for a local server, "
                           "or OPENAI_API_KEY for api.openai.com")
        self.cfg = cfg
        self._openai = openai
        self.base_url = cfg.base_url or "https://api.openai.com/v1"
        self.identity = f"{cfg.model}@{self.base_url}"
        self.concurrency = cfg.concurrency
        timeout = httpx.Timeout(cfg.timeout_s, connect=cfg.connect_timeout_s)
        self.client = openai.OpenAI(base_url=self.base_url, api_key=cfg.api_key or "not-needed", timeout=timeout, max_retries=0)
        self._modes = list(_MODES[cfg.structured])
        self._mode_lock = threading.Lock()

    def health_check(self) -> None:
        """List the server's models within ``connect_timeout_s``; the model must be among them."""
        o = self._openai
        quick = self.client.with_options(timeout=self.cfg.connect_timeout_s + 2, max_retries=0)
        try:
            ids = [m.id for m in quick.models.list()]
        except (o.APIConnectionError, o.APITimeoutError) as exc:
            raise LLMError(
                f"cannot reach an OpenAI-compatible server at {self.base_url} ({type(exc).__name__}); start one, e.g. "
                f"`python -m llama_cpp.server --model MODEL.gguf --port 8000`, and pass --base-url "
                f"http://127.0.0.1:8000/v1 (or set OPENAI_BASE_URL)"
            ) from None
        except o.AuthenticationError:
            raise LLMError(f"{self.base_url} rejected the API key; set --api-key or OPENAI_API_KEY") from None
        except o.NotFoundError:
            return  # some servers do not list models; the first request will tell
        except o.APIStatusError as exc:
            raise LLMError(f"{self.base_url}/models answered HTTP {exc.status_code}: {exc.message}") from None
        if ids and self.cfg.model not in ids:
            raise LLMError(f"model {self.cfg.model!r} is not served by {self.base_url}; it serves: {', '.join(ids[:20])} "
                           "(pass one of them with --model)")

    def complete(self, request: LinkRequest) -> Completion:
        o = self._openai
        while True:
            mode = self._modes[0]
            kwargs = {"model": self.cfg.model, "messages": request.chat(), "temperature": self.cfg.temperature,
                      "max_tokens": self.cfg.max_tokens, "seed": self.cfg.seed}
            fmt = _response_format(mode, request.schema())
            if fmt is not None:
                kwargs["response_format"] = fmt
            t0 = time.perf_counter()
            try:
                resp = self.client.chat.completions.create(**kwargs)
            except (o.APIConnectionError, o.APITimeoutError, o.RateLimitError) as exc:
                raise TransientLLMError(f"{self.base_url}: {type(exc).__name__}: {exc}") from None
            except (o.BadRequestError, o.UnprocessableEntityError, o.InternalServerError) as exc:
                # llama_cpp.server answers an unknown response_format with HTTP 500, others with 400/422
                if isinstance(exc, o.InternalServerError) and not (fmt and "response_format" in str(exc)):
                    raise TransientLLMError(f"{self.base_url}: {type(exc).__name__}: {exc}") from None
                with self._mode_lock:
                    if fmt is not None and mode in self._modes and len(self._modes) > 1:
                        self._modes.remove(mode)  # this server does not take that format; try the next one
                        continue
                    if self._modes[0] != mode:
                        continue  # another thread already moved on to the next format
                raise LLMError(f"{self.base_url} refused the request: {exc}") from None
            except o.APIStatusError as exc:
                raise LLMError(f"{self.base_url} answered HTTP {exc.status_code}: {exc.message}") from None
            seconds = time.perf_counter() - t0
            with self._mode_lock:
                self._modes = [mode]  # remember the format that worked
            usage = resp.usage
            text = resp.choices[0].message.content if resp.choices else None
            return Completion(text or "", seconds, getattr(usage, "prompt_tokens", None),
                              getattr(usage, "completion_tokens", None), {"mode": mode})

    @property
    def mode(self) -> str:
        return self._modes[0]

    def close(self) -> None:
        self.client.close()
