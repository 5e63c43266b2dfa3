"""The FastAPI application: ``create_app(backend, ...)``, its settings, and ``build`` for the server."""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from slotfill.core.backends import check_precision
from slotfill.core.limits import MAX_TEXT_CHARS, text_problem
from slotfill.core.settings import from_mapping, whole_number
from slotfill.core.threads import resolve as resolve_threads
from slotfill.errors import ConfigError, first_line
from slotfill.inference.pipeline import check_confidence, drop_unsure
from slotfill.serving.backend import Backend, load_backend
from slotfill.serving.batcher import MicroBatcher
from slotfill.serving.connections import Connections
from slotfill.serving.limits import ApiError, BodyLimit, JsonBodies, Limits, TokenGuard
from slotfill.serving.schemas import (
    ErrorBody,
    ParseRequest,
    PredictRecord,
    PredictRequest,
    RasaParseResponse,
    intent_message,
    rasa_parse,
)
from slotfill.version import __version__

log = logging.getLogger(__name__)
BODY_UNREADABLE = "There was an error parsing the body"  # FastAPI's detail for a body its JSON parser refused
STATIC = Path(__file__).parent / "static"


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _check_text(text: str, limits: Limits, where: str = "text") -> None:
    if len(text) > limits.max_text_chars:
        raise ApiError(413, f"{where}: {len(text)} characters (at most {limits.max_text_chars})")
    problem = text_problem(text)
    if problem:
        raise ApiError(422, f"{where}: {problem}")


def _check_nbest(texts: list[str], nbest: int, limits: Limits) -> None:
    """Alternatives cost a second pass that grows with the text: a request's whole cost is bounded."""
    chars = sum(map(len, texts))
    if nbest > 1 and chars * nbest > limits.max_nbest_chars:
        raise ApiError(
            413,
            f"nbest={nbest} over {chars:,} characters: {chars * nbest:,} characters x nbest "
            f"(at most {limits.max_nbest_chars:,}): ask for fewer alternatives or send fewer texts",
        )


BUSY = {  # uvicorn's own answer over connections.max_open, before the app sees the request
    "description": "over connections.max_open open connections (uvicorn's plain-text Service Unavailable)",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
TOKEN_WAYS = '?token=..., a "token" key in the JSON body, or Authorization: Bearer ...'
TOKEN_SCHEMES = {  # the body's "token" key, as Rasa's HTTP interpreter sends it, is no OpenAPI scheme: said in words
    "token": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "the auth_token, as Rasa's --auth-token",
    },
    "bearer": {"type": "http", "scheme": "bearer", "description": "the auth_token"},
}


def _responses(ok: dict, refused: dict[int, str]) -> dict:
    """A route's answers for the schema: ``ok`` (200), each refusal with its :class:`ErrorBody`, and 503
    (the token's 401 is :func:`_document`'s, on every guarded path)."""
    out = {200: ok, **{code: {"model": ErrorBody, "description": said} for code, said in refused.items()}}
    return {**dict(sorted(out.items())), 503: BUSY}


def _array(prop: dict) -> dict:
    """The list variant of an optional list's schema (``anyOf: [array, null]``)."""
    return next(s for s in prop.get("anyOf", [prop]) if s.get("type") == "array")


def _document(schema: dict, limits: Limits, auth_token: str | None) -> dict:
    """What the request models cannot say (the limits are this app's, and over them is a 413, not a
    422), and, with ``auth_token``, how the guarded endpoints take the token. Idempotent."""
    models = schema["components"]["schemas"]
    models["ParseRequest"]["properties"]["text"]["maxLength"] = limits.max_text_chars
    predict = models["PredictRequest"]["properties"]
    texts, sentences = _array(predict["texts"]), _array(predict["sentences"])
    texts.update(maxItems=limits.max_batch)
    texts["items"]["maxLength"] = limits.max_text_chars
    sentences.update(maxItems=limits.max_batch)
    sentences["items"]["maxItems"] = limits.max_tokens
    if auth_token:
        schema["components"]["securitySchemes"] = TOKEN_SCHEMES
        error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}}
        refused = {"description": f"missing or wrong token: {TOKEN_WAYS}", "content": error}
        for path, operations in schema["paths"].items():
            if path not in TokenGuard.OPEN:
                for operation in operations.values():
                    operation["security"] = [{"token": []}, {"bearer": []}]
                    answers = {**operation.get("responses", {}), "401": refused}
                    operation["responses"] = dict(sorted(answers.items()))
    return schema


def _page(name: str) -> HTMLResponse:
    """One of the self-contained pages in ``static/`` (no script or style is fetched from elsewhere)."""
    page = STATIC / name
    if not page.is_file():  # an installation without its package data
        return HTMLResponse(f"<p>slotfill: {name} is missing from this installation; see /openapi.json</p>", 500)
    return HTMLResponse(page.read_text(encoding="utf-8"))


