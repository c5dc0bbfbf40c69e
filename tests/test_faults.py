"""Faults: divergence, interruption, unwritable outputs. Nothing is lost or half-written."""

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from nncli.io.modelfile import load_model
from tests.conftest import CONFIGS, DATASETS, ROOT, run_cli


def test_divergence_exits_1_and_keeps_the_old_model(cli, tmp_path):
    model = tmp_path / "m.npz"
    model.write_bytes(b"previous good model")
    result = cli("train", CONFIGS / "linear_regression.yaml", "-o", model, "--set", "training.learning_rate=1e6")
    assert result.exit_code == 1
    assert "training diverged at epoch" in result.stderr and "Lower training.learning_rate" in result.stderr
    assert "nncli lr-sweep" in result.stderr
    assert model.read_bytes() == b"previous good model"
    assert not [p for p in tmp_path.iterdir() if p.name != "m.npz"]  # no temporary files left


def test_missing_output_folder_is_caught_before_training(cli, tmp_path):
    result = cli("train", CONFIGS / "iris.yaml", "-o", tmp_path / "nope" / "m.npz")
    assert result.exit_code == 2 and "folder" in result.stderr and "does not exist" in result.stderr
    assert "epoch" not in result.stderr


def test_output_that_is_a_directory(cli, tmp_path):
    result = cli("train", CONFIGS / "iris.yaml", "-o", tmp_path)
    assert result.exit_code == 2 and "is a directory" in result.stderr


def _start_long_training(tmp_path, model):
    cmd = [sys.executable, "-m", "nncli", "train", str(CONFIGS / "digits.yaml"), "-o", str(model),
           "--set", "training.epochs=100000", "--set", "training.early_stopping=null",
           "--history", str(tmp_path / "h.csv")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "100"})
    # Plain mode (not a terminal) prints a header line when training begins.
    line = proc.stderr.readline()
    while line and not line.startswith("training"):
        line = proc.stderr.readline()
    assert line.startswith("training"), "training never started"
    time.sleep(0.5)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_saves_the_model_so_far_and_exits_130(tmp_path, sig):
    model = tmp_path / "m.npz"
    proc = _start_long_training(tmp_path, model)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted after" in err and "saved to" in err and "Traceback" not in err
    last = err.splitlines()[-1]  # one line, not an error: the user asked for it
    assert last.startswith("interrupted after") and last.endswith(f"the model so far was saved to {model}")
    assert err.count("saved to") == 1 and "error:" not in err
    loaded = load_model(model)
    assert loaded.meta["task"] == "multiclass"
    X = np.zeros((2, len(loaded.meta["features"])), np.float32)
    assert np.allclose(loaded.network.forward(X)[1][-1].sum(axis=1), 1, atol=1e-5)
    rows = (tmp_path / "h.csv").read_text().splitlines()
    assert len(rows) >= 2 and rows[0].startswith("epoch,train_loss")


def _hidden(folder):
    """Temporary files left in ``folder`` (atomic_write names them .NAME.XXXX.tmp)."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def _read_until(stream, start):
    """Read lines from ``stream`` until one starts with ``start``; returns it."""
    line = stream.readline()
    while line and not line.startswith(start):
        line = stream.readline()
    assert line.startswith(start), f"never saw {start!r}"
    return line


def test_second_ctrl_c_exits_at_once_without_writing(tmp_path):
    """The first Ctrl-C is acknowledged at once; the second, sent after that, ends the run.

    Full batches through two layers of 4,000 units take seconds, so the run is still in
    that batch, or computing its final metrics, or saving, when the second one arrives:
    whichever it is, nothing may be written.
    """
    model = tmp_path / "m.npz"
    layers = "[{units: 4000, activation: relu}, {units: 4000, activation: relu}, {units: 10, activation: softmax}]"
    cmd = [sys.executable, "-m", "nncli", "train", str(CONFIGS / "digits.yaml"), "-o", str(model),
           "--history", str(tmp_path / "h.csv"), "--set", "training.batch_size=full",
           "--set", f"model.layers={layers}", "--set", "training.epochs=1000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _read_until(proc.stderr, "training")
    proc.send_signal(signal.SIGINT)
    _read_until(proc.stderr, "stopping at the end of this batch")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err == "error: interrupted\n"
    assert list(tmp_path.iterdir()) == []  # no model, no history, no temporary file


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_during_lr_sweep_writes_nothing(tmp_path, sig):
    for jobs in ("1", "2"):
        cmd = [sys.executable, "-m", "nncli", "lr-sweep", str(CONFIGS / "digits.yaml"), "--num", "4",
               "--jobs", jobs, "--write-config", "best.yaml"]
        proc = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        _read_until(proc.stderr, "lr-sweep")  # the progress title: the runs are starting
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert err.endswith("error: interrupted\n") and "Traceback" not in err
        assert out == "" and list(tmp_path.iterdir()) == []


# Ctrl-C at two awkward moments CI met while lr-sweep imported threadpoolctl, whose
# dataclasses are built by exec(): inside a class's __set_name__ (Python reports a
# RuntimeError from the KeyboardInterrupt) and inside exec() (CPython then marks the
# interrupt unhandled, and `python -m` would end by SIGINT: returncode -2).
_INTERRUPTED_IMPORTS = {
    "set_name": """
