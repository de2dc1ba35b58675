"""Which option an answer's first token stands for, and option probabilities from first-token log-probabilities.

A multiple-choice answer (:mod:`linkner.link.options`) is read from its first token: the in-process
backend looks at the logits of every vocabulary token (:mod:`linkner.link.llamacpp`), the servers
return the top ``(token, logprob)`` candidates (:mod:`linkner.link.openai_chat`,
:mod:`linkner.link.ollama_chat`). Both apply the same rule, :func:`key_of_token`, so asking one model
either way gives the same probabilities.
"""

from __future__ import annotations


def is_word_keys(keys) -> bool:
    """Whether option keys are words (``"person"``, ``"none"``) rather than letters: a letter key is one
    character, ``none`` is not. The one test of the key kind (prompts, parsing, the in-process scorer)."""
    return any(len(k) > 1 for k in keys)


def key_of_token(token: str | None, keys: tuple[str, ...]) -> str | None:
    """The key a first answer token stands for, or ``None``.

    A letter key needs the letter itself (``"B"``, ``" B"``, ``"B."``). A word key is usually split into
    several tokens, and only the first is scored, so a token stands for a word key when it is the start
    of that word and of no other key (``" organ"`` → ``organization``, any case); a token that starts two
    keys says nothing about which one and is not counted.
    """
    t = (token or "").strip().rstrip(".):")
    if t in keys:  # a letter (only exactly), or a whole word as written
        return t
    t = t.rstrip(",").lstrip("\"'(")  # a word key may come quoted or followed by a comma
    if not t:
        return None
    low = t.lower()
    words = [k for k in keys if len(k) > 1]
    whole = [k for k in words if k.lower() == low]  # the whole word, in any case ("Apple" with apple and applet)
    if whole:
        return whole[0]
    hits = [k for k in words if k.lower().startswith(low)]
    return hits[0] if len(hits) == 1 else None


def choice_probs(candidates: list[tuple[str, float]], keys: tuple[str, ...],
                 space: tuple[str, ...] = ()) -> tuple[dict[str, float] | None, float]:
    """Option probabilities from first-token ``(token text, logprob)`` candidates (``top_logprobs``).

    Tokens standing for the same key (``"B"``, ``" B"``, ``"B."``; ``"person"``, ``" Person"``,
    ``" pers"``: :func:`key_of_token`, against ``space``, every key of the schema) are summed; the result
    is renormalised over the offered ``keys``. Also returns
    the probability mass the keys had among the candidates (how sure the model was to answer with a key
    at all). ``None`` when no key is among the candidates.
    """
    import math

    mass = {k: 0.0 for k in keys}
    for token, logprob in candidates:
        k = key_of_token(token, space or keys)  # matched against every key, so an unoffered one takes its own
        if k in mass and logprob is not None:
            mass[k] += math.exp(float(logprob))
    total = sum(mass.values())
    if total <= 0:
        return None, 0.0
    return {k: v / total for k, v in mass.items()}, total


def first_token_candidates(body: bytes | str) -> list[tuple[str, float]]:
    """``(token, logprob)`` of the first generated token's ``top_logprobs`` in an OpenAI-style chat reply
    (``choices[0].logprobs.content[0]``); empty when the server sent none (it then falls back to parsing)."""
    import json

    try:
        data = json.loads(body)
        first = data["choices"][0]["logprobs"]["content"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return []
    if not isinstance(first, dict):
        return []
    out = [(first.get("token"), first.get("logprob"))]
    for alt in first.get("top_logprobs") or []:
        if isinstance(alt, dict):
            out.append((alt.get("token"), alt.get("logprob")))
    return unique_candidates(out)


def unique_candidates(pairs: list[tuple]) -> list[tuple[str, float]]:
    """Well-typed ``(token, logprob)`` pairs, each token once: the chosen token is usually listed among the
    alternatives too, and counting it twice would inflate its option's probability."""
    seen, uniq = set(), []
    for tok, lp in pairs:
        if isinstance(tok, str) and isinstance(lp, (int, float)) and tok not in seen:
            seen.add(tok)
            uniq.append((tok, float(lp)))
    return uniq
