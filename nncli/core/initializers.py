"""Weight initialisation schemes, drawing from a numpy Generator passed in."""

import numpy as np

from nncli.core.registry import lookup


def he(rng, n_in, n_out, dtype):
    """He normal: N(0, 2 / n_in), for relu and leaky_relu layers."""
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)


def xavier(rng, n_in, n_out, dtype):
    """Xavier (Glorot) uniform: U(-r, r) with r = sqrt(6 / (n_in + n_out))."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_in, n_out)).astype(dtype)


def normal(rng, n_in, n_out, dtype):
    """Small random numbers, N(0, 0.01^2), as in the classic lecture recipe."""
    return (rng.standard_normal((n_in, n_out)) * 0.01).astype(dtype)


INITIALIZERS = {"he": he, "xavier": xavier, "normal": normal}


def default_init(activation_name):
    """He for the rectifiers, Xavier otherwise."""
    return "he" if activation_name in ("relu", "leaky_relu") else "xavier"


def get_initializer(name):
    """Return the initialiser registered under ``name``; ConfigError lists the valid names."""
    return lookup(INITIALIZERS, name, "init")
