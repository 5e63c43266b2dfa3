"""The built wheel, installed into a fresh venv, works from an empty folder (slow: builds and trains).

No network: the venv is created without pip, the wheel is installed with ``--no-deps --no-index``
by this interpreter's pip, and the dependencies come from this interpreter's site-packages
through a ``.pth`` line (a plain path line: that folder's own ``.pth`` files, such as an
editable install of the checkout, are not run, so ``import slotfill`` finds only the wheel).
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import time
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
    wheels, source = tmp / "wheels", tmp / "source"
    # built from the files git would commit: a build/ folder in the checkout ships files since removed
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    proc = _run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
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


def _venv_recipe(*variables: str) -> str:
    """What ``make venv`` would run for a venv that does not exist yet (``make -n``)."""
    proc = _run(["make", "-n", "venv", "VENV=/nowhere/venv", *variables], cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_make_venv_installs_torch_from_the_wheel_file_and_else_with_pip(tmp_path):
    wheel = tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    recipe = _venv_recipe(f"TORCH_WHEEL={wheel}")
    first, fallback = recipe.split("||")
    assert f'uv pip install --quiet --python /nowhere/venv/bin/python "{wheel}" -e ".[dev]"' in first
    assert '"torch==2.13.0"' not in first  # pip does not unpack it first
    assert 'pip install --quiet "torch==2.13.0" -e ".[dev]"' in fallback
    recipe = _venv_recipe("TORCH_WHEEL=")  # a machine without the file: the CPU build, not the index's CUDA one
    cpu = 'pip install --quiet --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"\n'
    assert cpu in recipe and '"torch==2.13.0" -e ".[dev]"' in recipe
    assert 'pip install --quiet "torch==2.13.0"\n' in _venv_recipe("TORCH_WHEEL=", "TORCH_INDEX=")
    recipe = _venv_recipe("TORCH=torch==2.14.1")  # another torch: never the 2.13.0 file
    assert "+cpu" not in recipe and 'uv pip install --quiet --python /nowhere/venv/bin/python "torch==2.14.1"' in recipe


def test_wheel_carries_configs_sample_and_lexicons(installed, tmp_path):
    code = "import slotfill, slotfill.core.resources as r; print(slotfill.__file__); print(r.conf_dir())"
    out = _run([str(installed / "python"), "-c", code], cwd=tmp_path).stdout.split()
    assert "site-packages" in out[0] and out[1].endswith("site-packages/slotfill/conf")
    package = Path(out[0]).parent
    shipped = {
        p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    source = {
        f"{p.relative_to(ROOT).as_posix()}"
        for p in (ROOT / "slotfill").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    source = {name.removeprefix("slotfill/") for name in source}
    for folder, into in (("conf", "conf"), ("data/sample", "share/sample"), ("data/lexicons", "share/lexicons")):
        source |= {
            f"{into}/{p.relative_to(ROOT / folder).as_posix()}" for p in (ROOT / folder).rglob("*") if p.is_file()
        }
    assert shipped == source  # every config group, sample split and lexicon; nothing the source no longer has
    proc = _run([str(installed / "slotfill"), "--version"], cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("slotfill ")
    licence = "from importlib.metadata import distribution as d; print([f.name for f in d('slotfill').files])"
    assert "'LICENSE'" in _run([str(installed / "python"), "-c", licence], cwd=tmp_path).stdout  # MIT: the text too


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
    proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, url, timeout=120, poll=0.3)
        answered, deadline = set(), time.monotonic() + 120
        while len(answered) < 2:  # both workers come up and answer on the one port
            assert time.monotonic() < deadline, f"only worker {sorted(answered)} answered /health in 120 s"
            try:
                answered.add(httpx.get(f"{url}/health").json()["worker"])
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert httpx.post(f"{url}/parse", json={"text": "flights to boston"}).json()["tokens"][-1] == "boston"
        assert 'id="text"' in httpx.get(url).text
        assert httpx.get(f"{url}/version").json()["model"]["dataset"] == "sample"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "2 workers loading" in out.splitlines()[0]
    assert sorted(line for line in out.splitlines() if line.endswith(" ready")) == sorted(
        f"slotfill: worker {pid} ready" for pid in answered
    )


def _serve_onnx_requirements() -> list[str]:
    """The torch-free install's requirements: the ``serve-onnx`` extra of pyproject.toml."""
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve-onnx"]


