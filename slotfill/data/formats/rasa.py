"""``rasa``: Rasa NLU training data (YAML), examples grouped by intent, with synonyms and lookup tables.

    nlu:
    - intent: atis_flight
      examples: |
        - fly to [boston](toloc.city_name)
        - from [NYC]{"entity": "city", "role": "departure", "value": "New York"}
    - synonym: New York
      examples: |
        - big apple
    - lookup: city
      examples: |
        - kuala lumpur

Entities are ``[text](entity)``, ``[text](entity:value)`` or ``[text]{"entity": ..., "role": ...,
"group": ..., "value": ...}``; a role and a group become part of the slot type
(``city@departure#1``, :mod:`slotfill.core.entities`). Synonyms (an entity's ``value`` and
``synonym:`` items) and ``lookup:`` tables are the file's :class:`Extras`: the model keeps the
synonyms to map answered values and the tables as lexicon lists. What slotfill does not use
(``regex:`` items, other keys) is listed in :attr:`Extras.unused`, which the caller reports in
one warning line. An intent is one word, as in every reader; a multi-intent is written with Rasa's
``+`` (``atis_flight+atis_airfare``) and kept with slotfill's ``#``, and a retrieval intent
(``chitchat/ask_name``) is its intent (``chitchat``), as Rasa's intent classifiers learn it. Examples
are an ``examples: |`` block or a list of ``- text: ...`` items; an item without examples, or a key
written twice in one mapping (two files joined by ``cat``), is an error, as in Rasa. Rasa's old JSON
format is named, with the command that converts it. The writer refuses a token that holds entity
markup (``[to](x)``): Rasa's format cannot escape it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from slotfill.core.entities import bad_name, entity_label, entity_parts
from slotfill.core.lexicon import MAX_ENTRY_TOKENS, entry_tokens
from slotfill.core.vocab import rasa_intent, synonym_key
from slotfill.data.formats.base import Record, align_spans, intent_of, read_text, text_and_spans
from slotfill.errors import DataError

NAME = "rasa"
SUFFIX = ".yml"
ENTITY_RE = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")
ENTITY_KEYS = ("entity", "role", "group", "value")
TOP_KEYS = ("version", "nlu")
LEGACY_JSON = "Rasa's JSON format: convert it to YAML with `rasa data convert nlu -f yaml --data FILE --out DIR`"


@dataclass
class Extras:
    """What a Rasa file holds besides its examples.

    ``synonyms`` maps a lowercased entity text to its value (Rasa matches synonyms case-blind);
    ``lookups`` holds each lookup table's entries; ``unused`` names, with their lines, the parts
    slotfill does not use.
    """

    synonyms: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.synonyms or self.lookups)


class _Synonyms:
    """Synonyms as read, each with the line that set it: one text with two values is an error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, str] = {}
        self.lines: dict[str, int] = {}

    def add(self, text: str, value: str, line: int) -> None:
        key = synonym_key(text)  # as the model looks it up: "New  York" is "new york"
        if text.strip() == value.strip() and key not in self.values:  # as Rasa: "denver" -> "Denver" is one
            return
        if key in self.values and self.values[key] != value:
            raise DataError(
                self.path,
                line,
                f"synonym {text!r} maps to {value!r} here and to {self.values[key]!r} on line {self.lines[key]}",
            )
        self.values[key], self.lines[key] = value, line


def _label(spec: object, raw: str, where: tuple[Path, int], unused: list[str]) -> tuple[str, str | None]:
    """The slot type and the synonym value of one ``{...}`` entity."""
    if not isinstance(spec, dict) or not isinstance(spec.get("entity"), str):
        raise DataError(where[0], where[1], f"entity {raw} has no 'entity' name")
    parts = []
    for key in ("entity", "role", "group"):
        value = spec.get(key)
        if value is None:
            parts.append(None)
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # "group": 1 as Rasa's examples write it
        if not isinstance(value, str):
            raise DataError(where[0], where[1], f"entity {raw}: {key!r} must be a string")
        problem = bad_name(value)
        if problem:
            raise DataError(where[0], where[1], f"entity {raw}: the {key} {value!r} holds {problem}")
        parts.append(value)
    value = spec.get("value")
    if value is not None and not isinstance(value, (str, int, float)):
        raise DataError(where[0], where[1], f"entity {raw}: 'value' must be a string")
    for key in spec:
        if key not in ENTITY_KEYS:
            unused.append(f"entity key {key!r} (line {where[1]})")
    return entity_label(*parts), None if value is None else str(value)


