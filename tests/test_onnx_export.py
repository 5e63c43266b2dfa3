"""onnx_export.py: export from the model, parity with eager PyTorch, and a graph tied to its weights."""

import json
import re
import shutil

import pytest
import torch

from slotfill import SlotTagger
from slotfill.core.sidecar import sidecar_path
from slotfill.errors import CheckpointError, SlotfillError
from slotfill.inference.onnx_forward import check_parity
from slotfill.models.onnx_export import export_onnx, onnx_path_for, quantize_onnx
from slotfill.models.slot_model import SlotModel
from tests.helpers import tiny_model

pytest.importorskip("onnxruntime")
SENTENCES = ["i want to leave taipei", "", "arrive in new york " * 40, "Zürich to taipei, please"]


@pytest.mark.parametrize(
    "net, lexicon",
    [
        ({"intent": True}, False),
        ({"crf": True, "intent": True, "intent_encoder": "separate"}, False),
        ({"intent": True, "intent_encoder": "cnn"}, True),
        (
            {"crf": True, "intent": True, "intent_encoder": "separate", "co_interaction": True, "intent_to_slot": True},
            True,
        ),
        ({}, True),
    ],
)
@pytest.mark.slow
def test_onnx_tags_like_eager_pytorch(tmp_path, net, lexicon):
    model = tiny_model(lexicon=lexicon, **net)
    ckpt = model.save(tmp_path / "model.pt")
    graph = export_onnx(model, onnx_path_for(ckpt))
    check_parity(model, graph)
    eager = SlotTagger.load(ckpt).predict(SENTENCES)
    onnx = SlotTagger.load(ckpt, backend="onnx").predict(SENTENCES)
    assert [r["tags"] for r in eager] == [r["tags"] for r in onnx]
    assert [r["intent"] for r in eager] == [r["intent"] for r in onnx]
    for x, y in zip(eager, onnx):
        for s, t in zip(x["spans"], y["spans"]):
            assert s["confidence"] == pytest.approx(t["confidence"], abs=1e-3)


@pytest.mark.slow
def test_sidecar_carries_the_model_card_and_fingerprint(tmp_path):
    model = tiny_model(intent=True)
    ckpt = model.save(tmp_path / "model.pt")
    graph = export_onnx(model, onnx_path_for(ckpt))
    meta = json.loads(sidecar_path(graph).read_text())
    card = model.card()
    assert {k: meta[k] for k in card} == card
    assert meta["fingerprint"] == SlotModel.load(ckpt).fingerprint()
    assert meta["outputs"] == ["emissions", "intent_logits"] and "vocabs" in meta and "decode" in meta


@pytest.mark.slow
def test_a_graph_of_other_weights_is_refused(tmp_path):
    old = tiny_model(seed=0, intent=True)
    ckpt = old.save(tmp_path / "model.pt")
    export_onnx(old, onnx_path_for(ckpt))
    tiny_model(seed=1, intent=True).save(ckpt)  # retrained into the same folder: the graph is stale
    with pytest.raises(CheckpointError, match="stale export.*slotfill export"):
        SlotTagger.load(ckpt, backend="onnx")
    sidecar_path(onnx_path_for(ckpt)).unlink()
    with pytest.raises(CheckpointError, match="sidecar is missing"):
        SlotTagger.load(ckpt, backend="onnx")


def test_onnx_backend_without_export_is_clear_error(tiny_model_file):
    with pytest.raises(CheckpointError, match="slotfill export"):
        SlotTagger.load(tiny_model_file, backend="onnx")


@pytest.mark.slow
def test_int8_graph_agrees_with_float32(tmp_path):
    torch.manual_seed(0)
    model = tiny_model(intent=True)
    ckpt = model.save(tmp_path / "model.pt")
    quantize_onnx(export_onnx(model, onnx_path_for(ckpt)))
    fp32 = SlotTagger.load(ckpt, backend="onnx").predict(SENTENCES)
    int8 = SlotTagger.load(ckpt, backend="onnx", precision="int8").predict(SENTENCES)
    pairs = [(a, b) for x, y in zip(fp32, int8) for a, b in zip(x["tags"], y["tags"])]
    assert sum(a == b for a, b in pairs) / len(pairs) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["trained_sample", "trained_sample_crf"])
