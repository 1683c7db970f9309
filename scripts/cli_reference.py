"""Generate ``documentation/cli.md`` from the commands' own argparse parsers.

    python scripts/cli_reference.py            # print the reference
    python scripts/cli_reference.py --write    # rewrite documentation/cli.md
    python scripts/cli_reference.py --check    # exit 1 and say what drifted

A development tool: it lives outside the installed package (the interception of
``ArgumentParser.parse_args`` below happens only in the process that generates the reference)
and documents the commands of this tree.

The commands are the console scripts of ``CONSOLE_SCRIPTS`` in ``setup.py`` (read with
:mod:`ast`, so a tree that is not installed works; an installed package without its
``setup.py`` falls back to the ``console_scripts`` entry points of autosynth's packages).

**Parser convention.** For an entry point ``module:function`` the parser is built, without
arguments, by a function of the same module:

- ``main`` -> ``build_parser()``;
- ``<name>_main`` -> ``build_<name>_parser()`` (e.g. ``plan_main`` -> ``build_plan_parser``);
- or, for names that fit neither rule, ``PARSERS = {"<console script>": builder}`` at module
  level, which takes precedence.

The parser's ``prog`` must be the console script's name. A command whose module does not follow
the convention yet is still documented: its parser is taken from the entry function itself,
called with ``--help`` while ``ArgumentParser.parse_args`` is intercepted (nothing runs), and
``tests/cli/test_cli_reference.py`` reports it.

Help is rendered at a fixed width of 100 columns with one option style on every Python version
(``-d, --dataset DATASET``, as Python 3.13+ prints it), and without colour, so the file depends
on the code only. (One difference remains between Python versions: where a usage line must
wrap inside a mutually exclusive group ``[--a | --b]``, 3.13 breaks it inside the brackets and
earlier versions move the whole group to the next line; no command uses such a group today.)
"""
from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import inspect
import io
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

WIDTH = 100
REPO_ROOT = Path(__file__).resolve().parents[1]
SETUP_PY = REPO_ROOT / "setup.py"
CLI_MD = REPO_ROOT / "documentation" / "cli.md"
REGENERATE = "python scripts/cli_reference.py --write"
PACKAGES = ("autosynth", "dataset_conversion")

# Reading order of the reference: the pipeline's. Names only order the sections; commands are
# discovered from setup.py, and any command not listed here follows, alphabetically.
PIPELINE_ORDER = (
    "autosynth_make_demo_dataset", "autosynth_convert_brats", "autosynth_convert_ixi",
    "autosynth_verify", "autosynth_plan_and_preprocess", "autosynth_extract_fingerprint",
    "autosynth_plan", "autosynth_preprocess", "autosynth_train", "autosynth_predict",
    "autosynth_evaluate", "autosynth_test", "autosynth_train_segmenter",
    "autosynth_segmentation_utility", "autosynth_ablation", "autosynth_demo",
)


class ParserNotFound(LookupError):
    """A console script whose module, entry function or parser cannot be found."""


@dataclass(frozen=True)
class Command:
    """One console script: ``name = module:function``."""

    name: str
    module: str
    function: str

    @property
    def target(self) -> str:
        return f"{self.module}:{self.function}"

    @classmethod
    def parse(cls, spec: str) -> "Command":
        match = re.fullmatch(r"\s*([\w.-]+)\s*=\s*([\w.]+)\s*:\s*(\w+)\s*", spec)
        if not match:
            raise ValueError(f"not a console-script entry 'name = module:function': {spec!r}")
        return cls(*match.groups())


