"""Learning-quality features: regularisation, schedules, optimizer parameters, sample and
class weights, and the classification metrics.

Gradients are held to central differences (float64), schedules to their formulas, and
every config key is exercised through the real CLI.
"""

import json
import math

import numpy as np
import pytest

from nncli.commands import pipeline
from nncli.config import load_config
from nncli.core.losses import get_loss
from nncli.core.metrics import average_ranks, balanced_accuracy, confusion_matrix, macro_f1, roc_auc
from nncli.core.network import Network, Workspace
from nncli.core.optimizers import get_optimizer
from nncli.core.schedules import LearningRateScheduler, cosine, flat_cos, get_schedule, step
from nncli.core.training import Callback, EarlyStopping, Trainer
from tests.conftest import CONFIGS, DATASETS, IRIS_CONFIG
from tests.gradcheck import numeric_gradients
from tests.test_gradients import OUTPUTS, make_problem

RTOL, ATOL = 1e-5, 1e-7


def assert_gradients(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


# --- gradients against central differences -------------------------------------------
@pytest.mark.parametrize("loss_name", list(OUTPUTS))
def test_sample_weighted_loss_and_gradient(loss_name):
    net, loss, X, Y = make_problem(loss_name, m=9)
    w = np.random.default_rng(1).uniform(0.1, 3.0, len(X))

    def weighted():
        Zs, As = net.forward(X)
        return loss.value(Y, As[-1], Zs[-1], sample_weight=w)

    # The value is sum_i w_i l_i / sum_i w_i, l_i the loss of row i alone.
    Zs, As = net.forward(X)
    rows = [loss.value(Y[i:i + 1], As[-1][i:i + 1], Zs[-1][i:i + 1]) for i in range(len(X))]
    assert weighted() == pytest.approx(np.dot(w, rows) / w.sum(), rel=1e-12)
    expected = numeric_gradients(net, loss, X, Y, objective=weighted)
    assert_gradients(net.backward(X, Y, Zs, As, loss, sample_weight=w), expected)
    # The preallocated path computes the same.
    workspace = Workspace(net, len(X))
    Zs, As = net.forward(X, workspace)
    assert_gradients(net.backward(X, Y, Zs, As, loss, workspace, sample_weight=w), expected)


@pytest.mark.parametrize("loss_name", list(OUTPUTS))
def test_equal_weights_are_the_plain_mean(loss_name):
    net, loss, X, Y = make_problem(loss_name)
    Zs, As = net.forward(X)
    plain = net.backward(X, Y, Zs, As, loss)
    weighted = net.backward(X, Y, Zs, As, loss, sample_weight=np.full(len(X), 2.5))
    assert_gradients(weighted, plain)
    assert loss.value(Y, As[-1], Zs[-1], sample_weight=np.full(len(X), 2.5)) == pytest.approx(
        loss.value(Y, As[-1], Zs[-1]), rel=1e-12)


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "leaky_relu", "linear"])
@pytest.mark.parametrize("loss_name", list(OUTPUTS))
def test_dropout_gradient_with_a_fixed_mask(loss_name, hidden):
    net, loss, X, Y = make_problem(loss_name, hidden, m=8)
    rng = np.random.default_rng(2)
    p = 0.4
    masks = [(rng.random((len(X), n)) >= p) / (1 - p) for n in net.sizes[1:-1]] + [None]

    def dropped():
        Zs, As = net.forward(X, masks=masks)
        return loss.value(Y, As[-1], Zs[-1])

    expected = numeric_gradients(net, loss, X, Y, objective=dropped)
    Zs, As = net.forward(X, masks=masks)
    assert_gradients(net.backward(X, Y, Zs, As, loss, masks=masks), expected)
    workspace = Workspace(net, len(X))
    Zs, As = net.forward(X, workspace, masks=masks)
    assert_gradients(net.backward(X, Y, Zs, As, loss, workspace, masks=masks), expected)


@pytest.mark.parametrize("loss_name", ["binary_cross_entropy", "cross_entropy"])
def test_label_smoothing_targets_and_gradient(loss_name):
    net, _, X, Y = make_problem(loss_name)
    loss = get_loss(loss_name, label_smoothing=0.1)
    k = 2 if loss_name == "binary_cross_entropy" else Y.shape[1]
    smoothed = loss.smooth_targets(Y)
    np.testing.assert_allclose(smoothed, Y * 0.9 + 0.1 / k)
    if k == 2:  # one sigmoid unit: 1 -> 0.95, 0 -> 0.05
        np.testing.assert_allclose(np.unique(smoothed), [0.05, 0.95])
    expected = numeric_gradients(net, loss, X, smoothed)
    Zs, As = net.forward(X)
    assert_gradients(net.backward(X, smoothed, Zs, As, loss), expected)
    assert get_loss(loss_name).smooth_targets(Y) is Y


