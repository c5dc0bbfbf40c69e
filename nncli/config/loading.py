"""Reading a config file and applying ``--set`` overrides to it."""

import copy
from pathlib import Path

from nncli.config.schema import Config, _inner_model, to_dict, validate
from nncli.config.yaml12 import parse_yaml
from nncli.core.registry import did_you_mean
from nncli.errors import ConfigError


# --- loading ------------------------------------------------------------------------
PATH_KEYS = (("data", "path"), ("data", "validation"))


def apply_override(raw, assignment):
    """Apply one ``--set KEY=VALUE`` (dotted key, YAML value) to the dict ``raw``."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set training.learning_rate=0.1")
    parts = key.strip().split(".")
    value = parse_yaml(text, f"--set {key}")
    node, model = raw, Config
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {key}: {part!r} is not an index of {'.'.join(parts[:i])} "
                                  f"(it has {len(node)} item(s), numbered from 0)")
            index = int(part)
        else:
            allowed = list(model.model_fields) if model else []
            if model is None or part not in allowed:
                raise ConfigError(f"--set {key}: no such key {'.'.join(parts[:i + 1])!r}"
                                  f"{did_you_mean(part, allowed)}; allowed here: {', '.join(allowed)}")
            model = _inner_model(model.model_fields[part].annotation)
            index = part
            if not last and not isinstance(node.get(index), (dict, list)):
                node[index] = {}
        if last:
            node[index] = value
        else:
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"--set {key}: {'.'.join(parts[:i])} is not a mapping")
            node = node[index]
    return tuple(parts)


def load_config(path, overrides=()):
    """Read, override and validate a config file.

    Relative data paths in the file are taken relative to the file's folder; those
    given with --set, relative to the current folder.
    """
    return _load(path, overrides)[0]


def config_from_dict(raw, overrides=(), where="config"):
    """Validate a resolved config (as ``to_dict`` gives it, e.g. kept in a checkpoint),
    with ``--set`` overrides applied (their relative data paths taken from the current folder)."""
    raw = copy.deepcopy(raw)
    for assignment in overrides:
        parts = apply_override(raw, assignment)
        if parts[0] == "data":
            _resolve_paths(raw["data"], Path.cwd(), only=parts[1:2])
    return validate(raw, where)


def load_config_with_sources(path, overrides=()):
    """(config, sources): the config as :func:`load_config` gives it, and each of its values
    with where it came from: ``{"training.epochs": {"value": 200, "source": "file"}, ...}``,
    the source being ``"default"``, ``"file"`` or ``"--set"``."""
    config, in_file, set_keys = _load(path, overrides)
    sources = {}
    for key, value in _leaves(to_dict(config)):
        if any(key == s or s.startswith(key + ".") or key.startswith(s + ".") for s in set_keys):
            source = "--set"
        else:
            source = "file" if _has(in_file, key.split(".")) else "default"
        sources[key] = {"value": value, "source": source}
    return config, sources


def _leaves(value, prefix=""):
    """(dotted key, value) of the leaves of nested dicts and lists of dicts; a list of
    plain values (data.features) is one leaf."""
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        items = enumerate(value)
    else:
        return [(prefix, value)]
    return [leaf for k, v in items for leaf in _leaves(v, f"{prefix}.{k}" if prefix else str(k))]


def _has(raw, parts):
    for part in parts:
        if isinstance(raw, list) and part.isdigit() and int(part) < len(raw):
            raw = raw[int(part)]
        elif isinstance(raw, dict) and part in raw:
            raw = raw[part]
        else:
            return False
    return True


def _load(path, overrides):
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise ConfigError(f"config file {where} does not exist; check the path")
    if path.is_dir():
        raise ConfigError(f"config file {where} is a directory; give the path of a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {where}: {exc.strerror or exc}; check its permissions") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {where} is not UTF-8 text (bad byte at offset {exc.start}); "
                          "save it as UTF-8") from None
    raw = parse_yaml(text, where)
    in_file = copy.deepcopy(raw)
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        _resolve_paths(raw["data"], path.parent)
    set_keys = []
    for assignment in overrides:
        if not isinstance(raw, dict):
            break
        parts = apply_override(raw, assignment)
        set_keys.append(".".join(parts))
        if parts[0] == "data":
            _resolve_paths(raw["data"], Path.cwd(), only=parts[1:2])
    return validate(raw, where), in_file, set_keys


def _resolve_paths(data, base, only=None):
    for _, key in PATH_KEYS:
        if only is not None and key not in only:
            continue
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            data[key] = str((base / value).resolve()) if not Path(value).is_absolute() else value
