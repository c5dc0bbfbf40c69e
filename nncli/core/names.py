"""What a model file may name, and which output layer each loss needs, without NumPy.

``nncli inspect`` checks a model file with these alone, so that it starts without loading
NumPy. The registries (``activations.ACTIVATIONS``, ``preprocessing.TARGET_TRANSFORMS``)
hold the same names; tests/test_core.py keeps them equal.
"""

from nncli.errors import ConfigError

ACTIVATION_NAMES = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
ACTIVATION_PARAMS = {"leaky_relu": ("alpha",)}  # an activation's own parameters, stored in the model file
TARGET_TRANSFORM_NAMES = ("none", "log1p")


def check_pairing(loss_name, activation_name, units):
    """Raise ConfigError if the loss ``loss_name`` cannot work with this output layer."""
    if loss_name == "binary_cross_entropy" and (activation_name != "sigmoid" or units != 1):
        raise ConfigError(
            "loss binary_cross_entropy needs an output layer of 1 unit with activation sigmoid "
            f"(got {units} unit(s) with {activation_name})"
        )
    if loss_name == "cross_entropy" and activation_name != "softmax":
        raise ConfigError(
            f"loss cross_entropy needs a softmax output layer (got {activation_name}); "
            "for two classes with one sigmoid unit use binary_cross_entropy"
        )
    if loss_name == "mse" and activation_name == "softmax":
        raise ConfigError("a softmax output layer goes with loss cross_entropy, not mse")
