"""The packages import each other bottom-up: no cycle, no project import inside a function."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_import_cycles_and_no_hidden_imports():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_graph.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    hidden = result.stdout.split("imports inside function bodies:\n", 1)[1]
    assert hidden.startswith("  none"), "project imports inside function bodies:\n" + hidden


def test_the_checker_sees_a_cycle(tmp_path):
    """The check itself works: a two-module cycle is reported (exit 1)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import import_graph
    finally:
        sys.path.pop(0)
    assert import_graph.cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert import_graph.cycles({"a": {"b"}, "b": set()}) == []