def _plain(
    example: str, where: tuple[Path, int], synonyms: _Synonyms | None = None, unused: list[str] | None = None
) -> tuple[str, list[tuple[int, int, str]]]:
    """The example without markup and its entities as character spans (synonyms noted on the way)."""
    unused = [] if unused is None else unused
    out, spans, pos = [], [], 0
    for m in ENTITY_RE.finditer(example):
        out.append(example[pos : m.start()])
        start = sum(len(p) for p in out)
        if m.group("entity") is not None:
            name, _, value = m.group("entity").partition(":")
            label, value = name.strip(), value.strip() or None
            problem = bad_name(label)
            if problem:
                raise DataError(where[0], where[1], f"entity name {label!r} holds {problem}")
        else:
            try:
                spec = json.loads(m.group("json"))
            except json.JSONDecodeError as e:
                raise DataError(where[0], where[1], f"entity {m.group('json')} is not valid JSON ({e.msg})") from None
            label, value = _label(spec, m.group("json"), where, unused)
        if value is not None and synonyms is not None:
            synonyms.add(m.group("text"), value, where[1])
        out.append(m.group("text"))
        spans.append((start, start + len(m.group("text")), label))
        pos = m.end()
    out.append(example[pos:])
    plain = "".join(out)
    if "][{" in plain:
        raise DataError(
            where[0], where[1], "several entities on one text ([text][{...}, {...}]): slotfill tags one slot a word"
        )
    if "](" in plain or "]{" in plain:
        raise DataError(where[0], where[1], "unbalanced entity markup: expected [text](entity) or [text]{...}")
    return plain, spans


def read(path: Path) -> list[Record]:
    return read_with_extras(path)[0]


def read_with_extras(path: Path) -> tuple[list[Record], Extras]:
    """The examples of a Rasa NLU file and its :class:`Extras`."""
    import yaml

    text = read_text(path)
    if _legacy_json(text):
        raise DataError(path, None, LEGACY_JSON)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise DataError(path, mark.line + 1 if mark else None, f"not valid YAML ({getattr(e, 'problem', e)})") from None
    _refuse_duplicate_keys(root, path)
    nlu = _get(root, "nlu")
    if nlu is None or not isinstance(nlu, yaml.SequenceNode):
        raise DataError(path, None, "no 'nlu:' list (Rasa NLU training data)")
    extras, synonyms = Extras(), _Synonyms(path)
    extras.unused += [f"'{k.value}:' (line {k.start_mark.line + 1})" for k, _ in root.value if k.value not in TOP_KEYS]
    records = []
    for item in nlu.value:
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise DataError(path, line, "each nlu item must be a mapping with 'intent' and 'examples'")
        keys = [k.value for k, _ in item.value]
        kind = next((k for k in ("intent", "synonym", "lookup", "regex") if k in keys), None)
        if kind is None:
            raise DataError(path, line, "an nlu item needs 'intent' and 'examples: |'")
        extras.unused += [f"{kind} key {k!r} (line {line})" for k in keys if k not in (kind, "examples")]
        name_node, examples = _get(item, kind), _get(item, "examples")
        if kind == "regex":
            extras.unused.append(f"regex {str(name_node.value)!r} (line {line})")
            continue
        if examples is not None and not isinstance(examples, (yaml.ScalarNode, yaml.SequenceNode)):
            raise DataError(path, line, f"an nlu item needs '{kind}' and 'examples: |'")
        if not isinstance(name_node, yaml.ScalarNode) or not str(name_node.value).strip():
            raise DataError(path, name_node.start_mark.line + 1, f"'{kind}' must be a name")
        name = str(name_node.value).strip()
        found = list(_examples(examples, path, extras.unused)) if examples is not None else []
        if not found:  # an empty 'examples: |' block, or none: the item would be dropped silently
            raise DataError(path, line, f"{kind} {name!r} has no examples")
        if kind == "intent" and "/" in name:  # a retrieval intent: Rasa's classifiers learn its intent
            extras.unused.append(f"the response key of retrieval intent {name!r} (line {line})")
            name = name.split("/", 1)[0]
        for n, example in found:
            if kind == "synonym":
                synonyms.add(example, name, n)
            elif kind == "lookup":
                size = len(entry_tokens(example))
                if size > MAX_ENTRY_TOKENS:
                    raise DataError(path, n, f"lookup entry of {size} words (at most {MAX_ENTRY_TOKENS})")
                extras.lookups.setdefault(name, []).append(example)
            else:
                intent = intent_of(name, (path, name_node.start_mark.line + 1))
                plain, spans = _plain(example, (path, n), synonyms, extras.unused)
                tokens, tags = align_spans(plain, spans, (path, n))
                if not tokens:
                    raise DataError(path, n, "empty example")
                records.append(Record(tokens, tags, intent, str(path), n))
    extras.synonyms = synonyms.values
    return records, extras


