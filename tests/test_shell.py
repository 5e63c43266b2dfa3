"""``slotfill shell``: each line answered as it is typed, from a pipe or a terminal."""

import io
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from omegaconf import OmegaConf

from slotfill.cli import shell
from slotfill.errors import SlotfillError
from tests.helpers import ROOT

slow = pytest.mark.slow


def _cfg(model, **extra):
    base = OmegaConf.load(ROOT / "conf" / "shell.yaml")
    base.pop("defaults")
    base.pop("hydra")
    return OmegaConf.merge(base, {"ckpt": str(model), **extra})


RESULT = {
    "text": "to boston",
    "tokens": ["to", "boston"],
    "tags": ["O", "B-toloc.city_name"],
    "spans": [{"slot": "toloc.city_name", "text": "boston", "value": "boston", "token_start": 1, "token_end": 2,
               "confidence": 0.9, "start": 3, "end": 9}],
    "intent": "atis_flight",
    "intent_confidence": 0.8,
    "intent_ranking": [
        {"name": "atis_flight", "confidence": 0.8},
        {"name": "atis_airfare", "confidence": 0.15},
        {"name": "atis_city", "confidence": 0.01},
    ],
}  # fmt: skip


def test_text_answers_show_the_next_intents():
    out = shell.answer(RESULT, "text", echo=True)
    assert out.splitlines() == [
        "to boston",
        "  intent: atis_flight (0.80)",
        "  then: atis_airfare (0.15), atis_city (0.01)",
        "  toloc.city_name: boston (0.90)",
    ]
    assert shell.answer(RESULT, "text", echo=False).splitlines()[0] == "  intent: atis_flight (0.80)"


def test_json_is_rasas_parse_answer():
    answer = json.loads(shell.answer(RESULT, "json", echo=False))
    assert answer["intent"] == {"name": "atis_flight", "confidence": 0.8}
    assert answer["entities"][0]["entity"] == "toloc.city_name"
    assert json.loads(shell.answer(RESULT, "jsonl", echo=False)) == RESULT


def test_lines_from_a_pipe_are_answered_in_order_and_blank_ones_skipped(tiny_model_file):
    out = io.StringIO()
    lines = io.StringIO("to boston\n\n  \nfrom denver\n/exit\nnever\n")
    n = shell.run(_cfg(tiny_model_file, format="jsonl"), lines, out)
    assert n == 2
    assert [json.loads(line)["text"] for line in out.getvalue().splitlines()] == ["to boston", "from denver"]


def test_a_line_that_cannot_be_tagged_is_named_and_the_shell_goes_on(tiny_model_file, capsys):
    out = io.StringIO()
    piped = io.TextIOWrapper(io.BytesIO(b"to denver\n" + b"x" * 100_001 + b"\nto bos\xfften\nto boston\n"))
    with pytest.raises(SlotfillError, match="2 line"):
        shell.run(_cfg(tiny_model_file, format="jsonl"), piped, out)
    assert [json.loads(line)["text"] for line in out.getvalue().splitlines()] == ["to denver", "to boston"]
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("error: <stdin>:2: 100,001 characters")  # its own line number, as predict says it
    assert err[1] == "error: <stdin>:3: not valid UTF-8 (byte 0xff at column 7)"


def test_a_closed_standard_input_or_output_is_one_line(tiny_model_file):
    with pytest.raises(SlotfillError, match="^standard input is closed"):
        shell.run(_cfg(tiny_model_file), _closed(), io.StringIO())

    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(SlotfillError, match=r"^<stdout>: write failed \(Broken pipe\); the output is incomplete$"):
        shell.run(_cfg(tiny_model_file), io.StringIO("to boston\n"), Gone())


def _closed() -> io.StringIO:
    stream = io.StringIO()
    stream.close()
    return stream


def test_an_empty_pipe_is_an_error_not_a_run_that_tagged_it(tiny_model_file):
    """As predict input=- on an empty pipe; blank lines, or /exit, are lines read (answered by nothing)."""
    with pytest.raises(SlotfillError, match="<stdin>: no lines to tag"):
        shell.run(_cfg(tiny_model_file), io.StringIO(""), io.StringIO())
    for piped in ("\n  \n", "/exit\n"):
        assert shell.run(_cfg(tiny_model_file), io.StringIO(piped), io.StringIO()) == 0


def test_bad_settings_are_refused_before_the_model_loads(tiny_model_file):
    with pytest.raises(SlotfillError, match="format=xml"):
        shell.run(_cfg(tiny_model_file, format="xml"), io.StringIO(""), io.StringIO())