def test_trained_models_tag_the_same_in_onnx(request, fixture, tmp_path):
    from slotfill.data.load import read_split
    from tests.helpers import SAMPLE

    run = request.getfixturevalue(fixture)
    ckpt = shutil.copy(run["model_file"], tmp_path / "model.pt")  # the shared run's folder stays as trained
    model = SlotModel.load(ckpt)
    check_parity(model, export_onnx(model, tmp_path / "model.onnx"))
    sentences = read_split(SAMPLE / "test")["tokens"] + read_split(SAMPLE / "train")["tokens"]
    eager = SlotTagger.load(ckpt).predict_tokens(sentences, batch_size=16)
    onnx = SlotTagger.load(ckpt, backend="onnx").predict_tokens(sentences, batch_size=16)
    assert [(r["tags"], r["intent"]) for r in eager] == [(r["tags"], r["intent"]) for r in onnx]


def _two_exports(tmp_path):
    """Model A and model B, each exported into its own folder."""
    paths = []
    for name, seed in (("a", 0), ("b", 1)):
        model = tiny_model(seed=seed, intent=True)
        ckpt = model.save(tmp_path / name / "model.pt")
        paths.append((ckpt, export_onnx(model, onnx_path_for(ckpt))))
    return paths


@pytest.mark.slow
def test_a_graph_copied_from_another_export_is_refused(tmp_path):
    """B's model.onnx over A's, A's model.pt and sidecar kept: neither backend runs B's graph."""
    from slotfill.inference.onnx_tagger import OnnxTagger

    (a_ckpt, a_graph), (_, b_graph) = _two_exports(tmp_path)
    shutil.copy(b_graph, a_graph)
    with pytest.raises(CheckpointError, match="not the sidecar of.*re-export it: slotfill export"):
        SlotTagger.load(a_ckpt, backend="onnx")
    with pytest.raises(CheckpointError, match="not the sidecar of"):
        OnnxTagger.load(a_graph)
    shutil.copy(sidecar_path(b_graph), sidecar_path(a_graph))  # B's pair beside A's model.pt: a stale export
    with pytest.raises(CheckpointError, match="exported from another model than .*stale export"):
        SlotTagger.load(a_ckpt, backend="onnx")


@pytest.mark.slow
@pytest.mark.parametrize("edit", ["reverse_tags", "transitions", "respelled"])
def test_an_edited_sidecar_is_refused(tmp_path, edit):
    from slotfill.inference.onnx_tagger import OnnxTagger

    ckpt, graph = _two_exports(tmp_path)[0]
    meta = json.loads(sidecar_path(graph).read_text())
    if edit == "reverse_tags":
        meta["vocabs"]["tags"]["itos"].reverse()
    elif edit == "transitions":
        meta["decode"]["trans"][0][0] += 1.0
    text = json.dumps(meta, indent=1 if edit == "respelled" else None)
    sidecar_path(graph).write_text(text)
    if edit == "respelled":  # the same content spelled differently is still the same sidecar
        assert OnnxTagger.load(graph).predict(SENTENCES[:1])
        return
    for load in (lambda: OnnxTagger.load(graph), lambda: SlotTagger.load(ckpt, backend="onnx")):
        with pytest.raises(CheckpointError, match="not the sidecar of"):
            load()
    ckpt.unlink()  # the hint names no .pt file that is not there (a graph exported from last.ckpt)
    with pytest.raises(CheckpointError, match=r"slotfill export ckpt=MODEL.pt \(the model it was exported from\)"):
        OnnxTagger.load(graph)


