"""slotfill as a spaCy pipeline component: ``nlp.add_pipe("slotfill", config={"model": PATH})``.

Registered through spaCy's ``spacy_factories`` entry point (``pip install "slotfill[spacy]"``), so
no import is needed. Each doc gets the slot spans in ``doc.ents`` (beside an earlier component's
entities: a slot overlapping one of them stays out of ``doc.ents``) and always all of them in the
span group ``doc.spans["slotfill"]``; intent scores in ``doc.cats``; every span's confidence in
``span._.slotfill_confidence`` (None for a span slotfill did not set) and slotfill's whole answer
in ``doc._.slotfill``. slotfill tokenises the text on its own and maps its spans onto spaCy's
tokens by character offsets.
``nlp.to_disk`` records the model's absolute path, so ``spacy.load`` finds it from any folder.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from slotfill.core.limits import check_text
from slotfill.errors import MissingExtra, SlotfillError

try:
    from spacy.language import Language
    from spacy.tokens import Doc, Span
    from spacy.util import filter_spans, raise_error
except ImportError:  # the extra is not installed
    raise MissingExtra("spacy", "spacy", "the slotfill spaCy component") from None

log = logging.getLogger(__name__)
NEW_PLACE = (  # how a pipeline saved with nlp.to_disk is given its model's new place (add_pipe: a typo, likely)
    'if it is a saved pipeline\'s model that moved, give its new place with spacy.load(PATH, config={"components": '
    '{"slotfill": {"model": NEW}}})'
)


def _one_thread_in_a_forked_worker() -> None:
    """spaCy's ``nlp.pipe(n_process=N)`` forks workers after the parent ran the network: the OpenMP
    threads PyTorch's kernels had started do not exist in the child, whose first kernel then waits
    for them for ever. One thread in the child takes no such team. spaCy forks in ``Language.pipe``,
    before this component sees a doc, so the hook is the process's: every forked child of a process
    that imported this component runs PyTorch with one thread (docs/spacy.md says so)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


os.register_at_fork(after_in_child=_one_thread_in_a_forked_worker)
SPANS_KEY = "slotfill"

STORED = "slotfill_slot_confidence"  # {label: confidence} of the spans set over a range; spaCy keys it by offsets


def _get_confidence(span: Span) -> float | None:
    """The confidence slotfill gave this span: None for one it did not set (another component's entity).

    Stored by label: spaCy keys a span's extension values by its offsets alone, so an
    entity_ruler's GPE over slotfill's ``toloc.city_name`` read slotfill's number, and a second
    slotfill component labelling the same words otherwise erased the first one's."""
    stored = span._.get(STORED)
    return stored.get(span.label_) if isinstance(stored, dict) else None


def _set_confidence(span: Span, confidence: float | None) -> None:
    """Set (None: remove) this span's label's confidence, leaving the other labels' over its range as they are."""
    stored = span._.get(STORED)
    by_label = dict(stored) if isinstance(stored, dict) else {}  # never changed in place: a copied doc may share it
    if confidence is None:
        by_label.pop(span.label_, None)
    else:
        by_label[span.label_] = confidence
    span._.set(STORED, by_label or None)


if not Doc.has_extension("slotfill"):
    Doc.set_extension("slotfill", default=None)
# in doc.user_data by the span's offsets, as spaCy keeps a span's values: pickled, to_bytes, DocBin,
# n_process, and carried by span.as_doc(copy_user_data=True) and Doc.from_docs
if not Span.has_extension(STORED):
    Span.set_extension(STORED, default=None)
# force: a getter wherever an earlier import had set this extension with a default
Span.set_extension("slotfill_confidence", getter=_get_confidence, setter=_set_confidence, force=True)


