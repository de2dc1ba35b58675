"""The answer cache's file format (issue 14): a new cache starts with a header record, anything that is
not a cache is refused untouched, caches from before the header (the committed one) still work byte for
byte, and junk or a half-written last line is reported once and never glued onto."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from link_helpers import FakeBackend, write_predictions
from typer.testing import CliRunner

from linkner.errors import DataError
from linkner.link.cache import AnswerCache
from linkner.link.config import LinkConfig, LLMConfig
from linkner.link.pipeline import run_link

COMMITTED = Path(__file__).resolve().parents[1] / "results" / "llm-answers.jsonl"


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def legacy_cache(path: Path, n: int = 3) -> Path:
    """A cache as written before the header existed: answer records only."""
    path.write_text("".join(json.dumps({"key": f"k{i}", "backend": "fake", "model": "m", "raw": f"r{i}", "seconds": 0.1,
                                        "stored_at": 1.0}) + "\n" for i in range(n)), encoding="utf-8")
    return path


def test_a_new_cache_starts_with_a_header_and_reads_back(tmp_path):
    path = tmp_path / "sub" / "c.jsonl"
    with AnswerCache(path) as c:
        c.put("a", {"raw": "x"})
    with AnswerCache(path) as c:  # a second writer sees the header and adds no other
        assert c.get("a")["raw"] == "x" and not c.legacy and c.skipped_lines == 0
        c.put("b", {"raw": None})
    recs = lines(path)
    assert recs[0]["linkner_cache"] == 1 and [r.get("key") for r in recs] == [None, "a", "b"]
    with AnswerCache(path) as c:
        assert len(c) == 2 and c.get("b")["raw"] is None


NOT_CACHES = {
    "predictions.jsonl": None,  # written by write_predictions
    "data.conll": b"EU B-ORG\nrejects O\n\nPeter B-PER\n",
    "notes.txt": b"Angela Merkel visited Paris.\n",
    "list.json": b'[{"key": "a", "raw": "x"}]\n',
    "binary.bin": bytes(range(256)) * 4,
    "latin1.txt": "Café\n".encode("latin-1"),
    "mixed.jsonl": b'{"key": "a", "raw": "x", "stored_at": 1}\n{"id": "s0", "tokens": ["EU"], "entities": []}\n',
    "future.jsonl": b'{"linkner_cache": 2}\n{"key": "a", "raw": "x"}\n',
}


@pytest.mark.parametrize("name", sorted(NOT_CACHES))
def test_a_file_that_is_not_a_cache_is_refused_untouched(tmp_path, name):
    path = tmp_path / name
    if NOT_CACHES[name] is None:
        write_predictions(path)
    else:
        path.write_bytes(NOT_CACHES[name])
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(DataError, match="format 2" if name == "future.jsonl" else "not a LinkNER answer cache") as exc:
        AnswerCache(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_cli_cache_pointed_at_the_predictions_refuses_them_untouched(tmp_path):
    from linkner_cli.app import app

    pred = write_predictions(tmp_path / "p.jsonl")
    before = pred.read_bytes()
    res = CliRunner().invoke(app, ["link", str(pred), "--out", str(tmp_path / "o"), "--backend", "openai", "--model", "m",
                                   "--base-url", "http://127.0.0.1:9/v1", "--cache", str(pred)])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "not a LinkNER answer cache" in errors[0] and "Traceback" not in res.output
    assert pred.read_bytes() == before


def test_a_cache_from_before_the_header_is_read_and_appended_to_as_it_is(tmp_path):
    path = legacy_cache(tmp_path / "old.jsonl")
    before = path.read_bytes()
    with AnswerCache(path) as c:
        assert c.legacy and len(c) == 3 and c.get("k1")["raw"] == "r1"
    assert path.read_bytes() == before  # reading never writes, and no header is slipped in
    with AnswerCache(path) as c:
        c.put("new", {"raw": "n"})
    after = path.read_bytes()
    assert after.startswith(before) and [r["key"] for r in lines(path)] == ["k0", "k1", "k2", "new"]


def test_the_committed_cache_still_serves_a_cached_rerun_unchanged(tmp_path):
    path = shutil.copy(COMMITTED, tmp_path / "llm-answers.jsonl")
    n = sum(1 for x in COMMITTED.read_bytes().splitlines() if x.strip())
    with AnswerCache(path) as c:
        assert len(c) == n and c.skipped_lines == 0 and c.legacy
        some = json.loads(COMMITTED.read_bytes().splitlines()[0])
        assert c.get(some["key"]) == some
    assert Path(path).read_bytes() == COMMITTED.read_bytes()


def test_junk_and_a_half_written_line_are_reported_once_and_never_glued_onto(tmp_path, caplog):
    path = tmp_path / "c.jsonl"
    with AnswerCache(path) as c:
        for k in "abc":
            c.put(k, {"raw": k})
    good = path.read_bytes()
    path.write_bytes(good.replace(b'{"key": "b"', b'\xff\xfe junk {"key": "b"') + b'{"key": "d", "raw": "half wr')
    caplog.set_level(logging.WARNING, "linkner.link.cache")
    with AnswerCache(path) as c:
        assert {k for k in "abcd" if k in c} == {"a", "c"} and c.skipped_lines == 2
        c.put("e", {"raw": "e"})
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and str(path) in warnings[0] and "2 unreadable line(s)" in warnings[0]
    tail = path.read_bytes().splitlines()[-2:]
    assert tail[0].endswith(b'"half wr') and json.loads(tail[1])["key"] == "e"  # its own line
    with AnswerCache(path) as c:
        assert {k for k in "abcde" if k in c} == {"a", "c", "e"}


def test_a_run_reports_a_damaged_cache_and_still_uses_its_good_answers(tmp_path, caplog):
    pred = write_predictions(tmp_path / "p.jsonl")
    cfg = LinkConfig(cache=str(tmp_path / "c.jsonl"), llm=LLMConfig(backend="openai", model="fake"))
    run_link(pred, cfg, backend=FakeBackend())
    path = tmp_path / "c.jsonl"
    path.write_bytes(path.read_bytes()[:-9])  # a crash in the middle of the last answer
    caplog.set_level(logging.WARNING, "linkner.link.cache")
    again = FakeBackend()
    res = run_link(pred, cfg, backend=again)
    assert len(again.calls) == 1 and res.metrics["llm"]["cache_hits"] == 3  # only the cut answer is asked again
    assert len([r for r in caplog.records if "1 unreadable line" in r.getMessage()]) == 1
    assert all(json.loads(x) for x in path.read_bytes().splitlines()[:-2])


def test_a_directory_or_an_unwritable_place_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        AnswerCache(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="cannot open the answer cache"):
        AnswerCache(tmp_path / "file" / "c.jsonl")
