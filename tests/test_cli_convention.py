"""One command-line convention: -o/--output, --json, defaults shown once, one registration style."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from fpgatag.cli.main import build_parser

NO_OUTPUT = {"inspect"}   # prints a summary, writes nothing


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


COMMANDS = _commands()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_follows_the_convention(name):
    p = COMMANDS[name]
    options = {o: a for a in p._actions for o in a.option_strings}
    assert "--json" in options, f"{name}: no --json"
    if name not in NO_OUTPUT:
        out = options.get("-o")
        assert out is not None and out.dest == "output" and out.option_strings == ["-o", "--output", "--out"], name
    assert p.get_default("func").__name__ == "cmd_" + name.replace("-", "_")   # one registration style
    text = p.format_help()
    assert "--out " not in text and "--out," not in text and "--lr " not in text and "--early-stopping" not in text
    assert "(default: None)" not in text and "(default: False)" not in text
    for block in re.split(r"\n  (?=-)", text):   # each option's help: its default said once at most
        said = len(re.findall(r"\(default[:s]|\bdefaults? (?:is|are|to)\b", block.lower()))
        assert said <= 1, f"{name}: {block}"


def test_hidden_aliases_are_still_read():
    parser = build_parser()
    args = parser.parse_args(["train-teacher", "--data", "j.h5", "--out", "r", "--lr", "0.01", "--early-stopping", "3"])
    assert (args.output, args.learning_rate, args.patience) == (Path("r"), 0.01, 3)
    args = parser.parse_args(["sweep", "--data", "j.h5", "--out", "s"])
    assert args.output == "s"
    args = parser.parse_args(["synth", "m", "--backend", "VIVADO", "--strategy", "resource"])
    assert (args.backend, args.strategy) == ("Vivado", "Resource")


def test_bad_spelling_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["synth", "m", "--backend", "quartus"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "quartus" in err and "Vitis, Vivado" in err


def test_views_prints_the_file_written_as_json(jets_file, tmp_path, capsys):
    import json

    from fpgatag.cli.main import main
    from fpgatag.data.io import open_jets

    out = tmp_path / "n8.h5"
    assert main(["views", str(jets_file), "-o", str(out), "--n-candidates", "8", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    with open_jets(jets_file) as src:
        assert row == {"output": str(out), "n_jets": src.n_jets, "classes": list(src.classes), "format": "native"}