def _examples(node, path: Path, unused: list[str]):
    """``(line, example)`` for each ``- example`` line of an ``examples: |`` block, or each ``- text:``
    item of an examples list (their ``metadata`` noted as unused)."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            line = item.start_mark.line + 1
            text = _get(item, "text")
            if not isinstance(text, yaml.ScalarNode):
                raise DataError(path, line, "an item of an examples list needs 'text:'")
            unused += [f"example key {k.value!r} (line {line})" for k, _ in item.value if k.value != "text"]
            if not text.value.strip() or text.tag.endswith(":null"):  # text: null, text: ~
                raise DataError(path, line, "empty example")
            yield text.start_mark.line + (2 if text.style in ("|", ">") else 1), text.value.strip()
        return
    # block scalars start on the line after the '|'; other styles are located at their first line
    first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
    for i, raw in enumerate(node.value.split("\n")):
        if not raw.strip():
            continue
        if not raw.lstrip().startswith("- "):
            raise DataError(path, first + i, "an example line must start with '- '")
        yield first + i, raw.lstrip()[2:].strip()


def _legacy_json(text: str) -> bool:
    """Whether ``text`` is Rasa's old JSON training data (``{"rasa_nlu_data": ...}``)."""
    return text.lstrip().startswith("{") and '"rasa_nlu_data"' in text


