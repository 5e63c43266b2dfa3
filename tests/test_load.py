"""load.py: where data is read from (splits, files, benchmarks, the hub), the carved valid split, names."""

import csv
from pathlib import Path

import pytest

from slotfill.data import load as data_mod
from slotfill.data.formats import Record
from slotfill.data.load import carve_valid, data_dir, load_benchmark, load_split, load_splits, read_split
from slotfill.errors import ConfigError, DataError
from tests.conftest import SHARED, write_split


def _good(root, split="train"):
    return write_split(
        root,
        split,
        "i want to leave taipei\nflights to boston \n",
        "O O O O B-fromloc.city_name\nO O B-toloc.city_name\n",
        "atis_flight\natis_flight#atis_airfare\n",
    )


def test_reads_good_split(tmp_path):
    cols = read_split(_good(tmp_path))
    assert cols["tokens"] == [["i", "want", "to", "leave", "taipei"], ["flights", "to", "boston"]]
    assert cols["tags"][1] == ["O", "O", "B-toloc.city_name"]
    assert cols["intent"] == ["atis_flight", "atis_flight#atis_airfare"]


def test_a_utf8_bom_starting_a_file_is_dropped(tmp_path):
    bom = b"\xef\xbb\xbf"
    d = write_split(tmp_path, "train", bom + b"i want taipei\n", bom + b"O O B-to\n", bom + b"atis_flight\n")
    cols = read_split(d)
    assert cols["tokens"] == [["i", "want", "taipei"]] and cols["tags"] == [["O", "O", "B-to"]]
    assert cols["intent"] == ["atis_flight"]
    d = write_split(tmp_path, "valid", "a " + bom.decode() + "b\n", "O O\n", None)
    assert read_split(d)["tokens"] == [["a", "\ufeffb"]]  # only the file's first bytes are a BOM


def test_folder_is_datasetdict_with_typed_features(tmp_path):
    for split in ("train", "valid", "test"):
        _good(tmp_path, split)
    dd, _ = load_benchmark({"path": str(tmp_path)})
    assert set(dd) == {"train", "valid", "test"}
    feats = dd["train"].features
    assert feats["tokens"].feature.dtype == "string" and feats["intent"].dtype == "string"
    assert dd["train"][0]["tokens"][-1] == "taipei"


