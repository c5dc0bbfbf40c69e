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
    if isinstance(value, str) and value not in allowed:
        raise ValueError(f"unknown {what} {value!r}{did_you_mean(value, allowed)}; "
                         f"choose one of: {', '.join(allowed)}")
    return value


# --- schema -------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


ActivationName = Literal[tuple(ACTIVATIONS)]
InitName = Literal[tuple(INITIALIZERS)]
OptimizerName = Literal[tuple(OPTIMIZERS)]
LossName = Literal[tuple(LOSSES)]
MissingPolicy = Literal["error", "drop"]
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
        default=0.2, description="Fraction of the rows held out for validation (seeded shuffle), "
                                 "in [0, 1); or the path of a CSV file of validation rows; 0 for none.")
    standardize: bool = Field(default=True, description="z-score numeric features with the training "
                                                        "split's mean and standard deviation.")
    standardize_target: bool = Field(default=True, description="mse only: z-score the target "
                                                               "(metrics stay in its own units).")
    categorical: list[str] = Field(default_factory=list, description="Columns to one-hot encode even "
                                                                     "though they hold numbers.")
    missing: MissingPolicy = Field(default="error", description="A missing value in a used column: "
                                   "error (stop, naming its line) or drop (leave the row out).")

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
        return self


class LayerConfig(_Strict):
    """One layer: its number of units and its activation."""

    units: int = Field(gt=0, description="Number of units (neurons) in the layer.")
    activation: ActivationName = Field(description="The layer's activation function; softmax in the "
                                                   "output layer only, with cross_entropy.")
    alpha: float | None = Field(default=None, allow_inf_nan=False,
                                description="leaky_relu only: the slope for negative inputs (default 0.01).")

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


class Config(_Strict):
    """An nncli config: the data, the network, the loss and the training."""

    data: DataConfig = Field(description="Where the data is and how it is turned into numbers.")
    model: ModelConfig = Field(description="The network: its layers and their initialisation.")
    loss: LossName = Field(description="mse (regression), binary_cross_entropy (one sigmoid unit) or "
                                       "cross_entropy (softmax, one unit per class).")
    training: TrainingConfig = Field(description="How the weights are fitted.")

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
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": "nncli config"}


def to_dict(config: Config) -> dict[str, Any]:
    """The resolved config as plain JSON-able data (stored in the model file)."""
    return config.model_dump(mode="json")
