"""A Griffe extension for the API reference: Keras-style docstring sections.

The package's docstrings follow Keras and put an example's `>>>` lines at the
same indentation as the `Example:` title. Griffe's Google-style parser only
reads a section whose content is indented under its title, so those examples
would render as nested Markdown quotes (`>>>`). This extension indents such
an example, up to the next section title, and names the section `Examples:`
(Griffe reads a singular `Example:` as a plain admonition, not as code),
before Griffe parses the docstring. Anything else is left as it is.

It also turns the items of a Keras `Call arguments:` section into a list
(see `list_call_arguments`).
"""

import re

import griffe

_EXAMPLE_TITLE = re.compile(r"Examples?:\s*")
_SECTION_TITLE = re.compile(r"[A-Z][A-Za-z ]*:\s*")


def indent_examples(text):
    """Returns `text` with each doctest example section indented.

    Only a section whose first line starts with `>>>` at the title's
    indentation changes: every line of it moves 4 spaces right (keeping the
    relative indentation) and its title becomes `Examples:`. Sections already
    indented, and fenced code (which Markdown renders as it is), are left
    alone.
    """
    out, state, title = [], None, None  # state: None, "title", "indent", "keep"
    for line in text.split("\n"):
        if _EXAMPLE_TITLE.fullmatch(line):
            state, title = "title", len(out)
        elif state and _SECTION_TITLE.fullmatch(line):
            state = None
        elif state == "title" and line.strip():
            state = "indent" if line.startswith(">>>") else "keep"
            if state == "indent":
                out[title] = "Examples:"
        if state == "indent" and line.strip():
            line = "    " + line
        out.append(line)
    return "\n".join(out)


_CALL_ARGUMENTS = re.compile(r"Call arguments:\s*")
_ITEM = re.compile(r"(\s+)(\w+): (.*)")


def list_call_arguments(text):
    """Turns the items of a Keras `Call arguments:` section into a list.

    Griffe has no such section and renders it as an admonition whose lines
    run together; `name: description` items become Markdown list items.
    """
    out, indent = [], None  # indent: of the items, inside the section
    for line in text.split("\n"):
        if _CALL_ARGUMENTS.fullmatch(line):
            indent = ""
        elif indent is not None and line.strip() and not line[0].isspace():
            indent = None  # the next section
        elif indent is not None and (match := _ITEM.fullmatch(line)):
            if indent in ("", match[1]):
                indent = match[1]
                line = f"{indent}- `{match[2]}`: {match[3]}"
        out.append(line)
    return "\n".join(out)


class KerasStyleDocstrings(griffe.Extension):
    """Indents Keras-style examples so they parse as Examples sections, and
    lists the items of `Call arguments:` sections."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = list_call_arguments(
                indent_examples(obj.docstring.value))