def create_app(
    backend: Backend,
    limits: Limits | None = None,
    max_batch: int = 64,
    max_wait_ms: float = 2.0,
    auth_token: str | None = None,
    min_confidence: float = 0.0,
) -> FastAPI:
    """The API over a loaded ``backend``; micro-batching of /parse with ``max_batch`` > 1.

    With ``auth_token``, every endpoint but /health and the pages needs ``?token=`` (as Rasa's).
    """
    limits = limits or Limits()

    def sure(results: list[dict], asked: float | None) -> list[dict]:
        threshold = min_confidence if asked is None else asked
        return [drop_unsure(r, threshold) for r in results] if threshold else results

    counter: list[BodyLimit] = []  # the outer middleware, set below: requests in flight
    batcher = MicroBatcher(
        backend.predict,
        max_batch,
        max_wait_ms,
        in_flight=lambda: counter[0].active,
        clients=lambda: counter[0].clients(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="slotfill",
        version=__version__,
        description="Slot filling and intent detection. POST /model/parse is Rasa NLU's endpoint (/parse the same).",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their scripts from public CDNs: blank offline
        redoc_url=None,
    )
    app.state.backend, app.state.batcher, app.state.limits = backend, batcher, limits

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return _error(e.status, e.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = e.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return _error(400, "malformed JSON body")
        if any(err.get("type") == "missing" and tuple(err.get("loc", ())) == ("body",) for err in errors):
            return _error(400, "empty body: send a JSON object")  # no JSON at all is malformed JSON too
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        detail = [{"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")} for err in errors]
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}", detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 400 and e.detail == BODY_UNREADABLE:  # FastAPI's words for what its parser refused
            return _error(400, "malformed JSON body (not UTF-8, nested too deep, or a number too long)")
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(Exception)
    async def crash(request: Request, e: Exception) -> JSONResponse:  # a bug, never bad input
        log.exception("request failed")
        return _error(500, f"internal error ({type(e).__name__})")

    guarded = f" Needs the auth_token: {TOKEN_WAYS}" if auth_token else ""
    refused = {
        400: "malformed JSON (not UTF-8, nested too deep, a number too long), or no body",
        413: "a body over limits.max_body_bytes, a text over limits.max_text_chars, or alternatives "
        "(characters x nbest) over limits.max_nbest_chars",
        422: "a body of the wrong shape, a value of the wrong type, a text with a lone surrogate, or a text over "
        "100,000 characters (slotfill's own limit, where limits.max_text_chars is set higher)",
    }
    parse_answers = _responses({"model": RasaParseResponse, "description": "Rasa NLU's answer"}, refused)
    parse_said = (
        "Rasa NLU's answer: intent, intent_ranking, entities, an empty response_selector, plus slotfill's tokens and "
        "tags. A message that names its intent (/INTENT, /INTENT@0.8, /INTENT{...}) is answered as Rasa does." + guarded
    )

    # the answers are plain JSON values already: returned as a JSONResponse, they skip FastAPI's
    # encoding and validation pass over every key (response models: the schema's, by responses=)
    @app.post(
        "/model/parse",
        summary="Tag one sentence: Rasa NLU's endpoint (an external NLU server for a Rasa bot)",
        description=parse_said,
        responses=parse_answers,
    )
    async def model_parse(body: ParseRequest) -> JSONResponse:
        _check_text(body.text, limits)
        named = intent_message(body.text)  # a button's /intent{...}: answered as Rasa does
        if named is not None:
            return JSONResponse(named)
        if body.nbest > 1:  # alternatives cost a second pass: tagged on its own, outside the micro-batches
            _check_nbest([body.text], body.nbest, limits)
            batcher.count([body.text])
            results = await batcher.run(partial(backend.predict, nbest=body.nbest), [body.text])
        else:
            results = await batcher.submit([body.text])
        (result,) = sure(results, body.min_confidence)
        return JSONResponse(rasa_parse(result))

    app.post("/parse", summary="The same as POST /model/parse", description=parse_said, responses=parse_answers)(
        model_parse
    )

    # predict_tokens refuses a sentence over its own limit too: past it, a 500, however high max_text_chars is set
    most_joined = min(limits.max_text_chars, MAX_TEXT_CHARS)

    @app.post(
        "/predict",
        summary="Tag a batch of texts or pre-tokenised sentences (predict format=jsonl records)",
        description="One record for each text or sentence, in order." + guarded,
        responses=_responses(
            {"model": list[PredictRecord], "description": "a record for each sentence"},
            {
                **refused,
                413: f"{refused[413]}, more than limits.max_batch sentences, or a sentence over limits.max_tokens "
                f"tokens (or over limits.max_text_chars, at most {MAX_TEXT_CHARS:,}, joined by spaces)",
                422: f"{refused[422]}, neither or both of texts and sentences, or an empty or spaced token",
            },
        ),
    )
    async def predict(body: PredictRequest) -> JSONResponse:
        if (body.texts is None) == (body.sentences is None):
            raise ApiError(422, "give exactly one of 'texts' (raw sentences) or 'sentences' (lists of tokens)")
        items = body.texts if body.texts is not None else body.sentences
        if len(items) > limits.max_batch:
            raise ApiError(413, f"{len(items)} sentences in one request (at most {limits.max_batch})")
        if body.texts is not None:
            for i, text in enumerate(body.texts):
                _check_text(text, limits, f"texts[{i}]")
            if body.nbest > 1:
                _check_nbest(body.texts, body.nbest, limits)
                batcher.count(body.texts)
                results = await batcher.run(partial(backend.predict, nbest=body.nbest), body.texts)
            else:
                results = await batcher.submit(body.texts)
            return JSONResponse(sure(results, body.min_confidence))
        for i, tokens in enumerate(body.sentences):
            if len(tokens) > limits.max_tokens:
                raise ApiError(413, f"sentences[{i}]: {len(tokens)} tokens (at most {limits.max_tokens})")
            for j, token in enumerate(tokens):
                if not token or token != token.strip() or any(ch.isspace() for ch in token):
                    raise ApiError(422, f"sentences[{i}][{j}]: a token must be non-empty and hold no whitespace")
                _check_text(token, limits, f"sentences[{i}][{j}]")
            joined = sum(map(len, tokens)) + max(len(tokens) - 1, 0)  # as a text: a sentence's limit, not a token's
            if joined > most_joined:
                raise ApiError(413, f"sentences[{i}]: {joined} characters joined by spaces (at most {most_joined})")
        _check_nbest([" ".join(tokens) for tokens in body.sentences], body.nbest, limits)
        batcher.count(body.sentences)
        tag = partial(backend.predict_tokens, nbest=body.nbest)
        return JSONResponse(sure(await batcher.run(tag, body.sentences), body.min_confidence))

    @app.get("/health", summary="Liveness: the model is loaded")
    async def health() -> dict:
        return {"status": "ok", "worker": os.getpid(), "batches": batcher.batches, "sentences": batcher.texts}

    # HEAD too (load balancers' checks often ask for the status alone); one operation in the schema
    app.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)

    @app.get("/version", summary="slotfill's version and the model card")
    async def version() -> dict:
        return {
            "slotfill_version": __version__,
            "backend": backend.name,
            "precision": backend.precision,
            "model": backend.card,
        }

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo() -> HTMLResponse:
        return _page("index.html")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return _page("docs.html")

    schema = app.openapi
    app.openapi = lambda: _document(schema(), limits, auth_token)  # type: ignore[method-assign]

    outer = BodyLimit(TokenGuard(JsonBodies(app), auth_token), limits.max_body_bytes)
    counter.append(outer)
    return outer  # type: ignore[return-value]