def _closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements pull in (what ``pip install`` would bring)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = req.name.lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # a requirement for another platform or Python
        seen.add(name)
        todo += [Requirement(r) for r in dist.requires or []]
    return seen


@pytest.fixture(scope="module")
def torch_free(installed, tmp_path_factory) -> Path:
    """A venv with the wheel and only the documented torch-free requirements (and what they need)."""
    from importlib.metadata import distribution

    tmp = tmp_path_factory.mktemp("torch_free")
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp).returncode == 0
    py = venv / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([str(py), "-c", purelib], cwd=tmp).stdout.strip())
    names = _closure(_serve_onnx_requirements())
    assert "torch" not in names and "pytorch-lightning" not in names
    for name in names:  # each distribution's own top-level files, linked into the venv
        for f in distribution(name).files or []:
            top = Path(f.parts[0])
            src = Path(distribution(name).locate_file(top))
            if src.exists() and not (site / top).exists() and top.suffix != ".pth" and top.name != "__pycache__":
                (site / top).symlink_to(src)
    wheel = next((installed.parent.parent / "wheels").glob("slotfill-*.whl"))
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index"]
    proc = _run([*pip, str(wheel)], tmp)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return venv / "bin"


def test_the_documented_torch_free_install_predicts_and_serves_an_onnx_model(torch_free, tmp_path):
    import json

    import httpx

    from slotfill import SlotTagger
    from slotfill.models.onnx_export import export_onnx, onnx_path_for
    from tests.helpers import tiny_model

    for page in (ROOT / "docs" / "install.md", ROOT / "README.md"):  # the two places a user copies it from
        docs = page.read_text()
        assert "pip install --no-deps slotfill" in docs and all(r in docs for r in _serve_onnx_requirements()), page
    py = str(torch_free / "python")
    assert _run([py, "-c", "import torch"], cwd=tmp_path).returncode != 0  # torch is not there
    model = tiny_model(intent=True, lexicon=True)
    ckpt = model.save(tmp_path / "export" / "model.pt")
    export_onnx(model, onnx_path_for(ckpt))
    text = "i want to leave taipei and arrive in boston"
    expected = SlotTagger.load(ckpt).predict([text])[0]
    ckpt.unlink()  # the graph and its sidecar alone
    slotfill = str(torch_free / "slotfill")
    proc = _run([slotfill, "predict", "ckpt=export/model.onnx", "format=jsonl", text], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["tags"] == expected["tags"]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    server = subprocess.Popen([slotfill, "serve", "ckpt=export/model.onnx", f"port={port}"], cwd=tmp_path, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(server, url, timeout=120, poll=0.3)
        answer = httpx.post(f"{url}/model/parse", json={"text": text, "message_id": "1"}).json()
        assert answer["tags"] == expected["tags"] and answer["intent"]["name"] == expected["intent"]
        assert httpx.get(f"{url}/version").json()["backend"] == "onnx"
    finally:
        server.terminate()
        server.wait(timeout=30)
    proc = _run([slotfill, "train", "data=sample"], cwd=tmp_path)  # what needs torch says so in one line
    assert proc.returncode == 2 and "pip install" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "lines.parquet").write_bytes(b"PAR1")  # parquet needs pyarrow, which datasets brings elsewhere
    proc = _run([slotfill, "predict", "ckpt=export/model.onnx", "input=lines.parquet"], cwd=tmp_path)
    assert proc.returncode == 2 and "pip install pyarrow" in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = _run([py, "-c", "from slotfill import SlotTagger"], cwd=tmp_path)  # the API names the torch-free one
    assert proc.returncode == 1 and "slotfill.load_tagger('model.onnx')" in proc.stderr.strip().splitlines()[-1]