@pytest.mark.slow
def test_an_export_without_fingerprints_is_refused(tmp_path):
    """A graph exported by an older slotfill (format 2: no metadata, a weights-only sidecar)."""
    import onnx

    from slotfill.inference.onnx_tagger import OnnxTagger

    ckpt, graph = _two_exports(tmp_path)[0]
    proto = onnx.load(str(graph))
    del proto.metadata_props[:]
    onnx.save(proto, str(graph))
    for load in (lambda: OnnxTagger.load(graph), lambda: SlotTagger.load(ckpt, backend="onnx")):
        with pytest.raises(CheckpointError, match="without a slotfill fingerprint.*re-export"):
            load()


@pytest.mark.slow
def test_the_int8_copy_carries_the_fingerprints(tmp_path):
    from slotfill.inference.onnx_tagger import OnnxTagger

    ckpt, graph = _two_exports(tmp_path)[0]
    int8 = quantize_onnx(graph)
    assert OnnxTagger.load(int8).predict(SENTENCES[:1])
    assert SlotTagger.load(ckpt, backend="onnx", precision="int8").predict(SENTENCES[:1])
    # each graph records its own precision: the int8 one copied under the float32 name is not served as fp32
    import shutil

    swap = tmp_path / "swap"
    swap.mkdir()
    shutil.copy(int8, swap / "model.onnx")
    shutil.copy(str(int8) + ".json", swap / "model.onnx.json")
    with pytest.raises(CheckpointError, match="holds the int8 graph under the fp32 graph's name"):
        OnnxTagger.load(swap / "model.onnx", precision="fp32")
    shutil.copy(ckpt, swap / "model.pt")  # the Python API's backend=onnx opens the graph the same way
    with pytest.raises(CheckpointError, match="holds the int8 graph under the fp32 graph's name"):
        SlotTagger.load(swap / "model.pt", backend="onnx")
    assert OnnxTagger.load(graph).precision == "fp32" and OnnxTagger.load(int8).precision == "int8"


def test_export_into_a_folder_it_cannot_write_fails_before_exporting(tmp_path, monkeypatch):
    import slotfill.models.onnx_export as onnx_export

    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("exported before checking the folder"))
    (tmp_path / "file").write_text("")
    with pytest.raises(SlotfillError, match="cannot write there"):
        onnx_export.export_onnx(tiny_model(), tmp_path / "file" / "model.onnx")


@pytest.mark.slow  # an export or two each: make test runs them
def test_the_command_line_never_serves_an_export_of_another_model_in_a_model_files_name(tmp_path):
    from slotfill.inference.loading import load_tagger

    old = tiny_model(seed=0, intent=True)
    ckpt = old.save(tmp_path / "model.pt")
    quantize_onnx(export_onnx(old, onnx_path_for(ckpt)))  # records the digest of the model.pt it came from
    assert load_tagger(ckpt, backend="onnx").predict(["to boston"])
    tiny_model(seed=1, intent=True).save(ckpt)  # retrained into the same folder: both graphs are stale
    for precision in ("auto", "int8"):
        with pytest.raises(CheckpointError, match=r"exported from another model than .*model.pt \(stale export\)"):
            load_tagger(ckpt, backend="onnx", precision=precision)
        with pytest.raises(CheckpointError, match="stale export"):
            load_tagger(tmp_path, backend="onnx", precision=precision)  # the run folder: its model.pt
    for graph in (onnx_path_for(ckpt), onnx_path_for(ckpt, "int8")):  # named itself, beside the model.pt
        with pytest.raises(CheckpointError, match=r"exported from another model than .*model.pt \(stale export\)"):
            load_tagger(graph)
    ckpt.unlink()  # shipped without the model file: the graph is its own model
    assert load_tagger(onnx_path_for(ckpt)).predict(["to boston"])


@pytest.mark.slow  # over 0.3 s here (pyproject.toml's markers)
def test_an_int8_copy_of_another_model_is_refused_beside_a_new_graph(tmp_path):
    from slotfill.inference.loading import load_tagger

    graph = tmp_path / "model.onnx"
    quantize_onnx(export_onnx(tiny_model(seed=0, intent=True), graph))
    export_onnx(tiny_model(seed=1, intent=True), graph)  # a new graph, the old int8 copy left beside it
    with pytest.raises(CheckpointError, match=r"model.int8.onnx: an int8 copy of another model than .*model.onnx"):
        load_tagger(graph, precision="int8")
    with pytest.raises(SlotfillError, match="precision=fp32: .*model.int8.onnx is the int8 graph"):
        load_tagger(tmp_path / "model.int8.onnx", precision="fp32")


