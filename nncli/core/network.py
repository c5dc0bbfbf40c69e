"""A fully-connected network: parameters, forward propagation, backpropagation.

Notation of the lecture, vectorised over a batch of m examples (one per row):
    A[0] = X,  Z[l] = A[l-1] W[l] + b[l],  A[l] = g[l](Z[l])   for l = 1..L
with W[l] of shape (n[l-1], n[l]) and b[l] of shape (n[l],). Python lists hold
layer l at index l - 1.

``forward`` and ``backward`` allocate their results, unless given a ``Workspace``:
then they write into its preallocated arrays, as the training loop does batch
after batch. The parameters live in one vector, of which W[l] and b[l] are views,
so that an optimizer can update them all in one vectorised step. Plain gradient
descent is instead taken inside ``backward`` (``learning_rate=``), each layer's step
folded into the BLAS call that forms its dW (``Network.descend``).
"""

import math

import numpy as np

from nncli.core.activations import get_activation
from nncli.core.blas import gemm
from nncli.core.initializers import default_init, get_initializer


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
        shapes = parameter_shapes(self.sizes)
        self._vector = np.zeros(sum(math.prod(shape) for shape in shapes), self.dtype)
        self._views = split_vector(self._vector, shapes)
        self.W, self.b = self._views[0::2], self._views[1::2]
        self._ones_cache = np.ones(0, self.dtype)

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
            self.W[l][...] = draw(rng, self.sizes[l], self.sizes[l + 1], self.dtype)
            self.b[l][...] = 0
        return self

    def params(self):
        """The parameter arrays [W1, b1, ..., WL, bL] (the arrays themselves, not copies)."""
        return [P for Wb in zip(self.W, self.b) for P in Wb]

    def parameter_vector(self):
        """Every parameter in one vector, of which the arrays of ``params()`` are views.

        An optimizer given ``[parameter_vector()]`` (and the gradients likewise) updates
        all parameters in one vectorised step. W or b arrays that were replaced rather
        than written into are first copied into a new vector and become views of it.
        """
        params = self.params()
        if len(params) != len(self._views) or any(P is not V for P, V in zip(params, self._views)):
            self._vector = np.concatenate([np.asarray(P, self.dtype).ravel() for P in params])
            self._views = split_vector(self._vector, [P.shape for P in params])
            self.W[:], self.b[:] = self._views[0::2], self._views[1::2]
        return self._vector

    def weight_mask(self):
        """A vector laid out as ``parameter_vector()``: 1 on the weights W, 0 on the biases b."""
        return np.concatenate([np.full(P.size, float(k % 2 == 0), self.dtype)
                               for k, P in enumerate(self.params())])

    def get_weights(self):
        """A copy of every parameter array, in the order of ``params()``."""
        return [P.copy() for P in self.params()]

    def set_weights(self, weights):
        """Copy ``weights`` (as from ``get_weights``) into the parameters, in place."""
        for P, value in zip(self.params(), weights):
            P[...] = value

    def forward(self, X, workspace=None, masks=None):
        """Forward propagation.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])
        workspace : Workspace, optional
            Write Z and A into its arrays (for m <= workspace.rows) instead of new ones;
            they are overwritten by the next call with the same workspace.
        masks : list of L arrays of shape (m, n[l]) or None, optional
            Inverted dropout (training only): layer l + 1 takes A[l] * masks[l] as its
            input where masks[l] is not None. A[l] itself stays g(Z[l]).

        Returns
        -------
        Zs, As : lists of L arrays, Z[l] and A[l] of shape (m, n[l])
        """
        if workspace is None:
            Z_out = A_out = [None] * self.n_layers
        else:
            Z_out, A_out, _ = workspace.batch(X.shape[0])
        Zs, As = [], []
        A = X
        for l, (W, b, g) in enumerate(zip(self.W, self.b, self.activations)):
            if l > 0 and masks is not None and masks[l - 1] is not None:
                A = A * masks[l - 1]  # the dropped-out output of layer l
            Z = matmul(A, W, out=Z_out[l])
            Z += b
            A = g.forward(Z, out=A_out[l])
            Zs.append(Z)
            As.append(A)
        return Zs, As

    def backward(self, X, Y, Zs, As, loss, workspace=None, masks=None, sample_weight=None,
                 learning_rate=None):
        """Backpropagation by the chain rule.

        Parameters
        ----------
        X : ndarray of shape (m, n[0])
        Y : ndarray of shape (m, n[L])
        Zs, As : the caches returned by ``forward(X)``
        loss : nncli.core.losses.Loss
        workspace : Workspace, optional
            Write the gradients (and the deltas on the way) into its arrays.
        masks : the dropout masks given to ``forward``, if any
            The input of layer l + 1 was D = A[l] * M, so dW[l+1] = D^T dZ and
            dA[l] = (dZ W[l+1]^T) * M.
        sample_weight : ndarray of shape (m,), optional
            Per-example weights of the loss (see nncli.core.losses).
        learning_rate : float, optional
            Take the plain gradient-descent step W <- W - learning_rate dW,
            b <- b - learning_rate db as the gradients are found, instead of returning
            them (see ``descend``); every gradient is still that of the weights before
            the step.

        Returns
        -------
        grads : list [dW1, db1, ..., dWL, dbL], shapes as ``params()``; None with ``learning_rate``
        """
        L, m = self.n_layers, X.shape[0]
        if workspace is None:
            grads_out, dZ_out = [None] * (2 * L), [None] * L
        else:
            grads_out, dZ_out = workspace.grads, workspace.batch(m)[2]
        grads = [None] * (2 * L)
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        dZ = loss.output_delta(Y, As[-1], Zs[-1], self.activations[-1], out=dZ_out[-1], **extra)
        for l in range(L - 1, -1, -1):
            mask = masks[l - 1] if masks is not None and l > 0 else None
            A_prev = As[l - 1] if l > 0 else X
            if mask is not None:
                A_prev = A_prev * mask
            if l > 0:  # dA of the layer below, from W[l] before any step
                dA_prev = matmul(dZ, self.W[l].T, out=dZ_out[l - 1])
            if learning_rate is None:
                grads[2 * l] = matmul(A_prev.T, dZ, out=grads_out[2 * l])
                # db = sum of dZ's rows, as a matrix-vector product: BLAS sums the rows of
                # a narrow dZ many times faster than numpy's column-wise reduction.
                grads[2 * l + 1] = np.matmul(self._ones(m), dZ, out=grads_out[2 * l + 1])
            else:
                self.descend(l, A_prev, dZ, learning_rate, grads_out[2 * l], grads_out[2 * l + 1])
            if l > 0:
                if mask is not None:
                    dA_prev *= mask
                dZ = self.activations[l - 1].backward(dA_prev, Zs[l - 1], As[l - 1], out=dA_prev)
        return None if learning_rate is not None else grads

    def descend(self, l, A_prev, dZ, learning_rate, dW_out=None, db_out=None):
        """The gradient-descent step of layer l + 1: W <- W - learning_rate A_prev^T dZ and
        b <- b - learning_rate (sum of dZ's rows).

        With BLAS reachable (nncli.core.blas) W's is one gemm, C <- -learning_rate A B + C
        with C the weights themselves: the product and the step in one pass, rounded once
        per element (W - learning_rate dW rather than W - round(learning_rate round(dW))).
        Otherwise dW is formed (into ``dW_out`` if given) and subtracted. b's step is SGD's
        own: db as a matrix-vector product (into ``db_out``), then b - learning_rate db; a
        gemm with one row costs 10-50 us against 1-6 for the product and two tiny passes.
        """
        W, b = self.W[l], self.b[l]
        if not gemm(-learning_rate, A_prev.T, dZ, 1.0, W):
            dW = matmul(A_prev.T, dZ, out=dW_out)
            dW *= learning_rate
            W -= dW
        db = np.matmul(self._ones(dZ.shape[0]), dZ, out=db_out)
        db *= learning_rate
        b -= db

    def _ones(self, m):
        """A vector of m ones in the network's dtype (kept between calls)."""
        if self._ones_cache.size != m:
            self._ones_cache = np.ones(m, self.dtype)
        return self._ones_cache


