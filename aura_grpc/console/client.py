"""The CLI's HTTPS JSON client: it reaches AURA through Envoy like any client."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "https://127.0.0.1:8443"
TIMEOUT_S = 30


class ApiFailure(Exception):
    """The API refused a call, or could not be reached; the message says why."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.reason = message, status, reason

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no answer"
        return f"{self.message} ({', '.join(filter(None, [self.reason, where]))})"


def state_dir() -> Path:
    return Path(os.environ.get("AURA_STATE_DIR", ".aura"))


def default_token() -> str:
    path = state_dir() / "dev-token"
    return path.read_text().strip() if path.exists() else ""


def default_cacert() -> Path | None:
    path = state_dir() / "pki" / "ca.pem"
    return path if path.exists() else None


@dataclass(frozen=True)
class Connection:
    url: str
    token: str
    cacert: Path | None

    def client(self) -> httpx.Client:
        verify: ssl.SSLContext | bool = True
        if self.cacert is not None:
            verify = ssl.create_default_context(cafile=str(self.cacert))
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(
            base_url=self.url.rstrip("/"),
            verify=verify,
            headers=headers,
            timeout=TIMEOUT_S,
        )

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        query = {k: v for k, v in (params or {}).items() if v not in (None, "", False)}
        try:
            with self.client() as client:
                response = client.request(method, path, json=body, params=query)
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            raise ApiFailure(f"cannot reach {self.url}: {exc}") from exc
        return _answer(response)

    def text(self, path: str) -> str:
        """A non-JSON answer (a CRL in PEM)."""
        try:
            with self.client() as client:
                response = client.get(path)
        except (httpx.HTTPError, ssl.SSLError, OSError) as exc:
            raise ApiFailure(f"cannot reach {self.url}: {exc}") from exc
        if response.status_code != 200:
            _answer(response)
        return response.text


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        return body
    message, reason = response.text[:200] or response.reason_phrase, ""
    if isinstance(body, dict):
        message = str(body.get("message", message))
        details = body.get("details") or [{}]
        reason = str(details[0].get("reason", "")) if details else ""
    raise ApiFailure(message, response.status_code, reason)
