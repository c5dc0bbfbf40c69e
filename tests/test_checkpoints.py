"""Checkpoints, --resume and --init-from: a run killed at any moment and resumed ends with
the weights of the run never interrupted, bit for bit.

The random-kill test runs NNCLI_KILL_TRIALS trials per optimizer (default 6; the heavier
check is NNCLI_KILL_TRIALS=50); NNCLI_KILL_SEED repeats a failed draw.
"""

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nncli.io.checkpoint import load_checkpoint
from tests.conftest import CONFIGS, DATASETS, ROOT, run_cli

TRIALS = int(os.environ.get("NNCLI_KILL_TRIALS", "6"))

# Digits (1,797 rows), shuffled batches of 32, dropout, early stopping and a schedule:
# about 10 ms an epoch, so that kills land before, between and during checkpoint writes.
SETTINGS = {
    "sgd": ["training.optimizer=sgd", "training.learning_rate=0.05", "training.schedule.name=step",
            "training.schedule.step_size=4", "training.schedule.gamma=0.5"],
    "momentum": ["training.optimizer=momentum", "training.learning_rate=0.02", "training.momentum=0.9",
                 "training.schedule.name=reduce_on_plateau", "training.schedule.patience=1",
                 "training.schedule.warmup_epochs=1"],
    "adam": ["training.optimizer=adam", "training.learning_rate=0.003", "training.schedule.name=cosine",
             "training.schedule.warmup_epochs=2"],
}
COMMON = ["training.epochs=20", "training.batch_size=32", "model.layers.0.dropout=0.2",
          "training.early_stopping.patience=3", "training.early_stopping.min_delta=0.002"]


def _nncli(*args):
    return [sys.executable, "-m", "nncli", *map(str, args)]


def _train_cmd(optimizer, out_dir, *extra):
    sets = [x for s in COMMON + SETTINGS[optimizer] for x in ("--set", s)]
    return _nncli("train", CONFIGS / "digits.yaml", "-o", out_dir / "model.npz", "--history", out_dir / "h.csv",
                  *sets, "--quiet", *extra)


