"""integrations/spacy_component.py: slotfill as a spaCy pipeline component, found by its entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from slotfill.errors import SlotfillError
from tests.helpers import ROOT

spacy = None  # imported by the fixture below: at collection it would cost every test worker seconds


@pytest.fixture(autouse=True)
def _spacy():
    global spacy
    spacy = pytest.importorskip("spacy")


SEED = "i want to leave taipei and arrive in boston"


class FixedTagger:
    """Answers every text with the spans of ``SEED`` shifted onto it (where the words are)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def predict(self, texts, batch_size=256, min_confidence=0.0):
        self.calls.append(list(texts))
        return [self._one(t) for t in texts]

    @staticmethod
    def _one(text: str) -> dict:
        spans = []
        for word, slot, confidence in (("taipei", "fromloc.city_name", 0.98), ("boston", "toloc.city_name", 0.4)):
            start = text.find(word)
            if start >= 0:
                spans.append(
                    {"slot": slot, "text": word, "start": start, "end": start + len(word), "confidence": confidence}
                )
        ranking = [{"name": "atis_flight", "confidence": 0.97}, {"name": "atis_airfare", "confidence": 0.02}]
        return {"text": text, "spans": spans, "intent": "atis_flight", "intent_ranking": ranking}


@pytest.fixture
def nlp(tiny_model_file):
    """A blank English pipeline with slotfill added by name (the entry point), its tagger replaced by
    :class:`FixedTagger` so that the spans are known."""
    nlp = spacy.blank("en")
    component = nlp.add_pipe("slotfill", config={"model": str(tiny_model_file)})
    component.tagger = FixedTagger()
    return nlp


@pytest.mark.slow  # a fresh interpreter importing spaCy and torch
def test_add_pipe_by_name_needs_no_import(tiny_model_file):
    code = (
        "import sys, spacy; nlp = spacy.blank('en');"
        f"nlp.add_pipe('slotfill', config={{'model': {str(tiny_model_file)!r}}});"
        "doc = nlp('flights to boston');"
        "print(nlp.pipe_names, 'slotfill.integrations.spacy_component' in sys.modules, type(doc.cats).__name__)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["['slotfill']", "True", "dict"]


def test_slots_fill_doc_ents_with_spacy_offsets_and_intents_fill_cats(nlp):
    doc = nlp(SEED)
    assert [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] == [
        ("taipei", "fromloc.city_name", 16, 22),
        ("boston", "toloc.city_name", 37, 43),
    ]
    assert [e._.slotfill_confidence for e in doc.ents] == [0.98, 0.4]
    assert doc.cats == {"atis_flight": 0.97, "atis_airfare": 0.02}
    assert doc._.slotfill["intent"] == "atis_flight"
    assert [s.text for s in doc.spans["slotfill"]] == ["taipei", "boston"]


def test_a_slot_overlapping_an_earlier_entity_stays_in_the_span_group(tiny_model_file):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "GPE", "pattern": "taipei"}])
    nlp.add_pipe("slotfill", config={"model": str(tiny_model_file)}).tagger = FixedTagger()
    doc = nlp(SEED)
    assert [(e.text, e.label_) for e in doc.ents] == [("taipei", "GPE"), ("boston", "toloc.city_name")]
    assert [(s.text, s.label_) for s in doc.spans["slotfill"]] == [
        ("taipei", "fromloc.city_name"),
        ("boston", "toloc.city_name"),
    ]


