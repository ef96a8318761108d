"""Run an output writer beside the rest of the build: in a forked child, or in a thread.

The concept map and the deck need nothing from each other once the cards exist; on a machine
with two cores writing them side by side saves about a second on 10,000 cards (the map's
imports included: the parent never loads pyvis). A forked child shares the parent's memory, so
nothing is pickled on the way in; on the way out its result (small: the deck's diagnostics) or
its failure travels back, returned or re-raised by `wait()` in the parent. Where fork is unsafe
or missing (macOS, Windows) the work runs at once, in the parent, with the same result.

A thread (`thread=True`) suits work that spends its time outside the interpreter lock while
the caller waits; while the caller runs Python, a thread that needs the lock now and then (a
row for SQLite) waits for it at every turn, and a child does better.
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any


class BackgroundError(RuntimeError):
    """The child failed with an error that could not be sent back as itself."""


class Background:
    """`Background(fn, *args)` starts fn(*args); `wait()` returns what it returned once it is
    done, or raises its error."""

    def __init__(self, fn: Callable[..., Any], *args: Any, thread: bool = False) -> None:
        self._process: Any = None
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._result: Any = None
        if thread:
            self._thread = threading.Thread(target=self._run_here, args=(fn, args), name="bagu2anki-writer")
            self._thread.start()
            return
        if not fork_is_safe():  # at once, here; an error waits for wait(), as from a child
            self._run_here(fn, args)
            return
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
        self._process.start()
        send.close()
        self._conn = receive

    def _run_here(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self._result = fn(*args)
        except BaseException as err:  # kept for wait(), raised in the caller's thread
            self._error = err

    def wait(self) -> Any:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._process is not None:
            message: bytes | None = None
            try:
                message = self._conn.recv_bytes()
            except EOFError:  # the child closed its end without a word
                message = None
            finally:
                self._conn.close()
            self._process.join()
            code = self._process.exitcode
            self._process = None
            if message and message[:1] == _FAILED:
                self._error = _unpack(message[1:])
            elif message and code == 0:
                self._result = pickle.loads(message[1:])
            else:
                self._error = BackgroundError(f"the background writer stopped with exit code {code}")
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        result, self._result = self._result, None
        return result


_FAILED, _DONE = b"E", b"R"  # what a child's one message starts with


def fork_is_safe() -> bool:
    """Whether a child can be forked here (Linux, no other thread alive)."""
    # fork copies only the calling thread: with other threads alive a lock could be copied held
    return sys.platform == "linux" and threading.active_count() == 1


def _child(send: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        payload = _DONE + pickle.dumps(fn(*args))
    except BaseException as err:
        try:
            payload = pickle.dumps(err)
            pickle.loads(payload)
        except Exception:
            payload = pickle.dumps(BackgroundError("".join(traceback.format_exception(err)).rstrip()))
        send.send_bytes(_FAILED + payload)
        send.close()
        raise SystemExit(1) from None
    send.send_bytes(payload)
    send.close()


def _unpack(message: bytes) -> BaseException:
    error = pickle.loads(message)
    return error if isinstance(error, BaseException) else BackgroundError(repr(error))
