"""Request bodies and the Rasa NLU ``/model/parse`` answer shape."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from slotfill.core.entities import entity_parts
from slotfill.core.limits import MAX_NBEST
from slotfill.core.vocab import rasa_intent

log = logging.getLogger(__name__)


def _min_confidence(what: str):
    """A request's own threshold; strict: ``"0.5"`` or ``true`` is a 422, never read as a number."""
    return Field(
        None,
        ge=0.0,
        le=1.0,
        strict=True,
        description=f"{what} less confident than this are dropped (default: the server's)",
    )


def _nbest(description: str):
    return Field(1, ge=1, le=MAX_NBEST, strict=True, description=description)


TOKEN = "the auth_token, as Rasa's HTTP interpreter sends it (or ?token=..., or Authorization: Bearer ...)"


class ParseRequest(BaseModel):
    """Rasa's ``/model/parse`` request: ``text``, an optional ``message_id`` and ``token``; other keys are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"text": "flights to boston"}]})
    text: str = Field(description="one sentence, as typed")
    message_id: Any = Field(None, description="the caller's id for the message (Rasa sends its conversation's); unused")
    # any value, as before it was declared: Rasa's interpreter sends an unquoted endpoints.yml token as
    # a number, a wrong token (401) on a server with a token and ignored by one without
    token: Any = Field(None, description=TOKEN, json_schema_extra={"type": "string"})
    min_confidence: float | None = _min_confidence("entities")
    nbest: int = _nbest("also answer the n likeliest entity sets (nbest)")


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"texts": ["flights to boston", "fares from denver"]}]}
    )
    token: str | None = Field(None, description=TOKEN)
    texts: list[str] | None = Field(None, description="raw sentences (tokenised by slotfill)")
    sentences: list[list[str]] | None = Field(None, description="pre-tokenised sentences (benchmark format)")
    min_confidence: float | None = _min_confidence("spans")
    nbest: int = _nbest("also list each sentence's n likeliest tag sequences")


# The answers' shapes, for the schema (/openapi.json, /docs) only: the endpoints return their JSON as
# built below, unvalidated (tests/test_app.py pins it)
class Intent(BaseModel):
    name: str | None = Field(
        description="the intent (a multi-intent as Rasa names it: a+b); null without an intent head"
    )
    confidence: float


class Entity(BaseModel):
    entity: str = Field(description="the slot (entity) type")
    value: Any = Field(description="the words, or their synonym's value")
    start: int = Field(description="character offset in text")
    end: int = Field(description="character offset in text, past the last character")
    confidence: float | None = Field(
        None, description="the span's least sure token (absent for a /INTENT{...} message)"
    )
    confidence_entity: float | None = Field(None, description="the same number, under Rasa's own key")
    extractor: str | None = Field(None, description='"slotfill"')
    role: str | None = Field(None, description="a Rasa-trained model's role")
    confidence_role: float | None = None
    group: str | None = Field(None, description="a Rasa-trained model's group")
    confidence_group: float | None = None


class EntitySet(BaseModel):
    entities: list[Entity] = Field(description="one alternative's entities (no confidences)")
    probability: float | None = Field(description="of all its entities together; null past the model's window")


class RasaParseResponse(BaseModel):
    """Rasa NLU's ``/model/parse`` answer, with slotfill's ``tokens``, ``tags`` and (asked for) ``nbest``."""

    text: str
    intent: Intent
    intent_ranking: list[Intent] = Field(description="the chosen intent first, then up to nine others")
    entities: list[Entity]
    response_selector: dict[str, Any] = Field(description='always {"all_retrieval_intents": []}')
    tokens: list[str] = Field(description="slotfill's tokens")
    tags: list[str] = Field(description="a BIO tag for each token")
    nbest: list[EntitySet] | None = Field(None, description="with nbest > 1: the likeliest entity sets")


class PredictRecord(BaseModel):
    """One sentence's record, as ``slotfill predict format=jsonl`` writes it."""

    model_config = ConfigDict(extra="allow")
    tokens: list[str]
    tags: list[str]
    spans: list[dict[str, Any]] = Field(description="slot, text, value, token_start, token_end, confidence, start, end")
    intent: str | None
    intent_confidence: float | None
    intent_ranking: list[Intent]
    dropped: list[dict[str, Any]] | None = Field(None, description="with a min_confidence: the spans it dropped")
    nbest: list[dict[str, Any]] | None = Field(None, description="with nbest > 1: the likeliest tag sequences")


