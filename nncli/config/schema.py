"""The config's schema (pydantic) and its error messages.

Errors name the key path (``training.learning_rate``) and what is allowed, with a
"did you mean" suggestion for misspelt keys and values.
"""

import math
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_serializer, model_validator)

from nncli.core.activations import ACTIVATIONS
from nncli.core.initializers import INITIALIZERS
from nncli.core.losses import LOSSES, check_pairing, get_loss
from nncli.core.optimizers import OPTIMIZERS
from nncli.core.registry import did_you_mean
from nncli.core.schedules import SCHEDULES
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
    dropout: float = Field(default=0.0, ge=0, lt=1)  # fraction of this layer's outputs dropped in training

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


# The parameters of each schedule, with their defaults (None: required).
SCHEDULE_PARAMS = {
    "constant": {},
    "step": {"step_size": None, "gamma": 0.1},
    "cosine": {"min_lr": 0.0},
    "flat_cos": {"flat_fraction": 0.5, "min_lr": 0.0},
    "reduce_on_plateau": {"factor": 0.5, "patience": 10, "min_lr": 0.0},
}


class ScheduleConfig(_Strict):
    """training.schedule: a name, or a mapping {name, warmup_epochs, <the schedule's parameters>}."""

    name: str = "constant"
    warmup_epochs: int = Field(default=0, ge=0)
    step_size: int | None = Field(default=None, gt=0)
    gamma: float | None = Field(default=None, gt=0, le=1)
    min_lr: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    flat_fraction: float | None = Field(default=None, ge=0, lt=1)
    factor: float | None = Field(default=None, gt=0, lt=1)
    patience: int | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, v):
        return {"name": v} if isinstance(v, str) else v

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return _choice(v, list(SCHEDULES), "schedule")

    @model_validator(mode="after")
    def _parameters_of_the_schedule(self):
        own = SCHEDULE_PARAMS[self.name]
        for key in [k for k in SCHEDULE_PARAMS["reduce_on_plateau"] | SCHEDULE_PARAMS["step"]
                    | SCHEDULE_PARAMS["flat_cos"] if getattr(self, k) is not None and k not in own]:
            users = [name for name, params in SCHEDULE_PARAMS.items() if key in params]
            raise ValueError(f"{key} is a parameter of schedule {' and '.join(users)}, not {self.name}; remove it")
        for key, default in own.items():
            if getattr(self, key) is None:
                if default is None:
                    raise ValueError(f"schedule {self.name} needs {key}, e.g. {{name: {self.name}, {key}: 30}}")
                setattr(self, key, default)
        return self

    @model_serializer(mode="wrap")
    def _only_what_applies(self, handler):
        # The resolved config shows the schedule's own parameters, and a bare name for
        # the default (constant, no warm-up).
        out = {k: v for k, v in handler(self).items() if v is not None}
        return self.name if out == {"name": "constant", "warmup_epochs": 0} else out


class TrainingConfig(_Strict):
    learning_rate: float = Field(gt=0, allow_inf_nan=False)
    epochs: int = Field(gt=0)
    batch_size: int | Literal["full"] = 32
    optimizer: str = "sgd"
    seed: int = Field(default=0, ge=0)  # numpy's SeedSequence takes non-negative integers
    dtype: str = "float32"
    early_stopping: EarlyStoppingConfig | None = None
    weight_decay: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    # Optimizer parameters; None: the optimizer's default (filled in for the optimizer used).
    momentum: float | None = Field(default=None, ge=0, lt=1)
    nesterov: bool | None = None
    beta1: float | None = Field(default=None, ge=0, lt=1)
    beta2: float | None = Field(default=None, ge=0, lt=1)
    epsilon: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    class_weight: Literal["balanced"] | dict[str, float] | None = None

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_weight(cls, v):
        if isinstance(v, dict):
            # Labels as spelled in the CSV: YAML may read 0: 2.0 as a number key.
            for label, weight in v.items():
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < float("inf"):
                    raise ValueError(f"the weight of class {label!r} must be a positive number (got {weight!r})")
            return {str(label): float(weight) for label, weight in v.items()}
        if v is not None and v != "balanced":
            raise ValueError(f"must be balanced or a mapping {{label: weight}} (got {v!r})")
        return v

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

    def optimizer_params(self):
        """The keyword arguments of the optimizer (nncli.core.optimizers) this config builds."""
        keys = OPTIMIZER_PARAMS[self.optimizer]
        params = {arg: getattr(self, key) for key, arg in keys.items()}
        return {**params, "weight_decay": self.weight_decay}