def test_weight_decay_is_the_gradient_of_l2_for_sgd_and_momentum():
    # One step with weight decay lambda = one step on the gradient of loss + lambda/2 sum ||W||^2
    # (biases not decayed).
    net, loss, X, Y = make_problem("cross_entropy", "tanh")
    lam, lr = 0.3, 0.1

    def l2():
        Zs, As = net.forward(X)
        return loss.value(Y, As[-1], Zs[-1]) + lam / 2 * sum(float((W * W).sum()) for W in net.W)

    expected = numeric_gradients(net, loss, X, Y, objective=l2)
    for name in ("sgd", "momentum"):
        net2, *_ = make_problem("cross_entropy", "tanh")
        before = net2.get_weights()
        Zs, As = net2.forward(X)
        grads = net2.backward(X, Y, Zs, As, loss)
        optimizer = get_optimizer(name, lr, weight_decay=lam)
        vector, gradient = net2.parameter_vector(), np.concatenate([g.ravel() for g in grads])
        optimizer.update([vector], [gradient], decay_masks=[net2.weight_mask()])
        # Momentum's first step from v = 0 is the plain step too.
        for P, P0, G in zip(net2.params(), before, expected):
            np.testing.assert_allclose(P, P0 - lr * G, rtol=1e-6, atol=1e-9)


def test_adamw_step_by_hand():
    # t = 1: m_hat = g and v_hat = g^2; nncli's Adam folds the bias corrections into the
    # step (Kingma & Ba's "efficient" form), so its epsilon acts as epsilon / sqrt(1 - beta2) here.
    lam, lr, eps = 0.1, 0.01, 1e-8
    P = np.array([1.0, -2.0, 0.5, 3.0])
    g = np.array([0.2, -0.1, 0.0, 4.0])
    mask = np.array([1.0, 1.0, 1.0, 0.0])  # the last entry is a bias
    optimizer = get_optimizer("adam", lr, weight_decay=lam, epsilon=eps)
    want = P - lr * (g / (np.abs(g) + eps / np.sqrt(1 - 0.999)) + lam * mask * P)
    optimizer.update([P], [g.copy()], decay_masks=[mask])
    np.testing.assert_allclose(P, want, rtol=1e-12)


def test_nesterov_momentum_by_hand():
    # v1 = -lr g1; W1 = W0 + beta v1 - lr g1. v2 = beta v1 - lr g2; W2 = W1 + beta v2 - lr g2.
    beta, lr = 0.8, 0.1
    W = np.array([1.0, 2.0])
    g1, g2 = np.array([0.5, -1.0]), np.array([0.25, 0.5])
    optimizer = get_optimizer("momentum", lr, beta=beta, nesterov=True)
    v1 = -lr * g1
    W1 = W + beta * v1 - lr * g1
    v2 = beta * v1 - lr * g2
    W2 = W1 + beta * v2 - lr * g2
    optimizer.update([W], [g1])
    np.testing.assert_allclose(W, W1, rtol=1e-15)
    optimizer.update([W], [g2])
    np.testing.assert_allclose(W, W2, rtol=1e-15)


# --- the training loop ---------------------------------------------------------------
def small_trainer(loss_name="cross_entropy", epochs=5, batch_size=4, seed=0, **options):
    net, loss, X, Y = make_problem(loss_name, "relu", m=20, seed=seed)
    opt = options.pop("optimizer", get_optimizer("sgd", 0.1))
    trainer = Trainer(net, options.pop("loss", loss), opt, epochs=epochs, batch_size=batch_size,
                      rng=np.random.default_rng(seed), **options)
    return trainer, X, Y


def test_integer_weights_equal_repeated_rows():
    # Full batch: weight 2 on a row is the same objective as that row twice.
    trainer, X, Y = small_trainer(batch_size=None)
    w = np.where(np.arange(len(X)) % 3 == 0, 2.0, 1.0)
    repeat = np.repeat(np.arange(len(X)), w.astype(int))
    other, *_ = small_trainer(batch_size=None)
    a = trainer.fit(X, Y, sample_weight=w)
    b = other.fit(X[repeat], Y[repeat])
    for P, Q in zip(trainer.network.params(), other.network.params()):
        np.testing.assert_allclose(P, Q, rtol=1e-10)
    assert a.history[-1]["train_loss"] == pytest.approx(b.history[-1]["train_loss"], rel=1e-10)


