"""The fast paths of the core compute the same numbers as the lecture's formulas.

The training loop runs forward/backward into a preallocated Workspace, updates in
place and gathers shuffled batches into buffers; these tests hold each of those to
a plain reference (float64), and the gradients to central finite differences.
"""

import numpy as np
import pytest

from nncli.core.activations import ACTIVATIONS, get_activation
from nncli.core.losses import get_loss
from nncli.core.network import Network, Workspace, matmul
from nncli.core.optimizers import get_optimizer
from nncli.core.blas import blas_threads_for
from nncli.core.training import Trainer
from tests.gradcheck import numeric_gradients, targets

OUTPUTS = {  # loss -> (output activation, units)
    "mse": ("linear", 3),
    "binary_cross_entropy": ("sigmoid", 1),
    "cross_entropy": ("softmax", 3),
}
HIDDEN = [name for name in ACTIVATIONS if name != "softmax"]


def make_problem(loss_name, hidden="tanh", m=7, n_features=4, units=(5, 6), seed=0):
    rng = np.random.default_rng(seed)
    out_activation, n_out = OUTPUTS[loss_name]
    layers = [{"units": u, "activation": hidden} for u in units] + [{"units": n_out, "activation": out_activation}]
    net = Network(n_features, layers, dtype=np.float64).initialize(rng)
    for b in net.b:  # non-zero biases, so that db is checked too
        b[...] = rng.normal(0, 0.1, b.shape)
    X = rng.normal(size=(m, n_features))
    Y = targets(rng, loss_name, m, n_out)
    return net, get_loss(loss_name), X, Y


@pytest.mark.parametrize("loss_name", list(OUTPUTS))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_backward_matches_finite_differences_with_and_without_workspace(loss_name, hidden):
    net, loss, X, Y = make_problem(loss_name, hidden)
    expected = numeric_gradients(net, loss, X, Y)
    Zs, As = net.forward(X)
    plain = net.backward(X, Y, Zs, As, loss)
    workspace = Workspace(net, rows=10)  # larger than the batch: views of its first rows
    Zs, As = net.forward(X, workspace)
    fast = net.backward(X, Y, Zs, As, loss, workspace)
    for got_plain, got_fast, want in zip(plain, fast, expected):
        np.testing.assert_allclose(got_plain, want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got_fast, got_plain, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_features, units, m", [(1, (4,), 5), (3, (4,), 1), (3, (1, 4), 6)])
def test_one_unit_and_one_row_products_match(n_features, units, m):
    # Inner dimension 1: a one-feature X, a one-row batch (A^T dZ), a one-unit hidden layer.
    net, loss, X, Y = make_problem("mse", "relu", m=m, n_features=n_features, units=units)
    expected = numeric_gradients(net, loss, X, Y)
    Zs, As = net.forward(X, Workspace(net, m))
    for got, want in zip(net.backward(X, Y, Zs, As, loss), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_matmul_outer_product_is_exact():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 1)).astype(np.float32), rng.normal(size=(1, 5)).astype(np.float32)
    np.testing.assert_array_equal(matmul(a, b), a @ b)


@pytest.mark.parametrize("name", HIDDEN + ["softmax"])
def test_activation_out_arguments_leave_inputs_alone(name):
    g = get_activation(name, **({"alpha": 0.1} if name == "leaky_relu" else {}))
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(4, 3)) * 5
    Z_copy = Z.copy()
    A = g.forward(Z)
    A_out = g.forward(Z, out=np.empty_like(Z))
    np.testing.assert_array_equal(A_out, A)
    np.testing.assert_array_equal(Z, Z_copy)
    dA = rng.normal(size=Z.shape)
    dA_copy = dA.copy()
    dZ = g.backward(dA, Z, A)
    np.testing.assert_array_equal(dA, dA_copy)  # no out: dA untouched
    in_place = dA.copy()
    np.testing.assert_array_equal(g.backward(in_place, Z, A, out=in_place), dZ)


def test_sigmoid_is_exact_at_the_extremes():
    g = get_activation("sigmoid")
    Z = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]])
    A = g.forward(Z)
    np.testing.assert_allclose(A, [[0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0]], rtol=1e-15)
    assert A[0, 1] > 0


