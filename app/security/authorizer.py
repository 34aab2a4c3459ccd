"""The one place every request is authenticated and authorized (a before_request hook), and rate-limited.

- `/api/v1/...`: an `X-API-Key` or an `Authorization: Bearer <JWT>`, else 401 problem+json (whatever the path,
  so an anonymous caller learns nothing of which routes or objects exist). Then the view's declaration
  (app/security/policy.py): the role's permission (403 otherwise), and the object the URL names must belong
  to the caller's tenant and ACL (the view's own 404 otherwise). The principal replaces `X-Actor` in the
  audit log (app/security/context.py).
- `/metrics`: loopback callers, or `Authorization: Bearer <LAYER2_METRICS_TOKEN>` when that is set; 401 else.
- `/health*`: open.
- Requests per principal per minute: flask-limiter (LAYER2_RATE_LIMIT; Redis on the farm, memory embedded),
  429 problem+json with Retry-After.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time

from flask import Flask, g, request

from app.problems import ApiProblem, problem_response
from app.security import context, keys, policy
from app.security.jwt_auth import InvalidToken, JwtVerifier

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
CHALLENGE = 'ApiKey header="X-API-Key", Bearer realm="layer2-planning"'


def _unauthorized(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorized", "Unauthorized", detail)


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def authenticate(app: Flask):
    """The request's principal from its credentials, or a 401 ApiProblem."""
    from app.extensions import db

    api_key = request.headers.get("X-API-Key")
    authorization = request.headers.get("Authorization", "")
    if api_key:
        principal = keys.authenticate(session=db.session, key=api_key.strip())
        if principal is None:
            raise _unauthorized("the API key is not valid (unknown, revoked or expired)")
        return principal
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        verifier = app.extensions.get("layer2_jwt")
        if verifier is None:
            raise _unauthorized("this service accepts no JWT (LAYER2_JWT_PUBLIC_KEY or _JWKS_URL unset): "
                                "send an X-API-Key")
        try:
            return verifier.verify(token.strip())
        except InvalidToken as error:
            log.info("JWT refused: %s", error)
            raise _unauthorized("the bearer token is not valid") from None
    raise _unauthorized("send an API key in X-API-Key or a JWT in Authorization: Bearer")


def _check_metrics(app: Flask) -> None:
    if _loopback(request.remote_addr):
        return
    token = app.config["SECURITY"]["metrics_token"]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return
    raise _unauthorized("/metrics answers loopback callers, or a bearer token (LAYER2_METRICS_TOKEN) when set")


def _authorize(app: Flask) -> None:
    from app.extensions import db

    path = request.path
    if path == "/metrics" or path.startswith("/metrics/"):
        _check_metrics(app)
        return
    if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
        return
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    rule = policy.rule_of(view)
    if (rule is not None and rule.permission == policy.PUBLIC) or request.endpoint in app.extensions.get(
            "layer2_public_endpoints", ()):
        return
    principal = authenticate(app)
    g.principal = principal
    g.security_token = context.set_current(context.RequestContext(
        principal=principal, request_id=g.get("request_id"), remote_addr=request.remote_addr))
    if request.endpoint is None:
        return  # Flask answers its own 404/405 for a route that is not there
    if rule is None:
        log.error("refused %s %s: the view %s declares no permission", request.method, path, request.endpoint)
        raise ApiProblem(403, "forbidden", "Forbidden", "this operation declares no permission")
    if not policy.allowed(principal, rule.permission):
        raise ApiProblem(403, "forbidden", "Forbidden",
                         f"{rule.permission} needs the role {' or '.join(sorted(policy.PERMISSIONS[rule.permission]))}")
    if rule.scope is not None:
        value = (request.view_args or {}).get(policy.SCOPES[rule.scope])
        plan_id = policy.plan_id_of(db.session, rule.scope, value)
        if plan_id is None or not policy.can_see_plan(db.session, principal, plan_id) or (
                rule.scope == "task" and not policy.task_in_scope(db.session, principal, value)):
            slug, title, detail = policy.NOT_FOUND[rule.scope]
            raise ApiProblem(404, slug, title, detail.format(value))


def current_principal():
    """The authenticated caller of this request (None outside an /api/v1 request)."""
    return g.get("principal")


def _rate_limit_key() -> str:
    principal = g.get("principal")
    return principal.actor if principal is not None else f"ip:{request.remote_addr}"


def init_security(app: Flask, api=None) -> None:
    """The authorizer, the rate limiter, the 401/429 answers and the OpenAPI security schemes."""
    from flask_limiter import Limiter
    from flask_limiter.errors import RateLimitExceeded

    from app.security.encryption import cipher_from_keys

    settings = app.config["SECURITY"]
    if settings["trusted_proxies"]:
        # Behind an ingress or load balancer: the client's address is the one the nearest N proxies appended to
        # X-Forwarded-For (never believed without this setting: a caller could write any address there).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["trusted_proxies"], x_proto=settings["trusted_proxies"])
    cipher = cipher_from_keys(settings["encryption_keys"])
    if cipher is not None:
        app.extensions["layer2_cipher"] = cipher
    elif not app.config["EMBEDDED"]:
        log.warning("LAYER2_ENCRYPTION_KEYS is not set: goal descriptions, contexts and feedback notes are stored "
                    "unencrypted (docs/security.md)")
    if settings["jwt"]["enabled"]:
        app.extensions["layer2_jwt"] = JwtVerifier(settings["jwt"])

    # The OpenAPI document, its docs page and the page's assets: a description of the API, no data.
    app.extensions["layer2_public_endpoints"] = frozenset(
        endpoint for endpoint in app.view_functions if endpoint.startswith(("api-docs.", "openapi_assets.")))

    @app.before_request
    def _security():
        _authorize(app)

    @app.teardown_request
    def _forget_principal(_error=None):
        token = g.pop("security_token", None)
        if token is not None:
            try:
                context.reset(token)
            except ValueError:  # set in another context: nothing of ours to undo
                pass

    @app.after_request
    def _challenge(response):
        if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
            response.headers["WWW-Authenticate"] = CHALLENGE
        return response

    storage_options = {}
    if settings["rate_limit_storage"].startswith(("redis://", "rediss://")):
        # Redis down or frozen: each count gives up within the broker's wait limit and the request goes on
        wait = app.config["TIMEOUTS"].broker
        storage_options = {"socket_timeout": wait, "socket_connect_timeout": wait}
    limiter = Limiter(key_func=_rate_limit_key, app=app, default_limits=[settings["rate_limit"]],
                      default_limits_exempt_when=lambda: g.get("principal") is None,
                      storage_uri=settings["rate_limit_storage"], storage_options=storage_options,
                      key_prefix="layer2-ratelimit", strategy="fixed-window", swallow_errors=True,
                      # Redis down or frozen: after one failed count, each process counts in memory until
                      # Redis answers again (no request waits on it meanwhile)
                      in_memory_fallback_enabled=True, headers_enabled=False)
    app.extensions["layer2_limiter"] = limiter

    @app.errorhandler(RateLimitExceeded)
    def _too_many(error: RateLimitExceeded):
        window = limiter.current_limit
        retry = max(1, math.ceil(window.reset_at - time.time())) if window is not None else 60
        response = problem_response(429, "rate-limited", "Too many requests",
                                    f"more than {error.description} for this key; retry in {retry} s")
        response.headers["Retry-After"] = str(retry)
        return response

    if api is not None:
        api.spec.components.security_scheme("ApiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
        api.spec.components.security_scheme("BearerJWT", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
        api.spec.options["security"] = [{"ApiKey": []}, {"BearerJWT": []}]
