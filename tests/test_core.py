"""The NumPy core: gradients against finite differences, a hand-worked step, stability."""

import subprocess
import sys

import numpy as np
import pytest

from nncli.core.activations import ACTIVATIONS, get_activation
from nncli.errors import ConfigError
from nncli.core.losses import LOSSES, get_loss
from nncli.core.network import Network
from nncli.core.optimizers import SGD, get_optimizer
from nncli.core.training import EarlyStopping, Trainer
from tests.gradcheck import EPS, numeric_gradients, relative_error, targets

HIDDEN = ["linear", "sigmoid", "tanh", "relu", "leaky_relu"]
# Each loss with an output layer it works with: (activation, units).
OUTPUTS = {
    "mse": [("linear", 2), ("sigmoid", 1), ("tanh", 2)],
    "binary_cross_entropy": [("sigmoid", 1)],
    "cross_entropy": [("softmax", 3)],
}
CASES = [(h, loss, out) for h in HIDDEN for loss, outs in OUTPUTS.items() for out in outs]


def check_network(layers, loss_name, seed=0, m=7, n=4):
    rng = np.random.default_rng(seed)
    net = Network(n, layers, dtype=np.float64).initialize(rng, "xavier")
    for b in net.b:  # non-zero biases so the check covers db too
        b[...] = rng.standard_normal(b.shape) * 0.1
    loss = get_loss(loss_name)
    X = rng.standard_normal((m, n))
    Y = targets(rng, loss_name, m, layers[-1]["units"])
    Zs, As = net.forward(X)
    analytic = net.backward(X, Y, Zs, As, loss)
    numeric = numeric_gradients(net, loss, X, Y)
    for P, a, g in zip(net.params(), analytic, numeric):
        assert a.shape == P.shape
        assert relative_error(a, g) < 1e-6, (a, g)


@pytest.mark.parametrize("hidden,loss,output", CASES)
def test_gradients_match_finite_differences(hidden, loss, output):
    act, units = output
    check_network([{"units": 5, "activation": hidden}, {"units": units, "activation": act}], loss)


@pytest.mark.parametrize("loss", list(OUTPUTS))
def test_three_layer_network_gradients(loss):
    act, units = OUTPUTS[loss][0]
    layers = [{"units": 6, "activation": "tanh"}, {"units": 5, "activation": "leaky_relu", "alpha": 0.1},
              {"units": 4, "activation": "sigmoid"}, {"units": units, "activation": act}]
    check_network(layers, loss, seed=3)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_backward_is_its_derivative(name):
    # d/dZ of sum(R * g(Z)) must equal backward(R, Z, g(Z)) for any R: a check of the
    # local chain-rule step alone, including softmax's full Jacobian.
    rng = np.random.default_rng(1)
    g = get_activation(name)
    Z = rng.standard_normal((4, 3))
    R = rng.standard_normal((4, 3))
    analytic = g.backward(R.copy(), Z, g.forward(Z))
    numeric = np.zeros_like(Z)
    for i in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[i] += EPS
        Zm[i] -= EPS
        numeric[i] = ((g.forward(Zp) - g.forward(Zm)) * R).sum() / (2 * EPS)
    assert relative_error(analytic, numeric) < 1e-8


def test_loss_values_match_their_formulas():
    Y = np.array([[1.0, 0, 0], [0, 0, 1]])
    Z = np.array([[2.0, 1, 0], [0.5, 0.5, 3]])
    A = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    assert get_loss("cross_entropy").value(Y, A, Z) == pytest.approx(-np.mean(np.log((A * Y).sum(axis=1))))
    y = np.array([[1.0], [0.0]])
    z = np.array([[0.3], [-1.2]])
    a = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    assert get_loss("binary_cross_entropy").value(y, a, z) == pytest.approx(expected)
    assert get_loss("mse").value(np.array([[1.0, 2]]), np.array([[0.0, 4]]), None) == pytest.approx(2.5)


def test_losses_and_activations_are_finite_at_extreme_inputs():
    Z = np.array([[1000.0, -1000.0, 0.0]], dtype=np.float32)
    for name in ACTIVATIONS:
        assert np.isfinite(get_activation(name).forward(Z)).all(), name
    A = get_activation("softmax").forward(Z)
    assert get_loss("cross_entropy").value(np.array([[0.0, 1, 0]]), A, Z) == pytest.approx(2000, rel=1e-6)
    z = np.array([[800.0], [-800.0]])
    a = get_activation("sigmoid").forward(z)
    assert a[0, 0] == 1.0 and a[1, 0] == 0.0
    assert get_loss("binary_cross_entropy").value(np.array([[0.0], [1.0]]), a, z) == pytest.approx(800)


