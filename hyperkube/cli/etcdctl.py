"""``hyperkube etcdctl``: the click wiring of :mod:`hyperkube.storage.etcdctl`.

The store is chosen like the API server's: ``--etcd-servers`` (``sqlite:///path.db`` or
etcd's ``http(s)://host:port`` URLs, comma-separated; ``--endpoints`` and
``$ETCDCTL_ENDPOINTS`` work too) or ``--data-dir`` (its ``state.db``), by default the API
server's default data dir. The flags may come
before or after the subcommand, as etcdctl's global flags do. A storage failure prints one
``Error: ...`` line on stderr and exits 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options


def _store_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    @click.option("--etcd-servers", "--endpoints", "servers", envvar="ETCDCTL_ENDPOINTS", metavar="URLS",
                  help="sqlite:///path.db, or comma-separated etcd URLs (http://127.0.0.1:2379).")
    @click.option("--data-dir", type=click.Path(file_okay=False), metavar="DIR",
                  help="Use the SQLite store state.db in this directory.")
    @click.option("--cacert", "--etcd-cafile", "ca_file", envvar="ETCDCTL_CACERT", metavar="FILE",
                  type=click.Path(dir_okay=False), help="CA bundle that signed etcd's certificate (https).")
    @click.option("--cert", "--etcd-certfile", "cert_file", envvar="ETCDCTL_CERT", metavar="FILE",
                  type=click.Path(dir_okay=False), help="Client certificate for etcd (https).")
    @click.option("--key", "--etcd-keyfile", "key_file", envvar="ETCDCTL_KEY", metavar="FILE",
                  type=click.Path(dir_okay=False), help="Key of the client certificate.")
    @functools.wraps(func)
    def wrapper(*args: Any, servers: str | None, data_dir: str | None, ca_file: str | None, cert_file: str | None,
                key_file: str | None, **kwargs: Any) -> Any:
        chosen = click.get_current_context().ensure_object(dict)
        for name, value in (("servers", servers), ("data_dir", data_dir), ("ca_file", ca_file),
                            ("cert_file", cert_file), ("key_file", key_file)):
            if value:
                chosen[name] = value
        return func(*args, **kwargs)

    return wrapper


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _open(chosen: dict[str, str]) -> Any:
    """The store: through ``open_store`` like the API server, except etcd with TLS files."""
    from hyperkube.storage import open_store

    servers, data_dir = chosen.get("servers"), chosen.get("data_dir")
    if not servers and not data_dir:  # the API server's default: state.db in its default data dir
        from hyperkube.apiserver.app import default_data_dir

        data_dir = default_data_dir()
    if servers and any(chosen.get(f) for f in ("ca_file", "cert_file", "key_file")):
        from hyperkube.storage.etcd import EtcdStore

        return EtcdStore(servers.split(","), ca_file=chosen.get("ca_file"), cert_file=chosen.get("cert_file"),
                         key_file=chosen.get("key_file"))
    if servers and servers.startswith("sqlite://"):
        parts = urlsplit(servers)
        path = parts.netloc + parts.path
        if path and not os.path.exists(path):
            _fail(f"no database at {path}")
    elif not servers and data_dir:
        path = os.path.join(data_dir, "state.db")
        if not os.path.exists(path):
            _fail(f"no database at {path}: pass the API server's --data-dir, or --etcd-servers "
                  "(sqlite:///path.db or http://host:port)")
    return open_store(servers or "", data_dir=data_dir, overrides=())


def _run(action: Callable[..., Awaitable[int]], *args: Any, **kwargs: Any) -> None:
    """Open the chosen store, run one command on it, close it, exit with its code."""
    from hyperkube.storage.etcdctl import CommandError
    from hyperkube.storage.interface import StorageError

    chosen = click.get_current_context().find_object(dict) or {}
    out = sys.stdout.buffer

    async def main() -> int:
        try:
            store = _open(chosen)
            if inspect.isawaitable(store):
                store = await store
        except (ValueError, StorageError) as exc:
            _fail(str(exc))
        try:
            await store.start()
            return await action(store, out, *args, **kwargs)
        finally:
            await store.close()

    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        code = 0
    except CommandError as exc:
        out.flush()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (StorageError, ValueError, OSError) as exc:
        out.flush()
        _fail(str(exc) or type(exc).__name__)
    out.flush()
    sys.exit(code)


def _logic() -> Any:
    from hyperkube.storage import etcdctl

    return etcdctl


@click.group(name="etcdctl", context_settings=CONTEXT_SETTINGS,
             help="Inspect and change the store directly: get, put, del, watch, ls, compact, "
                  "endpoint status, history. Output and exit codes follow etcdctl v3's.")
@common_options
@_store_flags
def command() -> None:
    pass


_WRITE_OUT = click.option("-w", "--write-out", type=click.Choice(["simple", "json"]), default="simple",
                          show_default=True, help="Output format.")


@command.command(name="get", context_settings=CONTEXT_SETTINGS)
@click.argument("key")
@click.option("--prefix", is_flag=True, help="Every key with KEY as prefix.")
@click.option("--from-key", is_flag=True, help="Every key >= KEY.")
@click.option("--rev", type=click.IntRange(min=0), default=0, help="Read at this revision (0 = latest).")
@click.option("--limit", type=click.IntRange(min=0), default=0, help="At most this many keys.")
@click.option("--keys-only", is_flag=True, help="Keys without values.")
@click.option("--count-only", is_flag=True, help="Only the number of keys.")
@click.option("--print-value-only", is_flag=True, help="Values without keys.")
@_WRITE_OUT
@_store_flags
def get_command(key: str, prefix: bool, from_key: bool, rev: int, limit: int, keys_only: bool, count_only: bool,
                print_value_only: bool, write_out: str) -> None:
    """Print KEY (or a range) as key and value lines; a missing key prints nothing."""
    _run(_logic().get, key, prefix=prefix, from_key=from_key, revision=rev, limit=limit, keys_only=keys_only,
         count_only=count_only, print_value_only=print_value_only, write_out=write_out)


@command.command(name="put", context_settings=CONTEXT_SETTINGS)
@click.argument("key")
@click.argument("value", required=False)
@click.option("--lease", default="0", help="Attach the key to this lease (hex ID, as etcdctl prints it).")
@click.option("--prev-kv", is_flag=True, help="Also print the previous key and value.")
@_store_flags
def put_command(key: str, value: str | None, lease: str, prev_kv: bool) -> None:
    """Set KEY to VALUE (read from stdin when VALUE is left out); prints OK."""
    data = sys.stdin.buffer.read() if value is None else os.fsencode(value)
    try:
        lease_id = int(lease, 16)
    except ValueError:
        _fail(f"bad lease ID {lease!r}: expected hexadecimal")
    _run(_logic().put, key, data, lease=lease_id, prev_kv=prev_kv)


@command.command(name="del", context_settings=CONTEXT_SETTINGS)
@click.argument("key")
@click.option("--prefix", is_flag=True, help="Every key with KEY as prefix.")
@click.option("--from-key", is_flag=True, help="Every key >= KEY.")
@click.option("--prev-kv", is_flag=True, help="Also print the deleted keys and values.")
@_store_flags
def del_command(key: str, prefix: bool, from_key: bool, prev_kv: bool) -> None:
    """Delete KEY (or a range); prints how many keys were deleted."""
    _run(_logic().delete, key, prefix=prefix, from_key=from_key, prev_kv=prev_kv)


@command.command(name="watch", context_settings=CONTEXT_SETTINGS)
@click.argument("key")
@click.option("--prefix", is_flag=True, help="Every key with KEY as prefix.")
@click.option("--rev", type=click.IntRange(min=0), default=0, help="Start at this revision (0 = from now on).")
@click.option("--prev-kv", is_flag=True, help="Also print the previous value of each event.")
@_store_flags
def watch_command(key: str, prefix: bool, rev: int, prev_kv: bool) -> None:
    """Print each event (type, key, value lines) until interrupted."""
    _run(_logic().watch, key, prefix=prefix, revision=rev, prev_kv=prev_kv)


@command.command(name="ls", context_settings=CONTEXT_SETTINGS)
@click.argument("prefix", default="/")
@click.option("-r", "--recursive", is_flag=True, help="List every key and directory below PREFIX.")
@_store_flags
def ls_command(prefix: str, recursive: bool) -> None:
    """etcd v2's ls: the keys and directories (split on /) under PREFIX."""
    _run(_logic().ls, prefix, recursive=recursive)


@command.command(name="compact", context_settings=CONTEXT_SETTINGS)
@click.argument("revision", type=click.IntRange(min=1))
@click.option("--physical", is_flag=True, help="Accepted for etcdctl compatibility; compaction always completes.")
@_store_flags
def compact_command(revision: int, physical: bool) -> None:
    """Forget every revision below REVISION except each key's latest value."""
    _run(_logic().compact, revision)


@command.group(name="endpoint", context_settings=CONTEXT_SETTINGS)
@_store_flags
def endpoint_group() -> None:
    """Endpoint commands."""


@endpoint_group.command(name="status", context_settings=CONTEXT_SETTINGS)
@click.option("-w", "--write-out", type=click.Choice(["table", "simple", "json"]), default="table",
              show_default=True, help="Output format.")
@_store_flags
def endpoint_status_command(write_out: str) -> None:
    """Revision, compact revision, database size and version of the store."""
    _run(_logic().endpoint_status, write_out=write_out)


@command.command(name="history", context_settings=CONTEXT_SETTINGS)
@click.argument("key")
@_WRITE_OUT
@_store_flags
def history_command(key: str, write_out: str) -> None:
    """Every stored revision of KEY, oldest first, with its value."""
    _run(_logic().history, key, write_out=write_out)
