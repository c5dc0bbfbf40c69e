"""What kind of file a path holds — a model, a config, CSV data — told from its content.

Used on error paths only, to say "m.npz is a model file, not a YAML config" instead of
"not UTF-8 text" when a file is given in the wrong place; the happy path never reads
a file twice.
"""

from pathlib import Path

HEAD = 65536  # bytes looked at
CONFIG_KEYS = {"data", "model", "loss", "training"}


def kind_of(path, head=None):
    """``'model'``, ``'config'``, ``'csv'`` or ``'other'``: what the file at ``path`` looks like.

    ``head``: the file's first bytes, if already read (stdin cannot be read again).
    A model is an .npz (a zip archive: ``PK``); a config is a YAML mapping with any of the
    sections data, model, loss, training, or text in a .yaml/.yml file; CSV is text whose
    first line holds a comma.
    """
    if head is None:
        try:
            with open(path, "rb") as f:
                head = f.read(HEAD)
        except (OSError, TypeError, ValueError):
            return "other"
    if head.startswith(b"PK"):
        return "model"
    text = head.decode("utf-8", errors="ignore") if b"\0" not in head else ""
    if not text.strip():
        return "other"
    if _yaml_sections(text) & CONFIG_KEYS or Path(str(path)).suffix.lower() in (".yaml", ".yml"):
        return "config"
    return "csv" if "," in text.lstrip("\ufeff").splitlines()[0] else "other"


def _yaml_sections(text):
    """The top-level keys of ``text`` read as YAML, or an empty set."""
    import yaml

    try:
        raw = yaml.safe_load(text)
    except Exception:  # any text that is not YAML (or is cut off by HEAD)
        return set()
    return {k for k in raw if isinstance(k, str)} if isinstance(raw, dict) else set()
