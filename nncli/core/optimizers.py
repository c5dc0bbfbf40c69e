"""Parameter update rules. Each updates the parameter arrays in place.

``update(params, grads, decay_masks=None)`` is called once per batch with the same
arrays in the same order; the rules keep their state (and a scratch array per
parameter, so that a step allocates nothing) in lists that follow that order. Reading
``learning_rate`` at every step lets a callback change it during training.

Weight decay (``weight_decay`` = lambda, default 0) applies to the entries where
``decay_masks`` (one 0/1 array per parameter, 1 on the weights W and 0 on the biases b;
None: every entry) is 1. For sgd and momentum it is L2 regularisation, lambda W added to
dW; for adam it is decoupled from the moments (AdamW, Loshchilov & Hutter, 2019). With
lambda = 0 the updates are exactly the plain ones.

``state()`` gives what a rule has learnt (the rate, momentum or moments, step count) as
copies, and ``restore(state)`` puts it back, so that training can stop and carry on
exactly where it was.
"""

import numpy as np

from nncli.core.registry import lookup


def _like(arrays):
    return [np.zeros_like(P) for P in arrays]


def _copies(arrays):
    return None if arrays is None else [np.array(A) for A in arrays]


def _masks(decay_masks, params):
    return [None] * len(params) if decay_masks is None else decay_masks


def _scaled_step(P, dP, mask, learning_rate, weight_decay, out):
    """learning_rate * (dP + weight_decay * mask * P) written into ``out``: the plain step
    learning_rate * dP when there is no weight decay (exactly W <- W - alpha dW)."""
    if weight_decay:
        _decay_term(P, mask, weight_decay, out=out)
        out += dP
        out *= learning_rate
    else:
        np.multiply(dP, learning_rate, out=out)
    return out


def _decay_term(P, mask, factor, out):
    """factor * mask * P written into ``out``: the weight-decay term of a step."""
    if mask is None:
        return np.multiply(P, factor, out=out)
    np.multiply(P, mask, out=out)
    out *= factor
    return out


class SGD:
    """Plain gradient descent: W <- W - learning_rate * dW.

    With weight decay lambda: W <- W - learning_rate * (dW + lambda W); biases as plain.
    Without it the training loop does not call ``update``: ``Network.backward`` takes the
    same step as it forms each dW (see ``folds_into_backward``).
    """

    name = "sgd"

    def __init__(self, learning_rate, weight_decay=0.0):
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.scratch = None

    @property
    def folds_into_backward(self):
        """True when the step is plain W <- W - learning_rate dW, which the training loop
        then takes inside backpropagation (``Network.backward(learning_rate=...)``: the
        product dW and the step in one BLAS call) instead of calling ``update``."""
        return not self.weight_decay

    def update(self, params, grads, decay_masks=None):
        """Update each array of ``params`` in place with its gradient in ``grads``."""
        if self.scratch is None:
            self.scratch = _like(params)
        for P, dP, S, D in zip(params, grads, self.scratch, _masks(decay_masks, params)):
            P -= _scaled_step(P, dP, D, self.learning_rate, self.weight_decay, out=S)

    def state(self):
        return {"learning_rate": self.learning_rate}

    def restore(self, state):
        self.learning_rate = state["learning_rate"]


class Momentum:
    """Gradient descent with momentum: v <- beta v - learning_rate dW; W <- W + v.

    Nesterov (``nesterov=True``, as Keras and Sutskever et al. 2013):
    W <- W + beta v - learning_rate dW, with v already updated. Weight decay lambda
    replaces dW by dW + lambda W on the weights.
    """

    name = "momentum"

    def __init__(self, learning_rate, beta=0.9, nesterov=False, weight_decay=0.0):
        self.learning_rate = learning_rate
        self.beta, self.nesterov, self.weight_decay = beta, nesterov, weight_decay
        self.velocity = self.scratch = None

    def update(self, params, grads, decay_masks=None):
        if self.velocity is None:
            self.velocity, self.scratch = _like(params), _like(params)
        for P, dP, V, S, D in zip(params, grads, self.velocity, self.scratch, _masks(decay_masks, params)):
            V *= self.beta
            V -= _scaled_step(P, dP, D, self.learning_rate, self.weight_decay, out=S)
            if self.nesterov:
                P -= S
                P += np.multiply(V, self.beta, out=S)
            else:
                P += V

    def state(self):
        return {"learning_rate": self.learning_rate, "velocity": _copies(self.velocity)}

    def restore(self, state):
        self.learning_rate = state["learning_rate"]
        self.velocity = _copies(state["velocity"])
        self.scratch = None if self.velocity is None else _like(self.velocity)


class Adam:
    """Adam (Kingma & Ba, 2015) with bias-corrected first and second moments.

    With weight decay lambda it is AdamW: W <- W - learning_rate (m_hat / (sqrt(v_hat) + eps) + lambda W),
    the decay taken on the weights before the step and never entering the moments.
    """

    name = "adam"

    def __init__(self, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=0.0):
        self.learning_rate = learning_rate
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self.weight_decay = weight_decay
        self.t = 0
        self.m = self.v = self.scratch = None

    def update(self, params, grads, decay_masks=None):
        if self.m is None:
            self.m, self.v, self.scratch = _like(params), _like(params), _like(params)
        self.t += 1
        step = self.learning_rate * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for P, dP, M, V, S, D in zip(params, grads, self.m, self.v, self.scratch, _masks(decay_masks, params)):
            if self.weight_decay:
                # P <- P - learning_rate lambda P (decoupled: the old P, not the moments)
                P -= _decay_term(P, D, self.learning_rate * self.weight_decay, out=S)
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

    def state(self):
        return {"learning_rate": self.learning_rate, "t": self.t, "m": _copies(self.m), "v": _copies(self.v)}

    def restore(self, state):
        self.learning_rate, self.t = state["learning_rate"], int(state["t"])
        self.m, self.v = _copies(state["m"]), _copies(state["v"])
        self.scratch = None if self.m is None else _like(self.m)


OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Adam)}


def get_optimizer(name, learning_rate, **params):
    """Return the optimizer registered under ``name``, built with ``params``
    (e.g. beta1 for adam, weight_decay); ConfigError lists the valid names."""
    return lookup(OPTIMIZERS, name, "optimizer")(learning_rate, **params)
