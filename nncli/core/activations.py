"""Activation functions, each forward next to its derivative.

Every activation maps Z to A = g(Z) and, in ``backward``, turns the gradient of the
loss with respect to A into the gradient with respect to Z (the chain rule's local
step, dZ = dA * g'(Z)). Arrays are of shape (n_samples, n_units).

Both take an optional ``out`` array to write their result into (the training loop
passes preallocated buffers, and ``dA`` itself as the ``out`` of ``backward``); without
one they return a new array. Neither ever changes its inputs.
"""

import numpy as np

from nncli.core.registry import lookup


class Activation:
    """Base class: subclasses set ``name`` and implement ``forward`` and ``backward``."""

    name = ""

    def forward(self, Z, out=None):
        """Return A = g(Z), same shape as Z, written into ``out`` if given.

        Linear returns Z itself, whatever ``out`` is.
        """
        raise NotImplementedError

    def backward(self, dA, Z, A, out=None):
        """Return dZ = dA * g'(Z), written into ``out`` (which may be ``dA``) if given."""
        raise NotImplementedError

    def params(self):
        """Extra parameters stored in the model file (e.g. leaky_relu's alpha)."""
        return {}


class Linear(Activation):
    name = "linear"

    def forward(self, Z, out=None):
        # A is Z itself: no copy, whatever ``out`` offers.
        return Z

    def backward(self, dA, Z, A, out=None):
        if out is None or out is dA:
            return dA
        np.copyto(out, dA)
        return out


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, Z, out=None):
        # 1 / (1 + exp(-Z)) is exact to rounding for every Z: where exp(-Z) overflows
        # (Z below about -88 in float32) the answer 1 / (1 + inf) = 0 is the rounded
        # sigmoid, so only the overflow warning needs silencing.
        with np.errstate(over="ignore"):
            A = np.negative(Z, out=out)
            np.exp(A, out=A)
        A += 1.0
        return np.divide(1.0, A, out=A)

    def backward(self, dA, Z, A, out=None):
        # g'(Z) = A (1 - A), written with the output as scikit-learn does.
        slope = np.subtract(1.0, A, dtype=A.dtype)
        slope *= A
        return np.multiply(dA, slope, out=out)


class Tanh(Activation):
    name = "tanh"

    def forward(self, Z, out=None):
        return np.tanh(Z, out=out)

    def backward(self, dA, Z, A, out=None):
        # g'(Z) = 1 - A^2.
        slope = np.multiply(A, A)
        np.subtract(1.0, slope, out=slope)
        return np.multiply(dA, slope, out=out)


class ReLU(Activation):
    name = "relu"

    def __init__(self):
        self._zeros = {}

    def forward(self, Z, out=None):
        if out is None:
            return np.maximum(Z, 0)
        # numpy's maximum against the scalar 0 takes a slow loop (3-4x slower here)
        # than against an array of zeros, so the training loop (which passes ``out``,
        # batch after batch of the same shape) gets one of those.
        return np.maximum(Z, self._zeros_like(Z), out=out)

    def backward(self, dA, Z, A, out=None):
        # Derivative at exactly 0 taken as 0, as in most frameworks.
        return np.multiply(dA, Z > 0, out=out)

    def _zeros_like(self, Z):
        zeros = self._zeros.get((Z.shape, Z.dtype))
        if zeros is None:
            if len(self._zeros) > 8:  # shapes of a few batch sizes at most; forget the rest
                self._zeros.clear()
            zeros = self._zeros[Z.shape, Z.dtype] = np.zeros(Z.shape, Z.dtype)
        return zeros


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        self.alpha = float(alpha)

    def forward(self, Z, out=None):
        A = np.multiply(Z, self.alpha, out=out, dtype=Z.dtype)
        np.copyto(A, Z, where=Z > 0)
        return A

    def backward(self, dA, Z, A, out=None):
        slope = np.where(Z > 0, 1.0, self.alpha).astype(dA.dtype, copy=False)
        return np.multiply(dA, slope, out=out)

    def params(self):
        return {"alpha": self.alpha}


class Softmax(Activation):
    """Row-wise softmax; only meaningful as the output layer."""

    name = "softmax"

    def forward(self, Z, out=None):
        # Shifting by the row maximum keeps exp() from overflowing.
        E = np.subtract(Z, Z.max(axis=1, keepdims=True), out=out)
        np.exp(E, out=E)
        E /= E.sum(axis=1, keepdims=True)
        return E

    def backward(self, dA, Z, A, out=None):
        # Jacobian-vector product of softmax: dZ_k = A_k (dA_k - sum_j dA_j A_j).
        projection = (dA * A).sum(axis=1, keepdims=True)
        dZ = np.subtract(dA, projection, out=out)
        dZ *= A
        return dZ


ACTIVATIONS = {cls.name: cls for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax)}


def get_activation(name, **params):
    """Return the activation registered under ``name``, built with ``params``.

    Raises
    ------
    ConfigError
        If no activation has that name; the message lists the valid names.
    """
    return lookup(ACTIVATIONS, name, "activation")(**params)