# ----------------------------------------------------------------------------- discovery
def console_scripts(setup_py: Path | None = None) -> list[Command]:
    """The console scripts of ``setup.py``'s ``CONSOLE_SCRIPTS`` list, in pipeline order."""
    setup_py = Path(setup_py) if setup_py is not None else SETUP_PY
    if setup_py.is_file():
        tree = ast.parse(setup_py.read_text(encoding="utf-8"), str(setup_py))
        for node in tree.body:
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AnnAssign) else [])
            if any(isinstance(t, ast.Name) and t.id == "CONSOLE_SCRIPTS" for t in targets):
                return ordered(Command.parse(s) for s in ast.literal_eval(node.value))
        raise ValueError(f"{setup_py}: no CONSOLE_SCRIPTS = [...] list of literal strings")
    from importlib.metadata import entry_points

    return ordered(Command(ep.name, *ep.value.replace(" ", "").split(":"))
                   for ep in entry_points(group="console_scripts")
                   if ep.value.split(":")[0].strip().split(".")[0] in PACKAGES)


def ordered(commands) -> list[Command]:
    rank = {name: i for i, name in enumerate(PIPELINE_ORDER)}
    return sorted(commands, key=lambda c: (rank.get(c.name, len(rank)), c.name))


def builder_name(function: str) -> str | None:
    """``main`` -> ``build_parser``, ``plan_main`` -> ``build_plan_parser``, else None."""
    if function == "main":
        return "build_parser"
    if function.endswith("_main") and len(function) > len("_main"):
        return f"build_{function[:-len('_main')]}_parser"
    return None


def convention_text(command: Command) -> str:
    expected = builder_name(command.function)
    rule = f"{expected}()" if expected else "no naming rule applies to this function name"
    return (f"{command.module} should define {rule}, or PARSERS = {{'{command.name}': "
            "<function returning the ArgumentParser>}")


def import_module(command: Command):
    try:
        return importlib.import_module(command.module)
    except Exception as err:  # any import failure means the command is broken
        raise ParserNotFound(f"{command.name}: cannot import {command.module} "
                             f"({type(err).__name__}: {err})") from err


def entry_function(command: Command) -> Callable:
    function = getattr(import_module(command), command.function, None)
    if not callable(function):
        raise ParserNotFound(f"{command.name}: {command.module} has no function "
                             f"{command.function} (setup.py names {command.target})")
    return function


def find_builder(command: Command) -> Callable[[], argparse.ArgumentParser]:
    """The zero-argument function that builds the command's parser, by the convention."""
    module = import_module(command)
    registry = getattr(module, "PARSERS", None)
    if isinstance(registry, dict) and command.name in registry:
        return registry[command.name]
    name = builder_name(command.function)
    if name and callable(getattr(module, name, None)):
        return getattr(module, name)
    raise ParserNotFound(f"{command.name}: no parser builder found; {convention_text(command)}")


class _Captured(Exception):
    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__(parser.prog)
        self.parser = parser


