"""What people see: charts, the live display, tables. The only package that imports rich."""


def console(stderr=False, **options):
    """A rich Console on stdout (results) or stderr (progress, warnings); ``options`` as rich's."""
    from rich.console import Console

    return Console(stderr=stderr, **options)
