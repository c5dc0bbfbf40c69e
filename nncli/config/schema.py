"""The config's schema (pydantic) and its error messages.

Errors name the key path (``training.learning_rate``) and what is allowed, with a
"did you mean" suggestion for misspelt keys and values.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from nncli.core.activations import ACTIVATIONS
from nncli.core.initializers import INITIALIZERS
from nncli.core.losses import LOSSES, check_pairing, get_loss
from nncli.core.optimizers import OPTIMIZERS
from nncli.core.registry import did_you_mean
from nncli.errors import ConfigError


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


# Pydantic's type errors, in words: "expected an integer, got '100x'".
_EXPECTED = {"int_parsing": "an integer", "int_type": "an integer", "int_from_float": "an integer",
             "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
             "bool_type": "true or false", "string_type": "text", "list_type": "a list",
             "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping"}


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
    if kind in _EXPECTED:
        return f"{path}: expected {_EXPECTED[kind]}, got {err['input']!r}"
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


def validate(raw, where="config", overridden=()):
    """Turn a plain dict into a Config, or raise ConfigError listing every problem.

    ``overridden``: the key paths (tuples) set with --set; a problem there is said to be
    the option's, not the file's.
    """
    if raw is None:
        raise ConfigError(f"{where} is empty; it needs the sections data, model, loss and training")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a YAML mapping (key: value), not a {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        errors = _without_misspelt_required(exc.errors())
        problems = [_blamed(e, overridden) for e in errors]
        from_set = any(by_set for by_set, _ in problems)
        if len(problems) == 1:
            raise ConfigError(problems[0][1] if from_set else f"{where}: {problems[0][1]}") from None
        header = f"{len(problems)} problems in {where} and --set" if from_set else f"{where} has {len(problems)} problems"
        lines = [p if by_set or not from_set else f"{where}: {p}" for by_set, p in problems]
        raise ConfigError(header + ":\n" + "\n".join(f"  - {p}" for p in lines)) from None


def _without_misspelt_required(errors):
    """The errors without "x is required" where an unknown key beside it is x misspelt:
    ``learnin_rate`` is one mistake, reported once (as the unknown key, with "did you mean")."""
    unknown = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]

    def misspelt(loc):
        return any(u[:-1] == loc[:-1] and did_you_mean(u[-1], [loc[-1]]) for u in unknown)

    return [e for e in errors if not (e["type"] == "missing" and e["loc"] and misspelt(e["loc"]))]


def _blamed(err, overridden):
    """(whether a --set made the error, its message), the message starting "--set KEY" if so."""
    message = _format_error(err)
    loc = [str(p) for p in err["loc"]]
    for parts in overridden:
        if loc[:len(parts)] == list(parts):
            key = ".".join(parts)
            return True, f"--set {message}" if message.startswith(key) else f"--set {key}: {message}"
    return False, message


def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (stored in the model file)."""
    return config.model_dump(mode="json")
