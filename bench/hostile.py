"""Rerun the hostile cases of "What a check claims, it checks" against the command line, and say which hold.

Each case reproduces one row of that issue (a damaged model, a stale export, an edited resume,
a lossy conversion, a traceback where one line is promised, an unguarded limit) on two small
models trained on the bundled sample, and checks what a user would see: exit status 2 with one
``error:`` line naming the problem (or, where the row was a wrong answer, the right answer).
Not a test (about 3 minutes on 2 cores): the unit tests cover each row on tiny data.

    python bench/hostile.py                  # prints a table; --json FILE writes the cases too
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ENV, ROOT

SAMPLE = ROOT / "data" / "sample"
SMALL = [
    "data=sample",
    f"data.path={SAMPLE}",
    "model.word_dim=32",
    "model.hidden_size=32",
    "model.char_dim=8",
    "model.char_filters=8",
    "model.lexicons=null",
    "train.lexicon_dropout=0",
    "train.mention_swap=0",
    "trainer.enable_progress_bar=false",
    "plots=false",
    "threads=1",
]
SENTENCE = "i want to fly from boston to denver"
CASES: list[tuple[str, Callable]] = []


def case(title: str):
    def register(fn):
        CASES.append((title, fn))
        return fn

    return register


def slotfill(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slotfill", *args],
        cwd=kwargs.pop("cwd", ROOT),
        env=kwargs.pop("env", ENV),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def refused(proc: subprocess.CompletedProcess, *words: str) -> tuple[bool, str]:
    """Held when the command ended with status 2 and one ``error:`` line holding ``words``."""
    err = proc.stderr.strip()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    ok = proc.returncode == 2 and len(lines) == 1 and last.startswith("error: ") and all(w in last for w in words)
    return ok, f"exit {proc.returncode}, {len(lines)} stderr line(s): {last[:160]}"


def train(out: Path, *extra: str, timeout: float = 600) -> Path:
    proc = slotfill("train", *SMALL, f"output_dir={out}", *extra, timeout=timeout)
    if proc.returncode != 0:
        sys.exit(f"setup: training {out} failed: {proc.stderr.strip()[-500:]}")
    return out / "model.pt"


def export(model: Path) -> Path:
    proc = slotfill("export", f"ckpt={model}", "int8=false")
    if proc.returncode != 0:
        sys.exit(f"setup: export of {model} failed: {proc.stderr.strip()[-500:]}")
    return model.with_suffix(".onnx")


def copy_model(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob("model.*"):
        shutil.copy2(f, dst / f.name)
    return dst / "model.pt"


def edit_model(model: Path, dst: Path, edit: Callable[[dict], None]) -> Path:
    import torch

    out = copy_model(model, dst)
    blob = torch.load(out, map_location="cpu", weights_only=True)
    edit(blob)
    torch.save(blob, out)
    return out


class World:
    """The models and folders the cases share, built once."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.a = train(work / "A", "trainer.max_epochs=6", "seed=1")
        self.a_onnx = export(self.a)
        self.small_train = work / "small_train.jsonl"
        lines = (SAMPLE / "train" / "seq.in").read_text().splitlines()[:40]
        tags = (SAMPLE / "train" / "seq.out").read_text().splitlines()[:40]
        self.small_train.write_text(
            "".join(
                json.dumps({"tokens": a.split(), "tags": b.split()}) + "\n" for a, b in zip(lines, tags, strict=True)
            )
        )
        self.b = train(
            work / "B",
            "trainer.max_epochs=2",
            "seed=2",
            "data.path=null",
            f"data.train={self.small_train}",
            "model.intent=false",
        )
        self.b_onnx = export(self.b)


# ----------------------------------------------------------------- wrong results with exit 0
@case("1 another model's model.onnx over A's (A's model.pt and sidecar kept): predict backend=onnx")
def graph_copied(w: World):
    out = copy_model(w.a, w.work / "c1")
    shutil.copy2(w.b_onnx, out.with_suffix(".onnx"))
    return refused(slotfill("predict", f"ckpt={out}", "backend=onnx", SENTENCE), "onnx")


