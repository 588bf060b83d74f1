"""The command line as documented is the command line as built.

* docs/cli.md has a section per command (``## dealersync segments show``) whose option table
  lists exactly the options the command takes;
* the README synopsis names every command, and every option it shows exists;
* every ``dealersync ...`` command written in the README, docs/ and the bundled plugins' READMEs
  (in backticks or at the start of a code-block line) names a command that exists, with options
  that command takes.

A command added without documentation fails here; so does documentation left behind by a
renamed or removed option.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from dealersync.cli import cli

ROOT = Path(__file__).parents[1]
CLI_MD = ROOT / "docs" / "cli.md"
README = ROOT / "README.md"
GLOBAL_OPTIONS = {"--debug", "--version", "--help"}
OPTION = re.compile(r"--[a-z][a-z0-9-]*")


def leaf_commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    """Every runnable command by its words after ``dealersync``."""
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= leaf_commands(command, (*path, name))
        else:
            found[(*path, name)] = command
    return found


def options_of(command: click.Command) -> set[str]:
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    }


COMMANDS = leaf_commands()


def test_the_parser_has_commands() -> None:
    assert len(COMMANDS) >= 20 and ("sync",) in COMMANDS and ("suppress", "add") in COMMANDS


# ----------------------------------------------------------------------------- docs/cli.md


def cli_md_sections() -> dict[tuple[str, ...], str]:
    sections: dict[tuple[str, ...], str] = {}
    for chunk in re.split(r"^## ", CLI_MD.read_text(), flags=re.M)[1:]:
        heading, _, body = chunk.partition("\n")
        words = heading.split()
        assert words[0] == "dealersync", f"docs/cli.md: section {heading!r} is not a command"
        sections[tuple(words[1:])] = body
    return sections


def documented_options(body: str) -> set[str]:
    """The options in the first cell of each row of a section's option table."""
    cells = [line.split("|")[1] for line in body.splitlines() if line.startswith("| `")]
    return {opt for cell in cells for opt in OPTION.findall(cell)}


def test_cli_md_has_a_section_for_every_command_and_no_other() -> None:
    sections = cli_md_sections()
    missing = sorted(" ".join(c) for c in COMMANDS if c not in sections)
    stale = sorted(" ".join(s) for s in sections if s not in COMMANDS)
    assert not missing, f"commands without a '## dealersync ...' section in docs/cli.md: {missing}"
    assert not stale, f"docs/cli.md documents commands that do not exist: {stale}"


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_cli_md_lists_exactly_the_options_of(words: tuple[str, ...]) -> None:
    body = cli_md_sections().get(words)
    assert body is not None, f"docs/cli.md has no section '## dealersync {' '.join(words)}'"
    real, documented = options_of(COMMANDS[words]), documented_options(body)
    assert real - documented == set(), f"dealersync {' '.join(words)}: options missing from docs/cli.md"
    assert documented - real == set(), f"dealersync {' '.join(words)}: docs/cli.md lists options it does not take"


# -------------------------------------------------------------------------- README synopsis


def synopsis() -> list[str]:
    """The README's command list: one entry per ``dealersync`` line, continuation lines joined,
    comments dropped."""
    block = re.search(r"```\n(dealersync sync .*?)```", README.read_text(), flags=re.S)
    assert block is not None, "README.md: no code block starting with 'dealersync sync' (the synopsis)"
    entries: list[str] = []
    for line in block.group(1).splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("dealersync "):
            entries.append(line)
        elif line:
            entries[-1] += " " + line
    return entries


def test_readme_synopsis_names_every_command() -> None:
    entries = synopsis()
    top = {entry.split()[1] for entry in entries}
    assert top == set(cli.commands), (
        f"README synopsis: missing {sorted(set(cli.commands) - top)}, stale {sorted(top - set(cli.commands))}"
    )
    for words in COMMANDS:
        if len(words) > 1:
            group_entries = " ".join(e for e in entries if e.split()[1] == words[0])
            assert re.search(rf"\b{re.escape(words[-1])}\b", group_entries), (
                f"README synopsis does not name 'dealersync {' '.join(words)}'"
            )


@pytest.mark.parametrize("entry", synopsis(), ids=lambda e: " ".join(e.split()[:3]))
def test_readme_synopsis_options_exist(entry: str) -> None:
    assert_command_line_exists(entry, "README synopsis")


# ------------------------------------------------------------ every command the docs mention


def documented_command_lines() -> list[tuple[str, str]]:
    """(file, text) of every ``dealersync ...`` in backticks or starting a code-block line."""
    files = [README, *sorted((ROOT / "docs").glob("*.md")), *sorted(ROOT.glob("plugins/*/README.md"))]
    found = []
    for path in files:
        text = path.read_text()
        spans = re.findall(r"(?<!`)`(dealersync [^`\n]+)`", text)
        for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M):
            spans += re.findall(r"^\s*(?:\$ )?(dealersync [a-z].*)$", block, flags=re.M)
        found += [(str(path.relative_to(ROOT)), s.split("  #")[0].split(" && ")[0]) for s in spans]
    return found


def assert_command_line_exists(line: str, where: str) -> None:
    """``line`` starts with ``dealersync`` and names an existing command; each ``--option`` in
    it belongs to the command it follows (a group's alternatives ``a ... | b ...`` each)."""
    words = line.replace("[", " ").replace("]", " ").replace("|", " | ").split()
    assert words[0] == "dealersync"
    group: click.Command = cli
    command: click.Command | None = None
    options = set(GLOBAL_OPTIONS)
    for word in words[1:]:
        if isinstance(group, click.Group) and word in group.commands:
            command = group.commands[word]
            if isinstance(command, click.Group):
                group = command
            options = options_of(command) | GLOBAL_OPTIONS
        elif word.startswith("--"):
            option = OPTION.match(word)
            assert option is not None and option.group() in options, (
                f"{where}: `{line}`: {word} is not an option of"
                f" dealersync {command.name if command else ''}"
            )
        elif (command is None or isinstance(command, click.Group)) and re.fullmatch(r"[a-z][a-z-]*", word):
            # a word right after dealersync or a group must be a command: `suppress bogus` is not
            pytest.fail(f"{where}: `{line}`: dealersync {command.name + ' ' if command else ''}has no command {word!r}")


def test_the_docs_mention_commands_to_check() -> None:
    assert len(documented_command_lines()) >= 50 and len(synopsis()) >= 10  # the checks below are not vacuous


def test_an_unknown_word_after_a_group_is_caught() -> None:
    with pytest.raises(pytest.fail.Exception, match="dealersync suppress has no command 'bogus'"):
        assert_command_line_exists("dealersync suppress bogus", "here")
    with pytest.raises(pytest.fail.Exception, match="dealersync has no command 'bogus'"):
        assert_command_line_exists("dealersync bogus", "here")
    with pytest.raises(AssertionError, match="--nope is not an option of dealersync sync"):
        assert_command_line_exists("dealersync sync --nope", "here")


@pytest.mark.parametrize("where,line", documented_command_lines())
def test_documented_command_exists(where: str, line: str) -> None:
    assert_command_line_exists(line, where)
