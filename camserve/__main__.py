# -*- test-case-name: tests.test_running -*-
"""
C{python -m camserve}: the server, for people who do not use twistd.
"""

from __future__ import annotations

import sys

from twisted.python import usage

from camserve.tap import Options, makeService


def main(argv: list[str] | None = None) -> None:
    """
    Parse options, serve until interrupted, and exit non-zero with one line
    on a bad option or a port that cannot be had.
    """
    from twisted.internet import reactor  # noqa: PLC0415
    from twisted.logger import globalLogBeginner, textFileLogObserver  # noqa: PLC0415

    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as error:
        raise SystemExit(f"camserve: {error}") from None

    service = makeService(options)
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    service.privilegedStartService()
    service.startService()
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()


if __name__ == "__main__":
    main()
