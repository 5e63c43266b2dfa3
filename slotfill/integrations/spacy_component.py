"""slotfill as a spaCy pipeline component: ``nlp.add_pipe("slotfill", config={"model": PATH})``.

Registered through spaCy's ``spacy_factories`` entry point (``pip install "slotfill[spacy]"``), so
no import is needed. Each doc gets the slot spans in ``doc.ents`` (beside an earlier component's
entities: a slot overlapping one of them stays out of ``doc.ents``) and always all of them in the
span group ``doc.spans["slotfill"]``; intent scores in ``doc.cats``; every span's confidence in
``span._.slotfill_confidence`` and slotfill's whole answer in ``doc._.slotfill``. slotfill
tokenises the text on its own and maps its spans onto spaCy's tokens by character offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from slotfill.errors import MissingExtra

try:
    from spacy.language import Language
    from spacy.tokens import Doc, Span
    from spacy.util import filter_spans
except ImportError:  # the extra is not installed
    raise MissingExtra("spacy", "spacy", "the slotfill spaCy component") from None

log = logging.getLogger(__name__)
SPANS_KEY = "slotfill"

if not Doc.has_extension("slotfill"):
    Doc.set_extension("slotfill", default=None)
if not Span.has_extension("slotfill_confidence"):
    Span.set_extension("slotfill_confidence", default=None)


class SlotfillComponent:
    """Tags each doc with a slotfill model, loaded once; :meth:`pipe` tags a batch of docs at a time."""

    def __init__(
        self,
        nlp: Language,
        name: str,
        model: str,
        batch_size: int = 256,
        spans_key: str = SPANS_KEY,
        min_confidence: float = 0.0,
    ) -> None:
        from slotfill.errors import ConfigError
        from slotfill.inference.loading import load_tagger
        from slotfill.inference.pipeline import check_confidence

        if not model:
            raise ConfigError('the slotfill component needs a model: nlp.add_pipe("slotfill", config={"model": PATH})')
        self.name, self.model, self.batch_size, self.spans_key = name, str(model), int(batch_size), spans_key
        self.min_confidence = check_confidence(min_confidence)
        self.tagger = load_tagger(self.model)

    def __call__(self, doc: Doc) -> Doc:
        (result,) = self.tagger.predict([doc.text], min_confidence=self.min_confidence)
        return self._fill(doc, result)

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        size = batch_size or self.batch_size
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= size:
                yield from self._tag(batch, size)
                batch = []
        if batch:
            yield from self._tag(batch, size)

    def _tag(self, docs: list[Doc], size: int) -> Iterator[Doc]:
        results = self.tagger.predict([d.text for d in docs], size, min_confidence=self.min_confidence)
        for doc, result in zip(docs, results):
            yield self._fill(doc, result)

    def _fill(self, doc: Doc, result: dict) -> Doc:
        spans = []
        for s in result["spans"]:
            span = doc.char_span(s["start"], s["end"], label=s["slot"], alignment_mode="expand")
            if span is None:  # never dropped without a word
                log.warning("slotfill: the span %r (%s) does not map onto spaCy's tokens", s["text"], s["slot"])
                continue
            span._.slotfill_confidence = s["confidence"]
            spans.append(span)
        doc.spans[self.spans_key] = spans
        taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
        free = [s for s in spans if not any(i in taken for i in range(s.start, s.end))]
        doc.ents = filter_spans([*doc.ents, *free])
        doc.cats = {r["name"]: float(r["confidence"]) for r in result["intent_ranking"]}
        doc._.slotfill = result
        return doc


@Language.factory(
    "slotfill",
    default_config={"model": None, "batch_size": 256, "spans_key": SPANS_KEY, "min_confidence": 0.0},
)
def make_slotfill(
    nlp: Language, name: str, model: str | None, batch_size: int, spans_key: str, min_confidence: float
) -> SlotfillComponent:
    """The factory spaCy calls for ``nlp.add_pipe("slotfill", config={"model": PATH})``."""
    return SlotfillComponent(nlp, name, model or "", batch_size, spans_key, min_confidence)
