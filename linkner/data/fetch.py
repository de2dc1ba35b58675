"""``linkner data fetch``: CoNLL-2003 from the Hugging Face hub into the data cache, as CoNLL files.

CoNLL-2003 cannot ship with the project (Reuters terms), but the hub serves it, so a fresh clone can get
it with one command and then use it by name like any other copy: the converted files land in
:func:`linkner.cache.data_cache` under the paths the registry expects (``conll03/train.txt``,
``valid.txt``, ``test.txt``), which is one of the registry's data roots.

Where it comes from. ``eriktks/conll2003`` (where the canonical ``conll2003`` id redirects) is a
script-based dataset, and ``datasets`` ≥ 4 runs no loading scripts (3.x only with
``trust_remote_code``, which this never sets). The hub's own Parquet export of it
(``refs/convert/parquet``) needs no script, so that is tried first, through ``datasets``' Parquet
loader; the repository's main branch comes second, for when it is (or becomes) data-only. A hub copy is
accepted only if its sentence counts are the published ones (14,041 / 3,250 / 3,453), so a truncated or
different copy is never written as "conll03".

Offline it fails at once (``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE``, or the hub's host not answering
within a few seconds) with one line saying how to point ``LINKNER_DATA_DIR`` at a copy. ``--from`` takes a
local copy in the hub's format (a ``save_to_disk`` folder, or a folder of Parquet files), which is also
how the conversion is tested without a network.

Written files: ``token<TAB>tag`` per line, IOB2 tags, a blank line between sentences, no ``-DOCSTART-``
lines (the hub's copy has no document markers; the registry's reader drops them anyway). Every split is
converted and checked before anything is written, and each file is written under a temporary name and
renamed, so an interrupted fetch never leaves a half-written file the registry would read.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from linkner.cache import data_cache
from linkner.data.registry import data_roots, fetchable_from, find, how_to_get, spec, validate_labels
from linkner.data.spans import tags_to_entities
from linkner.data.types import Sentence
from linkner.data.writers import write_conll
from linkner.errors import DataError

# hub split name -> registry split name
HUB_SPLITS = {"train": "train", "validation": "dev", "test": "test"}
SPLIT_ALIASES = {"train": "train", "validation": "dev", "valid": "dev", "dev": "dev", "test": "test"}
# The ClassLabel names of the hub's ner_tags, used only when a hub copy has lost its feature metadata.
HUB_NER_NAMES = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
PUBLISHED_SENTENCES = {"conll03": {"train": 14041, "dev": 3250, "test": 3453}}
PROBE_TIMEOUT_S = 5.0

Say = Callable[[str], None]


def _offline_hint(name: str) -> str:
    files = ", ".join(spec(name).splits[sp] for sp in HUB_SPLITS.values())
    return (f"point LINKNER_DATA_DIR at a folder that holds {files}, or pass --from a local copy in the hub's "
            "format (a save_to_disk folder or a folder of Parquet files)")


def not_fetchable(name: str) -> str:
    """Why ``name`` (not on the hub) cannot be fetched, and what to do instead for each missing file."""
    s = spec(name)
    missing = [sp for sp in s.splits if find(name, sp) is None]
    by_path = [s.splits[sp] for sp in missing if sp not in s.shipped and not fetchable_from(s.splits[sp])]
    parts = [f"set LINKNER_DATA_DIR to a folder that holds {', '.join(by_path)} (sources in data/README.md)"] if by_path else []
    via: dict[str, list[str]] = {}
    for sp in missing:
        if sp in s.shipped:
            parts.append(f"{sp}: {how_to_get(name, sp)}")
        elif fetched := fetchable_from(s.splits[sp]):
            via.setdefault(fetched, []).append(sp)
    parts += [f"its {'/'.join(sps)} split(s) are {other}'s: run `linkner data fetch {other}`" for other, sps in via.items()]
    return f"{name} is not on the Hugging Face hub; " + "; ".join(parts)


def _import_datasets():
    try:
        import datasets
    except ImportError:
        raise DataError("fetching needs the 'datasets' package: pip install datasets") from None
    return datasets


def _split_of(rel: Path) -> str | None:
    """The split a Parquet file belongs to, from its name or folders (``train-0000-of-0001.parquet``,
    ``conll2003/validation/0000.parquet``); the file name wins over its folders."""
    for part in reversed(rel.with_suffix("").parts):
        words = [w for w in part.replace("_", "-").replace(".", "-").split("-") if w]
        hits = {SPLIT_ALIASES[w] for w in words if w in SPLIT_ALIASES}
        if len(hits) == 1:
            return hits.pop()
    return None


def _parquet_files(folder: Path) -> dict[str, list[str]]:
    files = sorted(p for p in folder.rglob("*.parquet") if p.is_file())
    by_split: dict[str, list[str]] = {}
    for f in files:
        sp = _split_of(f.relative_to(folder))
        if sp is None:
            raise DataError(f"{f}: cannot tell which split this Parquet file holds; name it train-*, validation-* or test-*")
        by_split.setdefault(sp, []).append(str(f))
    return by_split


def load_local(path: str | Path, cache: Path) -> dict[str, Any]:
    """A local copy in the hub's format → {registry split: datasets.Dataset}. Reads nothing remote."""
    datasets = _import_datasets()
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"--from {p}: not a folder (give a save_to_disk folder or a folder of Parquet files)")
    if (p / "dataset_dict.json").is_file() or (p / "state.json").is_file():
        try:
            ds = datasets.load_from_disk(str(p))
        except Exception as exc:  # datasets raises many types for a damaged folder
            raise DataError(f"--from {p}: cannot load the saved dataset: {exc}") from None
        if not isinstance(ds, datasets.DatasetDict):
            raise DataError(f"--from {p}: a single split was saved; save a DatasetDict with train, validation and test")
        out = {}
        for name, split in ds.items():
            if name not in SPLIT_ALIASES:
                raise DataError(f"--from {p}: unknown split {name!r}; expected train, validation and test")
            out[SPLIT_ALIASES[name]] = split
        return out
    by_split = _parquet_files(p)
    if not by_split:
        raise DataError(f"--from {p}: no dataset_dict.json and no *.parquet files; give a save_to_disk folder or Parquet files")
    try:
        ds = datasets.load_dataset("parquet", data_files=by_split, cache_dir=str(cache))
    except Exception as exc:
        raise DataError(f"--from {p}: cannot read the Parquet files: {exc}") from None
    return dict(ds)


