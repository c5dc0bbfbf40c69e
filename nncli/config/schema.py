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
from nncli.core.losses import LOSSES, get_loss
from nncli.core.names import check_pairing
from nncli.core.optimizers import OPTIMIZERS
from nncli.core.registry import did_you_mean
from nncli.core.schedules import SCHEDULES
from nncli.errors import ConfigError


def _choice(value, allowed, what):
    if isinstance(value, str) and value not in allowed:
        raise ValueError(f"unknown {what} {value!r}{did_you_mean(value, allowed)}; "
                         f"choose one of: {', '.join(allowed)}")
    return value


# --- schema -------------------------------------------------------------------------
SCALINGS = ("standard", "robust", "none")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Closed choices as Literal types, from the registries, so that the JSON Schema lists them;
# the before-validators give the "did you mean" message for a value not among them.
ActivationName = Literal[tuple(ACTIVATIONS)]
InitName = Literal[tuple(INITIALIZERS)]
OptimizerName = Literal[tuple(OPTIMIZERS)]
LossName = Literal[tuple(LOSSES)]
ScheduleName = Literal[tuple(SCHEDULES)]
MissingPolicy = Literal["error", "drop", "impute"]
DtypeName = Literal["float32", "float64"]


class DataConfig(_Strict):
    """Where the data is and how it is turned into numbers."""

    path: str = Field(description="CSV file; a relative path is relative to the config file.")
    target: str = Field(description="The column to predict.")
    features: list[str] | None = Field(
        default=None, description="The columns to learn from (default: every other column). "
                                  "Not together with exclude.")
    exclude: list[str] | None = Field(
        default=None, description="Columns not to learn from (e.g. identifiers); every other column "
                                  "but the target is a feature. Not together with features.")
    validation: float | str = Field(
        default=0.2, description="Fraction of the rows held out for validation (seeded shuffle, stratified "
                                 "for classifiers), in [0, 1); or the path of a CSV file of validation rows; "
                                 "0 for none.")
    standardize: bool = Field(default=True, description="Older spelling of scaling: true = standard, "
                                                        "false = none.")
    standardize_target: bool = Field(default=True, description="mse only: z-score the target "
                                                               "(metrics stay in its own units).")
    categorical: list[str] = Field(default_factory=list, description="Columns to one-hot encode even "
                                                                     "though they hold numbers.")
    missing: MissingPolicy = Field(default="error", description="A missing value in a used column: "
                                   "error (stop, naming its line), drop (leave the row out) or impute "
                                   "(fill it in with a value learnt on the training split).")
    # Preprocessing learnt on the training split and stored in the model file (README: "Preprocessing").
    scaling: Literal["standard", "robust", "none"] | None = Field(
        default=None, description="Numeric features: standard (mean, std), robust (median, IQR) or none "
                                  "(default: standard, or none with standardize: false).")
    clip: bool | float = Field(default=False, description="Smooth clipping of scaled numeric features, "
                               "z / sqrt(1 + (z/c)^2): true (c = 3), false, or c.")
    impute: Literal["mean", "median", "most_frequent"] | None = Field(
        default=None, description="With missing: impute, the value for numeric columns (default median); "
                                  "categorical columns take their most frequent category.")
    missing_indicator: bool = Field(default=False, description="With missing: impute, one 0/1 feature "
                                    "name.missing per column with missing training values.")
    target_transform: Literal["none", "log1p"] = Field(
        default="none", description="mse only: train on log(1 + y); predictions and metrics in y's units.")
    unknown: Literal["error", "ignore"] = Field(
        default="error", description="A category not seen in training, when the model predicts: error (name "
                                     "its line), or ignore (all zeros, with a warning); stored in the model.")
    stratify: bool | None = Field(default=None, description="Keep the class proportions in the validation "
                                  "split (default: true for classifiers).")
    weight: str | None = Field(default=None, description="A column of sample weights (numbers >= 0); "
                               "not a feature.")

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

    @field_validator("unknown", mode="before")
    @classmethod
    def _unknown(cls, v):
        return _choice(v, ["error", "ignore"], "unknown-category policy")

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

    @field_validator("features", "exclude", "categorical")
    @classmethod
    def _each_column_once(cls, v):
        twice = next((name for i, name in enumerate(v or []) if name in v[:i]), None)
        if twice is not None:
            raise ValueError(f"column {twice!r} is listed twice; remove one")
        return v

    @model_validator(mode="after")
    def _target_is_not_a_feature(self):
        if self.features is not None and self.exclude is not None:
            raise ValueError("data.features and data.exclude are both given; use one: features lists the "
                             "columns to use, exclude the columns to leave out")
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
    """One layer: its number of units and its activation."""

    units: int = Field(gt=0, description="Number of units (neurons) in the layer.")
    activation: ActivationName = Field(description="The layer's activation function; softmax in the "
                                                   "output layer only, with cross_entropy.")
    alpha: float | None = Field(default=None, allow_inf_nan=False,
                                description="leaky_relu only: the slope for negative inputs (default 0.01).")
    dropout: float = Field(default=0.0, ge=0, lt=1, description="Fraction of this layer's outputs dropped "
                           "at random during training (inverted dropout); not on the output layer.")

    @field_validator("activation", mode="before")
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
    """The network: its layers in order, and how its weights start."""

    layers: list[LayerConfig] = Field(min_length=1, description="Layers 1..L in order; the last is the "
                                                                "output layer.")
    init: InitName | None = Field(default=None, description="Weight initialisation for every layer "
                                  "(default per layer: he for relu/leaky_relu, xavier otherwise).")

    @field_validator("init", mode="before")
    @classmethod
    def _init(cls, v):
        return v if v is None else _choice(v, list(INITIALIZERS), "init")


