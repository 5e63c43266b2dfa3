"""docs/scale.md's Dask recipe, run as written on a local cluster of 2 processes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import SAMPLE
from tests.helpers import ROOT


def recipe(title: str) -> str:
    """The first python block after ``**title**`` in docs/scale.md."""
    text = (ROOT / "docs" / "scale.md").read_text()
    return re.search(r"\*\*" + title + r"\*\*.*?```python\n(.*?)```", text, re.S).group(1)


@pytest.mark.slow
def test_the_dask_recipe_tags_like_plain_predict(trained_sample, tmp_path):
    pytest.importorskip("dask.distributed")
    from slotfill import load_tagger

    lines = (SAMPLE / "test" / "seq.in").read_text().splitlines() * 3
    lines[5:5] = ["", "  "]  # blank lines keep their places: every record stays beside its input line
    (tmp_path / "queries.txt").write_text("\n".join(lines) + "\n")
    code = recipe("Dask").replace('MODEL = "model.onnx"', f'MODEL = "{trained_sample["model_file"]}"')
    assert code != recipe("Dask"), 'the recipe no longer names MODEL = "model.onnx"'
    (tmp_path / "recipe.py").write_text(code)
    proc = subprocess.run([sys.executable, "recipe.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tagged = [json.loads(line) for line in (tmp_path / "tagged.jsonl").read_text().splitlines()]
    expected = load_tagger(trained_sample["model_file"]).predict(lines)
    assert [t["text"] for t in tagged] == lines
    assert [t["intent"] for t in tagged] == [r["intent"] for r in expected]
    assert [t["tags"] for t in tagged] == [" ".join(r["tags"]) for r in expected]
