"""A fully-connected network: parameters, forward propagation, backpropagation.

Notation of the lecture, vectorised over a batch of m examples (one per row):
    A[0] = X,  Z[l] = A[l-1] W[l] + b[l],  A[l] = g[l](Z[l])   for l = 1..L
with W[l] of shape (n[l-1], n[l]) and b[l] of shape (n[l],). Python lists hold
layer l at index l - 1.
"""

import numpy as np

from nncli.activations import get_activation
from nncli.initializers import default_init, get_initializer
from nncli.losses import check_pairing


class Network:
    """A stack of dense layers.

    Parameters
    ----------
    n_features : int
        Number of input columns n[0].
    layers : list of dict
        One dict per layer 1..L: ``{"units": int, "activation": str, "alpha": float?}``.
    dtype : numpy dtype, default float32
    """

    def __init__(self, n_features, layers, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.sizes = [int(n_features)] + [int(layer["units"]) for layer in layers]
        # Keys beyond units and activation are the activation's own (leaky_relu's alpha).
        self.activations = [
            get_activation(
                layer["activation"],
                **{k: v for k, v in layer.items() if k not in ("units", "activation") and v is not None},
            )
            for layer in layers
        ]
        self.W = [np.zeros((n_in, n_out), self.dtype) for n_in, n_out in zip(self.sizes, self.sizes[1:])]
        self.b = [np.zeros(n_out, self.dtype) for n_out in self.sizes[1:]]

    @property
    def n_layers(self):
        return len(self.W)

    def layer_specs(self):
        """The layers as stored in the model file: [{units, activation, alpha?}, ...]."""
        return [
            {"units": n, "activation": g.name, **g.params()}
            for n, g in zip(self.sizes[1:], self.activations)
        ]

    def initialize(self, rng, init=None):
        """Draw W from ``rng`` (a numpy Generator); b starts at zero.

        ``init`` names one scheme for every layer; None picks He for relu/leaky_relu
        layers and Xavier for the others.
        """
        for l, g in enumerate(self.activations):
            draw = get_initializer(init or default_init(g.name))
            self.W[l] = draw(rng, self.sizes[l], self.sizes[l + 1], self.dtype)
            self.b[l] = np.zeros(self.sizes[l + 1], self.dtype)
        return self

    def params(self):
        """The parameter arrays [W1, b1, ..., WL, bL] (the arrays themselves, not copies)."""
        return [P for Wb in zip(self.W, self.b) for P in Wb]

    def get_weights(self):
        """A copy of every parameter array, in the order of ``params()``."""
        return [P.copy() for P in self.params()]

    def set_weights(self, weights):
        """Copy ``weights`` (as from ``get_weights``) into the parameters, in place."""
        for P, value in zip(self.params(), weights):
            P[...] = value

    def forward(self, X):
        """Forward propagation.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])

        Returns
        -------
        Zs, As : lists of L arrays, Z[l] and A[l] of shape (m, n[l])
        """
        Zs, As = [], []
        A = X
        for W, b, g in zip(self.W, self.b, self.activations):
            Z = A @ W
            Z += b
            A = g.forward(Z)
            Zs.append(Z)
            As.append(A)
        return Zs, As

    def predict(self, X):
        """Output activations A[L], shape (m, n[L])."""
        return self.forward(X)[1][-1]

    def backward(self, X, Y, Zs, As, loss):
        """Backpropagation by the chain rule.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])
        Y : ndarray of shape (m, n[L])
        Zs, As : the caches returned by ``forward(X)``
        loss : nncli.losses.Loss

        Returns
        -------
        grads : list [dW1, db1, ..., dWL, dbL], shapes as ``params()``
        """
        L = self.n_layers
        grads = [None] * (2 * L)
        dZ = loss.output_delta(Y, As[-1], Zs[-1], self.activations[-1])
        for l in range(L - 1, -1, -1):
            A_prev = As[l - 1] if l > 0 else X
            grads[2 * l] = A_prev.T @ dZ
            grads[2 * l + 1] = dZ.sum(axis=0)
            if l > 0:
                dA_prev = dZ @ self.W[l].T
                dZ = self.activations[l - 1].backward(dA_prev, Zs[l - 1], As[l - 1])
        return grads

    def check_loss(self, loss):
        """Raise ConfigError if ``loss`` cannot work with this network's output layer."""
        check_pairing(loss, self.activations[-1].name, self.sizes[-1])