class SlotfillComponent:
    """Tags each doc with a slotfill model, loaded once; :meth:`pipe` tags ``batch_size`` docs at a time."""

    def __init__(
        self,
        nlp: Language,
        name: str,
        model: str,
        batch_size: int = 256,
        spans_key: str = SPANS_KEY,
        min_confidence: float = 0.0,
    ) -> None:
        from slotfill.core.settings import whole_number
        from slotfill.errors import ConfigError
        from slotfill.inference.pipeline import check_confidence

        if not model:
            raise ConfigError('the slotfill component needs a model: nlp.add_pipe("slotfill", config={"model": PATH})')
        self.name, self.model, self.given, self.spans_key = name, str(model), str(model), spans_key
        self.batch_size = whole_number(batch_size, "batch_size")
        self.min_confidence = check_confidence(min_confidence)
        self.tagger = None
        # a relative path saved by nlp.to_disk may not lead anywhere from where spacy.load runs: its
        # from_disk loads the model by the absolute path it recorded; otherwise the first doc says so
        if Path(self.model).is_absolute() or Path(self.model).exists():
            try:
                self._load(self.model)
            except SlotfillError as e:
                raise SlotfillError(f"{e}; {NEW_PLACE}") from None

    def _load(self, model: str) -> None:
        from slotfill.inference.loading import load_tagger

        self.tagger = load_tagger(model)
        self.model = os.path.abspath(model)  # not resolved: a link to the current model stays the link

    def _ready(self):
        if self.tagger is None:
            self._load(self.model)  # the model's own error: not found, or not a slotfill model
        return self.tagger

    def __call__(self, doc: Doc) -> Doc:
        check_text(doc.text, "the doc")
        (result,) = self._ready().predict([doc.text], min_confidence=self.min_confidence)
        return self._fill(doc, result)

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        """Tag ``docs`` a batch at a time. A doc that cannot be tagged (too long) goes to the error
        handler (``nlp.set_error_handler``; by default its error is raised, naming the doc's place in
        the stream), and the other docs of its batch are tagged still."""
        # spaCy passes nlp.pipe's batch size (1,000 unless given): how many docs it streams at once,
        # not how many sentences the network should take together, which is this component's setting
        batch: list[Doc] = []
        for n, doc in enumerate(docs, 1):
            try:
                check_text(doc.text, f"doc {n} of nlp.pipe")
            except SlotfillError as e:
                yield from self._tag(batch)  # the docs before it, in order
                batch = []
                self.get_error_handler()(self.name, self, [doc], e)
                continue
            batch.append(doc)
            if len(batch) >= self.batch_size:
                yield from self._tag(batch)
                batch = []
        yield from self._tag(batch)

    def _tag(self, docs: list[Doc]) -> Iterator[Doc]:
        if not docs:
            return
        results = self._ready().predict([d.text for d in docs], self.batch_size, min_confidence=self.min_confidence)
        for doc, result in zip(docs, results):
            yield self._fill(doc, result)

    def set_error_handler(self, handler: Callable) -> None:
        """What :meth:`pipe` calls with a doc it cannot tag (``nlp.set_error_handler`` sets it)."""
        self._error_handler = handler

    def get_error_handler(self) -> Callable:
        return getattr(self, "_error_handler", raise_error)

    def _fill(self, doc: Doc, result: dict) -> Doc:
        spans: list[Span] = []  # in the text's order, as slotfill's spans come
        sure_of: list[float] = []  # the confidence of each
        said: list[str] = []  # slotfill's own words of each, for a warning
        for s in result["spans"]:
            span = doc.char_span(s["start"], s["end"], label=s["slot"], alignment_mode="expand")
            if span is None:  # never dropped without a word
                log.warning("slotfill: the span %r (%s) does not map onto spaCy's tokens", s["text"], s["slot"])
                continue
            last = spans[-1] if spans else None
            if last is not None and span.start < last.end:  # widened to spaCy's tokens, they share one ("1,000")
                sure = last if sure_of[-1] >= s["confidence"] else span
                if last.label_ != span.label_:  # one label survives: said, never silent
                    log.warning(
                        "slotfill: %r (%s) and %r (%s) fall in the same spaCy tokens: one span, labelled %s",
                        said[-1],
                        last.label_,
                        s["text"],
                        s["slot"],
                        sure.label_,
                    )
                spans[-1] = Span(doc, min(last.start, span.start), max(last.end, span.end), label=sure.label_)
                sure_of[-1] = min(sure_of[-1], s["confidence"])  # the least sure
                said[-1] = f"{said[-1]} {s['text']}"
                continue
            spans.append(span)
            sure_of.append(s["confidence"])
            said.append(s["text"])
        doc.spans[self.spans_key] = spans
        for span, confidence in zip(spans, sure_of):
            span._.slotfill_confidence = confidence
        taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
        free = [s for s in spans if not any(i in taken for i in range(s.start, s.end))]
        doc.ents = filter_spans([*doc.ents, *free])
        doc.cats.update({r["name"]: float(r["confidence"]) for r in result["intent_ranking"]})  # beside others'
        doc._.slotfill = result
        return doc

    def to_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> None:
        """Record the model's absolute path and fingerprint (the model file itself is not copied)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        model = self.model if self.tagger is not None else os.path.abspath(self.model)
        record = {"model": model, "given": self.given, "fingerprint": self._fingerprint()}
        (path / "model.json").write_text(json.dumps(record) + "\n")

    def _fingerprint(self) -> str | None:
        tagger = self.tagger
        if tagger is None:
            return None
        card = getattr(tagger, "card", None) or tagger.model.card()
        return card.get("fingerprint")

    def from_disk(self, path: str | Path, exclude: Iterable[str] = ()) -> SlotfillComponent:
        """Load the model :meth:`to_disk` recorded (by its absolute path), unless ``spacy.load`` was
        given another ``model`` in its config; where that path leads nowhere now (the project moved),
        the model the config's own path found stays."""
        recorded = Path(path) / "model.json"
        if recorded.is_file():
            saved = json.loads(recorded.read_text())
            wanted = saved.get("given") == self.given and saved["model"] != self.model
            if (wanted and (Path(saved["model"]).exists() or self.tagger is None)) or self.tagger is None:
                model = saved["model"] if wanted else self.model
                try:
                    self._load(model)
                except SlotfillError as e:
                    raise SlotfillError(
                        f"{recorded}: the pipeline's model {model} does not load ({e}); {NEW_PLACE}"
                    ) from None
            same_place = saved.get("given") == self.given  # not another model picked by config=, on purpose
            if same_place and saved.get("fingerprint") and self._fingerprint() != saved["fingerprint"]:
                log.warning(
                    "slotfill: %s holds another model than the pipeline was saved with (%s): its answers may differ",
                    self.model,
                    recorded,
                )
        return self


@Language.factory(
    "slotfill",
    default_config={"model": None, "batch_size": 256, "spans_key": SPANS_KEY, "min_confidence": 0.0},
)
def make_slotfill(
    nlp: Language, name: str, model: str | None, batch_size: int, spans_key: str, min_confidence: float
) -> SlotfillComponent:
    """The factory spaCy calls for ``nlp.add_pipe("slotfill", config={"model": PATH})``."""
    return SlotfillComponent(nlp, name, model or "", batch_size, spans_key, min_confidence)
