"""Request bodies and the Rasa NLU ``/model/parse`` answer shape."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from slotfill.core.entities import entity_parts

MAX_NBEST = 20  # alternatives one request may ask for


class ParseRequest(BaseModel):
    """Rasa's ``/model/parse`` request: ``text``, an optional ``message_id``; other keys are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"text": "flights to boston"}]})
    text: str = Field(description="one sentence, as typed")
    message_id: str | None = Field(None, description="the caller's id for the message, sent back as given")
    min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="entities less confident than this are dropped (default: the server's)"
    )
    nbest: int = Field(1, ge=1, le=MAX_NBEST, description="also answer the n likeliest entity sets (nbest)")


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"texts": ["flights to boston", "fares from denver"]}]}
    )
    token: str | None = Field(None, description="the auth_token, as Rasa's clients send it (or ?token=...)")
    texts: list[str] | None = Field(None, description="raw sentences (tokenised by slotfill)")
    sentences: list[list[str]] | None = Field(None, description="pre-tokenised sentences (benchmark format)")
    min_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="spans less confident than this are dropped (default: the server's)"
    )
    nbest: int = Field(1, ge=1, le=MAX_NBEST, description="also list each sentence's n likeliest tag sequences")


def rasa_parse(result: dict, message_id: str | None = None) -> dict:
    """A tagger result in Rasa's ``/model/parse`` shape, plus slotfill's ``tokens`` and ``tags``."""
    name, confidence = result.get("intent"), result.get("intent_confidence")
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
        "intent_ranking": list(result.get("intent_ranking") or ([intent] if name is not None else [])),
        "entities": entities,
        "tokens": result["tokens"],
        "tags": result["tags"],
    }
    if alternatives:  # slotfill's own key: Rasa's answer has no alternative entity sets
        answer["nbest"] = alternatives
    if message_id is not None:
        answer["message_id"] = message_id
    return answer


def _entity(span: dict) -> dict:
    """An n-best alternative's span as a Rasa entity (alternatives carry no per-span confidence)."""
    entity, role, group = entity_parts(span["slot"])
    out = {"entity": entity, "value": span.get("value", span["text"])}
    out.update(start=span.get("start", span["token_start"]), end=span.get("end", span["token_end"]))
    return {**out, **({"role": role} if role else {}), **({"group": group} if group else {})}