@case("2a two entries of vocabs.tags.itos swapped in model.pt: evaluate")
def tags_swapped(w: World):
    def swap(blob):
        itos = blob["vocabs"]["tags"]["itos"]
        itos[1], itos[2] = itos[2], itos[1]

    out = edit_model(w.a, w.work / "c2a", swap)
    return refused(slotfill("evaluate", f"ckpt={out}", "data=sample", f"data.path={SAMPLE}"), "fingerprint")


@case("2b one byte of a word flipped in model.pt: predict")
def word_flipped(w: World):
    def flip(blob):
        itos = blob["vocabs"]["words"]["itos"]
        i = next(i for i, x in enumerate(itos) if x == "boston")
        itos[i] = "bostom"

    out = edit_model(w.a, w.work / "c2b", flip)
    return refused(slotfill("predict", f"ckpt={out}", SENTENCE), "fingerprint")


@case("3 tag list reversed in the ONNX sidecar: serve backend=onnx ckpt=model.onnx")
def sidecar_reversed(w: World):
    out = copy_model(w.a, w.work / "c3").with_suffix(".onnx")
    side = Path(str(out) + ".json")
    meta = json.loads(side.read_text())
    meta["vocabs"]["tags"]["itos"].reverse()
    side.write_text(json.dumps(meta))
    return refused(slotfill("serve", f"ckpt={out}", "backend=onnx", f"port={free_port()}", timeout=60), "sidecar")


@case("4 format-2 file, weights edited and weights_sha256 deleted / set to ''")
def format2_unsigned(w: World):
    results = []
    for value in (None, ""):

        def edit(blob, value=value):
            blob["format_version"] = 2
            blob.pop("fingerprint", None)
            key = next(iter(blob["state_dict"]))
            blob["state_dict"][key] = blob["state_dict"][key] + 1
            if value is None:
                blob.pop("weights_sha256", None)
            else:
                blob["weights_sha256"] = value

        out = edit_model(w.a, w.work / f"c4{'x' if value is None else 'e'}", edit)
        results.append(refused(slotfill("predict", f"ckpt={out}", SENTENCE), "weights"))
    return all(r[0] for r in results), " | ".join(r[1] for r in results)