def parameter_shapes(sizes):
    """Shapes of [W1, b1, ..., WL, bL] for layer sizes [n0, n1, ..., nL]."""
    return [shape for n_in, n_out in zip(sizes, sizes[1:]) for shape in ((n_in, n_out), (n_out,))]


def split_vector(vector, shapes):
    """Views of consecutive pieces of the 1-d ``vector``, one of each shape."""
    views, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        views.append(vector[start:start + size].reshape(shape))
        start += size
    return views


def matmul(A, B, out=None):
    """A @ B, into ``out`` if given.

    With an inner dimension of 1 (a one-unit layer's dZ W^T, or a one-feature X) the
    product is an outer product, which BLAS runs several times slower than numpy's
    broadcast multiply of the column by the row; both give the same numbers.
    """
    if A.shape[1] == 1:
        return np.multiply(A, B, out=out)
    return np.matmul(A, B, out=out)


class Workspace:
    """Preallocated arrays for ``forward`` and ``backward`` on batches of up to ``rows`` examples.

    Reusing them batch after batch saves an allocation per array per step (and, for
    large layers, the page faults of fresh memory). A batch of m rows uses views of
    the first m rows, made once per distinct m.

    Parameters
    ----------
    network : Network
    rows : int
        The largest batch.
    """

    def __init__(self, network, rows):
        self.rows = rows
        units = network.sizes[1:]
        self.Z = [np.empty((rows, n), network.dtype) for n in units]
        self.A = [np.empty((rows, n), network.dtype) for n in units]
        # dA of a layer, turned into its dZ in place by the activation's backward.
        self.dZ = [np.empty((rows, n), network.dtype) for n in units]
        # backward writes [dW1, db1, ...] into views of one vector laid out as the
        # network's parameter_vector(), for an optimizer to take whole.
        shapes = [P.shape for P in network.params()]
        self.gradient_vector = np.empty(sum(math.prod(shape) for shape in shapes), network.dtype)
        self.grads = split_vector(self.gradient_vector, shapes)
        self._views = {}

    def batch(self, m):
        """(Zs, As, dZs): lists of arrays of shape (m, n[l]) for a batch of m rows."""
        views = self._views.get(m)
        if views is None:
            views = self._views[m] = tuple([a[:m] for a in arrays] for arrays in (self.Z, self.A, self.dZ))
        return views
