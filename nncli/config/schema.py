"""The config's schema (pydantic) and its error messages.

Errors name the key path (``training.learning_rate``) and what is allowed, with a
"did you mean" suggestion for misspelt keys and values.
"""

import math
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
SCALINGS = ("standard", "robust", "none")


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
    missing: Literal["error", "drop", "impute"] = "error"
    # Preprocessing learnt on the training split and stored in the model file (README: "Preprocessing").
    scaling: Literal["standard", "robust", "none"] | None = None  # None: from `standardize`
    clip: bool | float = False       # true: c = 3; a number: c; smooth clipping of scaled numeric inputs
    impute: Literal["mean", "median", "most_frequent"] | None = None  # numeric columns; default median
    missing_indicator: bool = False  # one 0/1 feature `name.missing` per column with missing training values
    target_transform: Literal["none", "log1p"] = "none"  # mse only
    stratify: bool | None = None     # None: true for classification (set by Config)
    weight: str | None = None        # a column of sample weights (numeric, finite, >= 0)

    @field_validator("validation")
    @classmethod
    def _fraction_or_path(cls, v):
        if isinstance(v, float) and not 0 <= v < 1:
            raise ValueError(f"must be a fraction in [0, 1) or a path to a CSV file (got {v})")
        return v

    @field_validator("missing", mode="before")
    @classmethod
    def _missing(cls, v):
        return _choice(v, ["error", "drop", "impute"], "missing policy")

    @field_validator("scaling", mode="before")
    @classmethod
    def _scaling(cls, v):
        return v if v is None else _choice(v, list(SCALINGS), "scaling")

    @field_validator("impute", mode="before")
    @classmethod
    def _impute(cls, v):
        return v if v is None else _choice(v, ["mean", "median", "most_frequent"], "impute strategy")

    @field_validator("target_transform", mode="before")
    @classmethod
    def _target_transform(cls, v):
        return _choice(v, ["none", "log1p"], "target_transform")

    @field_validator("clip", mode="before")
    @classmethod
    def _clip(cls, v):
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float)) and math.isfinite(v) and v > 0:
            return float(v)
        raise ValueError(f"must be true, false or a positive number c (got {v!r})")

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
        if self.weight is not None:
            if self.weight == self.target:
                raise ValueError(f"data.weight {self.weight!r} is the target; name a column of sample weights")
            for key in ("features", "categorical"):
                if self.weight in (getattr(self, key) or []):
                    raise ValueError(f"data.weight {self.weight!r} is also in data.{key}; a weight column is "
                                     "not a feature: remove it from there")
        return self

    @model_validator(mode="after")
    def _scaling_agrees_with_standardize(self):
        """``standardize`` is the older key: true = scale the features, false = scaling: none."""
        if self.scaling is None:
            self.scaling = "standard" if self.standardize else "none"
        elif "standardize" in self.model_fields_set and self.standardize != (self.scaling != "none"):
            raise ValueError(f"data.standardize: {str(self.standardize).lower()} contradicts data.scaling: "
                             f"{self.scaling}; remove data.standardize (data.scaling replaces it)")
        self.standardize = self.scaling != "none"
        return self

    @model_validator(mode="after")
    def _impute_options_need_impute(self):
        if self.missing != "impute":
            for key, unset in (("impute", None), ("missing_indicator", False)):
                if getattr(self, key) != unset:
                    raise ValueError(f"data.{key} applies only with data.missing: impute "
                                     f"(data.missing is {self.missing}); set data.missing: impute")
        elif self.impute is None:
            self.impute = "median"
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

    @model_validator(mode="after")
    def _data_options_fit_loss(self):
        data, regression = self.data, self.loss == "mse"
        if data.target_transform != "none" and not regression:
            raise ValueError(f"data.target_transform: {data.target_transform} applies to regression (loss mse) "
                             f"only, not {self.loss}; remove it")
        if data.stratify and regression:
            raise ValueError("data.stratify applies to classification only (the classes are kept in "
                             "proportion); remove it for loss mse")
        if data.stratify is None:
            data.stratify = not regression
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


def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (stored in the model file)."""
    return config.model_dump(mode="json")
