"""What people see: charts, the live display, tables. The only package that imports rich."""


def console(stderr=False, **options):
    """A rich Console on stdout (results) or stderr (progress, warnings); ``options`` as rich's.

    Emoji codes are off: a column named ``:x:`` is printed as spelled (and rich's table of
    emoji codes is not loaded).
    """
    from rich.console import Console

    return Console(stderr=stderr, **{"emoji": False, **options})
