"""Shared by the gradient tests: targets for each loss and central finite differences."""

import numpy as np

EPS = 1e-5


def targets(rng, loss, m, units):
    if loss == "mse":
        return rng.standard_normal((m, units))
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (m, 1)).astype(float)
    return np.eye(units)[rng.integers(0, units, m)]


def numeric_gradients(net, loss, X, Y, objective=None):
    """Central differences of the loss with respect to every parameter.

    ``objective`` (a function of no arguments, reading the network's parameters) replaces
    the plain loss of ``forward(X)``: e.g. a weighted loss, or one with a dropout mask.
    """
    def value():
        if objective is not None:
            return objective()
        Zs, As = net.forward(X)
        return loss.value(Y, As[-1], Zs[-1])

    grads = []
    for P in net.params():
        G = np.zeros_like(P)
        for i in np.ndindex(P.shape):
            old = P[i]
            P[i] = old + EPS
            up = value()
            P[i] = old - EPS
            down = value()
            P[i] = old
            G[i] = (up - down) / (2 * EPS)
        grads.append(G)
    return grads


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)