@pytest.mark.slow
def test_another_components_entity_over_a_slot_has_no_slotfill_confidence_and_stored_docs_keep_them(
    tiny_model_file,
):
    """spaCy keys a span's extension values by its offsets alone: the GPE read slotfill's 0.98."""
    import pickle

    from spacy.tokens import Doc, DocBin

    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "GPE", "pattern": "taipei"}])
    nlp.add_pipe("slotfill", config={"model": str(tiny_model_file)}).tagger = FixedTagger()
    doc = nlp(SEED)
    assert [(e.label_, e._.slotfill_confidence) for e in doc.ents] == [("GPE", None), ("toloc.city_name", 0.4)]
    assert [s._.slotfill_confidence for s in doc.spans["slotfill"]] == [0.98, 0.4]
    assert doc.char_span(16, 22, label="GPE")._.slotfill_confidence is None
    stored = [
        pickle.loads(pickle.dumps(doc)),
        Doc(nlp.vocab).from_bytes(doc.to_bytes()),  # as nlp.pipe(n_process=N) sends its docs back
        *DocBin(store_user_data=True, docs=[doc]).get_docs(nlp.vocab),
    ]
    for again in stored:
        assert [(e.label_, e._.slotfill_confidence) for e in again.ents] == [("GPE", None), ("toloc.city_name", 0.4)]
        assert [s._.slotfill_confidence for s in again.spans["slotfill"]] == [0.98, 0.4]
    span = doc.char_span(0, 1, label="x")
    span._.slotfill_confidence = 0.5  # still settable, by the span's offsets and label
    assert span._.slotfill_confidence == 0.5 and doc.char_span(0, 1, label="y")._.slotfill_confidence is None


def test_confidences_follow_a_span_made_a_doc_and_docs_joined_into_one(nlp):
    """They were one doc-level list, which as_doc carried at the old offsets and Doc.from_docs dropped."""
    from spacy.tokens import Doc

    doc = nlp(SEED)
    part = doc[4:].as_doc(copy_user_data=True)  # "taipei and arrive in boston"
    assert [(e.text, e._.slotfill_confidence) for e in part.ents] == [("taipei", 0.98), ("boston", 0.4)]
    with pytest.warns(UserWarning, match=r"W101.*'slotfill'"):  # doc._.slotfill, one doc's answer, is not merged
        joined = Doc.from_docs([nlp("to boston"), doc])
    assert [(e.text, e._.slotfill_confidence) for e in joined.ents] == [
        ("boston", 0.4),
        ("taipei", 0.98),
        ("boston", 0.4),
    ]
    assert joined.char_span(3, 9, label="GPE")._.slotfill_confidence is None  # another label over the offsets


def test_two_labels_over_the_same_words_keep_a_confidence_each(nlp, tiny_model_file):
    """One [label, confidence] per character range: the last set, by any component, erased slotfill's."""
    config = {"model": str(tiny_model_file), "spans_key": "other"}
    nlp.add_pipe("slotfill", name="slotfill2", config=config).tagger = _tagging(("city", "taipei", 16, 22, 0.7))
    doc = nlp(SEED)
    ours = [("fromloc.city_name", 0.98), ("toloc.city_name", 0.4)]
    assert [(s.label_, s._.slotfill_confidence) for s in doc.spans["slotfill"]] == ours
    assert [(s.label_, s._.slotfill_confidence) for s in doc.spans["other"]] == [("city", 0.7)]
    gpe = doc.char_span(16, 22, label="GPE")
    gpe._.slotfill_confidence = 0.5  # set on another component's span over the same offsets
    assert gpe._.slotfill_confidence == 0.5
    assert [(s.label_, s._.slotfill_confidence) for s in doc.spans["slotfill"]] == ours
    gpe._.slotfill_confidence = None  # removes that label's value only
    assert gpe._.slotfill_confidence is None and doc.spans["other"][0]._.slotfill_confidence == 0.7
    assert doc.spans["slotfill"][0]._.slotfill_confidence == 0.98


def test_reading_every_confidence_of_a_doc_takes_time_in_step_with_its_spans(nlp):
    """Each read scanned every span's row: 6,000 spans took 3.8 s."""
    import time

    n = 5_000
    text = " ".join(["boston"] * n)
    nlp.get_pipe("slotfill").tagger = _tagging(*(("city", "boston", 7 * i, 7 * i + 6, 0.5) for i in range(n)))
    doc = nlp(text)
    spans = list(doc.spans["slotfill"])
    assert len(spans) == n
    began = time.perf_counter()
    assert all(s._.slotfill_confidence == 0.5 for s in spans)
    assert time.perf_counter() - began < 0.5  # a few ms; the scan of every row took seconds