class EarlyStoppingConfig(_Strict):
    """Stop when the validation loss stops improving, keeping the best epoch's weights."""

    patience: int = Field(gt=0, description="Epochs without improvement before stopping.")
    min_delta: float = Field(default=0.0, ge=0, allow_inf_nan=False,
                             description="The smallest decrease of the loss that counts as an improvement.")


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

    name: ScheduleName = Field(default="constant", description="constant, step, cosine, flat_cos or "
                               "reduce_on_plateau.")
    warmup_epochs: int = Field(default=0, ge=0, description="Epochs of linear warm-up from 0 to the rate, "
                               "update by update.")
    step_size: int | None = Field(default=None, gt=0, description="step: epochs between two cuts.")
    gamma: float | None = Field(default=None, gt=0, le=1, description="step: the factor of each cut (0.1).")
    min_lr: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                 description="cosine, flat_cos, reduce_on_plateau: the lowest rate (0).")
    flat_fraction: float | None = Field(default=None, ge=0, lt=1,
                                        description="flat_cos: the fraction of the epochs at the full rate (0.5).")
    factor: float | None = Field(default=None, gt=0, lt=1, description="reduce_on_plateau: the factor (0.5).")
    patience: int | None = Field(default=None, gt=0,
                                 description="reduce_on_plateau: epochs without improvement (10).")

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, v):
        return {"name": v} if isinstance(v, str) else v

    @field_validator("name", mode="before")
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
    """How the weights are fitted."""

    learning_rate: float = Field(gt=0, allow_inf_nan=False, description="The step size α of each update.")
    epochs: int = Field(gt=0, description="Passes over the training data.")
    batch_size: int | Literal["full"] = Field(
        default=32, description="Rows per update (a positive integer), or full: one update per epoch.")
    optimizer: OptimizerName = Field(default="sgd", description="The update rule.")
    # numpy's SeedSequence takes non-negative integers
    seed: int = Field(default=0, ge=0, description="Seed of every random choice: same seed, data and "
                                                   "config give identical weights.")
    dtype: DtypeName = Field(default="float32", description="Floating-point type of the arrays.")
    early_stopping: EarlyStoppingConfig | None = Field(
        default=None, description="Stop when the validation loss stops improving, keeping the best weights.")
    weight_decay: float = Field(default=0.0, ge=0, allow_inf_nan=False, description="L2 penalty on the "
                                "weights (not biases); decoupled (AdamW) for adam.")
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, description="The learning-rate "
                                     "schedule: a name, or a mapping {name, warmup_epochs, parameters}.")
    # Optimizer parameters; None: the optimizer's default (filled in for the optimizer used).
    momentum: float | None = Field(default=None, ge=0, lt=1, description="momentum only: β (0.9).")
    nesterov: bool | None = Field(default=None, description="momentum only: Nesterov's update (false).")
    beta1: float | None = Field(default=None, ge=0, lt=1, description="adam only: β1 (0.9).")
    beta2: float | None = Field(default=None, ge=0, lt=1, description="adam only: β2 (0.999).")
    epsilon: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="adam only: ε (1e-8).")
    class_weight: Literal["balanced"] | dict[str, float] | None = Field(
        default=None, description="Classifiers: balanced (n / (K n_k)) or a mapping {label: weight}.")

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

    @field_validator("optimizer", mode="before")
    @classmethod
    def _optimizer(cls, v):
        return _choice(v, list(OPTIMIZERS), "optimizer")

    @field_validator("dtype", mode="before")
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
    """An nncli config: the data, the network, the loss and the training."""

    data: DataConfig = Field(description="Where the data is and how it is turned into numbers.")
    model: ModelConfig = Field(description="The network: its layers and their initialisation.")
    # The loss's name, whichever form the config used (NAME, or {name, label_smoothing}).
    loss: LossName = Field(description="mse (regression), binary_cross_entropy (one sigmoid unit) or "
                                       "cross_entropy (softmax, one unit per class); or a mapping "
                                       "{name, label_smoothing} for the cross-entropies.")
    training: TrainingConfig = Field(description="How the weights are fitted.")
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

    @field_validator("loss", mode="before")
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
            check_pairing(get_loss(self.loss).name, layers[-1].activation, layers[-1].units)
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


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the config, generated from the model that validates it
    (``nncli schema``; committed as nncli.schema.json)."""
    schema = Config.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    for model in [schema, *defs.values()]:
        for prop in model.get("properties", {}).values():
            ref = prop.get("$ref", "").removeprefix("#/$defs/")
            if ref in defs and "description" not in prop:  # pydantic leaves it out beside a $ref
                prop["description"] = defs[ref]["description"]
    # Two keys take a name or a mapping; the model holds them normalised, the file either form.
    props = schema["properties"]
    props.pop("label_smoothing", None)  # written inside loss: {name, label_smoothing}
    loss = props["loss"]
    props["loss"] = {"description": loss["description"], "anyOf": [
        {"type": "string", "enum": loss["enum"]},
        {"type": "object", "additionalProperties": False, "required": ["name"],
         "properties": {"name": {"type": "string", "enum": loss["enum"]},
                        "label_smoothing": {"type": "number", "minimum": 0, "exclusiveMaximum": 1,
                                            "description": "Targets become y(1 - ε) + ε/K."}}}]}
    schedule = defs["TrainingConfig"]["properties"]["schedule"]
    names = defs["ScheduleConfig"]["properties"]["name"]["enum"]
    defs["TrainingConfig"]["properties"]["schedule"] = {
        "description": schedule["description"],
        "anyOf": [{"type": "string", "enum": names}, {"$ref": schedule["$ref"]}]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "nncli config"}


def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (stored in the model file)."""
    return config.model_dump(mode="json")
