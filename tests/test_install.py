"""The built wheel, installed into a fresh venv, works from an empty folder (slow: builds and trains).

No network: the venv is created without pip, the wheel is installed with ``--no-deps --no-index``
by this interpreter's pip, and the dependencies come from this interpreter's site-packages
through a ``.pth`` line (a plain path line: that folder's own ``.pth`` files, such as an
editable install of the checkout, are not run, so ``import slotfill`` finds only the wheel).
"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.helpers import ROOT, TINY_MODEL, free_port, wait_until_serving

pytestmark = pytest.mark.slow


def _run(args, cwd, timeout=300, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a venv holding only the built wheel."""
    tmp = tmp_path_factory.mktemp("install")
    wheels = tmp / "wheels"
    proc = _run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp).returncode == 0
    py = venv / "bin" / "python"
    site = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    Path(site, "slotfill_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("slotfill-*.whl"))
    proc = _run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return venv / "bin"


def test_wheel_carries_configs_sample_and_lexicons(installed, tmp_path):
    code = "import slotfill, slotfill.core.resources as r; print(slotfill.__file__); print(r.conf_dir())"
    out = _run([str(installed / "python"), "-c", code], cwd=tmp_path).stdout.split()
    assert "site-packages" in out[0] and out[1].endswith("site-packages/slotfill/conf")
    share = Path(out[0]).parent / "share"
    assert (share / "sample" / "train" / "seq.in").is_file() and (share / "lexicons" / "city.txt").is_file()
    proc = _run([str(installed / "slotfill"), "--version"], cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("slotfill ")


def test_train_and_predict_from_an_empty_folder(installed, tmp_path):
    slotfill = str(installed / "slotfill")
    args = [slotfill, "train", "data=sample", "trainer.max_epochs=2", "trainer.enable_progress_bar=false"]
    proc = _run([*args, *TINY_MODEL, "hydra.run.dir=run"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "model.pt").is_file()
    proc = _run([slotfill, "predict", "ckpt=run/model.pt", "format=jsonl", "flights to boston"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '"tokens": ["flights", "to", "boston"]' in proc.stdout
    proc = _run([str(installed / "python"), "-m", "slotfill", "predict", "ckpt=nothing.pt", "x"], cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: nothing.pt: checkpoint not found")
    assert len(proc.stderr.strip().splitlines()) == 1
    _serve_answers(slotfill, tmp_path)


def _serve_answers(slotfill: str, folder: Path) -> None:
    """``slotfill serve`` from the installed wheel answers /parse and serves the demo page."""
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cmd = [slotfill, "serve", "ckpt=run/model.pt", f"port={port}", "workers=2"]
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url, timeout=120, poll=0.3)
        assert httpx.post(f"{url}/parse", json={"text": "flights to boston"}).json()["tokens"][-1] == "boston"
        assert 'id="text"' in httpx.get(url).text
        assert httpx.get(f"{url}/version").json()["model"]["dataset"] == "sample"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