class Interrupted:
    def __set_name__(self, owner, name):
        raise KeyboardInterrupt

def interrupted_import(*args, **kwargs):
    type("Cache", (), {"field": Interrupted()})
""",
    "exec": """
def interrupted_import(*args, **kwargs):
    exec("raise KeyboardInterrupt")
""",
}


@pytest.mark.parametrize("moment", sorted(_INTERRUPTED_IMPORTS))
def test_an_interrupt_inside_an_import_exits_130(tmp_path, moment):
    (tmp_path / "interrupting.py").write_text(_INTERRUPTED_IMPORTS[moment] + """
from nncli.commands import sweeping as sweep
from nncli.__main__ import main
sweep.grid_sweep = interrupted_import
main()
""")
    cmd = [sys.executable, "-m", "interrupting", "lr-sweep", str(CONFIGS / "iris.yaml"), "--num", "2",
           "--write-config", "best.yaml"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.endswith("error: interrupted\n") and "internal error" not in proc.stderr
    assert proc.stdout == "" and not (tmp_path / "best.yaml").exists()


def test_an_interrupt_while_the_modules_load_exits_130(tmp_path):
    """Ctrl-C during the quarter second that importing nncli.cli (typer, numpy) takes."""
    (tmp_path / "interrupting.py").write_text("""
import sys, types

class Loading(types.ModuleType):
    def __getattr__(self, name):
        exec("raise KeyboardInterrupt")  # as inside dataclasses or namedtuple