def _refuse_duplicate_keys(root, path: Path) -> None:
    """Refuse a mapping that holds a key twice, as Rasa does: PyYAML keeps both, and :func:`_get` would
    read the first alone (two files joined by ``cat`` give two ``nlu:`` keys)."""
    import yaml

    stack, seen_nodes, twice = [root], set(), []
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:  # an alias: the same node again
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in first:
                        twice.append((k.start_mark.line + 1, k.value, first[k.value]))
                    first.setdefault(k.value, k.start_mark.line + 1)
                stack.append(v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    if twice:
        line, key, first_line = min(twice)
        raise DataError(path, line, f"duplicate key {key!r} (the first: line {first_line})")


def _get(node, key: str):
    import yaml

    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if k.value == key:
            return v
    return None


def markup(text: str, label: str, value: str | None = None) -> str:
    """One entity as Rasa writes it: ``[text](entity)``, or the JSON form for a role, group or value."""
    entity, role, group = entity_parts(label)
    if role is None and group is None and value is None:
        return f"[{text}]({label})"
    spec = {"entity": entity, "role": role, "group": group, "value": value}
    return f"[{text}]" + json.dumps({k: v for k, v in spec.items() if v is not None}, ensure_ascii=False)


def _yaml_line_char(c: str) -> bool:
    """Whether YAML keeps ``c`` inside one line of a block: printable, and not one of its line breaks."""
    o = ord(c)
    if c in "\r\n\x85\u2028\u2029":
        return False
    return o == 9 or 0x20 <= o <= 0x7E or 0xA0 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


def example(text: str, spans: list[tuple[int, int, str, str | None]]) -> str:
    """One example: ``text`` with its entities (``(start, end, label, value)``) marked up. Text that the
    reader would take for markup is refused (Rasa's format has no escape for brackets)."""
    bad = next((c for c in text if not _yaml_line_char(c)), None)
    if bad is not None:
        raise ValueError(f"it holds {bad!r}: a Rasa example is one line of printable text")
    out, pos = [], 0
    for s, e, label, value in spans:
        out += [text[pos:s], markup(text[s:e], label, value if value != text[s:e] else None)]
        pos = e
    marked = "".join(out) + text[pos:]
    try:
        same = _plain(marked, (Path("<output>"), 0)) == (text, [span[:3] for span in spans])
    except DataError:
        same = False
    if not same:
        word = next((w for w in text.split() if any(c in w for c in "[]")), text)
        raise ValueError(f"{word!r} would be read back as Rasa entity markup")
    return marked


def annotate(tokens: list[str], tags: list[str]) -> str:
    """One example with entity markup, from tokens and their tags (see :func:`example`)."""
    text, spans = text_and_spans(tokens, tags)
    try:
        return example(text, [(s, e, label, None) for s, e, label in spans])
    except ValueError:
        token = next((t for t in tokens if any(c in t for c in "[]")), None)
        if token is None:  # not markup: a character no example can hold, said as it is
            raise
        raise ValueError(f"the token {token!r} would be read back as Rasa entity markup") from None


def dumps(records: list[Record], scheme: str = "bio", extras: Extras | None = None) -> str:
    """Examples grouped by intent in order of first appearance, then the synonyms and lookup tables
    (the tag scheme does not apply)."""
    groups: dict[str, list[str]] = {}
    for r in records:
        if not r.intent:
            raise r.error("no intent: Rasa groups examples by intent")
        if "/" in r.intent:
            raise r.error(f"intent {r.intent!r}: Rasa reads a '/' as a retrieval intent's response key")
        try:
            groups.setdefault(r.intent, []).append(annotate(r.tokens, r.tags))
        except ValueError as e:
            raise r.error(f"cannot be written as rasa: {e}") from None
    return nlu_yaml(groups, extras)


VERSION = 'version: "3.1"\n'
HEADER = VERSION + "nlu:\n"
NO_EXAMPLES = "nlu: []\n"  # after VERSION: a file of no examples that reads back as one


def intent_items(groups: dict[str, list[str]]) -> str:
    """``- intent:`` items of annotated examples grouped by intent (a multi-intent joined by Rasa's ``+``):
    a file may hold several items of one intent, so a stream is written an item per intent and chunk."""
    lines = []
    for intent, examples in groups.items():
        lines += [f"- intent: {json.dumps(rasa_intent(intent), ensure_ascii=False)}", "  examples: |"]
        lines += [f"    - {e.strip()}" for e in examples]
    return "".join(f"{line}\n" for line in lines)


def nlu_yaml(groups: dict[str, list[str]], extras: Extras | None = None) -> str:
    """An NLU file from annotated examples grouped by intent (and synonym and lookup items)."""
    lines = [HEADER + intent_items(groups).rstrip("\n")]
    if extras is not None:
        by_value: dict[str, list[str]] = {}
        for text, value in extras.synonyms.items():
            by_value.setdefault(value, []).append(text)
        for value, texts in by_value.items():
            lines += [f"- synonym: {json.dumps(value, ensure_ascii=False)}", "  examples: |"]
            lines += [f"    - {t}" for t in texts]
        for table, entries in extras.lookups.items():
            lines += [f"- lookup: {json.dumps(table, ensure_ascii=False)}", "  examples: |"]
            lines += [f"    - {e}" for e in entries]
    return "\n".join(lines) + "\n"


def sniff(lines: list[str]) -> bool:
    return any(ln.rstrip() == "nlu:" for ln in lines) or _legacy_json("\n".join(lines))