def killed_run(w: World, name: str, *extra: str, epochs_done: int = 3) -> Path:
    """A run killed (SIGKILL) once ``last.ckpt`` has been written ``epochs_done`` times."""
    out = w.work / name
    cmd = [
        sys.executable,
        "-m",
        "slotfill",
        "train",
        *SMALL,
        f"output_dir={out}",
        "trainer.max_epochs=200",
        "callbacks.early_stopping.patience=200",
        *extra,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = out / "checkpoints" / "last.ckpt"
    seen: set[int] = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and len(seen) < epochs_done:
        if last.exists():
            seen.add(last.stat().st_mtime_ns)
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        sys.exit(f"setup: the run in {out} ended (exit {proc.returncode}) before it could be killed")
    return out


@case("5 run killed after epoch 3, training files rotated by 30 lines, resume=")
def rotated_data(w: World):
    data = sample_copy(w, "c5data")
    run = killed_run(w, "c5run", f"data.path={data}")
    for name in ("seq.in", "seq.out", "label"):
        f = data / "train" / name
        lines = f.read_text().splitlines(keepends=True)
        f.write_text("".join(lines[30:] + lines[:30]))
    return refused(slotfill("train", f"resume={run}"), "data")


@case("6a resume after run.json's config was edited (lr x10, max_epochs)")
def edited_config(w: World):
    run = killed_run(w, "c6run")
    meta = json.loads((run / "run.json").read_text())
    meta["config"]["optimizer"]["lr"] *= 10
    meta["config"]["trainer"]["max_epochs"] = 7
    (run / "run.json").write_text(json.dumps(meta))
    return refused(slotfill("train", f"resume={run}"), "optimizer.lr")


@case("6b resume after run.json's model.hidden_size was edited")
def edited_hidden(w: World):
    run = killed_run(w, "c6brun")
    meta = json.loads((run / "run.json").read_text())
    meta["config"]["model"]["hidden_size"] = 48
    (run / "run.json").write_text(json.dumps(meta))
    return refused(slotfill("train", f"resume={run}"), "model.hidden_size")


def convert(w: World, name: str, src_text: str, src_ext: str, to: str, *options: str) -> subprocess.CompletedProcess:
    src = w.work / f"{name}.{src_ext}"
    src.write_text(src_text, encoding="utf-8")
    return slotfill("convert", str(src), str(w.work / f"{name}.out"), "--to", to, *options)


@case("7 conll sentence whose first token is '#5<TAB>O': convert to jsonl")
def conll_hash(w: World):
    proc = convert(w, "c7", "#5\tO\nflights\tO\nto\tO\nboston\tB-toloc.city_name\n", "conll", "jsonl")
    out = w.work / "c7.out"
    tokens = json.loads(out.read_text().splitlines()[0])["tokens"] if out.exists() else None
    return proc.returncode == 0 and tokens == ["#5", "flights", "to", "boston"], f"exit {proc.returncode}, {tokens}"


@case("8 jsonl token -DOCSTART- converted to conll")
def docstart(w: World):
    row = {"tokens": ["a", "-DOCSTART-", "b"], "tags": ["O", "O", "O"], "intent": "x"}
    return refused(convert(w, "c8", json.dumps(row) + "\n", "jsonl", "conll"), "-DOCSTART-")


@case("9 jsonl token '[to](x)' converted to rasa")
def rasa_markup(w: World):
    row = {"tokens": ["fly", "[to](x)", "boston"], "tags": ["O", "O", "B-city"], "intent": "flight"}
    return refused(convert(w, "c9", json.dumps(row) + "\n", "jsonl", "rasa"), "markup")


@case("10 rasa 'intent: book flight', and a YAML mapping as intent")
def rasa_intent(w: World):
    a = convert(w, "c10a", "nlu:\n- intent: book flight\n  examples: |\n    - fly to [boston](city)\n", "yml", "jsonl")
    b = convert(w, "c10b", "nlu:\n- intent: {a: b}\n  examples: |\n    - fly to [boston](city)\n", "yml", "jsonl")
    ra, rb = refused(a, "intent"), refused(b, "intent")
    return ra[0] and rb[0], f"{ra[1]} | {rb[1]}"


@case("11 predict input=X output=X")
def output_is_input(w: World):
    src = w.work / "c11.txt"
    src.write_text(SENTENCE + "\n")
    ok, seen = refused(slotfill("predict", f"ckpt={w.a}", f"input={src}", f"output={src}"), "input")
    intact = src.read_text() == SENTENCE + "\n"
    return ok and intact, f"{seen}; input intact: {intact}"


# ----------------------------------------------------- tracebacks or 5xx where one line is promised
def sample_copy(w: World, name: str) -> Path:
    data = w.work / name
    if not data.exists():
        shutil.copytree(SAMPLE, data)
    return data


@case("12a train with a one-sentence all-O valid split")
def all_o_valid(w: World):
    data = sample_copy(w, "c12data")
    (data / "valid" / "seq.in").write_text("hello there\n")
    (data / "valid" / "seq.out").write_text("O O\n")
    (data / "valid" / "label").write_text("atis_flight\n")
    out = w.work / "c12run"
    proc = slotfill("train", *SMALL, f"data.path={data}", f"output_dir={out}", "trainer.max_epochs=2")
    ok = proc.returncode == 0 and (out / "metrics.json").exists()
    return ok, f"exit {proc.returncode}, metrics.json: {(out / 'metrics.json').exists()} {proc.stderr.strip()[-120:]}"


@case("12b evaluate a negative set (no slots expected)")
def negative_set(w: World):
    neg = w.work / "c12neg.jsonl"
    neg.write_text(
        "".join(
            json.dumps({"tokens": s.split(), "tags": ["O"] * len(s.split())}) + "\n"
            for s in ("hello there", "thank you very much", "what can you do")
        )
    )
    proc = slotfill("evaluate", f"ckpt={w.a}", f"split_dir={neg}", f"output_dir={w.work / 'c12eval'}")
    return proc.returncode == 0, f"exit {proc.returncode}: {(proc.stdout + proc.stderr).strip().splitlines()[-1][:160]}"


@case("13 POST /parse with a lone surrogate escape (real server)")
def lone_surrogate(w: World):
    import httpx

    with server(w.a) as url:
        r = httpx.post(
            f"{url}/parse", content=b'{"text": "from \\ud800 boston"}', headers={"content-type": "application/json"}
        )
    return r.status_code == 422, f"{r.status_code} {r.text[:120]}"


@case("14 train optimizer.lr=nan and optimizer.lr=-0.01")
def bad_lr(w: World):
    a = refused(slotfill("train", *SMALL, "optimizer.lr=nan", f"output_dir={w.work / 'c14a'}"), "optimizer")
    b = refused(slotfill("train", *SMALL, "optimizer.lr=-0.01", f"output_dir={w.work / 'c14b'}"), "optimizer")
    return a[0] and b[0], f"{a[1]} | {b[1]}"


@case("15 resume of a folder whose last.ckpt holds a pickle payload")
def pickle_payload(w: World):
    run = killed_run(w, "c15run")
    marker = w.work / "c15_PWNED"
    payload = (
        "import os, torch\n"
        "class P:\n"
        f"    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
        f"torch.save({{'x': P()}}, '{run / 'checkpoints' / 'last.ckpt'}')\n"
    )
    subprocess.run([sys.executable, "-c", payload], check=True)
    ok, seen = refused(slotfill("train", f"resume={run}"), "last.ckpt")
    return ok and not marker.exists(), f"{seen}; payload ran: {marker.exists()}"


@case("16 a model.onnx (and sidecar) of another vocabulary beside the model: predict backend=onnx")
def other_vocab_graph(w: World):
    out = copy_model(w.a, w.work / "c16")
    shutil.copy2(w.b_onnx, out.with_suffix(".onnx"))
    shutil.copy2(str(w.b_onnx) + ".json", str(out.with_suffix(".onnx")) + ".json")
    return refused(slotfill("predict", f"ckpt={out}", "backend=onnx", SENTENCE), "another model")


@case("17 a 100 MB single input line under ulimit -v 4000000")
def huge_line(w: World):
    big = w.work / "c17.txt"
    with big.open("w") as f:
        for _ in range(100):
            f.write("boston " * 150_000)
        f.write("\n")
    cmd = (
        f"ulimit -v 4000000; exec {sys.executable} -m slotfill predict ckpt={w.a} input={big} "
        f"output={w.work / 'c17.out'}"
    )
    proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    big.unlink()
    return refused(proc, "100,000 characters")


@case("18 doccano 100k-deep nested JSON; a 5000-digit span end")
def json_limits(w: World):
    deep = '{"text": "fly", "label": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    digits = '{"text": "fly to boston", "label": [[7, ' + "9" * 5000 + ', "city"]]}\n'
    deep = convert(w, "c18a", deep, "jsonl", "conll", "--from", "doccano")
    digits = convert(w, "c18b", digits, "jsonl", "conll", "--from", "doccano")
    a, b = refused(deep, "nested too deeply"), refused(digits, "c18b.jsonl:1")
    return a[0] and b[0], f"{a[1]} | {b[1]}"


@case("19 serve on a port already in use")
def port_in_use(w: World):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        started = time.monotonic()
        proc = slotfill("serve", f"ckpt={w.a}", f"port={port}")
    ok, seen = refused(proc, "already in use")
    return ok and "serving" not in proc.stdout, f"{seen} ({time.monotonic() - started:.1f} s, before loading)"


@case("20 export into a folder that cannot be written")
def export_unwritable(w: World):
    blocker = w.work / "c20file"
    blocker.write_text("")
    proc = slotfill("export", f"ckpt={w.a}", f"output={blocker / 'sub' / 'model.onnx'}")
    return refused(proc, "cannot write there")


# ----------------------------------------------------------------------- unclear or unguarded
@case("21 run killed before its first checkpoint: resume= and a rerun")
def killed_early(w: World):
    out = w.work / "c21run"
    cmd = [sys.executable, "-m", "slotfill", "train", *SMALL, f"output_dir={out}", "trainer.max_epochs=40"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (out / "run.json").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resume = slotfill("train", f"resume={out}")
    rerun = slotfill("train", *SMALL, f"output_dir={out}", "trainer.max_epochs=1")
    ok, seen = refused(resume, "train again into that folder")
    return ok and rerun.returncode == 0, f"resume: {seen}; rerun: exit {rerun.returncode}"


@case("22 two resume= of one run at once")
def two_resumes(w: World):
    run = killed_run(w, "c22run")
    first = subprocess.Popen(
        [sys.executable, "-m", "slotfill", "train", f"resume={run}"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not (run / ".slotfill.lock").exists() or first.poll() is not None:
        if first.poll() is not None:
            break
        time.sleep(0.05)
    time.sleep(1)
    second = slotfill("train", f"resume={run}")
    first.communicate(timeout=600)
    ok, seen = refused(second, "another")
    return ok and first.returncode == 0, f"second: {seen}; first: exit {first.returncode}"


@case("23 a 50,000-token training sentence")
def long_sentence(w: World):
    data = sample_copy(w, "c23data")
    (data / "train" / "seq.in").write_text((data / "train" / "seq.in").read_text() + "w " * 50_000 + "\n")
    (data / "train" / "seq.out").write_text((data / "train" / "seq.out").read_text() + "O " * 50_000 + "\n")
    (data / "train" / "label").write_text((data / "train" / "label").read_text() + "atis_flight\n")
    started = time.monotonic()
    proc = slotfill("train", *SMALL, f"data.path={data}", f"output_dir={w.work / 'c23run'}")
    ok, seen = refused(proc, "1,000")
    return ok, f"{seen} ({time.monotonic() - started:.1f} s)"


@case("24 the weights-only refusal: no advice to load unsafely, no ANSI escapes")
def no_unsafe_advice(w: World):
    evil = w.work / "c24.pt"
    code = f"import pathlib, torch; torch.save({{'x': pathlib.PurePosixPath('/etc')}}, '{evil}')"
    subprocess.run([sys.executable, "-c", code], check=True)
    proc = slotfill("predict", f"ckpt={evil}", SENTENCE)
    ok, seen = refused(proc, "refused")
    clean = "weights_only=False" not in proc.stderr and "\x1b[" not in proc.stderr
    return ok and clean, f"{seen}; no unsafe advice or ANSI: {clean}"


@case("25a 200 trickling connections (request_timeout_s=2): all closed within 5 s")
def trickling(w: World):
    with server(w.a, "connections.request_timeout_s=2", "connections.max_open=300") as url:
        port = int(url.rsplit(":", 1)[1])
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(200)]
        started = time.monotonic()
        for s in socks:
            s.sendall(b"POST /parse HTTP/1.1\r\nhost: x\r\n")  # headers never finished
        closed = 0
        for s in socks:
            try:
                while s.recv(4096):
                    pass
                closed += 1
            except OSError:
                pass
            s.close()
        took = time.monotonic() - started
    return closed == 200 and took < 5, f"{closed}/200 closed in {took:.1f} s"


@case("25b /docs fetches nothing from elsewhere (works offline)")
def docs_offline(w: World):
    import re

    import httpx

    with server(w.a) as url:
        page = httpx.get(f"{url}/docs").text
    outside = [s for s in re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page) if not s.startswith("/")]
    return not outside and "/openapi.json" in page, f"outside references: {outside}"


@case("26 NUL and zero-width space inside city names: the tags of the clean sentence")
def invisible(w: World):
    src = w.work / "c26.txt"
    src.write_text(f"{SENTENCE}\ni want to fly from bos\u200bton to den\x00ver\n", encoding="utf-8")
    proc = slotfill("predict", f"ckpt={w.a}", "format=jsonl", f"input={src}")
    plain, odd = (json.loads(ln) for ln in proc.stdout.strip().splitlines()[-2:]) if proc.returncode == 0 else ({}, {})
    ok = proc.returncode == 0 and len(odd["tokens"]) == 8 and odd["tags"] == plain["tags"]
    return ok, f"exit {proc.returncode}, {len(odd.get('tokens', []))} tokens, tags as without them: {ok}"


@case("27 conll with one bad line; float span offset; hub row with an extra field")
def reader_messages(w: World):
    conll = "".join("fly\tO\nboston\tB-city\n\n" for _ in range(6)) + "a line without its tag here\n"
    a = refused(convert(w, "c27a", conll, "conll", "jsonl"), "c27a.conll:19")
    b = refused(
        convert(
            w,
            "c27b",
            '{"text": "fly to boston", "spans": [{"start": 7.5, "end": 13, "label": "c"}]}\n',
            "jsonl",
            "conll",
        ),
        "whole numbers",
    )
    c = refused(
        convert(w, "c27c", "id,intent,text,slots\n0,a,x y,O O\n1,a,x y,O O,extra\n", "csv", "jsonl"),
        "5 fields, but the header has 4",
    )
    return a[0] and b[0] and c[0], f"{a[1]} | {b[1]} | {c[1]}"


@case("28 a killed run's .tmp files are swept on resume")
def tmp_swept(w: World):
    run = killed_run(w, "c28run")
    stale = run / "checkpoints" / ".last.ckpt.abc.tmp"
    stale.write_bytes(b"x" * 1000)
    proc = slotfill("train", f"resume={run}")
    return proc.returncode == 0 and not stale.exists(), f"exit {proc.returncode}, tmp left: {stale.exists()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class server:
    """``slotfill serve`` of ``model`` in a subprocess on a free port, for a ``with`` block."""

    def __init__(self, model: Path, *extra: str) -> None:
        self.port = free_port()
        self.cmd = [sys.executable, "-m", "slotfill", "serve", f"ckpt={model}", f"port={self.port}", *extra]

    def __enter__(self) -> str:
        import httpx

        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode()[-500:])
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="also write the cases and their results here")
    parser.add_argument("--only", help="run only the cases whose number is in this comma-separated list (5,6a)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slotfill-hostile-"))
    started = time.monotonic()
    print(f"# setting up two sample models in {work}", flush=True)
    w = World(work)
    rows = []
    for title, fn in CASES:
        if args.only and title.split()[0] not in args.only.split(","):
            continue
        t = time.monotonic()
        try:
            held, seen = fn(w)
        except Exception as e:  # a case that crashes the harness has not held
            held, seen = False, f"harness: {type(e).__name__}: {e}"
        rows.append({"case": title, "held": bool(held), "seen": seen, "seconds": round(time.monotonic() - t, 1)})
        print(f"{'HOLDS' if held else 'FAILS'} | {title} | {seen}", flush=True)
    held = sum(r["held"] for r in rows)
    print(f"# {held} of {len(rows)} cases hold ({time.monotonic() - started:.0f} s, {os.cpu_count()} CPUs)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if held == len(rows) else 1)


if __name__ == "__main__":
    main()