def _run(cmd):
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def _killed(cmd, delay, after_start):
    """Run ``cmd`` (not --quiet) and SIGKILL it ``delay`` seconds after it starts, or, with
    ``after_start``, after training starts (the display's first line)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if after_start:
        line = proc.stderr.readline()
        while line and not line.startswith("training"):
            line = proc.stderr.readline()
    time.sleep(delay)
    proc.kill()
    proc.wait(timeout=60)
    proc.stderr.close()


def _same_model(a, b):
    """Every array of two model files equal, and their meta equal (the model files hold no timing)."""
    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        assert sorted(x.files) == sorted(y.files)
        for name in x.files:
            assert x[name].dtype == y[name].dtype and np.array_equal(x[name], y[name]), name


def _history_without_seconds(path):
    rows = [line.split(",") for line in path.read_text().splitlines()]
    return [row[:-1] for row in rows]  # the last column is the epoch's wall time


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """The uninterrupted run of each optimizer (no checkpoints at all): its folder, and the
    seconds of the whole process and of its training."""
    out = {}
    for optimizer in SETTINGS:
        folder = tmp_path_factory.mktemp(f"ref-{optimizer}")
        start = time.monotonic()
        summary = json.loads(_run(_train_cmd(optimizer, folder, "--json")).stdout)
        out[optimizer] = (folder, time.monotonic() - start, summary["seconds"])
    return out


def _trial(optimizer, reference, folder, rng):
    """Kill a checkpointing run at a random moment (and maybe its resumption too), then
    resume until done; returns what happened, for the report."""
    (ref_folder, process_seconds, training_seconds) = reference
    ck = folder / "ck.npz"
    events = []
    cmd = _train_cmd(optimizer, folder, "--checkpoint", ck, "--checkpoint-every", 1)
    for attempt in range(1 + (rng.random() < 0.5)):
        # Mostly during training (two runs at a time: each slower than alone), sometimes anywhere.
        after_start = rng.random() < 0.85
        delay = rng.uniform(0, 2.5 * training_seconds if after_start else 1.2 * process_seconds)
        leftovers_before = {p.name for p in folder.iterdir() if p.name.startswith(".ck.npz.")}
        run = cmd if not ck.exists() else _nncli("train", "--resume", ck)
        _killed([a for a in run if a != "--quiet"], delay, after_start)
        leftovers = {p.name for p in folder.iterdir() if p.name.startswith(".ck.npz.")} - leftovers_before
        events.append({"delay": round(delay, 3), "checkpoint_epoch": load_checkpoint(ck)[0]["epoch"]
                       if ck.exists() else None, "mid_write": bool(leftovers)})
    # The user's move: resume if there is a checkpoint, else start again.
    _run(_nncli("train", "--resume", ck, "--quiet") if ck.exists() else cmd)
    _same_model(ref_folder / "model.npz", folder / "model.npz")
    assert _history_without_seconds(ref_folder / "h.csv") == _history_without_seconds(folder / "h.csv")
    return events


@pytest.mark.parametrize("optimizer", list(SETTINGS))
def test_sigkill_at_random_moments_then_resume_is_bit_identical(optimizer, references, tmp_path):
    seed = int(os.environ.get("NNCLI_KILL_SEED", random.SystemRandom().randrange(2**32)))
    rngs = [random.Random(seed + k) for k in range(TRIALS)]
    folders = [tmp_path / f"trial{k}" for k in range(TRIALS)]
    for folder in folders:
        folder.mkdir()
    with ThreadPoolExecutor(2) as pool:  # two at a time: the machine has two cores
        futures = [pool.submit(_trial, optimizer, references[optimizer], f, r) for f, r in zip(folders, rngs)]
        try:
            events = [f.result() for f in futures]
        except AssertionError as exc:
            raise AssertionError(f"{exc} (repeat with NNCLI_KILL_SEED={seed})") from None
    kills = [x for e in events for x in e]
    report = {"optimizer": optimizer, "seed": seed, "trials": TRIALS, "kills": len(kills),
              "checkpoint_epochs": sorted(x["checkpoint_epoch"] or 0 for x in kills),
              "killed_mid_write": sum(x["mid_write"] for x in kills)}
    print(json.dumps(report))


def test_sigkill_during_a_checkpoint_write_keeps_the_previous_one(tmp_path, references):
    """A process killed half-way through writing its 4th checkpoint: the 3rd is used."""
    script = (
        "import os, signal, numpy as np\n"
        "real, calls = np.savez, []\n"
        "def savez(f, **arrays):\n"
        "    calls.append(1)\n"
        "    real(f, **arrays)\n"
        "    if len(calls) == 4:\n"
        "        f.flush(); f.truncate(f.tell() // 2); f.flush()\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "np.savez = savez\n"
        "import sys; from nncli.__main__ import main; sys.argv[0] = 'nncli'; main()\n")
    ck = tmp_path / "ck.npz"
    cmd = _train_cmd("adam", tmp_path, "--checkpoint", ck, "--checkpoint-every", 1)
    proc = subprocess.run([sys.executable, "-c", script, *cmd[3:]], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".ck.npz.")]  # the half-written one
    assert load_checkpoint(ck)[0]["epoch"] == 3
    _run(_nncli("train", "--resume", ck, "--quiet"))
    _same_model(references["adam"][0] / "model.npz", tmp_path / "model.npz")


def test_ctrl_c_writes_a_final_checkpoint_to_resume_from(tmp_path, references):
    """Checkpoints every 1000 epochs: the only one is written when Ctrl-C stops the run."""
    ck = tmp_path / "ck.npz"
    cmd = _train_cmd("momentum", tmp_path, "--checkpoint", ck, "--checkpoint-every", 1000)
    cmd.remove("--quiet")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    while line and not line.startswith("epoch"):
        line = proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("training ended before the signal arrived")
    assert proc.returncode == 130, err
    assert "nncli train --resume" in err
    assert load_checkpoint(ck)[0]["epoch"] >= 1
    _run(_nncli("train", "--resume", ck, "--quiet"))
    _same_model(references["momentum"][0] / "model.npz", tmp_path / "model.npz")


# --- in-process: the options and the refusals -----------------------------------------------
def _checkpointed(cli, tmp_path, config, *extra):
    ck = tmp_path / "ck.npz"
    result = cli("train", config, "-o", tmp_path / "m.npz", "--checkpoint", ck, "--checkpoint-every", 2,
                 "--set", "training.epochs=6", "--quiet", *extra)
    assert result.exit_code == 0, result.stderr
    return ck


def test_checkpoint_holds_the_state_and_no_pickle(cli, tmp_path, iris_config):
    ck = _checkpointed(cli, tmp_path, iris_config, "--set", "training.optimizer=adam")
    with np.load(ck, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["format"] == "nncli-checkpoint" and meta["state"]["epoch"] == 6
    assert meta["config"]["training"]["optimizer"] == "adam" and len(meta["config_sha256"]) == 64
    assert meta["data"][0]["sha256"] and meta["data"][0]["bytes"] == (DATASETS / "iris.csv").stat().st_size
    state, _ = load_checkpoint(ck)
    assert state["optimizer"]["t"] > 0 and len(state["optimizer"]["m"]) == 1
    assert state["rng"]["bit_generator"] == "PCG64" and len(state["history"]) == 6


def test_resume_refuses_a_changed_config(cli, tmp_path, iris_config):
    ck = _checkpointed(cli, tmp_path, iris_config)
    result = cli("train", iris_config, "--resume", ck, "--set", "training.learning_rate=0.1",
                 "--set", "training.epochs=6")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the config changed since checkpoint")
    assert "training.learning_rate: 0.05 then, 0.1 now" in result.stderr and "--force" in result.stderr
    forced = cli("train", "--resume", ck, "--set", "training.epochs=8", "--force", "--quiet")
    assert forced.exit_code == 0, forced.stderr


def test_resume_refuses_changed_data(cli, tmp_path, write_config):
    data = tmp_path / "iris.csv"
    data.write_text((DATASETS / "iris.csv").read_text())
    config = write_config(f"data: {{path: {data}, target: species}}\n"
                          "model: {layers: [{units: 4, activation: relu}, {units: 3, activation: softmax}]}\n"
                          "loss: cross_entropy\ntraining: {learning_rate: 0.05, epochs: 6}\n")
    ck = _checkpointed(cli, tmp_path, config)
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[:-1]) + "\n")
    result = cli("train", "--resume", ck)
    assert result.exit_code == 2
    assert "error: the data changed since checkpoint" in result.stderr and str(data) in result.stderr
    assert "bytes" in result.stderr and "SHA-256" in result.stderr
    forced = cli("train", "--resume", ck, "--force")
    assert forced.exit_code == 0 and "no longer reproducible" in forced.stderr


def test_resume_options_are_checked(cli, tmp_path, iris_config):
    assert "give a CONFIG" in cli("train").stderr
    assert "--force goes with --resume" in cli("train", iris_config, "--force").stderr
    assert "need --checkpoint" in cli("train", iris_config, "--checkpoint-every", 2).stderr
    both = cli("train", iris_config, "--checkpoint", tmp_path / "c.npz", "--checkpoint-every", 2,
               "--checkpoint-seconds", 5)
    assert both.exit_code == 2 and "not both" in both.stderr
    assert "no such checkpoint" in cli("train", "--resume", tmp_path / "nope.npz").stderr
    (tmp_path / "run").mkdir()
    assert "holds no checkpoint.npz" in cli("train", "--resume", tmp_path / "run").stderr
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    bad = cli("train", "--resume", tmp_path / "bad.npz")
    assert bad.exit_code == 2 and "not an nncli checkpoint" in bad.stderr


def test_run_dir_checkpoints_by_default_and_resumes_from_the_folder(cli, tmp_path, iris_config):
    runs = tmp_path / "runs"
    result = cli("train", iris_config, "--run-dir", runs, "--quiet")
    assert result.exit_code == 0, result.stderr
    (folder,) = runs.iterdir()
    assert (folder / "checkpoint.npz").exists()  # the final one: 5 epochs take less than 60 s
    model = (folder / "model.npz").read_bytes()
    (folder / "model.npz").unlink()
    again = cli("train", "--resume", folder, "--quiet")
    assert again.exit_code == 0, again.stderr
    assert list(runs.iterdir()) == [folder]  # no new run folder
    with np.load(io.BytesIO(model), allow_pickle=False) as before, np.load(folder / "model.npz") as after:
        assert all(np.array_equal(before[k], after[k]) for k in before.files)
    assert json.loads((folder / "summary.json").read_text())["status"] == "completed"


def test_init_from_starts_from_the_model_weights(cli, tmp_path, iris_config):
    first = tmp_path / "first.npz"
    assert cli("train", iris_config, "-o", first, "--quiet").exit_code == 0
    zero = cli("train", iris_config, "-o", tmp_path / "zero.npz", "--init-from", first,
               "--set", "training.epochs=0", "--quiet")
    if zero.exit_code == 2 and "epochs" in zero.stderr:  # epochs must be >= 1: one tiny step instead
        zero = cli("train", iris_config, "-o", tmp_path / "zero.npz", "--init-from", first,
                   "--set", "training.learning_rate=1e-30", "--set", "training.epochs=1", "--quiet")
    assert zero.exit_code == 0, zero.stderr
    with np.load(first) as a, np.load(tmp_path / "zero.npz") as b:
        assert np.allclose(a["W1"], b["W1"], rtol=0, atol=1e-6)
    fresh = run_cli("train", iris_config, "-o", tmp_path / "fresh.npz", "--set", "training.epochs=1", "--quiet")
    assert fresh.exit_code == 0
    with np.load(first) as a, np.load(tmp_path / "fresh.npz") as b:
        assert not np.allclose(a["W1"], b["W1"])


def test_init_from_refuses_other_layers_or_features(cli, tmp_path, iris_config):
    first = tmp_path / "first.npz"
    assert cli("train", iris_config, "-o", first, "--quiet").exit_code == 0
    layers = cli("train", iris_config, "--init-from", first, "--set", "model.layers.0.units=5")
    assert layers.exit_code == 2
    assert "layer 0 (model.layers.0) is 8 units, relu in the model but 5 units, relu in the config" in layers.stderr
    features = cli("train", iris_config, "--init-from", first, "--set", "data.features=[sepal_length]")
    assert features.exit_code == 2 and "input features do not match" in features.stderr