@pytest.mark.parametrize(
    "seq_in, seq_out, label, where, problem",
    [
        ("a b c\n", "O O\n", "x\n", "seq.out:1", "2 tags for 3 tokens"),
        ("a b\nc\n", "O O\n", "x\nx\n", "seq.out", "1 lines"),
        ("a b\nc\n", "O O\nO\n", "x\n", "label", "1 lines"),
        ("a b\n\n", "O O\n\n", "x\ny\n", "seq.in:2", "empty sentence"),
        ("a b\n   \n", "O O\n \n", "x\ny\n", "seq.in:2", "empty sentence"),
        ("a b\n", "O city\n", "x\n", "seq.out:1", "'city' is not in BIO form"),
        ("a b\n", "O Z-city\n", "x\n", "seq.out:1", "not in BIO form"),
        ("a b\n", "O E-city\n", "x\n", "seq.out:1", "does not continue a chunk"),
        ("a\nb \xff\n", "O\nO O\n", "x\nx\n", "seq.in:2", "not valid UTF-8"),
        ("a\n", "O\n", "\n", "label:1", "empty intent"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, seq_in, seq_out, label, where, problem):
    to_bytes = (lambda s: s.encode("latin-1")) if "\xff" in seq_in else (lambda s: s)
    d = write_split(tmp_path, "train", to_bytes(seq_in), seq_out, label)
    with pytest.raises(DataError) as err:
        read_split(d)
    msg = str(err.value)
    assert where in msg and str(d) in msg and problem in msg


def test_missing_folder_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="data.path.*SLOTFILL_DATA_DIR"):
        load_splits({"path": str(tmp_path / "nowhere")})


def test_label_file_optional(tmp_path):
    d = write_split(tmp_path, "train", "a b\n", "O B-x\n", None)
    assert read_split(d)["intent"] == [""]


def _records(n):
    return [Record([f"w{i}"], ["O"], "x", "f", i + 1) for i in range(n)]


def test_carved_valid_is_deterministic_and_sized():
    train, valid = carve_valid(_records(30))
    assert len(valid) == 3 and len(train) == 27  # 10% of 30
    assert [r.line for r in carve_valid(_records(30))[1]] == [r.line for r in valid]
    assert [r.line for r in train] == sorted(r.line for r in train)  # file order kept
    assert len(carve_valid(_records(20000))[1]) == 500
    assert len(carve_valid(_records(30), size=7)[1]) == 7
    assert len(carve_valid(_records(5))[1]) == 1  # at least one
    with pytest.raises(DataError, match="data.valid"):
        carve_valid(_records(1))


def test_folder_variant_with_split_prefixes(tmp_path):
    for split in ("train", "valid", "test"):
        d = tmp_path / "set" / split
        d.mkdir(parents=True)
        (d / f"{split}.seq.in").write_text("a b\n")
        (d / f"{split}.seq.out").write_text("O B-x\n")
        (d / f"{split}.label").write_text("y\n")
    splits, name = load_splits({"path": str(tmp_path / "set")})
    assert name == "set" and [r.tags for r in splits["test"]] == [["O", "B-x"]]


def test_split_files_by_name_and_per_split_settings(tmp_path):
    conll = "# intent = fly\nto\tO\nboston\tB-city\n\n"
    (tmp_path / "mine").mkdir()
    for split in ("train", "dev", "test"):
        (tmp_path / "mine" / f"{split}.conll").write_text(conll * 3)
    splits, name = load_splits({"path": str(tmp_path / "mine")})
    assert name == "mine" and {k: len(v) for k, v in splits.items()} == {"train": 3, "valid": 3, "test": 3}
    # one split from one file, another from another format; valid carved out of train
    (tmp_path / "t.jsonl").write_text('{"tokens": ["to", "boston"], "tags": ["O", "S-city"], "intent": "fly"}\n')
    splits, name = load_splits({"train": str(tmp_path / "mine" / "train.conll"), "test": str(tmp_path / "t.jsonl")})
    assert name == "mine" and splits["test"][0].tags == ["O", "B-city"]
    assert len(splits["train"]) + len(splits["valid"]) == 3
    (tmp_path / "mine" / "train.jsonl").write_text("{}\n")
    with pytest.raises(DataError, match="ambiguous: train.conll and train.jsonl"):
        load_splits({"path": str(tmp_path / "mine")})


def test_unknown_settings_and_values_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="data.nonsense"):
        load_splits({"nonsense": 1})
    with pytest.raises(ConfigError, match="data.format=xml"):
        load_splits({"format": "xml", "path": str(tmp_path)})
    with pytest.raises(ConfigError, match="no data"):
        load_splits({})


@pytest.mark.parametrize("size", ["abc", 0.5, True])
def test_a_valid_size_that_is_not_a_count_names_the_option(sample_dir, size):
    with pytest.raises(ConfigError, match=rf"data.valid_size={size!r}: must be a whole number"):
        load_splits({"train": str(sample_dir / "train"), "valid_size": size})
    assert len(load_splits({"train": str(sample_dir / "train"), "valid_size": 3})[0]["valid"]) == 3


def test_name_follows_the_data(tmp_path):
    for split in ("train", "valid", "test"):
        _good(tmp_path / "custom", split)
    cfg = {"benchmark": "atis", "path": str(tmp_path / "custom")}
    assert load_splits(cfg)[1] == "custom"  # not "atis"
    assert load_splits({**cfg, "name": "given"})[1] == "given"


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "intent", "text", "slots"])
        w.writerows(rows)


ROWS = [
    (
        i,
        "flight+airfare" if i % 5 == 0 else "flight",
        f"from city{i} to boston",
        "O B-fromloc.city_name O B-toloc.city_name",
    )
    for i in range(30)
]


def test_hub_format_from_local_csv(tmp_path):
    _write_csv(tmp_path / "train.csv", ROWS)
    _write_csv(tmp_path / "test.csv", ROWS[:4])
    hub = {"data_files": {"train": str(tmp_path / "train.csv"), "test": str(tmp_path / "test.csv")}, "valid_size": 6}
    splits, _ = load_splits({"format": "hub", "hub": hub})
    assert {k: len(v) for k, v in splits.items()} == {"train": 24, "valid": 6, "test": 4}
    assert splits["test"][0].intent == "flight#airfare"
    assert splits["test"][1].tokens == ["from", "city1", "to", "boston"]