def test_pipe_tags_in_batches_and_answers_as_call_does(nlp):
    texts = [SEED, "flights to boston", "no city here", "from taipei"] * 3
    component = nlp.get_pipe("slotfill")
    piped = list(nlp.pipe(texts, batch_size=5))
    assert max(len(c) for c in component.tagger.calls) > 1  # batches, not one text a call
    one = [nlp(t) for t in texts]
    assert [[(e.text, e.label_) for e in d.ents] for d in piped] == [[(e.text, e.label_) for e in d.ents] for d in one]
    assert [d.cats for d in piped] == [d.cats for d in one]


def test_a_span_that_does_not_map_onto_spacys_tokens_is_warned_not_dropped_silently(nlp, caplog):
    class Misaligned(FixedTagger):
        @staticmethod
        def _one(text):
            return {
                "text": text,
                "spans": [{"slot": "x", "text": "?", "start": 40, "end": 90, "confidence": 1.0}],
                "intent": None,
                "intent_ranking": [],
            }

    nlp.get_pipe("slotfill").tagger = Misaligned()
    with caplog.at_level("WARNING"):
        doc = nlp("short text")
    assert list(doc.ents) == [] and "does not map onto spaCy's tokens" in caplog.text


def test_min_confidence_is_passed_to_the_tagger(tiny_model_file):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("slotfill", config={"model": str(tiny_model_file), "min_confidence": 0.5})
    seen = []

    class Recording(FixedTagger):
        def predict(self, texts, batch_size=256, min_confidence=0.0):
            seen.append(min_confidence)
            return super().predict(texts, batch_size, min_confidence)

    component.tagger = Recording()
    nlp(SEED)
    assert seen == [0.5]
    with pytest.raises(SlotfillError, match="min_confidence"):
        spacy.blank("en").add_pipe("slotfill", config={"model": str(tiny_model_file), "min_confidence": 2})


def test_a_missing_or_bad_model_is_one_clear_error(tmp_path):
    with pytest.raises(SlotfillError, match="needs a model"):
        spacy.blank("en").add_pipe("slotfill")
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(SlotfillError) as e:
        spacy.blank("en").add_pipe("slotfill", config={"model": str(bad)})
    assert "model.pt" in str(e.value) and "\n" not in str(e.value)


def test_without_spacy_the_import_names_the_extra():
    code = "import sys; sys.modules['spacy'] = None\nimport slotfill.integrations.spacy_component"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "slotfill[spacy]" in proc.stderr


@pytest.mark.slow
def test_a_trained_model_in_a_real_pipeline_shows_departure_and_arrival(trained_sample, tmp_path):
    from spacy import displacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("slotfill", config={"model": str(trained_sample["model_file"])})
    doc = nlp(SEED)
    assert [(e.text, e.label_) for e in doc.ents] == [("taipei", "fromloc.city_name"), ("boston", "toloc.city_name")]
    assert max(doc.cats, key=doc.cats.get) == doc._.slotfill["intent"]
    html = displacy.render(doc, style="ent")
    assert "fromloc.city_name" in html and "toloc.city_name" in html and "taipei" in html
    nlp.to_disk(tmp_path / "pipeline")  # the component's config names its model: spacy.load rebuilds it
    again = spacy.load(tmp_path / "pipeline")
    assert [(e.text, e.label_) for e in again(SEED).ents] == [(e.text, e.label_) for e in doc.ents]


def test_the_components_batch_size_sets_the_batches_whatever_nlp_pipe_streams(tiny_model_file):
    nlp = spacy.blank("en")
    component = nlp.add_pipe("slotfill", config={"model": str(tiny_model_file), "batch_size": 5})
    component.tagger = FixedTagger()
    list(nlp.pipe([SEED] * 12))  # spaCy streams 1,000 docs at a time unless told
    assert [len(c) for c in component.tagger.calls] == [5, 5, 2]