def _hub_endpoint() -> tuple[str, int]:
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)


def check_online(name: str) -> None:
    """Fail fast, with what to do, when the hub cannot be reached (rather than after minutes of retries)."""
    hint = _offline_hint(name)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            raise DataError(f"cannot fetch {name}: {var} is set (offline); {hint}")
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return  # the hub is reached through the proxy: a direct probe would say nothing
    host, port = _hub_endpoint()
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as exc:
        raise DataError(f"cannot fetch {name}: the Hugging Face hub ({host}:{port}) is not reachable ({exc}); {hint}") from None


def load_hub(name: str, cache: Path, say: Say = print) -> dict[str, Any]:
    """{registry split: datasets.Dataset} from the hub: the Parquet export first, then the main branch."""
    repo = spec(name).hub
    check_online(name)
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "20")  # read when huggingface_hub is first imported
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "60")
    datasets = _import_datasets()
    config = repo.split("/")[-1]
    export = {hub: f"hf://datasets/{repo}@refs%2Fconvert%2Fparquet/{config}/{hub}/*.parquet" for hub in HUB_SPLITS}
    attempts = [(f"{repo} (Parquet export)", lambda: datasets.load_dataset("parquet", data_files=export, cache_dir=str(cache))),
                (repo, lambda: datasets.load_dataset(repo, cache_dir=str(cache)))]
    errors = []
    for label, attempt in attempts:
        say(f"loading {label} from the Hugging Face hub …")
        try:
            ds = attempt()
        except Exception as exc:  # network, missing files, script-based repo: try the next source
            errors.append(f"{label}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            continue
        missing = [hub for hub in HUB_SPLITS if hub not in ds]
        if missing:
            errors.append(f"{label}: no split {', '.join(missing)}")
            continue
        return {HUB_SPLITS[hub]: ds[hub] for hub in HUB_SPLITS}
    raise DataError(f"cannot fetch {name} from the Hugging Face hub ({'; '.join(errors)}); {_offline_hint(name)}")


def _tag_names(split: Any, source: str, default: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The names behind integer ``ner_tags`` (their ClassLabel), ``None`` when the tags are strings."""
    for col in ("tokens", "ner_tags"):
        if col not in split.column_names:
            raise DataError(f"{source}: no column {col!r}; it has {', '.join(split.column_names)}")
    names = getattr(getattr(split.features["ner_tags"], "feature", None), "names", None)
    if names:
        return tuple(names)
    dtype = getattr(getattr(split.features["ner_tags"], "feature", None), "dtype", "")
    if dtype == "string":
        return None
    if default is None:
        raise DataError(f"{source}: ner_tags are integers without ClassLabel names; save them with "
                        f"ClassLabel(names=[{', '.join(HUB_NER_NAMES)}]) as the hub does")
    return default


def to_sentences(name: str, split_name: str, split: Any, source: str,
                 default_names: tuple[str, ...] | None = None) -> list[Sentence]:
    """One hub split → sentences, checked against the dataset's schema (rows of only ``-DOCSTART-`` are
    document markers, not sentences, and are dropped as the registry's reader drops them)."""
    names = _tag_names(split, source, default_names)
    out = []
    for i, row in enumerate(split):
        tokens = [str(t) for t in row["tokens"]]
        if tokens in ([], ["-DOCSTART-"]):
            continue
        raw = row["ner_tags"]
        if len(raw) != len(tokens):
            raise DataError(f"{source}[{split_name}] row {i}: {len(tokens)} tokens but {len(raw)} tags")
        try:
            tags = [names[t] for t in raw] if names else [str(t) for t in raw]
            entities = tags_to_entities(tags)
        except (IndexError, TypeError, ValueError) as exc:
            raise DataError(f"{source}[{split_name}] row {i}: bad tag ({exc})") from None
        bad = next((t for t in tokens if not t.strip() or any(c in t for c in "\t\r\n")), None)
        if bad is not None:
            raise DataError(f"{source}[{split_name}] row {i}: token {bad!r} cannot be written as a CoNLL line")
        out.append(Sentence(tokens, entities, id=f"{split_name}:{len(out)}"))
    validate_labels(out, spec(name).labels, f"{source}[{split_name}]")
    return out


def _write_atomic(sentences: list[Sentence], path: Path) -> None:
    """Write beside ``path`` under a temporary name, then rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write_conll(sentences, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def convert(name: str, splits: Mapping[str, Any], out_root: Path, source: str,
            default_names: tuple[str, ...] | None = None, check_counts: bool = False) -> dict[str, Path]:
    """Convert every split (all before writing any), then write each file atomically; return the paths."""
    s = spec(name)
    missing = [sp for sp in s.splits if sp not in splits]
    if missing:
        raise DataError(f"{source}: no {', '.join(missing)} split (the hub's splits are train, validation, test)")
    converted = {sp: to_sentences(name, sp, splits[sp], source, default_names) for sp in s.splits}
    if check_counts and (published := PUBLISHED_SENTENCES.get(name)):
        got = {sp: len(v) for sp, v in converted.items()}
        if got != published:
            raise DataError(f"{source}: sentence counts {got} differ from the published {published}; not written")
    paths = {}
    for sp, sentences in converted.items():
        _write_atomic(sentences, out_root / s.splits[sp])
        paths[sp] = out_root / s.splits[sp]
    return paths


def fetch(name: str, source: str | Path | None = None, out_root: Path | None = None, force: bool = False,
          say: Say = print) -> dict[str, Path]:
    """Fetch ``name`` from the hub (or convert the local copy ``source``) into ``out_root`` (the data cache).

    Returns the written files; returns the files already found (writing nothing) when every split is
    available and neither ``force`` nor ``source`` asks for a new copy.
    """
    s = spec(name)
    found = {sp: find(name, sp) for sp in s.splits}
    if not s.hub:
        if source is not None or not all(found.values()):
            raise DataError(not_fetchable(name))
        say(f"{name} is not on the Hugging Face hub and needs no fetching: every split is found")
        return {sp: p for sp, p in found.items() if p is not None}
    if source is None and not force and all(found.values()):
        say(f"{name} is already available; --force fetches it again")
        return {sp: p for sp, p in found.items() if p is not None}
    out_root = Path(out_root).expanduser() if out_root else data_cache()
    out_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".hf-", dir=out_root) as tmp:
        if source is not None:
            splits = load_local(source, Path(tmp))
            paths = convert(name, splits, out_root, f"--from {source}")
        else:
            splits = load_hub(name, Path(tmp), say)
            paths = convert(name, splits, out_root, s.hub, default_names=HUB_NER_NAMES, check_counts=True)
    if out_root not in data_roots():
        say(f"note: {out_root} is not searched by default; set LINKNER_DATA_DIR={out_root} to use these files by name")
    return paths
