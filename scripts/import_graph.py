"""Print the import graph of the autosynth packages and fail on a cycle.

    python scripts/import_graph.py            # package-level graph, cycles, function-level imports
    python scripts/import_graph.py --modules  # the module-level graph too

Reads the source with ``ast`` (nothing is imported), so it runs without the dependencies.
Every import counts, at module top or inside a function: a cycle through a function-level import
is still a cycle. Exit code 1 when the module or the package graph has a cycle.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autosynth", "dataset_conversion")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> tuple[set[str], list[str]]:
    """(imported project modules, the ones imported inside a function body)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    nested: list[str] = []
    def visit(node, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            inner = depth + isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1]
                                    + ([base] if base else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                         for a in child.names]
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name:
                    found.add(name)
                    if depth:
                        nested.append(name)
            visit(child, inner)
    visit(tree, 0)
    return found, nested


def package_of(module: str) -> str:
    """``autosynth.training.trainer`` -> ``autosynth.training``; top-level modules of the
    ``autosynth`` package (``paths``, ``results_layout``) are their own layer."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="print the module-level graph")
    args = parser.parse_args()
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    modules = {module_name(p) for p in files}
    module_graph, nested_imports = {}, {}
    for path in files:
        found, nested = imports_of(path, modules)
        name = module_name(path)
        # a package's __init__ importing its own submodules is not a dependency between layers
        module_graph[name] = {m for m in found if m != name}
        if nested:
            nested_imports[name] = sorted(set(nested))
    package_graph: dict[str, set[str]] = {}
    for module, targets in module_graph.items():
        source = package_of(module)
        package_graph.setdefault(source, set()).update(
            package_of(t) for t in targets if package_of(t) != source)
    if args.modules:
        print("module-level imports:")
        for module in sorted(module_graph):
            print(f"  {module} -> {', '.join(sorted(module_graph[module])) or '-'}")
    print("package-level imports:")
    for package in sorted(package_graph):
        print(f"  {package} -> {', '.join(sorted(package_graph[package])) or '-'}")
    print("imports inside function bodies:")
    for module, names in sorted(nested_imports.items()):
        print(f"  {module}: {', '.join(names)}")
    if not nested_imports:
        print("  none")
    found = {"module": cycles(module_graph), "package": cycles(package_graph)}
    for level, components in found.items():
        for component in components:
            print(f"CYCLE ({level}): {' <-> '.join(component)}")
    if not any(found.values()):
        print("no cycles (module level and package level)")
    return 1 if any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