def reference_fit(net, loss, X, Y, epochs, batch_size, learning_rate, rng):
    """The lecture's loop: shuffle a copy, slice batches, allocate everything, W -= lr dW."""
    for _ in range(epochs):
        order = rng.permutation(len(X))
        Xs, Ys = X[order], Y[order]
        for start in range(0, len(X), batch_size):
            Xb, Yb = Xs[start:start + batch_size], Ys[start:start + batch_size]
            A, Zs, As = Xb, [], []
            for W, b, g in zip(net.W, net.b, net.activations):
                Z = A @ W + b
                A = g.forward(Z)
                Zs.append(Z)
                As.append(A)
            dZ = loss.output_delta(Yb, As[-1], Zs[-1], net.activations[-1])
            grads = []
            for l in range(net.n_layers - 1, -1, -1):
                A_prev = As[l - 1] if l > 0 else Xb
                grads = [A_prev.T @ dZ, dZ.sum(axis=0)] + grads
                if l > 0:
                    dZ = net.activations[l - 1].backward(dZ @ net.W[l].T, Zs[l - 1], As[l - 1])
            for P, dP in zip(net.params(), grads):
                P -= learning_rate * dP


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_trainer_matches_the_reference_loop(optimizer):
    net, loss, X, Y = make_problem("cross_entropy", "relu", m=23)
    start = net.get_weights()
    trainer = Trainer(net, loss, get_optimizer(optimizer, 0.05), epochs=3, batch_size=5,
                      rng=np.random.default_rng(7))
    result = trainer.fit(X, Y)
    assert result.status == "completed" and trainer.steps == 15  # 23 rows: 4 full batches + 3 rows
    if optimizer != "sgd":
        return  # the stateful rules are checked by hand elsewhere; here: it runs
    ref, *_ = make_problem("cross_entropy", "relu", m=23)
    ref.set_weights(start)
    reference_fit(ref, loss, X, Y, 3, 5, 0.05, np.random.default_rng(7))
    for got, want in zip(net.params(), ref.params()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_trainer_full_batch_and_epoch_loss_from_batches():
    net, loss, X, Y = make_problem("binary_cross_entropy", "relu", m=16)
    before = net.get_weights()
    result = Trainer(net, loss, get_optimizer("sgd", 0.1), epochs=1, batch_size=None,
                     rng=np.random.default_rng(0)).fit(X, Y)
    check = Network(4, net.layer_specs(), dtype=np.float64)
    check.set_weights(before)
    Zs, As = check.forward(X)
    assert result.history[0]["train_loss"] == pytest.approx(loss.value(Y, As[-1], Zs[-1]), rel=1e-12)


def test_training_is_reproducible_bit_for_bit_in_float32():
    runs = []
    for _ in range(2):
        net, loss, X, Y = make_problem("mse", "relu", m=50)
        net32 = Network(4, net.layer_specs(), dtype=np.float32)
        net32.set_weights(net.get_weights())
        Trainer(net32, loss, get_optimizer("sgd", 0.01), epochs=2, batch_size=8,
                rng=np.random.default_rng(3)).fit(X.astype(np.float32), Y.astype(np.float32))
        runs.append(net32.get_weights())
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_parameters_are_views_of_one_vector_even_after_replacement():
    net, loss, X, Y = make_problem("mse", "relu")
    vector = net.parameter_vector()
    net.W[0][0, 0] = 42.0
    assert 42.0 in vector
    replaced = np.full_like(net.W[1], 0.5)
    net.W[1] = replaced  # as a model file loader may do
    vector = net.parameter_vector()
    np.testing.assert_array_equal(net.W[1], replaced)
    assert net.W[0][0, 0] == 42.0 and 42.0 in vector and np.shares_memory(net.W[1], vector)
    vector[:] = 0
    assert not any(P.any() for P in net.params())


def test_trainer_trains_a_network_whose_arrays_were_replaced():
    net, loss, X, Y = make_problem("mse", "relu", m=12)
    ref, *_ = make_problem("mse", "relu", m=12)
    net.W[0] = net.W[0].copy()
    for n in (net, ref):
        Trainer(n, loss, get_optimizer("sgd", 0.05), epochs=2, batch_size=4, rng=np.random.default_rng(1)).fit(X, Y)
    for a, b in zip(net.params(), ref.params()):
        np.testing.assert_array_equal(a, b)


def test_blas_threads_follow_the_size_of_the_products():
    assert blas_threads_for([8, 16, 1], 32, cores=2) == 1
    assert blas_threads_for([784, 512, 256, 10], 128, cores=2) == 2
    assert blas_threads_for([784, 512, 256, 10], 128, cores=1) == 1


def test_scoring_uses_one_blas_thread_for_small_networks_only():
    """predict parses in a second thread: small networks leave it the other core, wide ones take both."""
    from nncli.core.blas import scoring_threads

    assert scoring_threads([12, 32, 1], cores=2) == 1
    assert scoring_threads([12, 128, 128, 1], cores=2) == 1       # 18,048 multiply-adds per row
    assert scoring_threads([12, 512, 512, 1], cores=2) == 2       # 268,800
    assert scoring_threads([12, 512, 512, 1], cores=1) == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss_name", list(OUTPUTS))
def test_sgd_step_folded_into_backward_is_the_plain_step(loss_name, dtype):
    # backward(learning_rate=lr) takes W <- W - lr dW, b <- b - lr db layer by layer (one gemm
    # each), every gradient from the weights before the step: the step SGD.update takes.
    lr = 0.1
    net, loss, X, Y = make_problem(loss_name, "relu", m=9)
    folded = Network(4, net.layer_specs(), dtype=dtype)
    folded.set_weights(net.get_weights())
    plain = Network(4, net.layer_specs(), dtype=dtype)
    plain.set_weights(net.get_weights())
    X, Y = X.astype(dtype), Y.astype(dtype)
    Zs, As = plain.forward(X)
    get_optimizer("sgd", lr).update(plain.params(), plain.backward(X, Y, Zs, As, loss))
    workspace = Workspace(folded, 9)
    Zs, As = folded.forward(X, workspace)
    assert folded.backward(X, Y, Zs, As, loss, workspace, learning_rate=lr) is None
    tolerance = 1e-13 if dtype == np.float64 else 1e-6
    for a, b in zip(folded.params(), plain.params()):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)