def _export_cfg(tmp_path, *overrides):
    from tests.helpers import compose_config

    return compose_config(list(overrides), tmp_path / "hydra", config_name="export")


@pytest.mark.slow  # an export or two each: make test runs them
def test_an_export_that_fails_its_parity_check_leaves_the_earlier_export_as_it_was(tmp_path, monkeypatch):
    from slotfill.cli import jobs
    from slotfill.inference import onnx_forward

    ckpt = tiny_model(seed=0, intent=True).save(tmp_path / "model.pt")
    jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}"))
    before = {p.name: p.read_bytes() for p in tmp_path.glob("model.*onnx*")}
    assert sorted(before) == ["model.int8.onnx", "model.int8.onnx.json", "model.onnx", "model.onnx.json"]
    tiny_model(seed=1, intent=True).save(ckpt)

    def disagree(model, graph, name=None, **kwargs):
        raise SlotfillError(f"{name}: ONNX Runtime and PyTorch disagree on 3 of 65 sentences; not written")

    monkeypatch.setattr(onnx_forward, "check_parity", disagree)
    with pytest.raises(SlotfillError, match=r"model.onnx: ONNX Runtime and PyTorch disagree"):
        jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}"))
    assert {p.name: p.read_bytes() for p in tmp_path.glob("model.*onnx*")} == before
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow  # an export or two each: make test runs them
def test_exporting_another_model_without_int8_removes_the_earlier_int8_copy(tmp_path, capsys):
    from slotfill.cli import jobs

    ckpt = tiny_model(seed=0, intent=True).save(tmp_path / "model.pt")
    jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}", "check=false"))
    jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}", "int8=false", "check=false"))  # the same model: kept
    assert (tmp_path / "model.int8.onnx").is_file()
    tiny_model(seed=1, intent=True).save(ckpt)
    jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}", "int8=false", "check=false"))
    assert not (tmp_path / "model.int8.onnx").exists() and not (tmp_path / "model.int8.onnx.json").exists()
    assert "removed " in capsys.readouterr().out


@pytest.mark.parametrize(
    "output, problem",
    [
        ("{tmp}/model.pt", "output={tmp}/model.pt: a graph's file name ends in .onnx"),
        ("{tmp}/graph.txt", "a graph's file name ends in .onnx"),
        ("{tmp}/folder.onnx", "output={tmp}/folder.onnx: a folder; give the graph's file name"),
        ("{tmp}/m.int8.onnx", ".int8.onnx names the int8 copy; give the float32 graph's name"),
    ],
)
def test_export_output_must_name_a_graph_file(tmp_path, output, problem):
    from slotfill.cli import jobs

    ckpt = tiny_model(seed=0, intent=True).save(tmp_path / "model.pt")
    (tmp_path / "folder.onnx").mkdir()
    before = ckpt.read_bytes()
    with pytest.raises(SlotfillError, match=re.escape(problem.replace("{tmp}", str(tmp_path)))):
        jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}", f"output={output.replace('{tmp}', str(tmp_path))}"))
    assert ckpt.read_bytes() == before and not list(tmp_path.glob("*.json"))


def test_an_onnx_graph_named_where_a_model_file_is_wanted_says_so(tmp_path):
    graph = export_onnx(tiny_model(seed=0, intent=True), tmp_path / "model.onnx")
    with pytest.raises(CheckpointError, match=r"model.onnx: an ONNX graph; give the model.pt it was exported from"):
        SlotModel.load(graph)


def test_a_graph_that_cannot_take_its_name_leaves_no_sidecar_and_no_temporary_file(tmp_path):
    (tmp_path / "g.onnx").mkdir()  # the name is taken by a folder
    with pytest.raises(SlotfillError, match=r"g.onnx: cannot write the graph there"):
        export_onnx(tiny_model(seed=0, intent=True), tmp_path / "g.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx"]