def test_intent_scores_join_the_cats_an_earlier_component_set(nlp):
    doc = nlp.make_doc(SEED)
    doc.cats = {"POSITIVE": 0.9}
    doc = nlp.get_pipe("slotfill")(doc)
    assert doc.cats == {"POSITIVE": 0.9, "atis_flight": 0.97, "atis_airfare": 0.02}


def _tagging(*spans):
    """A tagger that answers every text with these spans: ``(slot, text, start, end, confidence)``."""
    found = [dict(zip(("slot", "text", "start", "end", "confidence"), s)) for s in spans]

    class Fixed(FixedTagger):
        @staticmethod
        def _one(text):
            return {"text": text, "spans": [dict(s) for s in found], "intent": None, "intent_ranking": []}

    return Fixed()


def test_two_slots_in_one_spacy_token_are_one_span_as_sure_as_the_least(nlp):
    nlp.get_pipe("slotfill").tagger = _tagging(("cost", "1", 4, 5, 0.9), ("cost", "000", 6, 9, 0.6))
    doc = nlp("for 1,000 dollars")  # spaCy keeps "1,000" one token; slotfill splits it
    assert [(s.text, s._.slotfill_confidence) for s in doc.spans["slotfill"]] == [("1,000", 0.6)]
    assert [e.text for e in doc.ents] == ["1,000"]


def test_slots_widened_onto_one_spacy_token_merge_and_a_lost_label_is_said(nlp, caplog):
    """ "1,000 dollars": slotfill's "1" (one slot) and "000 dollars" (another) overlap once widened."""
    nlp.get_pipe("slotfill").tagger = _tagging(("time", "1", 4, 5, 0.6), ("cost", "000 dollars", 6, 17, 0.9))
    with caplog.at_level("WARNING"):
        doc = nlp("for 1,000 dollars")
    assert [(s.text, s.label_, s._.slotfill_confidence) for s in doc.spans["slotfill"]] == [
        ("1,000 dollars", "cost", 0.6)
    ]
    assert "'1' (time) and '000 dollars' (cost) fall in the same spaCy tokens: one span, labelled cost" in caplog.text


def test_a_doc_that_cannot_be_tagged_goes_to_the_error_handler_and_the_others_are_tagged(nlp):
    texts = ["from taipei", "to boston", "a " * 50_001, SEED]
    with pytest.raises(SlotfillError, match=r"^doc 3 of nlp.pipe: 100,002 characters"):
        list(nlp.pipe(texts))
    handled = []
    nlp.set_error_handler(lambda name, proc, docs, e: handled.append((name, [d.text[:5] for d in docs], str(e)[:5])))
    tagged = list(nlp.pipe(texts))
    assert [d.text for d in tagged] == [texts[0], texts[1], SEED]
    assert [e.text for e in tagged[2].ents] == ["taipei", "boston"]
    assert handled == [("slotfill", ["a a a"], "doc 3")]


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_a_pipeline_saved_with_a_relative_model_path_loads_from_any_folder(tiny_model_file, tmp_path, monkeypatch):
    import shutil

    (tmp_path / "run").mkdir()
    shutil.copy(tiny_model_file, tmp_path / "run" / "model.pt")
    monkeypatch.chdir(tmp_path)
    nlp = spacy.blank("en")
    nlp.add_pipe("slotfill", config={"model": "run/model.pt"})
    before = nlp(SEED)._.slotfill
    nlp.to_disk(tmp_path / "pipeline")
    monkeypatch.chdir(tmp_path / "pipeline")  # where run/model.pt leads nowhere
    again = spacy.load(tmp_path / "pipeline")
    assert again.get_pipe("slotfill").model == str(tmp_path / "run" / "model.pt")
    assert again(SEED)._.slotfill == before
    missing = spacy.blank("en").add_pipe("slotfill", config={"model": "no/model.pt"})  # said at its first doc
    with pytest.raises(SlotfillError, match="no/model.pt"):
        missing(spacy.blank("en")("to boston"))


