"""A small AnkiConnect client: one JSON request per action over HTTP, every failure (Anki not
running, not AnkiConnect, an API key wanted or refused, a version too old) one line saying what
to do. Used by `sync.py`; it knows nothing of decks or notes."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bagu2anki.diagnostics import UserError, clip

DEFAULT_URL = "http://127.0.0.1:8765"
URL_ENV = "ANKI_CONNECT_URL"
KEY_ENV = "ANKI_CONNECT_KEY"
API_VERSION = 6
"""The AnkiConnect API version whose actions (`multi`, `exportPackage`, …) sync relies on."""
ADDON_CODE = "2055492159"
CHECK_TIMEOUT = 10.0


class AnkiConnectError(UserError):
    """Anki cannot be reached or refused a request: one line saying why, exit 1."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the running Anki is, and how to treat orphans there."""

    url: str = DEFAULT_URL
    key: str | None = None
    suspend_orphans: bool = False
    timeout: float = 600.0
    """Seconds to wait for one AnkiConnect answer (an import of 50,000 notes takes a while)."""


class AnkiConnect:
    """A small AnkiConnect client: one JSON request per action, errors as one-line messages."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.url = target.url

    def request(self, action: str, **params: Any) -> dict[str, Any]:
        """The request body for `action` (also used inside `multi`)."""
        body: dict[str, Any] = {"action": action, "version": API_VERSION, "params": params}
        if self.target.key is not None:
            body["key"] = self.target.key
        return body

    def call(self, action: str, timeout: float | None = None, **params: Any) -> Any:
        data = json.dumps(self.request(action, **params)).encode("utf-8")
        req = urllib.request.Request(
            self.url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        wait = self.target.timeout if timeout is None else timeout
        try:
            with urllib.request.urlopen(req, timeout=wait) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            raise AnkiConnectError(
                f"{self.url} answered HTTP {e.code} to '{action}': not AnkiConnect, or it refused "
                "this request (AnkiConnect answers 403 to web pages it was not told to trust)"
            ) from e
        except (urllib.error.URLError, OSError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            if isinstance(reason, TimeoutError | socket.timeout):
                raise AnkiConnectError(
                    f"no answer from {self.url} within {wait:g} s ('{action}'): is Anki busy, or "
                    "waiting for an answer in one of its windows?"
                ) from e
            raise AnkiConnectError(
                f"Anki is not running, or has no AnkiConnect: nothing answers at {self.url} "
                f"({clip(str(reason), 80)}). Start Anki with the AnkiConnect add-on (code "
                f"{ADDON_CODE}), or point --url / {URL_ENV} at it."
            ) from e
        try:
            reply = json.loads(raw)
        except ValueError as e:
            raise AnkiConnectError(
                f"{self.url} answers, but not as AnkiConnect does (not JSON): is the AnkiConnect "
                f"add-on (code {ADDON_CODE}) installed and listening there?"
            ) from e
        if not isinstance(reply, dict) or set(reply) != {"result", "error"}:
            if action == "version" and isinstance(reply, int):
                raise self._too_old(reply)
            raise AnkiConnectError(
                f"{self.url} answers, but not as AnkiConnect does: is the AnkiConnect add-on "
                f"(code {ADDON_CODE}) installed and listening there?"
            )
        if reply["error"] is not None:
            raise self._refused(action, str(reply["error"]))
        return reply["result"]

    def _refused(self, action: str, error: str) -> AnkiConnectError:
        if "api key" in error.lower():
            if self.target.key is None:
                return AnkiConnectError(
                    f"AnkiConnect at {self.url} wants an API key: pass --key or set {KEY_ENV} to "
                    "the apiKey in the add-on's settings"
                )
            return AnkiConnectError(
                f"AnkiConnect at {self.url} refused the API key given (--key / {KEY_ENV}): use the "
                "apiKey from the add-on's settings"
            )
        if error == "unsupported action":
            return AnkiConnectError(
                f"AnkiConnect at {self.url} has no '{action}' action: update the add-on (code "
                f"{ADDON_CODE})"
            )
        return AnkiConnectError(f"AnkiConnect at {self.url}: '{action}' failed: {clip(error, 300)}")

    def _too_old(self, version: object) -> AnkiConnectError:
        return AnkiConnectError(
            f"AnkiConnect at {self.url} speaks API version {clip(repr(version), 20)}; bagu2anki "
            f"needs version {API_VERSION} or newer: update the add-on (code {ADDON_CODE})"
        )

    def check(self) -> int:
        """The add-on's API version, after checking it is there, takes our key and is new enough."""
        version = self.call("version", timeout=min(CHECK_TIMEOUT, self.target.timeout))
        if isinstance(version, bool) or not isinstance(version, int) or version < API_VERSION:
            raise self._too_old(version)
        return version

    def multi(self, actions: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Several actions in one request; the first that fails is the error."""
        if not actions:
            return []
        replies = self.call("multi", actions=[self.request(a, **p) for a, p in actions])
        if not isinstance(replies, list) or len(replies) != len(actions):
            raise AnkiConnectError(f"AnkiConnect at {self.url}: 'multi' gave an answer of the wrong shape")
        results = []
        for (action, _), reply in zip(actions, replies, strict=True):
            if not isinstance(reply, dict) or reply.get("error") is not None:
                error = reply.get("error") if isinstance(reply, dict) else reply
                raise self._refused(action, str(error))
            results.append(reply.get("result"))
        return results