sys.modules["nncli.cli"] = Loading("nncli.cli")
from nncli.__main__ import main
main()
""")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "interrupting", "--version"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "error: interrupted\n", "")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_predict_leaves_no_output_and_no_temporary_file(tmp_path, sig):
    """predict -o reads stdin from a pipe kept open: it is inside the write when interrupted."""
    model = tmp_path / "iris.npz"
    assert run_cli("train", CONFIGS / "iris.yaml", "-o", model, "-q", "--set", "training.epochs=1").exit_code == 0
    out = tmp_path / "p.csv"
    proc = subprocess.Popen([sys.executable, "-m", "nncli", "predict", str(model), "-", "-o", str(out)],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    header, body = (DATASETS / "iris.csv").read_text().split("\n", 1)
    proc.stdin.write(f"{header}\n{body * 4}".encode())  # more than the 8 KiB read to check the header
    # stdin stays open: predict waits for more rows, inside its write.
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not _hidden(tmp_path) and time.monotonic() < deadline:  # the temporary output file
        time.sleep(0.01)
    assert _hidden(tmp_path), "predict never opened its output"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.decode() == "error: interrupted\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iris.npz"]


# --- atomic writes ----------------------------------------------------------------------------
def _writers(tmp_path, model):
    """command lines, one per file nncli writes, and the file each writes."""
    config, out = CONFIGS / "iris.yaml", tmp_path / "out"
    short = ["--set", "training.epochs=2"]
    return {
        "model": (["train", config, "-o", out, *short], out),
        "history": (["train", config, "-o", tmp_path / "m.npz", "--history", out, *short], out),
        "predictions": (["predict", model, DATASETS / "iris.csv", "-o", out], out),
        "config": (["lr-sweep", config, "--num", "2", "--epochs", "2", "--jobs", "1", "--write-config", out], out),
    }


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory):
    model = tmp_path_factory.mktemp("faults") / "iris.npz"
    assert run_cli("train", CONFIGS / "iris.yaml", "-o", model, "-q", "--set", "training.epochs=2").exit_code == 0
    return model


@pytest.mark.parametrize("writer", ["model", "history", "predictions", "config"])
def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, iris_model, writer):
    """The disk fills up once the new content is written, before the rename."""
    args, out = _writers(tmp_path, iris_model)[writer]
    out.write_text("the previous file")

    real_fsync = os.fsync

    def disk_full(fd):  # for the temporary file of ``out`` only
        if any(os.path.samestat(os.fstat(fd), p.stat()) for p in tmp_path.glob(".out.*")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full)
    result = run_cli(*args, "-q" if writer != "predictions" else "--missing=error")
    assert result.exit_code == 2, result.stderr
    assert f"error: cannot write {out}: No space left on device; the file is unchanged" in result.stderr
    assert out.read_text() == "the previous file"
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("writer", ["model", "predictions"])
def test_a_crash_in_the_middle_of_a_write_leaves_the_old_file(tmp_path, monkeypatch, iris_model, writer):
    args, out = _writers(tmp_path, iris_model)[writer]
    out.write_text("the previous file")
    if writer == "model":
        def crash(file, **arrays):
            file.write(b"PK\x03\x04 half a model")
            raise KeyboardInterrupt

        monkeypatch.setattr(np, "savez", crash)
    else:
        from nncli.commands import scoring as predicting

        monkeypatch.setattr(predicting, "WRITE_ROWS", 10)  # many small writes
        calls = []
        real = predicting.predict_columns

        def crash(model, A):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(model, A)

        monkeypatch.setattr(predicting, "predict_columns", crash)
    result = run_cli(*args)
    assert result.exit_code == 130
    assert out.read_text() == "the previous file"
    assert _hidden(tmp_path) == []


def test_outputs_follow_symlinks_and_write_pipes_in_place(tmp_path, iris_model):
    real = tmp_path / "real.npz"
    real.write_text("old")
    (tmp_path / "link.npz").symlink_to(real)
    assert run_cli("train", CONFIGS / "iris.yaml", "-o", tmp_path / "link.npz", "-q",
                   "--set", "training.epochs=1").exit_code == 0
    assert (tmp_path / "link.npz").is_symlink() and load_model(real).meta["target"] == "species"

    fifo = tmp_path / "predictions.fifo"  # like /dev/null: a rename would replace it
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = run_cli("predict", iris_model, DATASETS / "iris.csv", "-o", fifo)
    reader.join(timeout=30)
    assert result.exit_code == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and received[0].startswith("species,prob_setosa")


def test_a_closed_stdout_ends_any_command_quietly():
    """As `nncli predict ... | head` does (test_predict.py), for the JSON of lr-sweep."""
    proc = subprocess.Popen([sys.executable, "-m", "nncli", "lr-sweep", str(CONFIGS / "iris.yaml"), "--mode", "range",
                             "--steps", "3000", "--json", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(10) == b'{"points":'  # more than a pipe holds is on its way
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert stderr == ""


def test_every_file_is_written_through_atomic_write():
    """A source check: no module but fileio opens a file for writing by itself."""
    import re

    writes = re.compile(r"""open\([^)]*["'][wax]b?["']|\.to_csv\(|savetxt|\.write_(text|bytes)\(|np\.save\w*\((?!f,)""")
    found = [f"{path.name}:{n}: {line.strip()}" for path in sorted((ROOT / "nncli").glob("*.py"))
             if path.name != "fileio.py"
             for n, line in enumerate(path.read_text().splitlines(), start=1) if writes.search(line)]
    assert found == []


class _FailingStdin:
    """stdin whose reads return ``data`` in pieces, then raise ``failure``."""

    def __init__(self, data, failure):
        self.buffer, self._data, self._failure = self, data, failure

    def read(self, n=-1):
        if not self._data:
            raise self._failure
        piece, self._data = self._data[:max(n, 1)], self._data[max(n, 1):]
        return piece


@pytest.mark.parametrize("failure, expected", [
    (KeyboardInterrupt(), KeyboardInterrupt),
    (OSError(errno.EIO, os.strerror(errno.EIO)), "cannot read stdin: Input/output error"),
])
def test_a_failed_read_is_never_taken_for_the_end_of_the_data(monkeypatch, failure, expected):
    """A read that fails ends the reading with that failure (an I/O error as one of reading,
    not of writing the output). When the failure comes from a signal handler, pandas can
    turn it into a ParserError or take it for the end of the data (the rows so far would
    be written as if they were all): test_interrupted_predict_... exercises that."""
    from nncli.io.reading import ChunkedCsv
    from nncli.errors import DataError

    header, body = (DATASETS / "iris.csv").read_text().split("\n", 1)
    monkeypatch.setattr(sys, "stdin", _FailingStdin(f"{header}\n{body * 20}".encode(), failure))
    with ChunkedCsv("-") as table:
        if expected is KeyboardInterrupt:
            with pytest.raises(KeyboardInterrupt):
                list(table.chunks(chunksize=100_000))
        else:
            with pytest.raises(DataError, match=expected):
                list(table.chunks(chunksize=100_000))


def test_a_replaced_file_keeps_its_mode(cli, tmp_path, iris_config):
    """train -o over a private (0600) model keeps it private; a new file gets open()'s mode."""
    old, new = tmp_path / "private.npz", tmp_path / "new.npz"
    old.write_bytes(b"old")
    old.chmod(0o600)
    assert cli("train", iris_config, "-o", old, "--quiet").exit_code == 0
    assert cli("train", iris_config, "-o", new, "--quiet").exit_code == 0
    assert old.stat().st_mode & 0o777 == 0o600
    umask = os.umask(0)
    os.umask(umask)
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("sig, jobs", [(signal.SIGINT, "1"), (signal.SIGTERM, "2")])
def test_an_interrupted_lr_sweep_shows_the_runs_that_finished(tmp_path, sig, jobs):
    cmd = [sys.executable, "-m", "nncli", "lr-sweep", str(CONFIGS / "iris.yaml"), "--min", "0.001",
           "--max", "0.01", "--num", "4", "--epochs", "300", "--jobs", jobs]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _read_until(proc.stderr, "[1/4]")  # a run has finished
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "error:" not in err
    assert "not run" in out and "Recommended learning rate" in out
    assert list(tmp_path.iterdir()) == []