def test_weighted_validation_loss_is_reported():
    trainer, X, Y = small_trainer(epochs=1)
    w_val = np.linspace(0.5, 2.0, 8)
    result = trainer.fit(X[:12], Y[:12], X[12:], Y[12:], val_sample_weight=w_val)
    assert result.history[0]["val_loss"] == pytest.approx(trainer.evaluate(X[12:], Y[12:], w_val)["loss"])
    assert result.history[0]["val_loss"] != pytest.approx(trainer.evaluate(X[12:], Y[12:])["loss"])


@pytest.mark.parametrize("bad", [np.ones(3), -np.ones(20), np.zeros(20), np.full(20, np.nan)])
def test_unusable_sample_weights_are_refused(bad):
    trainer, X, Y = small_trainer()
    with pytest.raises(ValueError, match="sample_weight"):
        trainer.fit(X, Y, sample_weight=bad)


def test_dropout_is_seeded_training_only_and_off_by_default():
    def run(seed, dropout):
        trainer, X, Y = small_trainer(seed=0, dropout=dropout)
        trainer.rng = np.random.default_rng(seed)
        trainer.fit(X, Y)
        return trainer

    a, b, c = run(1, [0.5, 0.5, 0]), run(1, [0.5, 0.5, 0]), run(2, [0.5, 0.5, 0])
    assert all(np.array_equal(P, Q) for P, Q in zip(a.network.params(), b.network.params()))
    assert not np.array_equal(a.network.W[0], c.network.W[0])
    # Evaluation is deterministic: no mask.
    _, X, Y = small_trainer()
    assert a.evaluate(X, Y) == a.evaluate(X, Y)
    # Rates of 0 are the plain loop, bit for bit.
    plain, zeros = run(1, None), run(1, [0.0, 0.0, 0.0])
    assert all(np.array_equal(P, Q) for P, Q in zip(plain.network.params(), zeros.network.params()))
    with pytest.raises(ValueError, match="dropout"):
        small_trainer(dropout=[0.5, 0.5, 0.5])


def test_disabled_features_are_the_plain_loop_bit_for_bit():
    # weight_decay 0, label_smoothing 0, no weights, no dropout: the plain code runs.
    for name in ("sgd", "momentum", "adam"):
        a, X, Y = small_trainer(optimizer=get_optimizer(name, 0.05))
        b, *_ = small_trainer(optimizer=get_optimizer(name, 0.05, weight_decay=0.0), dropout=[0, 0, 0],
                              loss=get_loss("cross_entropy", label_smoothing=0.0))
        a.fit(X, Y)
        b.fit(X, Y)
        assert all(np.array_equal(P, Q) for P, Q in zip(a.network.params(), b.network.params())), name


def test_early_stopping_resets_between_fits():
    trainer, X, Y = small_trainer(epochs=3)
    stopper = EarlyStopping(patience=100)
    trainer.callbacks = [stopper]
    trainer.fit(X[:12], Y[:12], X[12:], Y[12:])
    stopper.best, stopper.wait = -1.0, 99  # as if left over from another run
    trainer.fit(X[:12], Y[:12], X[12:], Y[12:])
    assert stopper.best > 0 and stopper.best_epoch is not None and stopper.wait < 99


