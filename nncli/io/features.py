"""Encoded feature names and kinds from column descriptions (plain Python: no pandas).

A numeric column gives one feature named after it; a categorical column one
``name=category`` per category; a column with a missing-value indicator is followed
by the 0/1 feature ``name.missing``.
"""


def feature_names(columns):
    """Encoded feature names: the numeric columns, ``name=category`` per category, and
    ``name.missing`` after a column with a missing-value indicator."""
    return [name for name, _ in encoded_features(columns)]


def feature_kinds(columns):
    """What each encoded feature is: "numeric", "one-hot" or "indicator"."""
    return [kind for _, kind in encoded_features(columns)]


def encoded_features(columns):
    """(name, kind) of each encoded feature, in the order of the columns of X."""
    out = []
    for c in columns:
        if c["kind"] == "numeric":
            out.append((c["name"], "numeric"))
        else:
            out += [(f"{c['name']}={v}", "one-hot") for v in c["categories"]]
        if c.get("indicator"):
            out.append((indicator_name(c["name"]), "indicator"))
    return out


def indicator_name(column):
    """The name of a column's missing-value indicator feature."""
    return f"{column}.missing"