class Problem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every refusal's body (but uvicorn's plain-text 503)."""

    error: str = Field(description="what was refused, in one line")
    detail: list[Problem] | None = Field(None, description="422 for a body of the wrong shape: each problem found")


def rasa_parse(result: dict) -> dict:
    """A tagger result in Rasa's ``/model/parse`` shape, plus slotfill's ``tokens`` and ``tags``
    (a multi-intent named as Rasa names it, ``a+b``).

    No ``message_id``: Rasa's own answer has none, and Rasa's HTTP interpreter merges the answer into
    the message's parse data, where an echoed id (its conversation's) would replace the message's own.
    An empty ``response_selector``: Rasa's retrieval action reads the key (a KeyError without it).
    """
    name, confidence = result.get("intent"), result.get("intent_confidence")
    name = rasa_intent(name) if name is not None else None
    intent = {"name": name, "confidence": float(confidence) if confidence is not None else 0.0}
    entities = []
    for span in result["spans"]:
        entity, role, group = entity_parts(span["slot"])
        entities.append(
            {
                "entity": entity,
                "value": span.get("value", span["text"]),
                "start": span.get("start", span["token_start"]),
                "end": span.get("end", span["token_end"]),
                "confidence": span["confidence"],
                "confidence_entity": span["confidence"],  # Rasa's own key for the same number
                "extractor": "slotfill",
                **({"role": role, "confidence_role": span["confidence"]} if role else {}),
                **({"group": group, "confidence_group": span["confidence"]} if group else {}),
            }
        )
    alternatives = [
        {"entities": [_entity(s) for s in alt["spans"]], "probability": alt["probability"]}
        for alt in result.get("nbest", [])
    ]
    answer = {
        "text": result.get("text", " ".join(result["tokens"])),
        "intent": intent,
        # the choice first, then the other intents by probability (slotfill.core.ranking.ranked)
        "intent_ranking": [
            {**r, "name": rasa_intent(r["name"])} for r in result.get("intent_ranking") or ([intent] if name else [])
        ],
        "entities": entities,
        "response_selector": NO_RESPONSE_SELECTOR,
        "tokens": result["tokens"],
        "tags": result["tags"],
    }
    if alternatives:  # slotfill's own key: Rasa's answer has no alternative entity sets
        answer["nbest"] = alternatives
    return answer


NO_RESPONSE_SELECTOR = {"all_retrieval_intents": []}  # slotfill selects no responses (Rasa's ResponseSelector does)


# a message that names its intent rather than saying something (a button's payload, /restart), as
# Rasa's dialogue manager sends every message to its NLU server: /intent, /intent@0.8, /intent{"city": "boston"}
INTENT_MESSAGE = re.compile(r"/(?P<intent>[^\s{@/]+)(?:@(?P<confidence>[^{]*))?(?P<entities>\{.*\})?", re.DOTALL)


def _number(text: str) -> float | None:
    if not re.fullmatch(r"[0-9]*\.?[0-9]+", text.strip()):
        return None
    return float(text)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number as a float, refused where it overflows to infinity (``1e999``): no answer carries it."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text}: out of range")
    return number


def intent_message(text: str) -> dict | None:
    """Rasa's answer to a message that names its intent, as Rasa's own NLU server gives it (intent
    confidence 1.0 unless ``@`` says otherwise, the entities from the JSON): None for any other text.
    A confidence or entities Rasa could not read are left out with a warning, as Rasa does.

    Any ``/name``: Rasa's HTTP interpreter sends every message, a button's payload for an intent
    only its domain has (``/affirm``) among them, and the server knows no domain to check it against.
    """
    stripped = text.strip()
    m = INTENT_MESSAGE.fullmatch(stripped)
    if m is None:
        return None
    confidence = 1.0
    if m["confidence"] is not None:
        given_confidence = _number(m["confidence"])
        if given_confidence is not None and 0.0 <= given_confidence <= 1.0:
            confidence = given_confidence
        else:
            log.warning("%r: the confidence after @ is not a number from 0 to 1; 1.0 instead", text)
    entities, offset = [], len(text) - len(text.lstrip())
    if m["entities"]:
        try:  # JSON as JSON is, not Python's: no NaN or Infinity, nor a number too large for a float
            given = json.loads(m["entities"], parse_constant=_no_constant, parse_float=_finite)
        except (ValueError, RecursionError):
            given = None
        if not isinstance(given, dict):
            log.warning("%r: the entities are not a JSON object of finite values; answered without them", text)
            given = {}
        start, end = offset + m.start("entities"), offset + m.end("entities")
        for entity, values in given.items():
            for value in values if isinstance(values, list) else [values]:
                entities.append({"entity": entity, "value": value, "start": start, "end": end})
    intent = {"name": m["intent"], "confidence": confidence}
    answer = {"text": text, "intent": intent, "intent_ranking": [intent], "entities": entities}
    answer.update(response_selector=NO_RESPONSE_SELECTOR, tokens=[], tags=[])
    return answer


def _entity(span: dict) -> dict:
    """An n-best alternative's span as a Rasa entity (alternatives carry no per-span confidence)."""
    entity, role, group = entity_parts(span["slot"])
    out = {"entity": entity, "value": span.get("value", span["text"])}
    out.update(start=span.get("start", span["token_start"]), end=span.get("end", span["token_end"]))
    return {**out, **({"role": role} if role else {}), **({"group": group} if group else {})}
