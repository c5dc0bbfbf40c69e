"""Loss functions, each a mean over the m examples of a batch.

Y and A are of shape (m, n_outputs): targets (one-hot for cross_entropy, 0/1 for
binary_cross_entropy) and the output layer's activations. Z is the output layer's
pre-activation; the cross-entropies use it so that no log(0) is ever taken.
``output_delta`` writes into ``out`` when given one (the training loop passes a
preallocated buffer).
"""

import numpy as np

from nncli.core.registry import lookup
from nncli.errors import ConfigError


class Loss:
    """Base class: ``value`` is the loss, ``output_delta`` the gradient dZ of the output layer.

    ``activation`` names the output activation the loss requires (None: any but softmax).
    """

    name = ""
    activation = None

    def value(self, Y, A, Z):
        raise NotImplementedError

    def output_delta(self, Y, A, Z, activation, out=None):
        """Return dL/dZ of the output layer, shape (m, n_outputs), written into ``out`` if given."""
        raise NotImplementedError


class MeanSquaredError(Loss):
    """mse = (1/m) sum_i sum_k (y_ik - a_ik)^2 / n_outputs."""

    name = "mse"

    def value(self, Y, A, Z):
        diff = A - Y
        return float(np.vdot(diff, diff)) / diff.size

    def output_delta(self, Y, A, Z, activation, out=None):
        dA = np.subtract(A, Y, out=out)
        dA *= 2.0 / Y.size
        return activation.backward(dA, Z, A, out=dA)


class BinaryCrossEntropy(Loss):
    """-(1/m) sum_i [y log a + (1 - y) log(1 - a)] with a = sigmoid(z)."""

    name = "binary_cross_entropy"
    activation = "sigmoid"

    def value(self, Y, A, Z):
        # -log sigmoid(z) = softplus(-z) and -log(1 - sigmoid(z)) = softplus(z), so
        # the loss is softplus(z) - y z, computed as max(z, 0) + log1p(exp(-|z|)) - y z
        # (from Z, not A: exact to rounding even where A rounds to 0 or 1).
        losses = np.maximum(Z, 0) - Y * Z + np.log1p(np.exp(-np.abs(Z)))
        return float(losses.sum()) / Y.shape[0]

    def output_delta(self, Y, A, Z, activation, out=None):
        # Sigmoid and cross-entropy cancel: dZ = (A - Y) / m.
        dZ = np.subtract(A, Y, out=out)
        dZ *= 1.0 / Y.shape[0]
        return dZ


class CrossEntropy(Loss):
    """-(1/m) sum_i sum_k y_ik log a_ik with a = softmax(z) and one-hot y."""

    name = "cross_entropy"
    activation = "softmax"

    def value(self, Y, A, Z):
        if A.min() >= np.finfo(A.dtype).tiny:
            # Every probability is a normal number: log A is exact to rounding.
            log_A = np.log(A)
        else:
            # Some underflowed: log softmax(z) = z - max(z) - log sum exp(z - max(z))
            # stays finite for any z.
            shifted = Z - Z.max(axis=1, keepdims=True)
            log_A = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -float(np.vdot(Y, log_A)) / Y.shape[0]

    def output_delta(self, Y, A, Z, activation, out=None):
        # Softmax and cross-entropy cancel: dZ = (A - Y) / m.
        dZ = np.subtract(A, Y, out=out)
        dZ *= 1.0 / Y.shape[0]
        return dZ


LOSSES = {cls.name: cls for cls in (MeanSquaredError, BinaryCrossEntropy, CrossEntropy)}


def get_loss(name):
    """Return the loss registered under ``name``; ConfigError lists the valid names."""
    return lookup(LOSSES, name, "loss")()


def check_pairing(loss, activation_name, units):
    """Raise ConfigError if the loss cannot work with this output layer."""
    if loss.name == "binary_cross_entropy" and (activation_name != "sigmoid" or units != 1):
        raise ConfigError(
            "loss binary_cross_entropy needs an output layer of 1 unit with activation sigmoid "
            f"(got {units} unit(s) with {activation_name})"
        )
    if loss.name == "cross_entropy" and activation_name != "softmax":
        raise ConfigError(
            f"loss cross_entropy needs a softmax output layer (got {activation_name}); "
            "for two classes with one sigmoid unit use binary_cross_entropy"
        )
    if loss.name == "mse" and activation_name == "softmax":
        raise ConfigError("a softmax output layer goes with loss cross_entropy, not mse")
