"""The public API is declared and documented; internals stay private.

Public modules: the package, its public subpackages and modules, and the
modules of `keras_gumbel.ops` and `keras_gumbel.layers` whose names do not
start with an underscore. Each one

- declares `__all__`, and every name in it exists;
- has every name of its `__all__` in the API reference (docs/api/*.md): a
  `::: target` entry for the object itself, or for a module rendered with
  its members (mkdocstrings renders a module's `__all__`);
- defines no other name without a leading underscore: a function, class or
  variable defined there is public (in `__all__`) or private by name.
  Imported names are not definitions.

(tests/test_docs.py checks the built site; this test reads the sources and
the Markdown, so it is fast and needs no documentation tools.)
"""

import ast
import importlib
import inspect
import pathlib
import pkgutil
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TOP_LEVEL = ["keras_gumbel"] + [
    f"keras_gumbel.{name}" for name in (
        "ops", "layers", "schedules", "callbacks", "export", "datasets",
        "testing")]


def _public_submodules(package):
    module = importlib.import_module(package)
    return [f"{package}.{info.name}"
            for info in pkgutil.iter_modules(module.__path__)
            if not info.name.startswith("_")]


PUBLIC_MODULES = TOP_LEVEL + [
    name for package in ("keras_gumbel.ops", "keras_gumbel.layers")
    for name in _public_submodules(package)]


def _resolve(target):
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError:
        parent, _, name = target.rpartition(".")
        return getattr(importlib.import_module(parent), name)


def _directives():
    """`(page, target, options text)` of every `::: target` in docs/api."""
    found = []
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^::: *(\S+)\n((?:[ \t]+\S.*\n)*)", text,
                                 re.MULTILINE):
            found.append((page.name, match.group(1), match.group(2)))
    return found


def _documented_objects():
    """The objects the API pages render: each target and, for a module
    rendered with its members, the members its `__all__` names (or those
    `members:` lists)."""
    objects = []
    for _, target, options in _directives():
        obj = _resolve(target)
        objects.append(obj)
        if not inspect.ismodule(obj):
            continue
        members = re.search(r"^\s*members:\s*(.*)$", options, re.MULTILINE)
        if members is None:
            names = getattr(obj, "__all__", [])
        elif members.group(1).strip() == "false":
            names = []
        else:
            names = re.findall(r"[A-Za-z_]\w*", members.group(1)) + [
                line.strip().lstrip("- ") for line in options.splitlines()
                if line.strip().startswith("- ")]
        objects.extend(getattr(obj, name) for name in names)
    return objects


DOCUMENTED = _documented_objects()


def _defined_names(module):
    """Names bound at the top level of `module`'s source, imports excluded."""
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target])
            for target in targets:
                names.update(n.id for n in ast.walk(target)
                             if isinstance(n, ast.Name))
    return names


def test_every_api_page_entry_resolves():
    for page, target, _ in _directives():
        try:
            _resolve(target)
        except (ImportError, AttributeError) as error:
            pytest.fail(f"docs/api/{page}: `::: {target}` does not resolve: "
                        f"{error}")


def test_the_public_modules_are_found():
    # The walk sees the submodules (a broken walk would pass vacuously).
    assert "keras_gumbel.ops.gumbel_softmax" in PUBLIC_MODULES
    assert "keras_gumbel.layers.gumbel_softmax" in PUBLIC_MODULES
    assert not any(name.rpartition(".")[2].startswith("_")
                   for name in PUBLIC_MODULES)


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_declares_all(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it lacks: {missing}"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_names_are_in_the_api_reference(name):
    module = importlib.import_module(name)
    undocumented = [
        n for n in getattr(module, "__all__", [])
        if not any(getattr(module, n) is obj for obj in DOCUMENTED)]
    assert not undocumented, (
        f"{name}: {undocumented} are public (in __all__) but no page of "
        f"docs/api renders them: add a `::: {name}.<name>` entry")


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_no_public_looking_internals(name):
    module = importlib.import_module(name)
    public = set(getattr(module, "__all__", []))
    stray = sorted(n for n in _defined_names(module)
                   if not n.startswith("_") and n not in public)
    assert not stray, (
        f"{name} defines {stray} without an underscore but not in __all__: "
        f"make them public (__all__ and docs/api) or private (a leading "
        f"underscore, or a private module)")

