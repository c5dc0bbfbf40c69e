"""Parameter update rules. Each updates the parameter arrays in place."""

import numpy as np

from nncli.errors import ConfigError


class SGD:
    """Plain gradient descent: W <- W - learning_rate * dW."""

    name = "sgd"

    def __init__(self, learning_rate):
        self.learning_rate = learning_rate

    def update(self, params, grads):
        """Update each array of ``params`` in place with its gradient in ``grads``."""
        for P, dP in zip(params, grads):
            P -= self.learning_rate * dP


class Momentum:
    """Gradient descent with momentum: v <- beta v - learning_rate dW; W <- W + v."""

    name = "momentum"

    def __init__(self, learning_rate, beta=0.9):
        self.learning_rate = learning_rate
        self.beta = beta
        self.velocity = None

    def update(self, params, grads):
        if self.velocity is None:
            self.velocity = [np.zeros_like(P) for P in params]
        for P, dP, V in zip(params, grads, self.velocity):
            V *= self.beta
            V -= self.learning_rate * dP
            P += V


class Adam:
    """Adam (Kingma & Ba, 2015) with bias-corrected first and second moments."""

    name = "adam"

    def __init__(self, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.t = 0
        self.m = self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(P) for P in params]
            self.v = [np.zeros_like(P) for P in params]
        self.t += 1
        step = self.learning_rate * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for P, dP, M, V in zip(params, grads, self.m, self.v):
            M *= self.beta1
            M += (1 - self.beta1) * dP
            V *= self.beta2
            V += (1 - self.beta2) * dP * dP
            P -= step * M / (np.sqrt(V) + self.epsilon)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Adam)}


def get_optimizer(name, learning_rate):
    """Return the optimizer registered under ``name``; ConfigError lists the valid names."""
    try:
        cls = OPTIMIZERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}"
        ) from None
    return cls(learning_rate)
