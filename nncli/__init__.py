"""nncli: train fully-connected neural networks written in NumPy from YAML config files.

The Python API (``nncli.load_model``, ``nncli.train``, ``nncli.Model``) lives in
``nncli.api`` and is loaded on first use, so that ``import nncli`` (and ``nncli --help``)
loads neither NumPy nor pandas.
"""

__version__ = "0.1.0"
__all__ = ["Model", "load_model", "train"]


def __getattr__(name):
    if name in __all__:
        from nncli import api

        return getattr(api, name)
    raise AttributeError(f"module 'nncli' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