def test_validation_arrays_are_used_in_the_network_dtype():
    net, loss, X, Y = make_problem("cross_entropy")
    net32 = Network(4, [{"units": 5, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
                    dtype=np.float32).initialize(np.random.default_rng(0))
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(logs["val_loss"])

    trainer = Trainer(net32, loss, get_optimizer("sgd", 0.0), epochs=1, batch_size=None,
                      rng=np.random.default_rng(0), callbacks=[Spy()])
    trainer.fit(X, Y, X, Y)  # float64 validation arrays
    assert seen[0] == trainer.evaluate(X.astype(np.float32), Y.astype(np.float32))["loss"]


# --- schedules -------------------------------------------------------------------------
def test_schedule_formulas():
    lr, E = 0.2, 10
    assert [step(e, lr, E, step_size=3, gamma=0.5) for e in range(7)] == pytest.approx(
        [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.05])
    for e in range(E):
        want = 0.01 + (lr - 0.01) * (1 + math.cos(math.pi * e / E)) / 2
        assert cosine(e, lr, E, min_lr=0.01) == pytest.approx(want)
    assert cosine(0, lr, E) == lr and cosine(E, lr, E) == pytest.approx(0.0)
    # flat for 40% of 10 epochs (epochs 0-3), then a cosine over the other 6.
    rates = [flat_cos(e, lr, E, flat_fraction=0.4) for e in range(E)]
    assert rates[:4] == [lr] * 4
    assert rates[4:] == pytest.approx([lr * (1 + math.cos(math.pi * k / 6)) / 2 for k in range(6)])
    assert get_schedule("constant")(5, lr, E) == lr


def test_reduce_on_plateau():
    schedule = get_schedule("reduce_on_plateau", factor=0.5, patience=2, min_lr=0.02)
    rates = []
    for loss in [1.0, 0.9, 0.95, 0.91, 0.8, 0.85, 0.85, 0.9, 0.9, 0.9, 0.9]:
        schedule.observe(loss)
        rates.append(schedule(0, 0.1, 10))
    # no improvement twice in a row -> x0.5 (after 0.91, after the second 0.85, after 0.9 0.9),
    # then the floor min_lr.
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02])


class RateRecorder(Callback):
    def __init__(self):
        self.batch_rates, self.epoch_rates = [], []

    def on_batch_end(self, step, logs):
        self.batch_rates.append(logs["learning_rate"])

    def on_epoch_end(self, epoch, logs):
        self.epoch_rates.append(logs["learning_rate"])


@pytest.mark.parametrize("name, params", [("constant", {}), ("step", {"step_size": 2, "gamma": 0.5}),
                                          ("cosine", {"min_lr": 0.001}), ("flat_cos", {})])
def test_scheduler_callback_applies_warmup_then_the_schedule(name, params):
    lr, epochs, warmup = 0.1, 8, 2
    trainer, X, Y = small_trainer(epochs=epochs, batch_size=5)  # 20 rows: 4 updates per epoch
    recorder = RateRecorder()
    schedule = get_schedule(name, **params)
    trainer.callbacks = [LearningRateScheduler(schedule, lr, epochs, warmup), recorder]
    trainer.fit(X, Y)
    # The k-th update of the 8 warm-up updates uses lr * k / 8 ...
    assert recorder.batch_rates[:8] == pytest.approx([lr * k / 8 for k in range(1, 9)])
    # ... then epoch e (from 0 after the warm-up) uses schedule(e, lr, 6) for all its updates.
    after = [get_schedule(name, **params)(e, lr, epochs - warmup) for e in range(epochs - warmup)]
    assert recorder.batch_rates[8:] == pytest.approx([r for r in after for _ in range(4)])
    assert recorder.epoch_rates == pytest.approx([lr / 2, lr] + after)


# --- metrics ---------------------------------------------------------------------------
def test_balanced_accuracy_and_macro_f1_by_hand():
    true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    C = confusion_matrix(true, pred, 4)  # class 3 absent from both: left out
    # recalls 3/4, 1/2, 1 -> mean 0.75
    assert balanced_accuracy(C) == pytest.approx(0.75)
    # F1: class 0 p=1 r=.75 -> 6/7; class 1 p=.5 r=.5 -> .5; class 2 p=2/3 r=1 -> .8
    assert macro_f1(C) == pytest.approx((6 / 7 + 0.5 + 0.8) / 3)


def test_roc_auc_by_ranks_with_ties():
    assert list(average_ranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]
    true = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.8, 0.9])
    # Pairs (positive, negative) with the positive above: count them, ties 1/2.
    pairs = [(p, n) for p in scores[true == 1] for n in scores[true == 0]]
    want = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    assert roc_auc(true, scores) == pytest.approx(want)
    assert roc_auc(true, -scores) == pytest.approx(1 - want)
    assert math.isnan(roc_auc(np.ones(3), np.arange(3.0)))


# --- through the CLI ---------------------------------------------------------------------
def train(cli, tmp_path, config, *sets, name="m.npz"):
    model, history = tmp_path / name, tmp_path / (name + ".csv")
    args = [a for s in sets for a in ("--set", s)]
    result = cli("train", config, "-o", model, "--history", history, "--json", "-q", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), history.read_text().splitlines(), model