# The optimizer parameters under training, with the argument each becomes and its default.
OPTIMIZER_PARAMS = {"sgd": {}, "momentum": {"momentum": "beta", "nesterov": "nesterov"},
                    "adam": {"beta1": "beta1", "beta2": "beta2", "epsilon": "epsilon"}}
OPTIMIZER_DEFAULTS = {"momentum": 0.9, "nesterov": False, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def _check_optimizer_params(t):
    """Raise ValueError for an optimizer parameter the chosen optimizer does not take; fill in
    the defaults of those it does."""
    own = OPTIMIZER_PARAMS[t.optimizer]
    for key in OPTIMIZER_DEFAULTS:
        if key not in own and getattr(t, key) is not None:
            user = next(name for name, params in OPTIMIZER_PARAMS.items() if key in params)
            raise ValueError(f"training.{key} applies to optimizer {user} only, but training.optimizer is "
                             f"{t.optimizer}; remove it, or set training.optimizer: {user}")
        if key in own and getattr(t, key) is None:
            setattr(t, key, OPTIMIZER_DEFAULTS[key])


class Config(_Strict):
    data: DataConfig
    model: ModelConfig
    loss: str  # the loss's name, whichever form the config used
    training: TrainingConfig
    # From the mapping form loss: {name, label_smoothing}; not a key of its own.
    label_smoothing: float = Field(default=0.0, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _loss_mapping(cls, raw):
        """loss: NAME, or loss: {name: NAME, label_smoothing: EPSILON}: normalised to the
        name in ``loss`` and epsilon in ``label_smoothing``."""
        if not isinstance(raw, dict):
            return raw
        if "label_smoothing" in raw:
            raise ValueError("unknown key 'label_smoothing' at the top level; write "
                             "loss: {name: cross_entropy, label_smoothing: 0.1}")
        loss = raw.get("loss")
        if not isinstance(loss, dict):
            return raw
        unknown = [k for k in loss if k not in ("name", "label_smoothing")]
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} in loss{did_you_mean(unknown[0], ['name', 'label_smoothing'])}; "
                             "allowed: name, label_smoothing")
        if "name" not in loss:
            raise ValueError("loss.name is required but missing, e.g. loss: {name: cross_entropy, label_smoothing: 0.1}")
        eps = loss.get("label_smoothing", 0.0)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 <= eps < 1:
            raise ValueError(f"loss.label_smoothing: must be a number in [0, 1) (got {eps!r})")
        return {**raw, "loss": loss["name"], "label_smoothing": float(eps)}

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

    @model_validator(mode="after")
    def _keys_fit_each_other(self):
        layers, t = self.model.layers, self.training
        if layers[-1].dropout:
            raise ValueError(f"model.layers.{len(layers) - 1}.dropout: dropout is not allowed on the output "
                             "layer; put it on a hidden layer")
        if self.label_smoothing and self.loss not in ("cross_entropy", "binary_cross_entropy"):
            raise ValueError(f"loss.label_smoothing applies to cross_entropy and binary_cross_entropy, "
                             f"not {self.loss}; remove it")
        if t.class_weight is not None and self.loss == "mse":
            raise ValueError("training.class_weight applies to classification (cross_entropy, "
                             "binary_cross_entropy), not mse; remove it")
        _check_optimizer_params(t)
        return self

    @model_serializer(mode="wrap")
    def _loss_as_written(self, handler):
        # The resolved config keeps loss: NAME (as old model files have it) unless smoothed.
        out = handler(self)
        if self.label_smoothing:
            out["loss"] = {"name": self.loss, "label_smoothing": self.label_smoothing}
        return out


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
