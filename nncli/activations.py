"""Activation functions, each forward next to its derivative.

Every activation maps Z to A = g(Z) and, in ``backward``, turns the gradient of the
loss with respect to A into the gradient with respect to Z (the chain rule's local
step, dZ = dA * g'(Z)). Arrays are of shape (n_samples, n_units).
"""

import numpy as np

from nncli.errors import ConfigError


class Activation:
    """Base class: subclasses set ``name`` and implement ``forward`` and ``backward``."""

    name = ""

    def forward(self, Z):
        """Return A = g(Z), same shape as Z."""
        raise NotImplementedError

    def backward(self, dA, Z, A):
        """Return dZ = dA * g'(Z); may overwrite and return ``dA``."""
        raise NotImplementedError

    def params(self):
        """Extra parameters stored in the model file (e.g. leaky_relu's alpha)."""
        return {}


class Linear(Activation):
    name = "linear"

    def forward(self, Z):
        return Z

    def backward(self, dA, Z, A):
        return dA


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, Z):
        # exp of a non-positive number only: no overflow for any Z.
        E = np.exp(-np.abs(Z))
        return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E)).astype(Z.dtype, copy=False)

    def backward(self, dA, Z, A):
        # g'(Z) = A (1 - A), written with the output as scikit-learn does.
        return dA * A * (1.0 - A)


class Tanh(Activation):
    name = "tanh"

    def forward(self, Z):
        return np.tanh(Z)

    def backward(self, dA, Z, A):
        return dA * (1.0 - A * A)


class ReLU(Activation):
    name = "relu"

    def forward(self, Z):
        return np.maximum(Z, 0)

    def backward(self, dA, Z, A):
        # Derivative at exactly 0 taken as 0, as in most frameworks.
        return dA * (Z > 0)


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        self.alpha = float(alpha)

    def forward(self, Z):
        return np.where(Z > 0, Z, self.alpha * Z).astype(Z.dtype, copy=False)

    def backward(self, dA, Z, A):
        return dA * np.where(Z > 0, 1.0, self.alpha).astype(dA.dtype, copy=False)

    def params(self):
        return {"alpha": self.alpha}


class Softmax(Activation):
    """Row-wise softmax; only meaningful as the output layer."""

    name = "softmax"

    def forward(self, Z):
        # Shifting by the row maximum keeps exp() from overflowing.
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)

    def backward(self, dA, Z, A):
        # Jacobian-vector product of softmax: dZ_k = A_k (dA_k - sum_j dA_j A_j).
        return A * (dA - (dA * A).sum(axis=1, keepdims=True))


ACTIVATIONS = {cls.name: cls for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax)}


def get_activation(name, **params):
    """Return the activation registered under ``name``, built with ``params``.

    Raises
    ------
    ConfigError
        If no activation has that name; the message lists the valid names.
    """
    try:
        cls = ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}"
        ) from None
    return cls(**params)
