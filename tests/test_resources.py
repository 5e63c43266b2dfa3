"""resources.py: shipped configs and data resolve from any folder."""

from slotfill.core import resources
from tests.helpers import ROOT


def test_checkout_layout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resources.conf_dir() == ROOT / "conf"
    assert resources.resolve("data/sample") == ROOT / "data" / "sample"
    assert resources.resolve("data/lexicons/city.txt").is_file()
    assert str(resources.resolve("data/nothing")) == "data/nothing"


def test_a_local_file_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "sample").mkdir(parents=True)
    assert resources.resolve("data/sample").resolve() == (tmp_path / "data" / "sample").resolve()
