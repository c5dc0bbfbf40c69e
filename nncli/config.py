"""The YAML config: its schema, its loading and the --set overrides.

Errors name the key path (``training.learning_rate``) and what is allowed, with a
"did you mean" suggestion for misspelt keys and values.
"""

import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nncli.activations import ACTIVATIONS
from nncli.errors import ConfigError
from nncli.initializers import INITIALIZERS
from nncli.losses import LOSSES, check_pairing, get_loss
from nncli.optimizers import OPTIMIZERS


# --- YAML 1.2 scalars -------------------------------------------------------------
class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's core schema for booleans and numbers.

    PyYAML implements YAML 1.1, where ``1e-3`` is a string and ``no`` is False; in
    YAML 1.2 (and in every user's expectation) ``1e-3`` is a number and ``no`` a string.
    A key given twice in a mapping is an error, as YAML says; PyYAML keeps the last.
    """

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys from a merge (<<) may be overridden
            key = key_node.value
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {first_line[key]}); remove one",
                    key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
# Decimal integers only: YAML 1.1 would read 012 as octal.
_Yaml12Loader.add_constructor(
    "tag:yaml.org,2002:int", lambda loader, node: int(loader.construct_scalar(node)))


def parse_yaml(text, where):
    """Parse one YAML document safely (no Python object tags); ConfigError on bad YAML."""
    loader = _Yaml12Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at}: {problem}") from None
    finally:
        loader.dispose()


def did_you_mean(word, choices):
    """' (did you mean 'x'?)' for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _choice(value, allowed, what):
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}{did_you_mean(value, allowed)}; "
                         f"choose one of: {', '.join(allowed)}")
    return value


# --- schema -------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    path: str
    target: str
    features: list[str] | None = None
    validation: float | str = 0.2
    standardize: bool = True
    standardize_target: bool = True
    categorical: list[str] = Field(default_factory=list)
    missing: Literal["error", "drop"] = "error"

    @field_validator("validation")
    @classmethod
    def _fraction_or_path(cls, v):
        if isinstance(v, float) and not 0 <= v < 1:
            raise ValueError(f"must be a fraction in [0, 1) or a path to a CSV file (got {v})")
        return v

    @field_validator("missing", mode="before")
    @classmethod
    def _missing(cls, v):
        return _choice(v, ["error", "drop"], "missing policy")

    @field_validator("features", "categorical")
    @classmethod
    def _each_column_once(cls, v):
        twice = next((name for i, name in enumerate(v or []) if name in v[:i]), None)
        if twice is not None:
            raise ValueError(f"column {twice!r} is listed twice; remove one")
        return v

    @model_validator(mode="after")
    def _target_is_not_a_feature(self):
        for key in ("features", "categorical"):
            if self.target in (getattr(self, key) or []):
                raise ValueError(f"the target {self.target!r} is also in data.{key}; remove it from there "
                                 "(the loss decides how the target is encoded)")
        return self


class LayerConfig(_Strict):
    units: int = Field(gt=0)
    activation: str
    alpha: float | None = Field(default=None, allow_inf_nan=False)

    @field_validator("activation")
    @classmethod
    def _activation(cls, v):
        return _choice(v, list(ACTIVATIONS), "activation")

    @model_validator(mode="after")
    def _alpha_only_for_leaky(self):
        if self.alpha is not None and self.activation != "leaky_relu":
            raise ValueError(f"alpha applies to leaky_relu only, not {self.activation}")
        if self.activation == "leaky_relu" and self.alpha is None:
            self.alpha = 0.01
        return self


class ModelConfig(_Strict):
    layers: list[LayerConfig] = Field(min_length=1)
    init: str | None = None

    @field_validator("init")
    @classmethod
    def _init(cls, v):
        return v if v is None else _choice(v, list(INITIALIZERS), "init")


class EarlyStoppingConfig(_Strict):
    patience: int = Field(gt=0)
    min_delta: float = Field(default=0.0, ge=0, allow_inf_nan=False)


