"""Every hook is documented and tested (the Datasette rule)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from core import hookspecs

TESTS = Path(__file__).parent
HOOKS = sorted(n for n, f in vars(hookspecs).items()
               if n.startswith("daihoi_") and inspect.isfunction(f))


def test_there_are_hooks():
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring(name):
    doc = inspect.getdoc(getattr(hookspecs, name))
    assert doc and len(doc) > 30, f"hookspec {name} needs a docstring"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_implemented_by_the_example_plugin(name):
    from tests import example_plugin

    assert hasattr(example_plugin, name), f"tests/example_plugin.py must implement {name}"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name):
    """A test named test_<hook without daihoi_> exists in tests/test_plugins.py."""
    text = (TESTS / "test_plugins.py").read_text()
    wanted = "def test_" + name.removeprefix("daihoi_")
    assert wanted in text, f"tests/test_plugins.py needs {wanted}"


def test_docs_mention_every_hook():
    text = (TESTS.parent / "docs" / "plugins.md").read_text()
    missing = [h for h in HOOKS if h not in text]
    assert not missing, f"docs/plugins.md does not describe {missing}"
