"""``slotfill shell``: type a sentence, read its slots and intent at once (cf. ``rasa shell nlu``).

The model loads once; each line is answered as soon as it is entered, from a terminal or a pipe.
A line that cannot be tagged (too long, not UTF-8) is answered with an ``error:`` line naming it and
the shell goes on; the exit status is then 2, so a script piping into the shell still learns of it.
Ctrl-D (end of input), ``/exit`` or ``/quit`` end the shell; Ctrl-C ends it with status 130.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from omegaconf import DictConfig

from slotfill.cli.streams import silence_stdout
from slotfill.core.limits import text_problem
from slotfill.core.lines import decode_line
from slotfill.errors import ConfigError, DataError, SlotfillError

FORMATS = ("text", "json", "jsonl")
QUIT = ("/exit", "/quit")
STDIN = "<stdin>"  # how errors name a piped line, as predict input=- names it
ALTERNATIVES = 3  # intents shown after the chosen one in format=text


def answer(result: dict, fmt: str, echo: bool) -> str:
    """One tagged line: for people (``text``), Rasa's ``/model/parse`` answer (``json``), or one JSON line."""
    if fmt == "json":
        from slotfill.serving.schemas import rasa_parse

        return json.dumps(rasa_parse(result), indent=2, ensure_ascii=False) + "\n"
    if fmt == "jsonl":
        return json.dumps(result, ensure_ascii=False) + "\n"
    from slotfill.cli.console import human

    lines = human(result).splitlines()
    others = [r for r in result.get("intent_ranking") or [] if r["name"] != result["intent"]][:ALTERNATIVES]
    if others:
        at = 2 if result["intent"] is not None else 1
        lines.insert(at, "  then: " + ", ".join(f"{r['name']} ({r['confidence']:.2f})" for r in others))
    return "\n".join(lines if echo else lines[1:]) + "\n"


def rasa_answer(line: str) -> str | None:
    """What ``/model/parse`` answers a message that names its intent (``/greet``), or None for text to tag."""
    from slotfill.serving.schemas import intent_message

    named = intent_message(line)
    return None if named is None else json.dumps(named, indent=2, ensure_ascii=False) + "\n"


def check(cfg: DictConfig) -> None:
    from slotfill.cli import options

    options.check_inference(cfg)
    options.decisions(cfg)
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format}: choose one of {', '.join(FORMATS)}")


def run(cfg: DictConfig, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Answer each line of ``stdin`` until it ends; the number of lines answered."""
    from slotfill.cli import options
    from slotfill.cli.jobs import load_tagger

    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    check(cfg)
    if stdin is None or stdin.closed:
        raise SlotfillError("standard input is closed: slotfill shell answers the lines typed or piped into it")
    tagger = load_tagger(cfg)
    typed = stdin.isatty()
    if typed:
        import readline  # noqa: F401  (line editing and history for input())

        heads = "with intents" if tagger.predicts_intent else "slots only"
        print(f"slotfill shell: {cfg.ckpt} ({heads}). Type a sentence; Ctrl-D or /exit to quit.", file=sys.stderr)
    answered = failed = n = 0
    read_any = False
    while True:
        n += 1
        try:
            line = _read(stdin, str(cfg.prompt or "") if typed else None, n, _is_terminal(stdout))
            if line is None or line.strip() in QUIT:
                read_any = read_any or line is not None
                break
            read_any = True
            if not line.strip():
                continue
            problem = text_problem(line)
            if problem:
                raise DataError(STDIN, n, problem)
            named = rasa_answer(line) if cfg.format == "json" else None  # as the server answers it
            if named is None:
                (result,) = tagger.predict([line], **options.decisions(cfg))
        except SlotfillError as e:
            failed += 1
            print(f"error: {e}", file=sys.stderr, flush=True)
            continue
        try:
            stdout.write(named or answer(result, str(cfg.format), echo=not typed))
            stdout.flush()
        except OSError as e:  # a reader that went away (| head -1), a full disk
            if stdout is sys.stdout:
                silence_stdout()  # nothing more to flush into a closed pipe at exit
            raise SlotfillError(f"<stdout>: write failed ({e.strerror or e}); the output is incomplete") from None
        answered += 1
    if failed:
        raise SlotfillError(f"{failed} line(s) could not be tagged (each said why above)")
    if not typed and not read_any:  # as predict input=-: an empty pipe is never taken for a run that tagged it
        raise SlotfillError(f"{STDIN}: no lines to tag")
    return answered


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _read(stdin: TextIO, prompt: str | None, n: int, answers_on_terminal: bool = True) -> str | None:
    """Line ``n`` without its newline (bytes decoded as predict decodes them); None at the end.

    At a terminal (``prompt`` given) whose answers stay on it, ``input`` reads the line with line
    editing; when the answers go to a file or a pipe, ``input`` would write the prompt among them and
    read without readline, so the prompt goes to standard error and the line is read as a pipe's.
    """
    if prompt is None:
        return _read_line(stdin, n)
    try:
        if answers_on_terminal:
            line = input(prompt)
            if any("\udc80" <= c <= "\udcff" for c in line):  # bytes that are not UTF-8, as Python kept them
                return decode_line(line.encode("utf-8", "surrogateescape"), STDIN, n)
            return line
        print(prompt, end="", file=sys.stderr, flush=True)
        line = _read_line(stdin, n)
        if line is None:
            raise EOFError
        return line
    except EOFError:
        print(file=sys.stderr)  # the shell's last line ends below the prompt
        return None
    except KeyboardInterrupt:
        print(file=sys.stderr)  # "interrupted" on a line of its own, not after the prompt
        raise


def _read_line(stdin: TextIO, n: int) -> str | None:
    raw = getattr(stdin, "buffer", None)
    if raw is None:  # a text stream (a test's, a notebook's): already text
        line = stdin.readline()
        return line.rstrip("\r\n") if line else None
    data = raw.readline()
    return decode_line(data.rstrip(b"\n"), STDIN, n) if data else None
