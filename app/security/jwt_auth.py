"""JWTs for users: verified with a public key (PEM, or a JWKS URL by `kid`), algorithms from configuration.

Required: `exp`, `iat`, `sub`, the configured `aud` and `iss`, a `tenant` claim and a `roles` claim (a list of
roles, or one role as a string); `teams` is optional (a plan ACL may name them). Anything else is a 401.
HMAC algorithms and `none` are refused by app/config.py, so a public key can never be used as a shared secret.
"""

from __future__ import annotations

import jwt

from app.security.context import Principal
from app.security.keys import ROLES, check_tenant


class InvalidToken(Exception):
    """The token is refused; the message says why (logged, not sent: the client gets a plain 401)."""


class JwtVerifier:
    def __init__(self, settings: dict):
        self.settings = settings
        self.jwks = (jwt.PyJWKClient(settings["jwks_url"], cache_keys=True, lifespan=300, timeout=3)
                     if settings["jwks_url"] else None)

    def _key(self, token: str):
        if self.jwks is None:
            return self.settings["public_key"]
        try:
            return self.jwks.get_signing_key_from_jwt(token).key
        except (jwt.PyJWKClientError, jwt.DecodeError) as error:
            raise InvalidToken(f"no signing key: {error}") from None

    def verify(self, token: str) -> Principal:
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in settings["algorithms"]:
                raise InvalidToken(f"algorithm {header.get('alg')!r} not accepted")
            claims = jwt.decode(token, self._key(token), algorithms=list(settings["algorithms"]),
                                audience=settings["audience"], issuer=settings["issuer"], leeway=settings["leeway"],
                                options={"require": ["exp", "iat", "sub", "aud", "iss"], "verify_signature": True})
        except jwt.PyJWTError as error:
            raise InvalidToken(f"{type(error).__name__}: {error}") from None
        tenant = claims.get("tenant")
        roles = claims.get("roles")
        roles = [roles] if isinstance(roles, str) else roles
        if not isinstance(tenant, str) or not isinstance(roles, list) or not roles:
            raise InvalidToken("tenant and roles claims are required")
        try:
            check_tenant(tenant)
        except ValueError as error:
            raise InvalidToken(str(error)) from None
        teams = claims.get("teams") or []
        if not isinstance(teams, list) or not all(isinstance(team, str) for team in teams):
            raise InvalidToken("teams must be a list of strings")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 190:
            raise InvalidToken("sub must be a string of 1-190 characters")
        return Principal(kind="user", id=subject, tenant=tenant,
                         roles=frozenset(role for role in roles if role in ROLES), teams=frozenset(teams))
