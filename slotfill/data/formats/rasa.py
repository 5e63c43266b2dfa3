"""``rasa``: Rasa NLU training data (YAML), examples grouped by intent.

    nlu:
    - intent: atis_flight
      examples: |
        - fly to [boston](toloc.city_name)
        - from [new york]{"entity": "city", "role": "fromloc"}

``[text](entity)`` (``entity:value`` synonyms keep the entity) and ``[text]{"entity": ...}``;
a ``role`` becomes part of the slot type (``city.fromloc``). ``synonym``, ``regex`` and
``lookup`` items are not examples and are skipped; entity ``group`` is refused. An intent is
one word, as in every reader. The writer refuses a token that holds entity markup
(``[to](x)``): Rasa's format cannot escape it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from slotfill.data.formats.base import Record, align_spans, intent_of, read_text, text_and_spans
from slotfill.errors import DataError

NAME = "rasa"
SUFFIX = ".yml"
ENTITY_RE = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")
NOT_EXAMPLES = ("synonym", "regex", "lookup")


def _plain(example: str, where: tuple[Path, int]) -> tuple[str, list[tuple[int, int, str]]]:
    """The example without markup and its entities as character spans."""
    out, spans, pos = [], [], 0
    for m in ENTITY_RE.finditer(example):
        out.append(example[pos : m.start()])
        start = sum(len(p) for p in out)
        if m.group("entity") is not None:
            label = m.group("entity").split(":", 1)[0].strip()
        else:
            try:
                spec = json.loads(m.group("json"))
            except json.JSONDecodeError as e:
                raise DataError(where[0], where[1], f"entity {m.group('json')} is not valid JSON ({e.msg})") from None
            if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
                raise DataError(where[0], where[1], f"entity {m.group('json')} has no 'entity' name")
            if "group" in spec:
                raise DataError(where[0], where[1], "entity groups are not supported")
            label = spec["entity"] + (f".{spec['role']}" if spec.get("role") else "")
        out.append(m.group("text"))
        spans.append((start, start + len(m.group("text")), label))
        pos = m.end()
    out.append(example[pos:])
    plain = "".join(out)
    if "](" in plain or "]{" in plain:
        raise DataError(where[0], where[1], "unbalanced entity markup: expected [text](entity) or [text]{...}")
    return plain, spans


def read(path: Path) -> list[Record]:
    import yaml

    text = read_text(path)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise DataError(path, mark.line + 1 if mark else None, f"not valid YAML ({getattr(e, 'problem', e)})") from None
    nlu = _get(root, "nlu")
    if nlu is None or not isinstance(nlu, yaml.SequenceNode):
        raise DataError(path, None, "no 'nlu:' list (Rasa NLU training data)")
    records = []
    for item in nlu.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise DataError(path, line, "each nlu item must be a mapping with 'intent' and 'examples'")
        keys = {k.value for k, _ in item.value}
        if keys & set(NOT_EXAMPLES):
            continue
        intent, examples = _get(item, "intent"), _get(item, "examples")
        if intent is None or examples is None or not isinstance(examples, yaml.ScalarNode):
            raise DataError(path, line, "an nlu item needs 'intent' and 'examples: |'")
        if not isinstance(intent, yaml.ScalarNode) or not str(intent.value).strip():
            raise DataError(path, intent.start_mark.line + 1, "'intent' must be a name (one word)")
        name = intent_of(str(intent.value).strip(), (path, intent.start_mark.line + 1))
        # block scalars start on the line after the '|'; other styles are located at their first line
        first = examples.start_mark.line + (2 if examples.style in ("|", ">") else 1)
        for i, raw in enumerate(examples.value.split("\n")):
            n = first + i
            if not raw.strip():
                continue
            if not raw.lstrip().startswith("- "):
                raise DataError(path, n, "an example line must start with '- '")
            plain, spans = _plain(raw.lstrip()[2:].strip(), (path, n))
            tokens, tags = align_spans(plain, spans, (path, n))
            if not tokens:
                raise DataError(path, n, "empty example")
            records.append(Record(tokens, tags, name, str(path), n))
    return records


def _get(node, key: str):
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if k.value == key:
            return v
    return None


def annotate(tokens: list[str], tags: list[str]) -> str:
    """One example with ``[value](slot)`` markup; a token that the reader would take for markup is
    refused (Rasa's format has no escape for brackets)."""
    text, spans = text_and_spans(tokens, tags)
    out, pos = [], 0
    for s, e, label in spans:
        out += [text[pos:s], f"[{text[s:e]}]({label})"]
        pos = e
    example = "".join(out) + text[pos:]
    try:
        same = _plain(example, (Path("<output>"), 0)) == (text, spans)
    except DataError:
        same = False
    if not same:
        token = next((t for t in tokens if any(c in t for c in "[]")), " ".join(tokens))
        raise ValueError(f"the token {token!r} would be read back as Rasa entity markup")
    return example


def dumps(records: list[Record], scheme: str = "bio", intents: list[str | None] | None = None) -> str:
    """Examples grouped by intent in order of first appearance (the tag scheme does not apply)."""
    groups: dict[str, list[str]] = {}
    for r in records:
        if not r.intent:
            raise r.error("no intent: Rasa groups examples by intent")
        try:
            groups.setdefault(r.intent, []).append(annotate(r.tokens, r.tags))
        except ValueError as e:
            raise r.error(f"cannot be written as rasa: {e}") from None
    return nlu_yaml(groups)


def nlu_yaml(groups: dict[str, list[str]]) -> str:
    """An NLU file from annotated examples grouped by intent."""
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in groups.items():
        lines += [f"- intent: {json.dumps(intent)}", "  examples: |"] + [f"    - {e.strip()}" for e in examples]
    return "\n".join(lines) + "\n"


def sniff(lines: list[str]) -> bool:
    return any(ln.rstrip() == "nlu:" for ln in lines)