def test_an_int8_copy_onnx_runtime_cannot_make_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import onnxruntime.quantization

    def refuse(*args, **kwargs):
        raise ValueError("Expected model.net.members.1.char_cnn.conv.weight to be an initializer")

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic", refuse)
    graph = export_onnx(tiny_model(seed=0, intent=True), tmp_path / "model.onnx")
    with pytest.raises(SlotfillError, match=r"^int8=true: ONNX Runtime cannot quantize .*export it with int8=false"):
        quantize_onnx(graph)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.json"]


def test_two_writers_of_one_file_get_temporary_files_of_their_own(tmp_path):
    from slotfill.core.files import temporary_beside

    a, b = temporary_beside(tmp_path / "model.onnx"), temporary_beside(tmp_path / "model.onnx")
    assert a != b and a.name.startswith(".model.onnx.") and a.name.endswith(".tmp")


def test_an_int8_graph_standing_alone_beside_its_model_file_loads(tmp_path):
    from slotfill.inference.loading import load_tagger

    model = tiny_model(seed=0, intent=True)
    ckpt = model.save(tmp_path / "model.pt")
    quantize_onnx(export_onnx(model, onnx_path_for(ckpt)))
    for name in ("model.onnx", "model.onnx.json"):
        (tmp_path / name).unlink()
    for named in (ckpt, tmp_path):
        assert load_tagger(named, backend="onnx", precision="int8").precision == "int8"


def test_a_model_file_rewritten_while_its_model_was_exported_is_not_recorded_as_its_source(tmp_path):
    model = SlotModel.load(tiny_model(seed=0, intent=True).save(tmp_path / "model.pt"))
    tiny_model(seed=1, intent=True).save(tmp_path / "model.pt")  # a run saving into the file meanwhile
    with pytest.raises(SlotfillError, match=r"model.pt: changed since the model was read from it"):
        export_onnx(model, tmp_path / "model.onnx", source=tmp_path / "model.pt")
    export_onnx(model, tmp_path / "model.onnx")  # no source named: none claimed (the file is another model's)
    assert "source_sha256" not in json.loads((tmp_path / "model.onnx.json").read_text())


def test_an_int8_copy_of_the_same_weights_from_an_earlier_export_is_replaced_not_kept(tmp_path):
    from slotfill.cli import jobs

    model = tiny_model(seed=0, intent=True)
    ckpt = model.save(tmp_path / "model.pt")
    quantize_onnx(export_onnx(model, onnx_path_for(ckpt)))
    meta = json.loads((tmp_path / "model.int8.onnx.json").read_text())
    del meta["source_sha256"]  # as an export made before the file's digest was recorded
    (tmp_path / "model.int8.onnx.json").write_text(json.dumps(meta))
    jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}", "int8=false", "check=false"))
    assert not (tmp_path / "model.int8.onnx").exists()  # its sidecar is not the new export's


def test_a_pickled_onnx_tagger_carries_the_graph_it_loaded_not_the_file_as_it_is_later(tmp_path):
    import pickle

    model = tiny_model(seed=0, intent=True)
    ckpt = model.save(tmp_path / "model.pt")
    export_onnx(model, onnx_path_for(ckpt))
    tagger = SlotTagger.load(ckpt, backend="onnx")
    before = tagger.predict(SENTENCES)
    other = tiny_model(seed=1, intent=True)
    export_onnx(other, tmp_path / "other.onnx")
    shutil.copy(tmp_path / "other.onnx", onnx_path_for(ckpt))  # another model's export over the file since
    shutil.copy(tmp_path / "other.onnx.json", tmp_path / "model.onnx.json")
    assert pickle.loads(pickle.dumps(tagger)).predict(SENTENCES) == before


