"""Credentials for the tests, in one place (docs/security.md): the API is never opened up for them.

- Every Flask test client is an `AuthClient` (set in tests/conftest.py): on its first request it creates an
  admin key of the tenant `default` in the app's database (once per app) and sends it in X-API-Key. A test
  that sends its own X-API-Key or Authorization header is answered for those. `anonymous_client` has none.
- HTTP clients (requests): a call to a `tests.farm.ApiServer` carries an admin key of that server's app
  (`register_server`, `patch_requests`); any other call (a gunicorn started by a test on the run's
  PostgreSQL database) one of that database (`install_requests_key`, created on first use).
- `make_key` for a key of another tenant or role; `RsaSigner` for JWTs.
"""

from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa
from flask.testing import FlaskClient

TENANT = "default"
UNREACHABLE_KEY = "l2k_000000000000_" + "0" * 43


def make_key(app, *, tenant: str = TENANT, role: str = "admin", name: str = "test") -> tuple[str, str]:
    """A new key of the app's database: (key, actor) where actor is what the audit log records for it."""
    from app.extensions import db
    from app.security import keys

    with app.app_context():
        created = keys.create_key(session=db.session, tenant=tenant, role=role, name=name)
        db.session.commit()
    return created.key, f"key:{created.id}"


def admin_key(app) -> str:
    """The app's test admin key (tenant `default`), created on first use."""
    if "test_admin_key" not in app.extensions:
        app.extensions["test_admin_key"] = make_key(app, name="test admin")
    return app.extensions["test_admin_key"][0]


def admin_actor(app) -> str:
    admin_key(app)
    return app.extensions["test_admin_key"][1]


class AuthClient(FlaskClient):
    """A test client sending the app's admin key unless the request carries its own credentials."""

    def open(self, *args, **kwargs):
        if "HTTP_X_API_KEY" not in self.environ_base:
            try:
                self.environ_base["HTTP_X_API_KEY"] = admin_key(self.application)
            except sa.exc.DBAPIError:  # not migrated, or the database is down: the API will say so itself
                return super().open(*args, **{**kwargs, "headers": {"X-API-Key": UNREACHABLE_KEY,
                                                                     **dict(kwargs.get("headers") or {})}})
        return super().open(*args, **kwargs)


def anonymous_client(app) -> FlaskClient:
    return FlaskClient(app, app.response_class, use_cookies=True)


def keyed_client(app, key: str) -> FlaskClient:
    client = FlaskClient(app, app.response_class, use_cookies=True)
    client.environ_base["HTTP_X_API_KEY"] = key
    return client


_DATABASE_KEYS: dict[str, str] = {}


def database_admin_key(database_url: str) -> str | None:
    """An admin key of the database at `database_url` (None while it has no api_keys table yet)."""
    if database_url not in _DATABASE_KEYS:
        from sqlalchemy.orm import Session

        from app.config import normalize_database_url
        from app.security import keys

        engine = sa.create_engine(normalize_database_url(database_url))
        try:
            with Session(engine) as session:
                created = keys.create_key(session=session, tenant=TENANT, role="admin", name="test admin (http)")
                session.commit()
        except sa.exc.DBAPIError:
            return None
        finally:
            engine.dispose()
        _DATABASE_KEYS[database_url] = created.key
    return _DATABASE_KEYS[database_url]


_SERVER_APPS: dict[int, object] = {}  # loopback port -> the Flask app a tests.farm.ApiServer serves there


def register_server(port: int, app) -> None:
    """The app served on this port; its admin key made now (the test's clock is not running yet), or, when its
    database cannot be reached (a fault test), a well-formed key only the database could refuse, so the calls
    meet the database as a real caller's would (a 503)."""
    try:
        admin_key(app)
    except sa.exc.DBAPIError:
        app.extensions["test_admin_key"] = (UNREACHABLE_KEY, None)
    _SERVER_APPS[port] = app


def patch_requests() -> None:
    """Make `requests` send the admin key of the app served at the URL's port (when a test server serves one),
    unless the call names its own credentials. Once per test process (tests/conftest.py)."""
    import urllib.parse

    import requests.sessions

    original = requests.sessions.Session.send
    if getattr(original, "_layer2_keys", False):
        return

    def send(self, request, **kwargs):
        app = _SERVER_APPS.get(urllib.parse.urlsplit(request.url).port)
        given = request.headers.get("X-API-Key")
        if app is not None and "Authorization" not in request.headers and (
                given is None or given in _DATABASE_KEYS.values()):
            request.headers["X-API-Key"] = admin_key(app)
        return original(self, request, **kwargs)

    send._layer2_keys = True
    requests.sessions.Session.send = send


def install_requests_key(monkeypatch, database_url: str) -> None:
    """Every `requests` call of the test sends an admin key of this database (HTTP tests of a farm)."""
    import requests.sessions

    original = requests.sessions.default_headers

    def with_key():
        headers = original()
        key = database_admin_key(database_url)
        if key:
            headers["X-API-Key"] = key
        return headers

    monkeypatch.setattr(requests.sessions, "default_headers", with_key)


class RsaSigner:
    """An RSA key pair signing JWTs for the tests, with its public key as PEM and as a JWKS."""

    def __init__(self, kid: str = "test-key"):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def jwks(self) -> dict:
        from jwt.algorithms import RSAAlgorithm

        jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, *, sub: str = "alice", tenant: str = TENANT, roles=("admin",), audience="layer2-planning",
              issuer="https://idp.test", lifetime: float = 300, drop: tuple[str, ...] = (), **extra) -> str:
        import jwt

        now = int(time.time())
        claims = {"sub": sub, "tenant": tenant, "roles": list(roles), "aud": audience, "iss": issuer, "iat": now,
                  "exp": now + lifetime, "jti": uuid.uuid4().hex, **extra}
        for name in drop:
            claims.pop(name, None)
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid})