def _read_until(fd, needle: bytes, timeout: float = 60) -> bytes:
    seen, end = b"", time.monotonic() + timeout
    while needle not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        assert ready, f"no {needle!r} in {seen!r}"
        seen += os.read(fd, 4096)
    return seen


@slow
def test_a_person_at_a_terminal_gets_a_prompt_and_each_answer_at_once(tiny_model_file):
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "slotfill", "shell", f"ckpt={tiny_model_file}", "format=jsonl"],
        stdin=child,
        stdout=child,
        stderr=child,
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    os.close(child)
    try:
        assert b"Ctrl-D or /exit to quit" in _read_until(main, b"> ")
        for line in (b"to boston", b"from denver"):  # typed one at a time, the terminal left open
            os.write(main, line + b"\n")
            answer = _read_until(main, b"> ").decode()
            assert f'"text": "{line.decode()}"' in answer
        os.write(main, b"\x04")  # Ctrl-D
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        os.close(main)


@slow
def test_the_shell_command_answers_a_pipe(tiny_model_file):
    proc = subprocess.run(
        [sys.executable, "-m", "slotfill", "shell", f"ckpt={tiny_model_file}"],
        input="to boston\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "to boston"  # piped lines are echoed: the answers stay readable


class _Typed(io.StringIO):
    """Standard input, or output, as a terminal."""

    def isatty(self) -> bool:
        return True


class _TypedBytes(io.TextIOWrapper):
    """A terminal's standard input with the bytes typed at it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="strict")

    def isatty(self) -> bool:
        return True


def _typing(monkeypatch, lines):
    """``input`` answering ``lines`` (an exception instance is raised), recording the prompts it was given."""
    prompts, lines = [], list(lines)

    def fake_input(prompt=""):
        prompts.append(prompt)
        if not lines:
            raise EOFError
        line = lines.pop(0)
        if isinstance(line, BaseException):
            raise line
        return line

    monkeypatch.setattr("builtins.input", fake_input)
    return prompts


def test_typed_answers_going_to_a_file_leave_the_prompt_on_the_terminal(tiny_model_file, monkeypatch, capsys):
    """``slotfill shell ... > out.jsonl``: ``input`` would write its prompt among the answers."""
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("input() writes its prompt to stdout"))
    out = io.StringIO()
    assert shell.run(_cfg(tiny_model_file, format="jsonl"), _Typed("to boston\nfrom denver\n"), out) == 2
    assert [json.loads(line)["text"] for line in out.getvalue().splitlines()] == ["to boston", "from denver"]
    assert capsys.readouterr().err.count("> ") == 3
    shell.run(_cfg(tiny_model_file, format="jsonl", prompt=None), _Typed("to boston\n"), io.StringIO())
    assert "None" not in capsys.readouterr().err  # prompt=null: no prompt
    prompts = _typing(monkeypatch, ["to boston"])  # answers on the terminal: input() and its line editing
    shell.run(_cfg(tiny_model_file, format="jsonl"), _Typed(), _Typed())
    assert prompts == ["> ", "> "]


@pytest.mark.parametrize("answers_on_terminal", [True, False])
def test_typed_bytes_that_are_not_utf8_are_named_as_from_a_pipe(
    answers_on_terminal, tiny_model_file, monkeypatch, capsys
):
    if answers_on_terminal:  # input() keeps a byte it cannot decode as a lone surrogate
        _typing(monkeypatch, ["caf\udce9 to boston", "to boston"])
        stdin, out = _Typed(), _Typed()
    else:  # read as a pipe's line: a terminal's strict decoding would end the shell with a traceback
        stdin, out = _TypedBytes(b"caf\xe9 to boston\nto boston\n"), io.StringIO()
    with pytest.raises(SlotfillError, match=r"1 line\(s\) could not be tagged"):
        shell.run(_cfg(tiny_model_file, format="jsonl"), stdin, out)
    assert "error: <stdin>:1: not valid UTF-8 (byte 0xe9 at column 4)" in capsys.readouterr().err
    assert json.loads(out.getvalue())["text"] == "to boston"


def test_ctrl_c_at_the_prompt_leaves_the_prompt_line_first(tiny_model_file, monkeypatch, capsys):
    _typing(monkeypatch, [KeyboardInterrupt()])
    with pytest.raises(KeyboardInterrupt):
        shell.run(_cfg(tiny_model_file), _Typed(), _Typed())
    assert capsys.readouterr().err.endswith("quit.\n\n")  # after the banner, the prompt's line ended


def test_shell_has_no_batch_size_to_ignore(tiny_model_file):
    assert "batch_size" not in _cfg(tiny_model_file)
