"""Browser state of the risk page: the SMART launch in flight and the page session, as cookies.

Both are HMAC-signed, expiring tokens (``signing.Signer``) in cookies that are HttpOnly,
SameSite=Lax, Secure when the app is reached over https, and scoped to the path that reads them.
A launch cookie is named after its ``state``, so it binds that ``state`` to this browser (several
tabs may launch at once); the session cookie names the one patient the launch opened.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response

from cds_app.pages.signing import Signer

SESSION_COOKIE = "vf_session"
LAUNCH_COOKIE_PREFIX = "vf_launch_"
_STATE = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True, slots=True)
class Launch:
    """A SMART launch between its redirect to the EHR and the callback."""

    state: str
    iss: str
    verifier: str  # PKCE code_verifier
    nonce: str  # OpenID Connect nonce the id_token must carry


@dataclass(frozen=True, slots=True)
class PageSession:
    """The patient a browser may see (``system|value``), who launched, and from which EHR."""

    patient_key: str
    user: str
    iss: str


class PageSessions:
    """Issues and reads the page's cookies for one app (one secret; share it across replicas)."""

    def __init__(
        self,
        secret: bytes,
        *,
        base_url: str,
        session_ttl_s: int,
        launch_ttl_s: int,
    ) -> None:
        self._launch = Signer(secret, "smart-launch")
        self._session = Signer(secret, "page-session")
        self.secure = base_url.startswith("https://")
        self._prefix = urlsplit(base_url).path.rstrip("/")  # behind a proxy under a path
        self.session_ttl_s = session_ttl_s
        self.launch_ttl_s = launch_ttl_s

    @classmethod
    def random_secret(cls) -> bytes:
        """A per-process secret (sessions then do not survive a restart or cross replicas)."""
        return secrets.token_bytes(32)

    def _set(self, response: Response, name: str, value: str, max_age: int, path: str) -> None:
        response.set_cookie(name, value, max_age=max_age, path=self._prefix + path,
                            httponly=True, samesite="lax", secure=self.secure)  # fmt: skip

    # -- the launch ------------------------------------------------------------------------------
    def start_launch(self, response: Response, iss: str) -> Launch:
        """A fresh launch (state, PKCE verifier, nonce) remembered in this browser."""
        launch = Launch(secrets.token_urlsafe(24), iss, secrets.token_urlsafe(64)[:96],
                        secrets.token_urlsafe(24))  # fmt: skip
        payload = {"state": launch.state, "iss": iss, "verifier": launch.verifier,
                   "nonce": launch.nonce}  # fmt: skip
        token = self._launch.dump(payload, self.launch_ttl_s)
        self._set(response, LAUNCH_COOKIE_PREFIX + launch.state, token, self.launch_ttl_s,
                  "/smart/callback")  # fmt: skip
        return launch

    def launch_of(self, request: Request, state: str) -> Launch | None:
        """The launch this browser started with ``state`` (None: not this browser's, or expired)."""
        if not _STATE.fullmatch(state):
            return None
        saved = self._launch.load(request.cookies.get(LAUNCH_COOKIE_PREFIX + state))
        if saved is None or not secrets.compare_digest(str(saved.get("state", "")), state):
            return None
        return Launch(state, str(saved["iss"]), str(saved["verifier"]), str(saved["nonce"]))

    def end_launch(self, response: Response, state: str) -> None:
        """Forget the launch cookie (a code and state are used once)."""
        response.delete_cookie(LAUNCH_COOKIE_PREFIX + state, path=self._prefix + "/smart/callback",
                               httponly=True, samesite="lax", secure=self.secure)  # fmt: skip

    # -- the page session ------------------------------------------------------------------------
    def open_session(self, response: Response, session: PageSession) -> None:
        """Bind this browser to ``session.patient_key`` for ``session_ttl_s``."""
        payload = {"key": session.patient_key, "user": session.user, "iss": session.iss}
        token = self._session.dump(payload, self.session_ttl_s)
        self._set(response, SESSION_COOKIE, token, self.session_ttl_s, "/")

    def session_of(self, request: Request) -> PageSession | None:
        """This browser's page session, if valid and unexpired."""
        saved = self._session.load(request.cookies.get(SESSION_COOKIE))
        if saved is None or not isinstance(saved.get("key"), str):
            return None
        return PageSession(str(saved["key"]), str(saved.get("user") or "smart-user"),
                           str(saved.get("iss") or ""))  # fmt: skip
