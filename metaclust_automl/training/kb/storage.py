"""Where the meta-training state lives: any Optuna storage, opened from a URL.

- ``sqlite:///path/optuna.db`` (the default, next to the knowledge base): one machine,
  any number of worker processes. The file is switched to WAL mode so that workers
  do not block each other's reads.
- ``postgresql://user:password@host:5432/db`` (or any SQLAlchemy URL Optuna accepts):
  many machines, each running ``metaclust meta-train --storage URL``.
- ``journal:/shared/disk/metatrain.log`` (or a path ending in ``.log``/``.journal``):
  Optuna's journal file storage, for a cluster with a shared file system and no
  database server.

Everything meta-training needs to resume or to split work is in the storage: the
trials of every study, the portfolio runs and the meta-features.
"""
from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from ...errors import ConfigError, DataError

JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")


def default_storage_url(out_dir: str | Path) -> str:
    """A SQLite file in ``KB_DIR.work/`` (beside, not inside, the knowledge base, which is
    replaced atomically when written)."""
    out = Path(out_dir)
    work = out.parent / f"{out.name}.work"
    return f"sqlite:///{(work / 'optuna.db').resolve()}"


def redact(url: str) -> str:
    """The URL without its password, for messages and manifests."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def normalise_url(url: str) -> str:
    """Accept plain paths too: ``x.db`` means SQLite, ``x.log`` the journal storage."""
    if "://" in url or url.startswith("journal:"):
        return url
    path = Path(url).expanduser().resolve()
    if path.suffix in JOURNAL_SUFFIXES:
        return f"journal:{path}"
    return f"sqlite:///{path}"


def _postgres_driver(url: str) -> str:
    """``postgresql://`` with whichever driver is installed: SQLAlchemy 2.1 defaults to
    psycopg 3, while ``pip install psycopg2-binary`` is the usual set-up."""
    import importlib.util

    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
                return "postgresql+psycopg2://" + url[len(prefix):]
            return "postgresql://" + url[len(prefix):]
    return url


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    rest = url[len("sqlite:///"):]
    return None if rest in ("", ":memory:") else Path(rest.split("?")[0])


#: the first bytes of every SQLite database file
SQLITE_MAGIC = b"SQLite format 3\x00"


def _prepare_sqlite(path: Path) -> None:
    """Check an existing file is an intact SQLite database before Optuna touches it (a
    notes file given by mistake is refused, not written into; a damaged page is found
    here, not half-way through the run), then switch it to WAL."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as fh:
            if fh.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                raise DataError(f"cannot use {path} as meta-training storage: it exists and is not a SQLite "
                                "database; give a new file name or the storage of an earlier run")
    try:
        con = sqlite3.connect(str(path), timeout=60)
        try:
            row = con.execute("PRAGMA quick_check").fetchone()
            if not row or row[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed ({row[0] if row else 'no answer'})")
            con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise DataError(f"cannot use {path} as meta-training storage: {exc}; it is damaged: move it away "
                        "to start afresh") from None


def _check_journal(path: Path) -> None:
    """An existing journal file must be one Optuna wrote (JSON lines with an ``op_code``):
    journal storage appends to the file, so a user's ``notes.log`` must never be taken for one."""
    import json

    if not path.exists() or path.stat().st_size == 0:
        return
    if not path.is_file():
        raise DataError(f"cannot use {path} as a meta-training journal: it is not a file")
    with open(path, "rb") as fh:
        first = fh.readline(1 << 20)
    try:
        record = json.loads(first.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        record = None
    if not isinstance(record, dict) or "op_code" not in record:
        raise DataError(f"cannot use {path} as a meta-training journal: it exists and is not an Optuna journal "
                        "(metaclust would append to it); give a new file name or the journal of an earlier run")


def open_storage(url: str, *, retries: int = 4) -> Any:
    """An Optuna storage for ``url`` (raises ConfigError/DataError with the reason)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = normalise_url(url)
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        rest = url[len("journal:"):]
        if rest.startswith("///"):
            rest = rest[2:]
        elif rest.startswith("//"):
            rest = rest[2:]
        path = Path(rest).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_journal(path)
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"cannot use journal file {path}: {type(exc).__name__}: {exc}") from None
    url = _postgres_driver(url)
    sqlite_path = _sqlite_path(url)
    engine_kwargs: dict[str, Any] = {}
    if sqlite_path is not None:
        _prepare_sqlite(sqlite_path)
        engine_kwargs = {"connect_args": {"timeout": 120}}
    elif url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 120}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    last: Exception | None = None
    for attempt in range(retries):
        try:
            rdb = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            if sqlite_path is not None:
                _fast_sqlite(rdb)
            # Optuna's caching wrapper, as a Study would use: trials created here are then
            # known to the Trial objects that suggest parameters for them.
            return optuna.storages.get_storage(rdb)
        except ImportError as exc:
            raise ConfigError(f"storage {redact(url)} needs a database driver that is not installed "
                              f"({exc}); for PostgreSQL: pip install psycopg2-binary") from None
        except ValueError as exc:
            raise ConfigError(f"invalid storage URL {redact(url)}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy/driver errors; two workers may race on the schema
            last = exc
            time.sleep(0.5 + attempt)
    first = str(last).strip().splitlines()[0] if last is not None and str(last).strip() else type(last).__name__
    raise ConfigError(f"cannot open meta-training storage {redact(url)}: {first}")


def _fast_sqlite(storage: Any) -> None:
    """WAL + synchronous=NORMAL: safe against process crashes, much faster commits."""
    from sqlalchemy import event

    @event.listens_for(storage.engine, "connect")
    def _pragmas(dbapi_con: Any, record: Any) -> None:  # noqa: ARG001
        cur = dbapi_con.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    storage.engine.dispose()


def release(storage: Any) -> None:
    """Close pooled connections (before forking workers: a connection must not be shared)."""
    engine = getattr(getattr(storage, "_backend", storage), "engine", None)
    if engine is not None:
        engine.dispose()
