"""The command line's entry point sets up Ctrl-C handling itself, before its modules load;
importing the library changes nothing (no signal handler, no engine modules loaded)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import dealersync


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, check=False)


def test_importing_dealersync_leaves_ctrl_c_alone_and_loads_nothing_heavy() -> None:
    done = _python("""
        import signal, sys
        sys.argv[0] = "dealersync"  # even when the process looks like the command line
        import dealersync
        print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        print(sorted(m for m in ("duckdb", "pydantic", "requests", "dealersync.connectors") if m in sys.modules))
        print(dealersync.Source.__name__, "Source" in dealersync.__all__)  # the public names still resolve
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["True", "[]", "Source True"]


def test_ctrl_c_while_the_command_modules_load_exits_130_quietly() -> None:
    # a Ctrl-C arrives just as the command modules start to load
    done = _python("""
        import os, signal, sys

        class CtrlC:
            def find_spec(self, name, path=None, target=None):
                if name == "dealersync.cli":
                    os.kill(os.getpid(), signal.SIGINT)
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = ["dealersync", "--version"]
        from dealersync.__main__ import main
        main()
    """)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "")


def test_the_entry_point_runs_a_command() -> None:
    done = subprocess.run([sys.executable, "-m", "dealersync", "--version"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.startswith("dealersync, version"), done.stderr


def test_the_public_names_are_those_the_type_checkers_see() -> None:
    """``_PUBLIC`` (what loads at run time) and the ``TYPE_CHECKING`` imports (what type checkers
    and editors see) list the same names from the same modules."""
    tree = ast.parse(Path(dealersync.__file__).read_text(encoding="utf-8"))
    [block] = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    seen = {(node.module, alias.name) for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    public = {(module, name) for module, names in dealersync._PUBLIC.items() for name in names}
    assert seen == public
    assert set(dealersync.__all__) == {name for _, name in public} | {"__version__"}