def test_one_gradient_descent_step_by_hand():
    # Linear regression y_hat = x w + b with w = 0.5, b = 0, learning rate 0.1, on
    # x = (1, 2), y = (2, 4):
    #   y_hat = (0.5, 1.0); y_hat - y = (-1.5, -3.0)
    #   mse = ((-1.5)^2 + (-3)^2) / 2 = 5.625
    #   dZ = 2 (y_hat - y) / m = (-1.5, -3.0)
    #   dW = x . dZ = 1(-1.5) + 2(-3.0) = -7.5;  db = -1.5 - 3.0 = -4.5
    #   w <- 0.5 - 0.1 (-7.5) = 1.25;  b <- 0 - 0.1 (-4.5) = 0.45
    net = Network(1, [{"units": 1, "activation": "linear"}], dtype=np.float64)
    net.W[0][...] = 0.5
    X, Y = np.array([[1.0], [2.0]]), np.array([[2.0], [4.0]])
    loss = get_loss("mse")
    Zs, As = net.forward(X)
    assert loss.value(Y, As[-1], Zs[-1]) == pytest.approx(5.625)
    dW, db = net.backward(X, Y, Zs, As, loss)
    assert dW[0, 0] == pytest.approx(-7.5) and db[0] == pytest.approx(-4.5)
    SGD(0.1).update(net.params(), [dW, db])
    assert net.W[0][0, 0] == pytest.approx(1.25) and net.b[0][0] == pytest.approx(0.45)


def test_full_batch_training_fits_a_line():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 1))
    Y = 3 * X + 1
    net = Network(1, [{"units": 1, "activation": "linear"}], dtype=np.float64).initialize(rng)
    result = Trainer(net, get_loss("mse"), SGD(0.1), epochs=200, batch_size=None, rng=rng).fit(X, Y)
    assert result.status == "completed" and result.epochs_run == 200
    assert net.W[0][0, 0] == pytest.approx(3, abs=1e-6) and net.b[0][0] == pytest.approx(1, abs=1e-6)
    assert result.history[-1]["train_loss"] < 1e-10


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_every_optimizer_lowers_the_loss(optimizer):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    Y = (X @ np.array([[1.0], [-2.0], [0.5]]) > 0).astype(float)
    net = Network(3, [{"units": 8, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
                  dtype=np.float64).initialize(rng)
    lr = 0.01 if optimizer == "adam" else 0.1
    result = Trainer(net, get_loss("binary_cross_entropy"), get_optimizer(optimizer, lr),
                     epochs=30, batch_size=16, rng=rng).fit(X, Y)
    assert result.history[-1]["train_loss"] < 0.6 * result.history[0]["train_loss"]


def test_divergence_stops_at_once():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 2)) * 10
    Y = X.sum(axis=1, keepdims=True)
    net = Network(2, [{"units": 1, "activation": "linear"}]).initialize(rng)
    result = Trainer(net, get_loss("mse"), SGD(10.0), epochs=1000, batch_size=None, rng=rng).fit(X, Y)
    assert result.status == "diverged"
    assert result.diverged_epoch < 1000 and result.epochs_run < result.diverged_epoch


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 2)), rng.standard_normal((40, 1))  # noise: val loss soon rises
    Xv, Yv = rng.standard_normal((40, 2)), rng.standard_normal((40, 1))
    net = Network(2, [{"units": 32, "activation": "tanh"}, {"units": 1, "activation": "linear"}],
                  dtype=np.float64).initialize(rng)
    stopper = EarlyStopping(patience=3)
    trainer = Trainer(net, get_loss("mse"), SGD(0.1), epochs=500, batch_size=8, rng=rng, callbacks=[stopper])
    result = trainer.fit(X, Y, Xv, Yv)
    assert result.status == "early_stopped" and result.epochs_run == stopper.best_epoch + 3
    best = min(h["val_loss"] for h in result.history)
    assert trainer.evaluate(Xv, Yv)["loss"] == pytest.approx(best, rel=1e-12)


def test_registries_name_the_valid_choices():
    with pytest.raises(ConfigError, match="relu"):
        get_activation("rellu")
    with pytest.raises(ConfigError, match="cross_entropy"):
        get_loss("hinge")
    assert set(LOSSES) == {"mse", "binary_cross_entropy", "cross_entropy"}


def test_core_imports_numpy_only():
    code = ("import sys; import nncli.core.activations, nncli.core.losses, nncli.core.network, nncli.core.optimizers, "
            "nncli.core.training, nncli.core.metrics, nncli.core.initializers, nncli.core.blas; "
            "bad = [m for m in ('pandas', 'yaml', 'typer', 'rich', 'pydantic') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_numpy_free_names_are_the_registries():
    """nncli.core.names (what inspect checks a model file against) matches the registries."""
    from nncli.core.activations import ACTIVATIONS, get_activation
    from nncli.core.names import ACTIVATION_NAMES, ACTIVATION_PARAMS, TARGET_TRANSFORM_NAMES
    from nncli.core.preprocessing import TARGET_TRANSFORMS

    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES
    assert tuple(TARGET_TRANSFORMS) == TARGET_TRANSFORM_NAMES
    for name in ACTIVATION_NAMES:
        params = get_activation(name, **{p: 0.5 for p in ACTIVATION_PARAMS.get(name, ())}).params()
        assert tuple(params) == ACTIVATION_PARAMS.get(name, ())
