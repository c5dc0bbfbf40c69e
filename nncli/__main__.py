"""The ``nncli`` command: the console script and ``python -m nncli``.

Ctrl-C and SIGTERM end every command the same way, from the moment its modules start
loading: "error: ..." on stderr, exit code 130, no traceback (``nncli.cli`` says what
was interrupted; here, anything before it could).
"""

import sys


def main():
    try:
        from nncli import interrupts

        interrupts.install()  # SIGTERM as Ctrl-C: temporary files and workers are cleaned up
        from nncli.cli import main as run

        run()
    except KeyboardInterrupt:  # while the modules load, before nncli.cli handles it
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    finally:
        # A Ctrl-C that escaped an exec() of a string (dataclasses builds methods so, while
        # a module imports) sets a flag in CPython that makes `python -m nncli` end by
        # SIGINT (returncode -2) whatever the exit code; running a string clears it again.
        exec("")


if __name__ == "__main__":
    main()