def test_hub_seed_and_valid_size_that_are_not_counts_name_the_option(tmp_path):
    _write_csv(tmp_path / "train.csv", ROWS)
    files = {"train": str(tmp_path / "train.csv")}
    with pytest.raises(ConfigError, match=r"data.hub.seed='x': must be a whole number of at least 0"):
        load_splits({"format": "hub", "hub": {"data_files": files, "seed": "x"}})
    with pytest.raises(ConfigError, match=r"data.hub.valid_size=1.5: must be a whole number"):
        load_splits({"format": "hub", "hub": {"data_files": files, "valid_size": 1.5}})


def test_hub_under_500_rows_carves_ten_percent(tmp_path):
    _write_csv(tmp_path / "train.csv", ROWS)
    splits, _ = load_splits({"format": "hub", "hub": {"data_files": {"train": str(tmp_path / "train.csv")}}})
    assert len(splits["valid"]) == 3 and len(splits["train"]) == 27


def test_a_hub_csv_without_an_intent_column_reads_as_slots_only(tmp_path):
    (tmp_path / "train.csv").write_text(
        "id,text,slots\n" + "".join(f"{i},fly to boston,O O B-city\n" for i in range(10))
    )
    splits, _ = load_splits({"format": "hub", "hub": {"data_files": {"train": str(tmp_path / "train.csv")}}})
    assert {r.intent for r in splits["train"]} == {""} and splits["train"][0].tags == ["O", "O", "B-city"]


def test_hub_name_unset_or_not_cached_offline_says_what_to_set(no_local_copy, monkeypatch):
    with pytest.raises(
        ConfigError, match=r"data.hub.name is not set: give data.hub.name=OWNER/NAME or data.hub.data_files"
    ):
        load_splits({"format": "hub", "hub": {"name": None}})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        DataError, match=r"nobody/notcached: .*HF_HUB_OFFLINE is set: unset it to download, or give data"
    ):
        load_splits({"format": "hub", "hub": {"name": "nobody/notcached"}})


def test_hub_csv_bad_row_names_line(tmp_path):
    _write_csv(tmp_path / "train.csv", [(0, "flight", "a b", "O O"), (1, "flight", "a b c", "O O")])
    with pytest.raises(DataError, match=r"train.csv:3: 2 tags for 3 tokens"):
        load_splits({"format": "hub", "hub": {"data_files": {"train": str(tmp_path / "train.csv")}}})


