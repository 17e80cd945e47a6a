"""TCP proxying on raw non-blocking sockets driven by the event loop's reader/writer callbacks.

Streams and even protocol transports cost several Python objects, futures and a task per
connection; a proxy does nothing with the bytes, so this module works on the sockets
directly. The listening socket's reader callback accepts connections in batches; each
connection starts a non-blocking ``connect`` to the balancer's endpoint (no task, no future:
a writer callback learns the result, a timer bounds it) and, once connected, two
:class:`_Pipe` objects copy each direction: ``recv`` of up to 256 KiB straight into ``send``.
Only when the destination's kernel buffer is full does a pipe keep the unsent rest, stop
reading its source and wait for the destination to be writable (backpressure with no user
space queue). EOF is passed on as ``shutdown(SHUT_WR)`` (half-close); the connection closes
when both directions are done, or at once on an error.

If an endpoint refuses or does not answer within ``CONNECT_TIMEOUT``, the next endpoint is
tried (up to ``MAX_TRIES``); when none works the client is reset (RST, SO_LINGER 0).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import os
import socket
import struct
from typing import TYPE_CHECKING

from hyperkube.proxy.balancer import NoEndpoints, RoundRobin
from hyperkube.proxy.table import Endpoint, ServicePortName

if TYPE_CHECKING:
    from hyperkube.proxy.userspace import Stats

log = logging.getLogger("hyperkube.proxy")

MAX_TRIES = 3
CONNECT_TIMEOUT = 2.0
CHUNK = 256 * 1024
ACCEPT_BATCH = 64
#: zero-copy for bulk streams: a direction that fills a whole CHUNK in one read switches to
#: splice(2) through a pipe (socket -> pipe -> socket, no copy into Python); Linux only
SPLICE = hasattr(os, "splice")
SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)
PIPE_SIZE = 1 << 20
SPLICE_ROUNDS = 8
_LINGER_RST = struct.pack("ii", 1, 0)


def _established(sock: socket.socket) -> bool:
    try:
        sock.getpeername()
    except OSError:
        return False
    return True


class _Pipe:
    """One direction of one connection: ``src`` -> ``dst``."""

    __slots__ = ("conn", "src", "dst", "src_fd", "dst_fd", "pending", "eof", "reading", "writing", "inbound",
                 "pipe", "in_pipe")

    def __init__(self, conn: _Conn, src: socket.socket, dst: socket.socket, inbound: bool) -> None:
        self.conn, self.src, self.dst = conn, src, dst
        self.src_fd, self.dst_fd = src.fileno(), dst.fileno()
        self.pending: memoryview | None = None
        self.eof = False  # src sent EOF and everything before it was sent on
        self.reading = self.writing = False
        self.inbound = inbound  # client -> endpoint
        self.pipe: tuple[int, int] | None = None  # (read end, write end) once splicing
        self.in_pipe = 0  # bytes in the pipe not yet sent on

    def start(self) -> None:
        self.reading = True
        self.conn.loop.add_reader(self.src_fd, self._splice_readable if self.pipe else self._readable)

    def _to_splice(self) -> None:
        try:
            read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return
        try:
            fcntl.fcntl(write_end, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
        except OSError:
            pass  # the default 64 KiB pipe still works
        self.pipe = (read_end, write_end)
        self.conn.stats.spliced_streams += 1
        if self.reading:
            self.conn.loop.remove_reader(self.src_fd)
            self.conn.loop.add_reader(self.src_fd, self._splice_readable)

    def _splice_readable(self) -> None:
        """Move what the source has, and keep going while it has more and the destination
        takes it all (each epoll round trip saved is a few microseconds of Python)."""
        assert self.pipe is not None
        for _ in range(SPLICE_ROUNDS):
            try:
                moved = os.splice(self.src_fd, self.pipe[1], PIPE_SIZE, flags=SPLICE_FLAGS)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.conn.close(reset=True)
                return
            if not moved:
                self._readable_eof()
                return
            if self.inbound:
                self.conn.stats.bytes_in += moved
            else:
                self.conn.stats.bytes_out += moved
            self.in_pipe += moved
            self._splice_drain()
            if self.in_pipe or self.conn.closed:
                return

    def _splice_drain(self) -> None:
        assert self.pipe is not None
        while self.in_pipe:
            try:
                sent = os.splice(self.pipe[0], self.dst_fd, self.in_pipe, flags=SPLICE_FLAGS)
            except (BlockingIOError, InterruptedError):
                if not self.writing:
                    self._stop_reading()
                    self.writing = True
                    self.conn.loop.add_writer(self.dst_fd, self._splice_writable)
                return
            except OSError:
                self.conn.close(reset=True)
                return
            self.in_pipe -= sent

    def _splice_writable(self) -> None:
        self._splice_drain()
        if not self.in_pipe and self.writing and not self.conn.closed:
            self.writing = False
            self.conn.loop.remove_writer(self.dst_fd)
            self.start()

    def _readable_eof(self) -> None:
        self._stop_reading()
        self.eof = True
        try:
            self.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.conn.pipe_done()

    def _readable(self) -> None:
        """Copy one chunk; then look once more, since a short reply is usually followed at
        once by the sender's FIN, which then costs no extra epoll round trip."""
        for _ in range(2):
            try:
                data = self.src.recv(CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.conn.close(reset=True)
                return
            if not data:
                self._readable_eof()
                return
            stats = self.conn.stats
            if self.inbound:
                stats.bytes_in += len(data)
            else:
                stats.bytes_out += len(data)
            try:
                sent = self.dst.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.conn.close(reset=True)
                return
            if sent < len(data):
                self.pending = memoryview(data)[sent:]
                self._stop_reading()
                self.writing = True
                self.conn.loop.add_writer(self.dst_fd, self._writable)
                return
            if SPLICE and len(data) == CHUNK and self.pipe is None:
                self._to_splice()
                return

    def _writable(self) -> None:
        assert self.pending is not None
        try:
            sent = self.dst.send(self.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.conn.close(reset=True)
            return
        self.pending = self.pending[sent:]
        if not self.pending:
            self.pending = None
            self.writing = False
            self.conn.loop.remove_writer(self.dst_fd)
            self.start()

    def _stop_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.conn.loop.remove_reader(self.src_fd)

    def stop(self) -> None:
        self._stop_reading()
        if self.writing:
            self.writing = False
            self.conn.loop.remove_writer(self.dst_fd)
        if self.pipe is not None:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None


class _Conn:
    __slots__ = ("listener", "loop", "stats", "client", "client_ip", "backend", "endpoint", "failed",
                 "timer", "pipes", "closed")

    def __init__(self, listener: TCPListener, client: socket.socket, client_ip: str) -> None:
        self.listener, self.loop, self.stats = listener, listener.loop, listener.stats
        self.client, self.client_ip = client, client_ip
        self.backend: socket.socket | None = None
        self.endpoint: Endpoint | None = None
        self.failed: set[Endpoint] = set()
        self.timer: asyncio.TimerHandle | None = None
        self.pipes: tuple[_Pipe, _Pipe] | None = None
        self.closed = False
        self.stats.active_connections += 1
        self.stats.connections_total += 1
        self.stats.idle.clear()
        listener.conns.add(self)

    def connect(self) -> None:
        while len(self.failed) < MAX_TRIES:
            try:
                endpoint = self.listener.balancer.next(self.listener.name, self.client_ip,
                                                       exclude=frozenset(self.failed))
            except NoEndpoints:
                break
            family = socket.AF_INET6 if ":" in endpoint.ip else socket.AF_INET
            backend = socket.socket(family, socket.SOCK_STREAM)
            backend.setblocking(False)
            backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = backend.connect_ex((endpoint.ip, endpoint.port))
            if err in (0, errno.EINPROGRESS, errno.EAGAIN):
                self.backend, self.endpoint = backend, endpoint
                if err == 0 or _established(backend):  # loopback handshakes finish inside connect()
                    self._connected()
                    return
                self.loop.add_writer(backend.fileno(), self._connected)
                self.timer = self.loop.call_later(CONNECT_TIMEOUT, self._connect_failed, errno.ETIMEDOUT)
                return
            backend.close()
            log.debug("%s: endpoint %s: %s", self.listener.name, endpoint, errno.errorcode.get(err, err))
            self.failed.add(endpoint)
        self.stats.refused_total += 1
        self.close(reset=True)

    def _connected(self) -> None:
        assert self.backend is not None and self.endpoint is not None
        err = self.backend.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._connect_failed(err)
            return
        self.loop.remove_writer(self.backend.fileno())
        if self.timer:
            self.timer.cancel()
            self.timer = None
        per = self.stats.per_endpoint
        per[self.endpoint] = per.get(self.endpoint, 0) + 1
        self.pipes = (_Pipe(self, self.client, self.backend, True), _Pipe(self, self.backend, self.client, False))
        for pipe in self.pipes:
            pipe.start()
        self.pipes[0]._readable()  # the client's request has usually arrived already: no wait for epoll

    def _connect_failed(self, err: int) -> None:
        assert self.backend is not None and self.endpoint is not None
        log.debug("%s: endpoint %s: %s", self.listener.name, self.endpoint, errno.errorcode.get(err, err))
        if self.timer:
            self.timer.cancel()
            self.timer = None
        self.loop.remove_writer(self.backend.fileno())
        self.backend.close()
        self.failed.add(self.endpoint)
        self.backend = self.endpoint = None
        self.connect()

    def pipe_done(self) -> None:
        if self.pipes and all(p.eof for p in self.pipes):
            self.close()

    def close(self, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer:
            self.timer.cancel()
        if self.pipes:
            for pipe in self.pipes:
                pipe.stop()
            left = self.stats.per_endpoint.get(self.endpoint, 1) - 1  # type: ignore[arg-type]
            if left > 0:
                self.stats.per_endpoint[self.endpoint] = left  # type: ignore[index]
            else:
                self.stats.per_endpoint.pop(self.endpoint, None)  # type: ignore[arg-type]
        elif self.backend is not None:
            self.loop.remove_writer(self.backend.fileno())
        for sock in (self.client, self.backend):
            if sock is None:
                continue
            if reset:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                except OSError:
                    pass
            sock.close()
        self.listener.conns.discard(self)
        self.stats.active_connections -= 1
        if not self.stats.active_connections:
            self.stats.idle.set()


class TCPListener:
    """Accepts on ``ip:port`` for one Service port; :meth:`close` stops accepting only, so open
    connections drain; :meth:`abort` cuts them too."""

    def __init__(self, name: ServicePortName, ip: str, port: int, balancer: RoundRobin, stats: Stats) -> None:
        self.name, self.ip, self.port = name, ip, port
        self.balancer, self.stats = balancer, stats
        self.loop = asyncio.get_running_loop()
        self.conns: set[_Conn] = set()
        self.sock: socket.socket | None = None

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.ip else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.ip, self.port))
            sock.listen(4096)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        assert self.sock is not None
        for _ in range(ACCEPT_BATCH):
            try:
                client, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # EMFILE and friends: try again on the next wakeup
                log.warning("%s: accept: %s", self.name, error)
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _Conn(self, client, address[0]).connect()

    def close(self) -> None:
        if self.sock is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None

    def abort(self) -> None:
        self.close()
        for conn in list(self.conns):
            conn.close(reset=True)
