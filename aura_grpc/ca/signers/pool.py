"""A held pool of logged-in PKCS#11 sessions that heals itself.

Logging in per certificate would cost more than the signature, so sessions are
opened once and lent out. When the token fails (removed, logged out, its store
gone), every session is dropped; the next caller after a short pause
re-initialises the module and logs in again, so issuance resumes by itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pkcs11
from pkcs11 import exceptions as p11

from aura_grpc.errors import Unavailable

log = logging.getLogger(__name__)

# After a failure, try the token again at most this often.
RETRY_SECONDS = 1.0

# Errors that say "this object is not here", not "the token is down".
KEY_ERRORS = (p11.NoSuchKey, p11.MultipleObjectsReturned)

# A refused PIN is never retried: each wrong try counts towards locking the
# token's user PIN for good.
PIN_ERRORS = (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange, p11.PinLocked)


@dataclass
class Lease:
    """One session and the key handles found through it."""

    session: Any
    generation: int
    keys: dict[tuple[str, str], Any] = field(default_factory=dict)


def token_down(exc: Exception) -> Unavailable:
    return Unavailable(
        f"the CA's HSM token is unavailable ({type(exc).__name__})",
        reason="HSM_UNAVAILABLE",
    )


def pin_refused() -> Unavailable:
    return Unavailable(
        "the token refused the configured PKCS#11 PIN; fix pkcs11_pin_file and "
        "restart (it is not retried, so the PIN does not lock)",
        reason="HSM_PIN_REFUSED",
    )


class SessionPool:
    def __init__(
        self,
        module: str,
        token_label: str,
        pin: str,
        size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._module = module
        self._token_label = token_label
        self._pin = pin
        self._size = size
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: list[Lease] = []
        self._generation = 0
        self._broken = False
        self._retry_at = 0.0
        self._lib: Any = None
        self._pin_refused = False

    def __repr__(self) -> str:
        return f"SessionPool(token={self._token_label!r}, pin=<redacted>)"

    @contextmanager
    def lease(self) -> Iterator[Lease]:
        """A session for one operation; a token error marks the pool broken and
        surfaces as Unavailable."""
        lease = self._take()
        try:
            yield lease
        except p11.PKCS11Error as exc:
            if isinstance(exc, KEY_ERRORS):
                self._give_back(lease)
                raise
            self._fail(lease.generation, exc)
            raise token_down(exc) from exc
        except BaseException:
            self._give_back(lease)  # a domain error: the session is still good
            raise
        self._give_back(lease)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for lease in idle:
            _close_quietly(lease)

    def _take(self) -> Lease:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            generation = self._ready_generation()
        try:
            return Lease(self._open_session(), generation)
        except PIN_ERRORS as exc:
            self._pin_refused = True
            log.error("HSM token %s refused the PIN", self._token_label)
            raise pin_refused() from exc
        except p11.PKCS11Error as exc:
            self._fail(generation, exc)
            raise token_down(exc) from exc

    def _ready_generation(self) -> int:
        """Called with the lock held: re-initialise after a failure, if due."""
        if self._pin_refused:
            raise pin_refused()
        if self._lib is not None and not self._broken:
            return self._generation
        now = self._clock()
        if self._broken and now < self._retry_at:
            raise Unavailable(
                "the CA's HSM token is unavailable; retrying", reason="HSM_UNAVAILABLE"
            )

        self._retry_at = now + RETRY_SECONDS
        try:
            self._connect()
        except (p11.PKCS11Error, OSError, RuntimeError) as exc:
            self._broken = True
            raise token_down(exc) from exc
        if self._broken:
            log.warning("HSM token %s is back", self._token_label)
        self._broken = False
        self._generation += 1
        return self._generation

    def _connect(self) -> None:
        if self._lib is None:
            self._lib = pkcs11.lib(self._module)
        elif self._broken:
            # A module keeps its slot list from C_Initialize: after the token
            # went away only a fresh initialisation finds it again.
            self._lib.reinitialize()

    def _open_session(self) -> Any:
        token = self._lib.get_token(token_label=self._token_label)
        try:
            return token.open(rw=True, user_pin=self._pin)
        except p11.UserAlreadyLoggedIn:
            # Login is per application, not per session: later sessions share it.
            return token.open(rw=True)

    def _give_back(self, lease: Lease) -> None:
        with self._lock:
            if lease.generation == self._generation and len(self._idle) < self._size:
                self._idle.append(lease)
                return
        _close_quietly(lease)

    def _fail(self, generation: int, exc: Exception) -> None:
        with self._lock:
            if generation != self._generation or self._broken:
                return
            self._broken = True
            self._retry_at = self._clock() + RETRY_SECONDS
            dropped, self._idle = self._idle, []
        log.warning(
            "HSM token %s failed (%s); issuance is unavailable until it returns",
            self._token_label,
            type(exc).__name__,
        )
        for lease in dropped:
            _close_quietly(lease)


def _close_quietly(lease: Lease) -> None:
    # A session that died with its token has nothing left to close.
    with contextlib.suppress(p11.PKCS11Error):
        lease.session.close()