@pytest.fixture
def no_local_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("SLOTFILL_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(data_mod, "DEFAULT_DATA_DIR", str(tmp_path / "empty2"))


def test_benchmark_without_local_copy_loads_the_hub_copy(tmp_path, no_local_copy, caplog, monkeypatch):
    """The hub path, fed a local folder of the hub copy's shape (``load_dataset(folder)``: no network)."""
    for offline in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # online, as a user is: the line below is said
        monkeypatch.delenv(offline, raising=False)
    hub_copy = tmp_path / "hub_copy"
    hub_copy.mkdir()
    _write_csv(hub_copy / "train.csv", ROWS)
    _write_csv(hub_copy / "test.csv", ROWS[:4])
    with caplog.at_level("WARNING"):
        splits, name = load_splits({"benchmark": "atis", "hub": {"name": str(hub_copy)}})
    assert name == "atis" and {k: len(v) for k, v in splits.items()} == {"train": 27, "valid": 3, "test": 4}
    # said before the hub client starts (offline, its retries take ~30 s before an error)
    assert f"atis: no local copy (looked in {tmp_path}" in caplog.text and "from the Hugging Face hub" in caplog.text


def test_benchmark_offline_without_local_copy_says_what_to_set(no_local_copy, monkeypatch, caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as err:
        load_splits({"benchmark": "atis", "hub": {"name": "nobody/no-such-dataset-slotfill"}})
    msg = str(err.value)
    assert "no local copy" in msg and "data.path" in msg and "SLOTFILL_DATA_DIR" in msg and "\n" not in msg
    assert "from the Hugging Face hub (or set" not in caplog.text  # offline: the error alone, at once


def test_benchmark_prefers_the_local_copy(tmp_path, monkeypatch):
    for split in ("train", "valid", "test"):
        _good(tmp_path / "atis", split)
    monkeypatch.setenv("SLOTFILL_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    splits, name = load_splits({"benchmark": "atis", "hub": {"name": "never/used"}})
    assert name == "atis" and len(splits["test"]) == 2


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "atis").is_dir(), reason="benchmark copy not present")
def test_reads_atis_benchmark():
    dd, _ = load_benchmark({"path": str(SHARED / "atis")})
    assert {k: len(v) for k, v in dd.items()} == {"train": 4478, "valid": 500, "test": 893}


def test_load_split_from_a_data_config_or_a_folder(tmp_path):
    _good(tmp_path, "train")
    _good(tmp_path, "test")
    cols, name = load_split({"name": "mine", "path": str(tmp_path)}, "test")
    assert name == "mine/test" and cols["tokens"][0][-1] == "taipei"
    cols, name = load_split({}, "test", split_dir=tmp_path / "test")
    assert name == str(tmp_path / "test") and len(cols["tokens"]) == 2
    with pytest.raises(DataError, match="data.path"):
        load_split({"name": "mine", "path": str(tmp_path / "nowhere")}, "test")
    assert Path(data_mod.DEFAULT_DATA_DIR) == Path("../shared/data")


def test_hub_class_label_columns_are_named(tmp_path, no_local_copy):
    """A hub copy storing intents and tags as class ids (``ClassLabel``) reads as names."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    feats = Features(
        {
            "words": List(Value("string")),
            "ner_tags": List(ClassLabel(names=["O", "B-city"])),
            "label": ClassLabel(names=["fly"]),
        }
    )
    rows = {"words": [["to", "boston"]] * 12, "ner_tags": [[0, 1]] * 12, "label": [0] * 12}
    DatasetDict({"train": Dataset.from_dict(rows, features=feats)}).save_to_disk(tmp_path / "saved")
    for split in ("train",):
        Dataset.load_from_disk(tmp_path / "saved" / split).to_parquet(tmp_path / "pq" / f"{split}.parquet")
    splits, _ = load_splits({"benchmark": "snips", "hub": {"name": str(tmp_path / "pq")}})
    assert splits["train"][0].tags == ["O", "B-city"] and splits["train"][0].intent == "fly"


def test_the_default_data_folder_is_found_from_any_folder_and_named_whole(tmp_path, monkeypatch):
    from slotfill.core import resources

    monkeypatch.delenv("SLOTFILL_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # not the checkout: ../shared/data from here is elsewhere
    places = data_mod.benchmark_places("atis")
    assert places == [
        (tmp_path / "../shared/data/atis").resolve(),
        (resources.CHECKOUT / "../shared/data/atis").resolve(),
    ]
    assert all(p.is_absolute() for p in places)


def test_one_split_given_as_its_own_file_is_read_without_a_train_split(tmp_path, sample_dir):
    """evaluate data.test=FILE: 'no train split (found test)' before."""
    from slotfill.data.convert import convert

    convert(sample_dir / "test", tmp_path / "test.iob", "atis_iob")
    cols, name = load_split({"test": str(tmp_path / "test.iob")}, "test")
    assert len(cols["tokens"]) == len(read_split(sample_dir / "test")["tokens"]) and name.endswith("/test")


def test_a_split_with_an_intent_for_only_some_sentences_is_refused(tmp_path):
    """A model would learn "no intent" as an intent and evaluate would count it: one line, both places."""
    lines = [
        '{"tokens": ["to", "boston"], "tags": ["O", "B-city"], "intent": "flight"}',
        '{"tokens": ["hello"], "tags": ["O"]}',
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    said = f"{path}:2: no intent, but 1 other sentence of this split has one \\(the first: {path}:1\\)"
    with pytest.raises(DataError, match=said):
        load_split({}, "test", path)
    with pytest.raises(DataError, match="give every sentence an intent, or none"):
        load_benchmark({"train": str(path), "valid": str(path)})
    cols, _ = load_split({}, "test", path, intents=False)  # a slots-only model: its intents unused
    assert cols["intent"] == ["flight", ""]
    path.write_text(lines[1] + "\n" + lines[1] + "\n")  # none at all: slots only
    cols, _ = load_split({}, "test", path)
    assert cols["intent"] == ["", ""]


def test_an_install_looks_for_benchmarks_only_beside_the_working_folder(monkeypatch, tmp_path):
    from slotfill.core import resources

    monkeypatch.delenv("SLOTFILL_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert len(data_mod.benchmark_places("atis")) == 2  # this checkout: beside it too
    monkeypatch.setattr(resources, "CHECKOUT", tmp_path / "lib" / "python3.11")  # site-packages' parent
    assert data_mod.benchmark_places("atis") == [(data_mod.Path(data_mod.DEFAULT_DATA_DIR) / "atis").resolve()]


def test_data_path_with_a_file_per_split_is_refused(tmp_path):
    """data.path=ds data.train=ds/train.conll read train alone (valid carved though ds has one) without a word."""
    for split in ("train", "valid", "test"):
        _good(tmp_path / "ds", split)
    for split in ("train", "test"):
        said = rf"^data.path={tmp_path / 'ds'} and data.{split} name the data twice: give one or the other"
        with pytest.raises(ConfigError, match=said):
            load_splits({"path": str(tmp_path / "ds"), split: str(tmp_path / "ds" / split)})
    with pytest.raises(ConfigError, match="name the data twice"):  # evaluate data.test=FILE alike
        load_split({"path": str(tmp_path / "ds"), "test": str(tmp_path / "ds" / "test")}, "test")


def test_hub_format_reads_the_hub_copy_even_where_the_benchmark_has_a_local_one(tmp_path, monkeypatch):
    """data=atis data.format=hub data.hub.name=X read the local ATIS folder: the result hung on the machine."""
    for split in ("train", "valid", "test"):
        _good(tmp_path / "local" / "atis", split)
    monkeypatch.setenv("SLOTFILL_DATA_DIR", str(tmp_path / "local"))
    hub_copy = tmp_path / "hub_copy"
    hub_copy.mkdir()
    _write_csv(hub_copy / "train.csv", ROWS)
    splits, _ = load_splits({"benchmark": "atis", "format": "hub", "hub": {"name": str(hub_copy)}})
    assert {k: len(v) for k, v in splits.items()} == {"train": 27, "valid": 3}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError) as err:  # and its error is the hub's, not "no local copy"
        load_splits({"benchmark": "atis", "format": "hub", "hub": {"name": "nobody/notcached"}})
    assert "no local copy" not in str(err.value) and "HF_HUB_OFFLINE is set" in str(err.value)


def test_a_folder_saved_with_save_to_disk_as_data_path_names_the_setting_that_reads_it(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"tokens": [["to", "boston"]] * 4, "tags": [["O", "B-city"]] * 4}
    DatasetDict({"train": Dataset.from_dict(rows)}).save_to_disk(tmp_path / "saved")
    hint = "a Hugging Face dataset saved with save_to_disk: data=atis_hub data.hub.name=FOLDER reads it"
    with pytest.raises(DataError, match=f"no splits found.*; {hint}$"):
        load_splits({"path": str(tmp_path / "saved")})


def test_a_split_that_data_test_alone_does_not_hold_is_named_with_the_setting_it_lacks(tmp_path):
    test = _good(tmp_path, "test")
    assert load_split({"test": str(test)}, "test")[1] == f"{tmp_path.name}/test"
    with pytest.raises(ConfigError, match=rf"^split=valid: no data.valid given \(data.test={test} alone holds only"):
        load_split({"test": str(test)}, "valid")
    valid = _good(tmp_path, "valid")
    with pytest.raises(
        ConfigError, match=r"^split=train: no data.train given \(.* hold only the valid and test splits"
    ):
        load_split({"valid": str(valid), "test": str(test)}, "train")
    train = _good(tmp_path, "train")  # a valid split set aside from train: as before
    assert len(load_split({"train": str(train), "test": str(test)}, "valid", intents=False)[0]["tokens"]) >= 1