@pytest.mark.slow
def test_a_moved_project_loads_its_pipeline_by_the_relative_path_and_a_link_stays_a_link(
    tiny_model_file, tmp_path, monkeypatch
):
    import shutil

    project = tmp_path / "project"
    (project / "models" / "v1").mkdir(parents=True)
    shutil.copy(tiny_model_file, project / "models" / "v1" / "model.pt")
    (project / "models" / "current").symlink_to("v1")
    monkeypatch.chdir(project)
    nlp = spacy.blank("en")
    nlp.add_pipe("slotfill", config={"model": "models/current/model.pt"})
    assert nlp.get_pipe("slotfill").model == str(project / "models" / "current" / "model.pt")  # not .../v1/...
    nlp.to_disk(project / "pipeline")
    moved = shutil.move(project, tmp_path / "moved")
    monkeypatch.chdir(moved)  # the recorded absolute path leads nowhere; the relative one does
    again = spacy.load("pipeline")
    assert again.get_pipe("slotfill").model == str(tmp_path / "moved" / "models" / "current" / "model.pt")
    assert again(SEED)._.slotfill["tokens"] == SEED.split()


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_a_moved_model_is_named_with_the_record_and_another_model_is_warned(tiny_model_file, tmp_path, caplog):
    import shutil

    (tmp_path / "run").mkdir()
    shutil.copy(tiny_model_file, tmp_path / "run" / "model.pt")
    nlp = spacy.blank("en")
    nlp.add_pipe("slotfill", config={"model": str(tmp_path / "run" / "model.pt")})
    nlp.to_disk(tmp_path / "pipeline")
    from tests.helpers import tiny_model

    tiny_model(seed=7).save(tmp_path / "run" / "model.pt")  # retrained in place: another model
    with caplog.at_level("WARNING"):
        spacy.load(tmp_path / "pipeline")
    assert "holds another model than the pipeline was saved with" in caplog.text
    shutil.rmtree(tmp_path / "run")  # moved away
    with pytest.raises(
        SlotfillError, match=r"checkpoint not found; if it is a saved pipeline's model that moved, give its new place"
    ):
        spacy.load(tmp_path / "pipeline")
    with caplog.at_level("WARNING"):  # another model picked by config= on purpose: no warning
        caplog.clear()
        tiny_model(seed=3).save(tmp_path / "other.pt")
        spacy.load(tmp_path / "pipeline", config={"components": {"slotfill": {"model": str(tmp_path / "other.pt")}}})
    assert "holds another model" not in caplog.text


PIPE_IN_WORKERS = """
import sys, spacy
nlp = spacy.blank("en")
nlp.add_pipe("slotfill", config={"model": sys.argv[1]})
texts = ["flights to boston", "from denver", "fares to miami", "list airlines"]
docs = list(nlp.pipe(texts, n_process=2, batch_size=2))
print(len(docs), sum(d._.slotfill is not None for d in docs))
"""


@pytest.mark.slow
def test_nlp_pipe_in_several_processes_tags_with_a_torch_model(tmp_path):
    """The forked workers waited for ever for OpenMP threads the parent's kernels had started."""
    import os
    import signal

    from slotfill.models import NetConfig
    from slotfill.models.slot_model import SlotModel
    from tests.helpers import tiny_vocabs

    model = SlotModel(NetConfig(), tiny_vocabs(lexicon=True)).save(tmp_path / "model.pt")  # the default's size
    proc = subprocess.Popen(
        [sys.executable, "-c", PIPE_IN_WORKERS, str(model)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the hung workers too
        proc.communicate()
        pytest.fail("nlp.pipe(n_process=2) hung")
    assert proc.returncode == 0 and out.split() == ["4", "4"], err[-2000:]