@pytest.mark.parametrize("sets", [
    ["training.weight_decay=0.01"],
    ["training.optimizer=adam", "training.weight_decay=0.01", "training.beta1=0.8", "training.beta2=0.99",
     "training.epsilon=1e-7"],
    ["training.optimizer=momentum", "training.momentum=0.8", "training.nesterov=true"],
    ["model.layers.0.dropout=0.3"],
    ["loss={name: cross_entropy, label_smoothing: 0.1}"],
    ["training.class_weight=balanced"],
    ["training.class_weight={setosa: 2, virginica: 0.5}"],
])
def test_each_key_trains_through_the_cli(cli, tmp_path, write_config, sets):
    summary, rows, model = train(cli, tmp_path, write_config(IRIS_CONFIG), *sets)
    assert summary["status"] == "completed" and math.isfinite(summary["val_loss"])
    for key in ("val_accuracy", "val_balanced_accuracy", "val_macro_f1", "train_macro_f1"):
        assert 0 <= summary[key] <= 1
    meta = json.loads(str(np.load(model)["meta"]))
    assert meta["loss"] == "cross_entropy"  # the plain name, whatever the form in the config
    assert "dropout" not in meta["layers"][0]  # inference never drops out


@pytest.mark.parametrize("schedule, first, last", [
    ("step", None, None), ("{name: step, step_size: 2, gamma: 0.5}", 0.05, 0.05 * 0.5 ** 2),
    ("{name: cosine, min_lr: 0.001}", 0.05, 0.001 + 0.049 * (1 + math.cos(math.pi * 4 / 5)) / 2),
    ("flat_cos", 0.05, 0.05 * (1 + math.cos(math.pi * 1.5 / 2.5)) / 2),
    ("{name: reduce_on_plateau, patience: 1}", 0.05, None),
    ("{name: constant, warmup_epochs: 2}", None, 0.05),
])
def test_schedules_through_the_cli(cli, tmp_path, write_config, schedule, first, last):
    path = write_config(IRIS_CONFIG)
    result = cli("train", path, "-o", tmp_path / "m.npz", "--set", f"training.schedule={schedule}",
                 "--history", tmp_path / "h.csv", "-q")
    if schedule == "step":  # step needs its step_size
        assert result.exit_code == 2 and "training.schedule: schedule step needs step_size" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    rows = (tmp_path / "h.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[-2:] == ["learning_rate", "seconds"]
    rates = [float(r.split(",")[-2]) for r in rows[1:]]
    assert len(rates) == 5
    if first is not None:
        assert rates[0] == pytest.approx(first)
    if last is not None:
        assert rates[-1] == pytest.approx(last)


def test_plain_display_shows_the_learning_rate(cli, tmp_path, write_config):
    result = cli("train", write_config(IRIS_CONFIG), "-o", tmp_path / "m.npz",
                 "--set", "training.schedule={name: cosine}")
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch")]
    assert "learning_rate 0.0" in lines[-1]


def test_binary_metrics_smoothing_and_evaluate(cli, tmp_path):
    config = CONFIGS / "logistic_regression.yaml"
    summary, rows, model = train(cli, tmp_path, config, "training.epochs=10",
                                 "loss={name: binary_cross_entropy, label_smoothing: 0.05}",
                                 "training.class_weight=balanced")
    assert summary["val_roc_auc"] > 0.95 and summary["train_roc_auc"] > 0.95
    assert rows[0] == ("epoch,train_loss,val_loss,val_accuracy,val_balanced_accuracy,val_macro_f1,val_roc_auc,"
                       "seconds")
    meta = json.loads(str(np.load(model)["meta"]))
    assert meta["loss"] == "binary_cross_entropy"
    assert meta["config"]["loss"] == {"name": "binary_cross_entropy", "label_smoothing": 0.05}
    result = cli("evaluate", model, DATASETS / "breast_cancer.csv", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data)[:6] == ["n_rows", "loss", "accuracy", "balanced_accuracy", "macro_f1", "roc_auc"]
    assert data["roc_auc"] > 0.95 and 0 < data["balanced_accuracy"] <= 1
    # Chunks do not change the rank-based AUC.
    small = json.loads(cli("evaluate", model, DATASETS / "breast_cancer.csv", "--json",
                           "--chunk-size", "50").stdout)
    assert small["roc_auc"] == pytest.approx(data["roc_auc"], rel=1e-12)


def test_defaults_written_out_train_the_same_weights(cli, tmp_path, write_config):
    plain = train(cli, tmp_path, write_config(IRIS_CONFIG, "a.yaml"), "training.optimizer=momentum",
                  name="a.npz")[2]
    explicit = write_config(IRIS_CONFIG.replace("    - {units: 8, activation: relu}",
                                                "    - {units: 8, activation: relu, dropout: 0}")
                            .replace("loss: cross_entropy", "loss: {name: cross_entropy, label_smoothing: 0}")
                            + "  weight_decay: 0\n  schedule: {name: constant, warmup_epochs: 0}\n"
                              "  momentum: 0.9\n  nesterov: false\n", "b.yaml")
    explicit = train(cli, tmp_path, explicit, "training.optimizer=momentum", name="b.npz")[2]
    a, b = np.load(plain), np.load(explicit)
    for key in a.files:
        if key != "meta":
            assert np.array_equal(a[key], b[key]), key
    assert json.loads(str(a["meta"]))["config"] == json.loads(str(b["meta"]))["config"]


def test_class_weights_multiply_the_data_weights(tmp_path, write_config):
    cfg = load_config(write_config(IRIS_CONFIG + "  class_weight: balanced\n"))
    ds = pipeline.prepare_data(cfg)
    w_train, w_val = pipeline.sample_weights(cfg, ds)
    counts = ds.Y_train.sum(axis=0)
    np.testing.assert_allclose(w_train, (len(ds.Y_train) / (3 * counts))[ds.Y_train.argmax(axis=1)])
    np.testing.assert_allclose(w_val, (len(ds.Y_train) / (3 * counts))[ds.Y_val.argmax(axis=1)])
    # The data's own weights (data.weight, another part of the issue) multiply them.
    ds.sample_weight_train = np.full(len(ds.Y_train), 2.0)
    assert np.allclose(pipeline.sample_weights(cfg, ds)[0], 2 * w_train)


@pytest.mark.parametrize("key, value, message", [
    ("training.weight_decay", "-0.1", "training.weight_decay: must be greater than or equal to 0"),
    ("model.layers.1.dropout", "0.5", "model.layers.1.dropout: dropout is not allowed on the output layer"),
    ("model.layers.0.dropout", "1", "model.layers.0.dropout: must be less than 1"),
    ("loss", "{name: cross_entropy, label_smoothing: 1.5}", "loss.label_smoothing: must be a number in [0, 1)"),
    ("loss", "{name: cross_entropy, smoothing: 0.1}", "unknown key 'smoothing' in loss"),
    ("training.schedule", "cosin", "training.schedule.name: unknown schedule 'cosin' (did you mean 'cosine'?)"),
    ("training.schedule", "{name: cosine, gamma: 0.5}", "training.schedule: gamma is a parameter of schedule step"),
    ("training.schedule", "{name: flat_cos, flat_fraction: 1}", "training.schedule.flat_fraction: must be less than 1"),
    ("training.momentum", "0.9", "training.momentum applies to optimizer momentum only, but training.optimizer is sgd"),
    ("training.beta1", "0.9", "training.beta1 applies to optimizer adam only"),
    ("training.epsilon", "0", "training.epsilon: must be greater than 0"),
    ("training.class_weight", "balance", "training.class_weight: must be balanced or a mapping"),
    ("training.class_weight", "{setosa: -1}", "the weight of class 'setosa' must be a positive number"),
    ("training.class_weight", "{setosaa: 2}", "training.class_weight: 'setosaa' is not a class of target 'species' "
                                              "(did you mean 'setosa'?)"),
])
def test_bad_values_exit_2_with_the_key_path(cli, tmp_path, write_config, key, value, message):
    result = cli("train", write_config(IRIS_CONFIG), "-o", tmp_path / "m.npz", "--set", f"{key}={value}")
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.startswith("error: ")
    assert not (tmp_path / "m.npz").exists()


def test_label_smoothing_and_class_weight_need_a_classifier(cli, tmp_path):
    config = CONFIGS / "linear_regression.yaml"
    result = cli("train", config, "-o", tmp_path / "m.npz", "--set", "loss={name: mse, label_smoothing: 0.1}")
    assert result.exit_code == 2 and "loss.label_smoothing applies to cross_entropy" in result.stderr
    result = cli("train", config, "-o", tmp_path / "m.npz", "--set", "training.class_weight=balanced")
    assert result.exit_code == 2 and "training.class_weight applies to classification" in result.stderr


def test_schedules_import_numpy_only():
    import subprocess
    import sys

    code = ("import sys; import nncli.core.schedules; "
            "bad = [m for m in ('pandas', 'yaml', 'typer', 'rich', 'pydantic') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
