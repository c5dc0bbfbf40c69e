"""Parameter update rules. Each updates the parameter arrays in place.

``update(params, grads)`` is called once per batch with the same arrays in the same
order; the rules keep their state (and a scratch array per parameter, so that a step
allocates nothing) in lists that follow that order. Reading ``learning_rate`` at
every step lets a callback change it during training.
"""

import numpy as np

from nncli.core.registry import lookup


def _like(arrays):
    return [np.zeros_like(P) for P in arrays]


class SGD:
    """Plain gradient descent: W <- W - learning_rate * dW."""

    name = "sgd"

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate
        self.scratch = None

    def update(self, params, grads):
        """Update each array of ``params`` in place with its gradient in ``grads``."""
        if self.scratch is None:
            self.scratch = _like(params)
        for P, dP, S in zip(params, grads, self.scratch):
            np.multiply(dP, self.learning_rate, out=S)
            P -= S


class Momentum:
    """Gradient descent with momentum: v <- beta v - learning_rate dW; W <- W + v."""

    name = "momentum"

    def __init__(self, learning_rate, beta=0.9):
        self.learning_rate = learning_rate
        self.beta = beta
        self.velocity = self.scratch = None

    def update(self, params, grads):
        if self.velocity is None:
            self.velocity, self.scratch = _like(params), _like(params)
        for P, dP, V, S in zip(params, grads, self.velocity, self.scratch):
            V *= self.beta
            V -= np.multiply(dP, self.learning_rate, out=S)
            P += V


class Adam:
    """Adam (Kingma & Ba, 2015) with bias-corrected first and second moments."""

    name = "adam"

    def __init__(self, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.t = 0
        self.m = self.v = self.scratch = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v, self.scratch = _like(params), _like(params), _like(params)
        self.t += 1
        step = self.learning_rate * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for P, dP, M, V, S in zip(params, grads, self.m, self.v, self.scratch):
            # M <- beta1 M + (1 - beta1) dP
            M *= self.beta1
            M += np.multiply(dP, 1 - self.beta1, out=S)
            # V <- beta2 V + (1 - beta2) dP^2
            V *= self.beta2
            np.multiply(dP, 1 - self.beta2, out=S)
            S *= dP
            V += S
            # P <- P - step M / (sqrt(V) + epsilon)
            np.sqrt(V, out=S)
            S += self.epsilon
            np.divide(M, S, out=S)
            S *= step
            P -= S


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Adam)}


def get_optimizer(name, learning_rate):
    """Return the optimizer registered under ``name``; ConfigError lists the valid names."""
    return lookup(OPTIMIZERS, name, "optimizer")(learning_rate)
