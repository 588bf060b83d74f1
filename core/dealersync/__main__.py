"""The command line's entry point: the ``dealersync`` console script and ``python -m dealersync``.

Ctrl-C handling comes first, before the command modules load (importing them takes a moment): a
Ctrl-C meanwhile ends quietly with exit 130, as one during a run does (:mod:`dealersync.interrupts`).
"""

from dealersync import interrupts


def main() -> None:
    interrupts.exit_quietly_on_ctrl_c()
    from dealersync.cli import main as run_command  # loaded with Ctrl-C handled

    run_command()


if __name__ == "__main__":
    main()
