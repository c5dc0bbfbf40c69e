"""The Python API: ``nncli.load_model``, ``nncli.train`` and the ``Model`` they return.

A thin layer over the functions the commands use (``nncli.commands.pipeline`` to train,
``nncli.commands.scoring`` to predict and evaluate, ``nncli.export`` to export): no second
code path. Errors are nncli's own exceptions (``nncli.errors``), with the messages the
CLI prints.

    import nncli
    model, summary = nncli.train("configs/iris.yaml", training__epochs=50)
    model.predict({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2})
"""

import json
import warnings
from pathlib import Path

from nncli.io import modelfile


class Model:
    """A trained model: its network, preprocessing and metadata (``nncli.io.modelfile.Model``)."""

    def __init__(self, model: modelfile.Model):
        self.model = model

    def __repr__(self):
        sizes = "-".join(map(str, self.model.network.sizes))
        return f"<nncli.Model {self.task} of {self.target!r}, layers {sizes}>"

    @property
    def meta(self):
        """The model file's metadata (features, columns, target, task, classes, layers, config, metrics)."""
        return self.model.meta

    @property
    def target(self):
        return self.meta["target"]

    @property
    def task(self):
        return self.meta["task"]

    @property
    def classes(self):
        return list(self.meta["classes"])

    @property
    def columns(self):
        """The input columns the model needs, by name."""
        return [c["name"] for c in self.meta["columns"]]

    def predict(self, data, *, missing="error", unknown=None, chunk_size=50_000):
        """Predict's columns for ``data``, as a pandas DataFrame.

        Parameters
        ----------
        data : DataFrame, dict of columns (or one row's values), list of row dicts, or the
            path of a CSV or Parquet file; columns are matched by name, extra ones ignored
        missing, unknown : as ``nncli predict --missing / --unknown``

        Returns
        -------
        DataFrame with the prediction (column named after the target: labels, or numbers in
        the target's units) and, for classifiers, ``prob_<label>`` per class; its index is
        the input's (rows left out with ``missing="drop"`` are absent).
        """
        from nncli.commands.scoring import Policy, predict_frame

        with _table(data) as table:
            frame, _ = predict_frame(self.model, table, Policy(missing, unknown, chunk_size))
        return frame

    def evaluate(self, data, *, missing="error", unknown=None, chunk_size=50_000):
        """The loss and metrics on labelled ``data`` (as ``predict``): the dict ``nncli evaluate --json`` prints."""
        from nncli.commands.scoring import Policy, evaluate_csv

        with _table(data) as table:
            result, _ = evaluate_csv(self.model, table, Policy(missing, unknown, chunk_size))
        return result

    def save(self, path):
        """Write the model file (atomically)."""
        modelfile.save_model(path, self.model)

    def export_onnx(self, path=None, opset=None):
        """The ONNX ModelProto (``nncli export``), also written to ``path`` if given."""
        from nncli.export.onnx_graph import export_onnx
        from nncli.export.plan import DEFAULT_OPSET

        return export_onnx(self.model, path, opset or DEFAULT_OPSET)

    def export_python(self, path):
        """Write the standalone Python file (``nncli export --format python``)."""
        from nncli.export.python_file import export_python

        export_python(self.model, path)


def _table(data):
    from nncli.io.frames import FrameTable, as_frame
    from nncli.io.reading import open_table

    if isinstance(data, (str, Path)):
        return open_table(data)
    return FrameTable(as_frame(data))


def load_model(path):
    """Read a model file written by ``nncli train`` (ModelFileError if it is not one)."""
    return Model(modelfile.load_model(path))


def train(config, overrides=None, /, **keyword_overrides):
    """Train the network a config describes, as ``nncli train`` does; nothing is written.

    Parameters
    ----------
    config : path of a YAML config file, or a dict of the same shape (its relative data
        paths are relative to the current folder)
    overrides : dict of dotted keys to values, as ``--set``: ``{"training.epochs": 5,
        "model.layers.0.units": 32}``
    **keyword_overrides : the same with ``__`` for the dots: ``training__epochs=5``

    Returns
    -------
    (Model, summary) : the summary is the dict ``nncli train --json`` prints (``model`` is None).
    Warnings (``nncli train`` prints them on stderr) are issued as Python ``UserWarning``.

    Raises
    ------
    ConfigError, DataError : a bad config or data; TrainingFailed : the loss diverged
    """
    from nncli.commands import pipeline
    from nncli.commands.train import training_warnings
    from nncli.config import load_config, load_config_dict

    settings = {**(overrides or {}), **{key.replace("__", "."): value for key, value in keyword_overrides.items()}}
    # JSON is YAML 1.2, so a value goes through --set's own parsing unchanged.
    assignments = [f"{key}={json.dumps(value)}" for key, value in settings.items()]
    cfg = load_config_dict(config, assignments) if isinstance(config, dict) else load_config(config, assignments)
    ds = pipeline.prepare_data(cfg)
    for message in ds.warnings + training_warnings(cfg, ds):
        warnings.warn(message, stacklevel=2)
    trainer = pipeline.build_trainer(cfg, ds)
    result, metrics, seconds = pipeline.train(trainer, ds, cfg)
    pipeline.check_converged(result, cfg, "the config")
    return Model(pipeline.make_model(cfg, ds, trainer, metrics)), pipeline.summary(result, trainer, metrics, seconds)
