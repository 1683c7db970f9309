"""documentation/cli.md is generated from the commands' parsers and must match the code.

Every console script in setup.py is checked as it stands when the tests run, so a command
added to setup.py is checked (and must be documented) at once.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys

import pytest

from scripts import cli_reference as reference

COMMANDS = reference.console_scripts()
IDS = [c.name for c in COMMANDS]


def test_setup_py_lists_console_scripts():
    assert COMMANDS, f"no console scripts found in {reference.SETUP_PY}"
    assert len(set(IDS)) == len(IDS), f"a console script is listed twice in setup.py: {IDS}"


def test_cli_md_is_up_to_date():
    problems = reference.check()
    assert not problems, "documentation/cli.md does not match the code:\n" + "\n".join(problems)


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_command_exposes_its_parser_by_the_convention(command):
    """``main`` -> ``build_parser()``, ``<name>_main`` -> ``build_<name>_parser()``, or PARSERS."""
    try:
        builder = reference.find_builder(command)
    except reference.ParserNotFound as err:
        pytest.fail(str(err), pytrace=False)
    parser = builder()
    assert isinstance(parser, argparse.ArgumentParser), \
        f"{command.name}: {builder.__qualname__}() returned {type(parser).__name__}"
    assert parser.prog == command.name, (
        f"{command.name}: the parser's prog is {parser.prog!r}; pass prog='{command.name}' so "
        "that usage lines name the command")


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_help_exits_zero_and_every_option_has_help(command):
    try:
        function = reference.entry_function(command)
        parser = reference.load_parser(command)
    except reference.ParserNotFound as err:
        pytest.fail(str(err), pytrace=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = reference.call_entry(function, ["--help"])
        except SystemExit as exit_:
            code = exit_.code
    assert code in (0, None), f"{command.name} --help exited {code}: {err.getvalue()[-2000:]}"
    assert out.getvalue().startswith(f"usage: {command.name}"), \
        f"{command.name} --help printed: {out.getvalue()[:300]!r}"
    missing = reference.undocumented_options(parser)
    assert not missing, f"{command.name}: arguments without a help string: {', '.join(missing)}"


def test_help_does_not_depend_on_the_machine():
    """Rendered in a process that sees 61 CPUs and a 37-column terminal, the reference is the
    same: no help text may embed a value measured on the machine that generates it."""
    code = ("import os, sys\n"
            "os.cpu_count = lambda: 61\n"
            "os.sched_getaffinity = lambda pid: set(range(61))\n"
            "os.process_cpu_count = lambda: 61\n"
            "from scripts import cli_reference as reference\n"
            "sys.stdout.write(reference.render_reference(strict=False))\n")
    env = {**os.environ, "COLUMNS": "37", "LINES": "10"}
    result = subprocess.run([sys.executable, "-c", code], cwd=reference.REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    problems = reference.compare(reference.render_reference(strict=False), result.stdout,
                                 expected_label="this machine", actual_label="61 CPUs")
    assert not problems, ("help text depends on the machine (write the rule, e.g. 'default: "
                          "min(4, CPU count)', not the value):\n" + "\n".join(problems))


# ----------------------------------------------------------------------------- the generator
def test_builder_names_follow_the_rule():
    assert reference.builder_name("main") == "build_parser"
    assert reference.builder_name("plan_main") == "build_plan_parser"
    assert reference.builder_name("extract_fingerprint_main") == "build_extract_fingerprint_parser"
    assert reference.builder_name("run") is None


def test_console_scripts_are_read_from_setup_py(tmp_path):
    setup = tmp_path / "setup.py"
    setup.write_text('X = 1\nCONSOLE_SCRIPTS = [\n    "autosynth_zz = pkg.zz:main",\n'
                     '    "autosynth_train = autosynth.cli.train:main",\n'
                     '    "autosynth_aa = pkg.aa:aa_main",\n]\nsetup(entry_points={})\n')
    names = [c.name for c in reference.console_scripts(setup)]
    assert names == ["autosynth_train", "autosynth_aa", "autosynth_zz"]  # pipeline, then a-z
    assert reference.console_scripts(setup)[1].function == "aa_main"


def test_capture_finds_a_parser_built_inside_main(tmp_path, monkeypatch):
    (tmp_path / "cli_without_builder.py").write_text(
        "import argparse\n"
        "RAN = []\n"
        "def go_main(argv=None):\n"
        "    parser = argparse.ArgumentParser(prog='tool_go', description='Go. Far.')\n"
        "    parser.add_argument('-n', '--number', type=int, help='how many')\n"
        "    parser.add_argument('--quiet', action='store_true')\n"
        "    parser.parse_args(argv)\n"
        "    RAN.append(1)\n"
        "    return 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    command = reference.Command("tool_go", "cli_without_builder", "go_main")
    with pytest.raises(reference.ParserNotFound, match="build_go_parser"):
        reference.find_builder(command)
    parser = reference.load_parser(command)
    assert parser.prog == "tool_go"
    assert reference.undocumented_options(parser) == ["tool_go --quiet"]
    import cli_without_builder
    assert cli_without_builder.RAN == []  # nothing ran
    text = reference.render_help(parser)
    assert "  -n, --number NUMBER  how many" in text


def test_missing_module_is_reported_by_name():
    command = reference.Command("autosynth_nothing", "autosynth.cli.does_not_exist", "main")
    with pytest.raises(reference.ParserNotFound, match="autosynth_nothing: cannot import"):
        reference.load_parser(command)


def test_render_is_independent_of_the_terminal_width(monkeypatch):
    command = next(c for c in COMMANDS if c.name == "autosynth_verify")
    wide = reference.render_help(reference.load_parser(command))
    monkeypatch.setenv("COLUMNS", "30")
    assert reference.render_help(reference.load_parser(command)) == wide
    assert max(len(line) for line in wide.splitlines()) <= reference.WIDTH


def test_drift_names_the_command_and_how_to_regenerate():
    text = reference.render_reference(strict=False)
    stale = text.replace("hide the progress bar\n", "hide it\n", 1)
    problems = reference.compare(text, stale)
    assert len(problems) == 1 and problems[0].startswith("autosynth_verify: --help differs"), \
        problems
    assert "-  --no-progress         hide it" in problems[0]
    truncated = text.split("## autosynth_verify\n")[0]
    assert "autosynth_verify: in setup.py but not in cli.md" in reference.compare(text, truncated)
    extra = text + "## autosynth_gone\n\nold\n"
    assert reference.compare(text, extra) == [
        "autosynth_gone: in cli.md but no longer a console script in setup.py"]


def test_check_says_how_to_regenerate(tmp_path):
    assert reference.REGENERATE in reference.check(tmp_path / "cli.md")[-1]
    (tmp_path / "cli.md").write_text("# stale\n")
    assert reference.REGENERATE in reference.check(tmp_path / "cli.md")[-1]


def test_first_sentence():
    assert reference.first_sentence("Train it (e.g. `x. y`). More.") == "Train it (e.g. `x. y`)."
    assert reference.first_sentence("Use it, e.g. now. Then.") == "Use it, e.g. now."
    assert reference.first_sentence("Check it: all of it.") == "Check it"
    assert reference.first_sentence(None) == ""
    assert reference.markdown_cell("into $X/<dataset>/ a_b|c `x_y <z>`") == \
        "into $X/&lt;dataset&gt;/ a\\_b\\|c `x_y <z>`"
