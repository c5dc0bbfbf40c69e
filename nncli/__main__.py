"""The ``nncli`` command: the console script and ``python -m nncli``.

Ctrl-C or SIGTERM while the modules load (about a quarter of a second) ends the
command as it would later: "error: interrupted", exit code 130, no traceback.
"""

import signal
import sys


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main():
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from nncli.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        exec("")  # clears CPython's unhandled-interrupt flag, as nncli.cli._interrupted explains
        sys.exit(130)
    run()


if __name__ == "__main__":
    main()