def call_entry(function: Callable, argv: list[str]):
    """Call an entry function with ``argv``, as an argument when it takes one."""
    try:
        takes_argv = bool(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        takes_argv = True
    saved = sys.argv
    sys.argv = [saved[0] if saved else "prog", *argv]
    try:
        return function(argv) if takes_argv else function()
    finally:
        sys.argv = saved


def capture_parser(command: Command) -> argparse.ArgumentParser:
    """The parser an entry function builds, taken at its ``parse_args`` call (nothing runs)."""
    function = entry_function(command)

    def grab(self, *args, **kwargs):
        raise _Captured(self)

    names = ("parse_args", "parse_known_args", "parse_intermixed_args",
             "parse_known_intermixed_args")
    saved = {n: getattr(argparse.ArgumentParser, n) for n in names
             if hasattr(argparse.ArgumentParser, n)}
    for n in saved:
        setattr(argparse.ArgumentParser, n, grab)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            call_entry(function, ["--help"])
    except _Captured as captured:
        return captured.parser
    except SystemExit:
        pass
    finally:
        for n, method in saved.items():
            setattr(argparse.ArgumentParser, n, method)
    raise ParserNotFound(f"{command.name}: {command.target} builds no argparse parser; "
                         f"{convention_text(command)}")


def load_parser(command: Command, allow_capture: bool = True) -> argparse.ArgumentParser:
    """The command's parser: from its builder, else (``allow_capture``) from its entry function."""
    try:
        return find_builder(command)()
    except ParserNotFound:
        if not allow_capture:
            raise
        entry_function(command)  # a missing module or function is reported as such
        return capture_parser(command)


def all_parsers(parser: argparse.ArgumentParser):
    """The parser and, depth first, every sub-command parser under it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases share a parser
                yield from all_parsers(sub)


def undocumented_options(parser: argparse.ArgumentParser) -> list[str]:
    """Arguments and options (of the parser and its sub-commands) without a help string."""
    missing = []
    for p in all_parsers(parser):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not (isinstance(action.help, str) and action.help.strip()):
                label = "/".join(action.option_strings) or action.metavar or action.dest
                missing.append(f"{p.prog} {label}")
    return missing


# ----------------------------------------------------------------------------- rendering
class _StableInvocation:
    """Mixin: ``-d, --dataset DATASET`` (the Python 3.13+ style) on every Python version."""

    def _format_action_invocation(self, action):
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        default = self._get_default_metavar_for_optional(action)
        return ", ".join(action.option_strings) + " " + self._format_args(action, default)


def _stable_formatter(formatter_class, width: int):
    class StableFormatter(_StableInvocation, formatter_class):
        def __init__(self, prog, *args, **kwargs):
            kwargs["width"] = width
            super().__init__(prog, *args, **kwargs)

    StableFormatter._stable_base = formatter_class
    StableFormatter.__name__ = f"Stable{formatter_class.__name__}"
    return StableFormatter


def render_help(parser: argparse.ArgumentParser, width: int = WIDTH) -> str:
    """``parser.format_help()`` at a fixed width, without colour, for the parser as built."""
    for p in all_parsers(parser):
        base = getattr(p.formatter_class, "_stable_base", p.formatter_class)
        p.formatter_class = _stable_formatter(base, width)
        if hasattr(p, "color"):  # Python 3.14+ colours help on a terminal
            p.color = False
    return parser.format_help().rstrip() + "\n"


def first_sentence(text: str | None, limit: int = 200) -> str:
    """The description up to its first full stop, colon or semicolon (not inside brackets or
    after 'e.g.'), for the summary table."""
    text = " ".join((text or "").split())
    depth = 0
    for i, char in enumerate(text):
        depth += char in "([{"
        depth -= char in ")]}"
        if char in ".!?:;" and depth <= 0 and (i + 1 == len(text) or text[i + 1] == " "):
            if not re.search(r"(\be\.g|\bi\.e|\betc|\bcf|\bvs)$", text[:i]):
                text = text[:i + 1] if char in ".!?" else text[:i]
                break
    if len(text) > limit:
        text = text[:limit - 3].rsplit(" ", 1)[0] + " ..."
    return markdown_cell(text)


def markdown_cell(text: str) -> str:
    """``text`` safe in a Markdown table cell; code spans (between backticks) stay as they are."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: treat it as text
        parts = [text.replace("`", "'")]
    for i in range(0, len(parts), 2):
        part = parts[i].replace("\\", "\\\\")
        for char, escaped in (("_", "\\_"), ("*", "\\*"), ("<", "&lt;"), (">", "&gt;")):
            part = part.replace(char, escaped)
        parts[i] = part
    return "`".join(parts).replace("|", "\\|")


HEADER = f"""\
# Command-line reference

<!-- Generated by `{REGENERATE}`; do not edit by hand. -->

What each command's `--help` prints (wrapped at {WIDTH} columns), generated from the commands'
own argparse parsers. `tests/cli/test_cli_reference.py` fails when this file and the code
disagree; regenerate it with:

```bash
{REGENERATE}
```

The commands are the console scripts that `setup.py` installs, in pipeline order. How they fit
together: [getting_started.md](getting_started.md) and [concepts.md](concepts.md).
"""


def render_reference(commands: list[Command] | None = None, strict: bool = True) -> str:
    """The whole of ``cli.md``; a command without a parser raises :class:`ParserNotFound`
    naming every such command (or, not ``strict``, is left out)."""
    commands = console_scripts() if commands is None else commands
    problems, sections, rows = [], [], []
    for command in commands:
        try:
            parser = load_parser(command)
        except ParserNotFound as err:
            problems.append(str(err))
            continue
        rows.append(f"| [`{command.name}`](#{command.name.lower()}) | "
                    f"{first_sentence(parser.description)} |")
        blocks = [f"```text\n{render_help(p)}```\n" for p in all_parsers(parser)]
        sections.append(f"## {command.name}\n\n`{command.target}`\n\n" + "\n".join(blocks))
    if problems and strict:
        raise ParserNotFound("\n".join(problems))
    table = "| command | purpose (from its description) |\n|---|---|\n"
    return "\n".join([HEADER, table + "\n".join(rows) + "\n", *sections])


# ----------------------------------------------------------------------------- drift
def split_sections(text: str) -> tuple[str, dict[str, str]]:
    """The text before the first ``## `` heading, and each command's section by name."""
    parts = re.split(r"^## (\S+)[ \t]*\n", text, flags=re.M)
    return parts[0], {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def compare(expected: str, actual: str, expected_label: str = "code",
            actual_label: str = "cli.md", max_diff_lines: int = 30) -> list[str]:
    """What differs between two references, per command (empty when identical)."""
    if expected == actual:
        return []
    head_e, sec_e = split_sections(expected)
    head_a, sec_a = split_sections(actual)
    problems = []
    for name in sec_e:
        if name not in sec_a:
            problems.append(f"{name}: in setup.py but not in {actual_label}")
        elif sec_e[name] != sec_a[name]:
            diff = list(difflib.unified_diff(
                sec_a[name].splitlines(), sec_e[name].splitlines(),
                f"{actual_label} ({name})", f"{expected_label} ({name})", lineterm="", n=1))
            more = len(diff) - max_diff_lines
            problems.append(f"{name}: --help differs from {actual_label}:\n  " + "\n  ".join(
                diff[:max_diff_lines] + ([f"... {more} more diff line(s)"] if more > 0 else [])))
    problems += [f"{name}: in {actual_label} but no longer a console script in setup.py"
                 for name in sec_a if name not in sec_e]
    if not problems and list(sec_e) != list(sec_a):
        problems.append(f"the order of the commands differs: {list(sec_e)} (code) vs "
                        f"{list(sec_a)} ({actual_label})")
    if head_e != head_a:
        problems.append(f"the header or the command table differs from {actual_label}")
    return problems


def check(path: Path | None = None) -> list[str]:
    """Problems of the committed reference against the code; empty when it is up to date."""
    path = Path(path) if path is not None else CLI_MD
    try:
        generated = render_reference()
    except ParserNotFound as err:
        return str(err).splitlines() + [f"fix these commands, then regenerate {path.name} with: "
                                        f"{REGENERATE}"]
    if not path.is_file():
        return [f"{path} does not exist; generate it with: {REGENERATE}"]
    problems = compare(generated, path.read_text(encoding="utf-8"), actual_label=path.name)
    if problems:
        problems.append(f"{path} is out of date; regenerate it with: {REGENERATE} (Python "
                        f"{sys.version_info.major}.{sys.version_info.minor}), review the diff "
                        "and commit it")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python scripts/cli_reference.py",
        description="Write the command-line reference (documentation/cli.md) from the argparse "
        "parsers of the console scripts in setup.py, or check that it is up to date.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"rewrite {CLI_MD}")
    group.add_argument("--check", action="store_true",
                       help="exit 1, saying which command drifted, when the file is out of date")
    parser.add_argument("--output", type=Path, default=CLI_MD,
                        help="file written by --write and read by --check (default: "
                        "documentation/cli.md of this tree)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.output)
            for problem in problems:
                print(problem)
            if not problems:
                print(f"{args.output}: up to date")
            return 1 if problems else 0
        text = render_reference()
    except ParserNotFound as err:
        print(f"cli_reference: {err}", file=sys.stderr)
        return 1
    if args.write:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"written {args.output}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))  # the commands of this tree, installed or not
    sys.exit(main())