def test_gemm_takes_the_step_in_numpys_own_blas():
    """The folded step really runs in BLAS here (not the fallback), for plain and transposed operands."""
    from nncli.core import blas

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        A, B = rng.standard_normal((7, 5)).astype(dtype), rng.standard_normal((7, 3)).astype(dtype)
        C = rng.standard_normal((5, 3)).astype(dtype)
        expected = C.astype(np.float64) - 0.25 * (A.T.astype(np.float64) @ B)
        if not blas.gemm(-0.25, A.T, B, 1.0, C):
            pytest.skip("numpy's BLAS is not an OpenBLAS reachable through threadpoolctl")
        np.testing.assert_allclose(C, expected, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    assert not blas.gemm(1.0, A.T, B.astype(np.float32), 1.0, C)  # mixed dtypes: the caller's own path


@pytest.mark.parametrize("dropout", [None, [0.3, 0.2, 0.0]])
def test_the_trainer_folds_plain_sgd_into_backward_to_the_same_weights(monkeypatch, dropout):
    """Trainer with the step folded (every network large enough) against the step taken by SGD.update:
    the same weights to rounding, with and without dropout masks; and bit for bit run to run."""
    import nncli.core.training as training

    steps = []
    descend = Network.descend
    monkeypatch.setattr(Network, "descend", lambda self, *args: steps.append(1) or descend(self, *args))

    def train(fold_min_params):
        monkeypatch.setattr(training, "FOLD_MIN_PARAMS", fold_min_params)
        net, loss, X, Y = make_problem("mse", "relu", m=40)
        Trainer(net, loss, get_optimizer("sgd", 0.05), epochs=3, batch_size=8, rng=np.random.default_rng(2),
                dropout=dropout).fit(X, Y)
        return net.get_weights()

    folded = train(0)
    assert len(steps) == 3 * 5 * 3  # epochs x batches x layers: every step was folded
    plain = train(10 ** 9)
    assert len(steps) == 45  # none
    again = train(0)
    for a, b, c in zip(folded, plain, again):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(a, c)