def settings(cfg) -> dict:
    """The plain settings of a serve config, validated (a bad one is a one-line ConfigError)."""
    batching, limits = dict(cfg.get("batching") or {}), dict(cfg.get("limits") or {})
    connections = dict(cfg.get("connections") or {})
    out = {
        "ckpt": str(cfg.ckpt),
        "backend": str(cfg.get("backend", "auto")),
        "precision": str(cfg.get("precision", "auto")),
        "threads": resolve_threads(
            cfg.get("threads", "auto"), processes=whole_number(cfg.get("workers", 1), "workers")
        ),
        "max_batch": batching.get("max_batch", 64),
        "max_wait_ms": batching.get("max_wait_ms", 2.0),
        "limits": limits,
        "connections": connections,
        "auth_token": cfg.get("auth_token"),
        "min_confidence": check_confidence(cfg.get("min_confidence", 0.0)),
    }
    token = out["auth_token"]
    if isinstance(token, (int, float)) and not isinstance(token, bool):  # Hydra reads auth_token=12345 as a number
        # not echoed: 0123 was read as 83, 1e5 as 100000.0, neither the token the bot sends
        raise ConfigError("auth_token was read as a number: quote the token as you typed it, auth_token=\"'...'\"")
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ConfigError("auth_token: must be a non-empty string (or null for no token)")
    check_precision(out["precision"], out["backend"], out["ckpt"])  # the backend for the file too
    from_mapping(Limits, limits, "limits")
    from_mapping(Connections, connections, "connections")
    try:
        MicroBatcher(lambda t: [], out["max_batch"], out["max_wait_ms"]).executor.shutdown()
    except (TypeError, ValueError) as e:
        raise ConfigError(first_line(e)) from None
    return out


def build(s: dict, backend: Backend | None = None):
    """The ASGI app for :func:`settings` (loading the model unless given)."""
    backend = backend or load_backend(s["ckpt"], s["backend"], s["threads"], s["precision"])
    limits = Limits(**s["limits"])
    return create_app(backend, limits, s["max_batch"], s["max_wait_ms"], s.get("auth_token"), s["min_confidence"])


__all__ = ["create_app", "settings", "build"]
