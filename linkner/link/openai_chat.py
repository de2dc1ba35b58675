"""OpenAI-compatible chat backend (OpenAI, llama.cpp's ``llama-server``, ``python -m llama_cpp.server``,
vLLM, Ollama's ``/v1``…) through the official ``openai`` client.

Structured output differs between servers, so ``structured="auto"`` tries, once, in order: the OpenAI
``json_schema`` response format, llama.cpp's ``json_object`` + ``schema``, then plain text (parsed by
the tolerant parser); the first mode the server accepts is kept for the rest of the run. Retries are
ours (the client's own are switched off) so that back-off and the error budget are the same for every
backend.

Replies are read raw (``with_raw_response``) and decoded here, in :func:`_completion` and
:func:`_model_ids`, not by the client: the client's lenient parsing lets a 200 with an HTML page, bytes
that are not UTF-8 or a choice without a message through as a traceback or a wrong-typed object. Here
any such reply is a :class:`MalformedResponse` (retried, then counted) or, at the health check, one
:class:`LLMError` message.
"""

from __future__ import annotations

import threading
import time

from linkner.errors import LLMError
from linkner.link.backend import Completion, LinkRequest, MalformedResponse, TransientLLMError, json_object, peek, token_count
from linkner.link.config import LLMConfig

_MODES = {"auto": ("json_schema", "json_object", "off"), "json_schema": ("json_schema",),
          "json_object": ("json_object",), "off": ("off",)}


def _response_format(mode: str, schema: dict) -> dict | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "entity_type", "schema": schema, "strict": True}}
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def _model_ids(body: bytes, where: str) -> list[str]:
    """The model ids of a ``/models`` reply (``{"data": [{"id": ...}, ...]}``), or :class:`MalformedResponse`."""
    data = json_object(body, f"the reply of {where}").get("data")
    if not isinstance(data, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in data):
        raise MalformedResponse(f"the reply of {where} has no list of models with string ids (it starts {peek(body)})")
    return [m["id"] for m in data]


def _completion(body: bytes, seconds: float, mode: str, where: str) -> Completion:
    """The one place a chat reply becomes a :class:`Completion`.

    Anything but a JSON object whose first choice has a message with text content (empty choices, a
    choice without a message, ``content`` null or not a string) is a :class:`MalformedResponse`; usage
    counts of the wrong type are dropped rather than failing an otherwise good answer.
    """
    data = json_object(body, f"the reply of {where}")
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise MalformedResponse(f"{where} answered without a message text (it starts {peek(body)})")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(content, seconds, token_count(usage.get("prompt_tokens")),
                      token_count(usage.get("completion_tokens")), {"mode": mode})


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
        self._logprobs = True  # ask for logprobs on multiple-choice requests until the server refuses them
        self._mode_lock = threading.Lock()

    def health_check(self) -> None:
        """List the server's models within ``connect_timeout_s``; the model must be among them."""
        o = self._openai
        quick = self.client.with_options(timeout=self.cfg.connect_timeout_s + 2, max_retries=0)
        try:
            ids = _model_ids(quick.models.with_raw_response.list().http_response.content, f"{self.base_url}/models")
        except MalformedResponse as exc:
            raise LLMError(f"{exc}; is {self.base_url} an OpenAI-compatible server (its URL usually ends in /v1)?") from None
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
            if request.choices:  # multiple choice (fusion): one key token, scored by its first-token logprobs
                fmt = None
                kwargs["max_tokens"] = 1
                if self._logprobs:
                    kwargs.update(logprobs=True, top_logprobs=20)
            if fmt is not None:
                kwargs["response_format"] = fmt
            t0 = time.perf_counter()
            try:
                raw = self.client.chat.completions.with_raw_response.create(**kwargs)
            except (o.APIConnectionError, o.APITimeoutError, o.RateLimitError) as exc:
                raise TransientLLMError(f"{self.base_url}: {type(exc).__name__}: {exc}") from None
            except (o.BadRequestError, o.UnprocessableEntityError, o.InternalServerError) as exc:
                # llama_cpp.server answers an unknown response_format with HTTP 500, others with 400/422
                if isinstance(exc, o.InternalServerError) and not (fmt and "response_format" in str(exc)):
                    raise TransientLLMError(f"{self.base_url}: {type(exc).__name__}: {exc}") from None
                if request.choices and self._logprobs and "logprob" in str(exc).lower():
                    self._logprobs = False  # this server refuses logprobs: parsed answers from here on
                    continue
                with self._mode_lock:
                    if fmt is not None and mode in self._modes and len(self._modes) > 1:
                        self._modes.remove(mode)  # this server does not take that format; try the next one
                        continue
                    if self._modes[0] != mode:
                        continue  # another thread already moved on to the next format
                raise LLMError(f"{self.base_url} refused the request: {exc}") from None
            except o.APIStatusError as exc:
                raise LLMError(f"{self.base_url} answered HTTP {exc.status_code}: {exc.message}") from None
            completion = _completion(raw.http_response.content, time.perf_counter() - t0, mode,
                                     f"{self.base_url}/chat/completions")
            with self._mode_lock:
                self._modes = [mode]  # remember the format that worked
            if request.choices:
                from linkner.link.first_token import choice_probs, first_token_candidates

                completion.option_probs, mass = choice_probs(first_token_candidates(raw.http_response.content),
                                                             request.choices, request.keys)
                completion.extra["choice_mass"] = round(mass, 6)
            return completion

    @property
    def mode(self) -> str:
        return self._modes[0]

    def close(self) -> None:
        self.client.close()
