"""Loss functions, each a mean over the m examples of a batch.

Y and A are of shape (m, n_outputs): targets (one-hot for cross_entropy, 0/1 for
binary_cross_entropy) and the output layer's activations. Z is the output layer's
pre-activation; the cross-entropies use it so that no log(0) is ever taken.
``output_delta`` writes into ``out`` when given one (the training loop passes a
preallocated buffer).

Both take optional per-example weights ``sample_weight`` of shape (m,): the loss is
then the weighted mean sum_i w_i l_i / sum_i w_i of the examples' losses l_i (and
dZ its gradient), which is the plain mean when every w_i is equal. Without weights
the plain-mean code runs, unchanged.

The cross-entropies take ``label_smoothing`` (epsilon): ``smooth_targets`` turns
targets into y (1 - epsilon) + epsilon / K (K classes; K = 2 for the one sigmoid
unit of binary_cross_entropy), the targets the training loop trains on.
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
    smoothing_classes = None  # K of label smoothing, None: the loss takes no smoothing

    def __init__(self, label_smoothing=0.0):
        if label_smoothing and self.smoothing_classes is None:
            raise ConfigError(f"label_smoothing applies to cross_entropy and binary_cross_entropy, not {self.name}")
        if not 0 <= label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1) (got {label_smoothing})")
        self.label_smoothing = float(label_smoothing)

    def value(self, Y, A, Z, sample_weight=None):
        """The loss, a Python float: the mean (or weighted mean) over the rows."""
        raise NotImplementedError

    def output_delta(self, Y, A, Z, activation, out=None, sample_weight=None):
        """Return dL/dZ of the output layer, shape (m, n_outputs), written into ``out`` if given."""
        raise NotImplementedError

    def smooth_targets(self, Y):
        """Y (1 - epsilon) + epsilon / K, a new array (Y itself when epsilon is 0).

        Parameters
        ----------
        Y : ndarray of shape (m, n_outputs), one-hot or 0/1 targets
        """
        if not self.label_smoothing:
            return Y
        k = self.smoothing_classes or Y.shape[1]
        eps = self.label_smoothing
        return (Y * (1.0 - eps) + eps / k).astype(Y.dtype, copy=False)


def row_scale(sample_weight, dtype):
    """w_i / sum_i w_i as a column of shape (m, 1) in ``dtype``: the weight of each row in a weighted mean."""
    w = np.asarray(sample_weight, np.float64)
    return (w / w.sum())[:, None].astype(dtype)


class MeanSquaredError(Loss):
    """mse = (1/m) sum_i sum_k (y_ik - a_ik)^2 / n_outputs."""

    name = "mse"

    def value(self, Y, A, Z, sample_weight=None):
        diff = A - Y
        if sample_weight is not None:
            # l_i = sum_k (y_ik - a_ik)^2 / n_outputs
            rows = np.einsum("ik,ik->i", diff, diff) / diff.shape[1]
            return float(np.vdot(row_scale(sample_weight, np.float64)[:, 0], rows))
        return float(np.vdot(diff, diff)) / diff.size

    def output_delta(self, Y, A, Z, activation, out=None, sample_weight=None):
        dA = np.subtract(A, Y, out=out)
        if sample_weight is not None:
            # dl/da_ik = 2 (a_ik - y_ik) / n_outputs, weighted by w_i / sum w.
            dA *= row_scale(sample_weight, dA.dtype) * (2.0 / Y.shape[1])
        else:
            dA *= 2.0 / Y.size
        return activation.backward(dA, Z, A, out=dA)


class BinaryCrossEntropy(Loss):
    """-(1/m) sum_i [y log a + (1 - y) log(1 - a)] with a = sigmoid(z)."""

    name = "binary_cross_entropy"
    activation = "sigmoid"
    smoothing_classes = 2

    def value(self, Y, A, Z, sample_weight=None):
        # -log sigmoid(z) = softplus(-z) and -log(1 - sigmoid(z)) = softplus(z), so
        # the loss is softplus(z) - y z, computed as max(z, 0) + log1p(exp(-|z|)) - y z
        # (from Z, not A: exact to rounding even where A rounds to 0 or 1).
        losses = np.maximum(Z, 0) - Y * Z + np.log1p(np.exp(-np.abs(Z)))
        if sample_weight is not None:
            return float(np.vdot(row_scale(sample_weight, np.float64)[:, 0], losses[:, 0]))
        return float(losses.sum()) / Y.shape[0]

    def output_delta(self, Y, A, Z, activation, out=None, sample_weight=None):
        # Sigmoid and cross-entropy cancel: dZ = (A - Y) / m, or (A - Y) w_i / sum w.
        return _cancelled_delta(Y, A, out, sample_weight)


class CrossEntropy(Loss):
    """-(1/m) sum_i sum_k y_ik log a_ik with a = softmax(z) and one-hot y."""

    name = "cross_entropy"
    activation = "softmax"
    smoothing_classes = 0  # K = the number of output units

    def value(self, Y, A, Z, sample_weight=None):
        if A.min() >= np.finfo(A.dtype).tiny:
            # Every probability is a normal number: log A is exact to rounding.
            log_A = np.log(A)
        else:
            # Some underflowed: log softmax(z) = z - max(z) - log sum exp(z - max(z))
            # stays finite for any z.
            shifted = Z - Z.max(axis=1, keepdims=True)
            log_A = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        if sample_weight is not None:
            rows = np.einsum("ik,ik->i", Y, log_A, dtype=np.float64)  # sum_k y_ik log a_ik
            return -float(np.vdot(row_scale(sample_weight, np.float64)[:, 0], rows))
        return -float(np.vdot(Y, log_A)) / Y.shape[0]

    def output_delta(self, Y, A, Z, activation, out=None, sample_weight=None):
        # Softmax and cross-entropy cancel: dZ = (A - Y) / m, or (A - Y) w_i / sum w.
        return _cancelled_delta(Y, A, out, sample_weight)


def _cancelled_delta(Y, A, out, sample_weight):
    """dZ = (A - Y) / m, or (A - Y) w_i / sum_i w_i with weights: the output delta of a
    cross-entropy after its output activation."""
    dZ = np.subtract(A, Y, out=out)
    if sample_weight is not None:
        dZ *= row_scale(sample_weight, dZ.dtype)
    else:
        dZ *= 1.0 / Y.shape[0]
    return dZ


LOSSES = {cls.name: cls for cls in (MeanSquaredError, BinaryCrossEntropy, CrossEntropy)}


def get_loss(name, label_smoothing=0.0):
    """Return the loss registered under ``name``; ConfigError lists the valid names."""
    return lookup(LOSSES, name, "loss")(label_smoothing)