class TrainingConfig(_Strict):
    learning_rate: float = Field(gt=0, allow_inf_nan=False)
    epochs: int = Field(gt=0)
    batch_size: int | Literal["full"] = 32
    optimizer: str = "sgd"
    seed: int = Field(default=0, ge=0)  # numpy's SeedSequence takes non-negative integers
    dtype: str = "float32"
    early_stopping: EarlyStoppingConfig | None = None

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, v):
        if v == "full" or (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            return v
        raise ValueError(f"must be a positive integer or 'full' (got {v!r})")

    @field_validator("optimizer")
    @classmethod
    def _optimizer(cls, v):
        return _choice(v, list(OPTIMIZERS), "optimizer")

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, v):
        return _choice(v, ["float32", "float64"], "dtype")


class Config(_Strict):
    data: DataConfig
    model: ModelConfig
    loss: str
    training: TrainingConfig

    @field_validator("loss")
    @classmethod
    def _loss(cls, v):
        return _choice(v, list(LOSSES), "loss")

    @model_validator(mode="after")
    def _layers_fit_loss(self):
        layers = self.model.layers
        for i, layer in enumerate(layers[:-1]):
            if layer.activation == "softmax":
                raise ValueError(f"model.layers.{i}: softmax is allowed only in the output (last) layer")
        try:
            check_pairing(get_loss(self.loss), layers[-1].activation, layers[-1].units)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


# --- error messages -------------------------------------------------------------------
def _dotted(loc):
    return ".".join(str(part) for part in loc)


def _format_error(err):
    loc = tuple(p for p in err["loc"] if not str(p).startswith(("function-", "literal[")))
    # A union (int | 'full') reports its branch as the last location part; drop it.
    loc = tuple(p for p in loc if p not in ("int", "float", "str", "bool", "list[str]"))
    path, kind = _dotted(loc), err["type"]
    if kind == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        allowed = _fields_at(parent)
        where = f" in {_dotted(parent)}" if parent else " at the top level"
        return f"unknown key {key!r}{where}{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"{path} is required but missing"
    msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    msg = msg.replace("Input should be", "must be")
    got = "" if kind in ("value_error",) else f" (got {err['input']!r})"
    return f"{path}: {msg}{got}" if path else f"{msg}"


def _fields_at(loc):
    """The keys allowed in the mapping at ``loc`` (e.g. ('training',))."""
    model = _model_at(loc)
    return list(model.model_fields) if model else []


def _model_at(loc):
    model = Config
    for part in loc:
        if isinstance(part, int) or str(part).isdigit():
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
        if model is None:
            return None
    return model


def _inner_model(annotation):
    """The BaseModel class inside an annotation like X, X | None or list[X], or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def validate(raw, where="config"):
    """Turn a plain dict into a Config, or raise ConfigError listing every problem."""
    if raw is None:
        raise ConfigError(f"{where} is empty; it needs the sections data, model, loss and training")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a YAML mapping (key: value), not a {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = [_format_error(e) for e in exc.errors()]
        if len(problems) == 1:
            raise ConfigError(f"{where}: {problems[0]}") from None
        raise ConfigError(f"{where} has {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems)) from None


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
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        _resolve_paths(raw["data"], path.parent)
    for assignment in overrides:
        if not isinstance(raw, dict):
            break
        parts = apply_override(raw, assignment)
        if parts[0] == "data":
            _resolve_paths(raw["data"], Path.cwd(), only=parts[1:2])
    return validate(raw, where)


def _resolve_paths(data, base, only=None):
    for _, key in PATH_KEYS:
        if only is not None and key not in only:
            continue
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            data[key] = str((base / value).resolve()) if not Path(value).is_absolute() else value


def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (stored in the model file)."""
    return config.model_dump(mode="json")


def to_yaml(config_dict) -> str:
    """Render a config dict as YAML text (for --write-config and the like)."""
    return yaml.safe_dump(config_dict, sort_keys=False)