@pytest.mark.slow  # an export each
@pytest.mark.parametrize("edit", ["tags", "decode"])
def test_the_parity_check_reads_the_sidecar_written_beside_the_graph(tmp_path, monkeypatch, edit):
    """A sidecar writer that gets the vocabularies or the decoding wrong fails the check: the graph is
    decoded with what a torch-free loader reads, not with the model in memory."""
    import slotfill.models.onnx_export as onnx_export

    model = tiny_model(seed=0, intent=True)
    right = onnx_export.sidecar

    def wrong(*args):
        meta = right(*args)
        if edit == "tags":  # two slot names swapped
            itos = meta["vocabs"]["tags"]["itos"]
            a, b = (i for i, t in enumerate(itos) if t.startswith("B-"))
            itos[a], itos[b] = itos[b], itos[a]
        else:  # every sentence made to start with one slot
            first = next(i for i, t in enumerate(meta["vocabs"]["tags"]["itos"]) if t.startswith("B-"))
            meta["decode"]["start"][first] += 1000.0
        return meta

    monkeypatch.setattr(onnx_export, "sidecar", wrong)
    out = tmp_path / "model.onnx"
    with pytest.raises(SlotfillError, match=r"model.onnx: ONNX Runtime \(with its sidecar\) and PyTorch disagree"):
        export_onnx(model, out, check=lambda graph: check_parity(model, graph, name=out))
    assert not list(tmp_path.iterdir())  # neither graph nor sidecar, nor a temporary file
    monkeypatch.setattr(onnx_export, "sidecar", right)
    assert check_parity(model, export_onnx(model, out)) == 65


@pytest.mark.slow  # two exports
def test_an_int8_copy_that_disagrees_with_its_graph_is_not_written(tmp_path, monkeypatch, capsys):
    import onnxruntime.quantization

    from slotfill.cli import jobs

    ckpt = tiny_model(seed=0, intent=True).save(tmp_path / "model.pt")
    jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}"))
    said = capsys.readouterr().out
    assert re.search(r"check: .*model.onnx and its sidecar .* give PyTorch's tags, intents and confidences on 65", said)
    assert re.search(r"check: .*model.int8.onnx gives the float32 graph's tags and intents on \d+ of 65", said)
    assert said.index("wrote " + str(tmp_path / "model.int8.onnx")) < said.index("model.int8.onnx gives")
    graph = tmp_path / "model.onnx"
    before = graph.read_bytes()
    other = export_onnx(tiny_model(seed=1, intent=True), tmp_path / "other" / "model.onnx")
    monkeypatch.setattr(  # a quantizer whose copy computes something else
        onnxruntime.quantization, "quantize_dynamic", lambda src, dst, **kwargs: shutil.copy(other, dst)
    )
    with pytest.raises(SlotfillError, match=r"^int8=true: .*model.int8.onnx: .* on only \d+ of 65 .*int8=false$"):
        jobs.export(_export_cfg(tmp_path, f"ckpt={ckpt}"))
    assert graph.read_bytes() == before  # the float32 export stands; the earlier int8 copy of it is gone
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "MODEL_CARD.md",
        "model.onnx",
        "model.onnx.json",
        "model.pt",
    ]


@pytest.mark.slow  # an export
def test_a_vocabulary_word_that_is_no_token_stays_out_of_the_parity_sentences(tmp_path):
    from slotfill.core.vocab import Vocabularies
    from slotfill.inference.onnx_forward import parity_sentences
    from slotfill.models import NetConfig

    # a training token of invisible characters alone ("\u200b") is "" once normalised: a word, no token
    vocabs = Vocabularies.from_training_data([["fly", "", "to", "a b", "boston"]], [["O"] * 4 + ["B-city"]], ["flight"])
    assert "" in vocabs.words and "a b" in vocabs.words
    assert all(t and t.split() == [t] for tokens in parity_sentences(vocabs) for t in tokens)
    cfg = NetConfig(word_dim=8, hidden_size=6, char_dim=4, char_filters=5, intent=True)
    model = SlotModel(cfg, vocabs, meta={"dataset": "tiny"}).eval()
    assert check_parity(model, export_onnx(model, tmp_path / "model.onnx")) == 65
