"""Named lookups: one registry per kind of thing (activation, loss, optimizer, ...).

A registry is a plain dict from the name used in YAML to a class or function, as
scikit-learn's ``ACTIVATIONS`` and Keras' ``activations.get()``. ``lookup`` is the one
way to read it, with an error that names the bad name and lists the valid ones.
"""

import difflib

from nncli.errors import ConfigError


def did_you_mean(word, choices):
    """' (did you mean 'x'?)' for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def lookup(registry, name, kind):
    """``registry[name]``; ConfigError naming ``kind`` and listing the valid names otherwise."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown {kind} {name!r}{did_you_mean(name, registry)}; "
                          f"choose one of: {', '.join(registry)}") from None
