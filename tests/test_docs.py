"""The documentation cannot rot: its code runs and its site builds.

- Every ```python block of README.md and docs/**/*.md runs on its own, in a
  fresh Python process (the repository on PYTHONPATH, TF_CPP_MIN_LOG_LEVEL=2,
  a fresh temporary working directory, a timeout). Tests are parametrized by
  file and block, so a failure names the block and its line. A block that is
  not meant to run uses another fence: ```text, ```bash, ```pycon.
- Fences use only known languages, so a ```py block cannot slip past unrun.
- Every relative link of those files resolves (and its #anchor, if any).
- `mkdocs build --strict` succeeds, and the API reference it generates has an
  entry for every public name of the documented modules (skipped when mkdocs
  and its plugins are not installed: `pip install -e ".[docs]"`), with no
  empty "Type" column and no private class on its pages.

The blocks run two at a time (DOCS_TEST_WORKERS): each pays for importing
TensorFlow (about 5 s on a 2-core machine), so running them side by side
roughly halves the wall time.
"""

import ast
import concurrent.futures
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
TIMEOUT_S = 180
WORKERS = int(os.environ.get("DOCS_TEST_WORKERS", "2"))

# Languages a fence may name. Only "python" runs; the others are shown.
RUN_LANGUAGE = "python"
SHOWN_LANGUAGES = {"text", "bash", "console", "pycon", "yaml", "toml", "ini",
                   "json", ""}

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,})(?P<lang>[^`\s]*)\s*$")


def _fenced_blocks(path):
    """Yields (language, first line number, code) for each fenced block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, ticks = match["indent"], match["ticks"]
        start, body = i + 1, []
        i += 1
        while i < len(lines):
            close = FENCE.match(lines[i])
            if (close and not close["lang"] and close["ticks"] == ticks
                    and close["indent"] == indent):
                break
            line = lines[i]
            body.append(line[len(indent):] if line.startswith(indent)
                        else line.lstrip())
            i += 1
        else:
            raise ValueError(f"{path}:{start}: unclosed code fence")
        i += 1
        yield match["lang"], start + 1, "\n".join(body) + "\n"


def _python_blocks():
    blocks = []
    for path in DOC_FILES:
        index = 0
        for lang, line, code in _fenced_blocks(path):
            if lang == RUN_LANGUAGE:
                name = f"{path.relative_to(ROOT)}:block{index}:line{line}"
                blocks.append(pytest.param(name, code, id=name))
                index += 1
    return blocks


BLOCKS = _python_blocks()


def _run_block(code):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with tempfile.TemporaryDirectory(prefix="docs_block_") as workdir:
        # Keras writes its config on first import: keep it in the scratch dir.
        env.setdefault("KERAS_HOME", os.path.join(workdir, ".keras"))
        script = pathlib.Path(workdir) / "block.py"
        script.write_text(code, encoding="utf-8")
        try:
            return subprocess.run(
                [sys.executable, str(script)], cwd=workdir, env=env,
                capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as error:
            return error


@pytest.fixture(scope="module")
def block_results(request):
    """Starts every selected block at once, WORKERS at a time."""
    selected = {
        item.callspec.params["name"]: item.callspec.params["code"]
        for item in request.session.items
        if getattr(item, "function", None) is test_python_block
        and hasattr(item, "callspec")
    }
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS)
    futures = {name: pool.submit(_run_block, code)
               for name, code in selected.items()}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("name,code", BLOCKS)
def test_python_block(name, code, block_results):
    result = block_results[name].result()
    if isinstance(result, subprocess.TimeoutExpired):
        pytest.fail(f"{name} did not finish within {TIMEOUT_S} s")
    assert result.returncode == 0, (
        f"{name} failed (exit {result.returncode}).\n--- code ---\n{code}"
        f"--- stderr (last 3000 characters) ---\n{result.stderr[-3000:]}")


def test_there_are_python_blocks():
    # README's quick start at least; an extraction bug must not pass as "0".
    readme = [p for p in BLOCKS if p.values[0].startswith("README.md:")]
    assert len(readme) >= 2, "README.md has fewer python blocks than expected"


@pytest.mark.parametrize("path", DOC_FILES,
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_fence_languages(path):
    unknown = [(line, lang) for lang, line, _ in _fenced_blocks(path)
               if lang != RUN_LANGUAGE and lang not in SHOWN_LANGUAGES]
    assert not unknown, (
        f"{path.relative_to(ROOT)}: fences with languages neither run nor "
        f"known to be shown (line, language): {unknown}. Use ```python for "
        f"code that must run, ```text/```bash/```pycon for code that must not.")


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading):
    """The anchor Python-Markdown's toc extension gives a heading."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[-\s]+", "-", text).strip("-")


def _anchors(path):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # no headings in code
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.*?)\s*#*$", text,
                                         flags=re.M)}


@pytest.mark.parametrize("path", DOC_FILES,
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"),
                  flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and (
                anchor not in _anchors(resolved)):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: broken links {broken}"


# The modules of the API reference and their public names: `__all__`, or the
# top-level functions and classes not starting with an underscore.
API_MODULES = {
    "ops": "keras_gumbel/ops/__init__.py",
    "layers": "keras_gumbel/layers/__init__.py",
    "schedules": "keras_gumbel/schedules.py",
    "callbacks": "keras_gumbel/callbacks.py",
    "export": "keras_gumbel/export.py",
    "datasets": "keras_gumbel/datasets.py",
    "testing": "keras_gumbel/testing.py",
}


def _public_names(relpath):
    tree = ast.parse((ROOT / relpath).read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) == "__all__"
                        for t in node.targets)):
            return list(ast.literal_eval(node.value))
    return [node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))
            and not node.name.startswith("_")]


MKDOCS_MISSING = [m for m in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers",
                              "material")
                  if importlib.util.find_spec(m) is None]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if MKDOCS_MISSING:
        pytest.skip(f"the site needs {', '.join(MKDOCS_MISSING)}: "
                    f'pip install -e ".[docs]"')
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}")
    return out


def test_site_builds_strict(site):
    assert (site / "index.html").exists()


@pytest.mark.parametrize("module", sorted(API_MODULES))
def test_site_api_reference_is_complete(site, module):
    page = (site / "api" / module / "index.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'id="(keras_gumbel\.[\w.]+)"', page))
    missing = [name for name in _public_names(API_MODULES[module])
               if not any(i.endswith("." + name) for i in ids)]
    assert not missing, (
        f"docs/api/{module}.md documents no entry for {missing}: add them "
        f"(see the note at the top of docs/api/ops.md)")


@pytest.mark.parametrize("module", sorted(API_MODULES))
def test_site_api_reference_reads_cleanly(site, module):
    """No parameter table with an empty "Type" column (the docstrings give
    types in words), and no private class (such as the layers' base)."""
    page = (site / "api" / module / "index.html").read_text(encoding="utf-8")
    assert "<th>Type</th>" not in page
    shown = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    assert not re.findall(r"Bases:|keras_gumbel\.[\w.]*\._\w+|GumbelLayer",
                          shown)
