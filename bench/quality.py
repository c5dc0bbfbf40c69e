"""How good is nncli's default recipe on real tabular data? (bench/QUALITY.md)

For each dataset of bench/quality_datasets.py and each seed, the rows are split once into
train (80%) and test (20%), stratified for classification, and every method sees that split:

- nncli: the train part goes to a CSV, a config is written (``--config-from builtin``: the
  function ``nncli_config`` below; ``--config-from init``: ``nncli init train.csv --target T``),
  ``python -m nncli train`` and ``python -m nncli predict`` run as subprocesses, and the test
  metric is computed here from predict's CSV. Test rows predict cannot score (a missing value)
  count as wrong (classification) or get the training mean (regression).
- sklearn_mlp: MLPClassifier / MLPRegressor with default settings after median imputation and
  z-scoring of numbers, most-frequent imputation and one-hot encoding of text.
- sklearn_mlp_scaled_y (regression only): the same with the target z-scored as well
  (TransformedTargetRegressor), as nncli's standardize_target does.
- hgb: HistGradientBoostingClassifier / Regressor, default settings, text as categories.

    python bench/quality.py                          # everything: 14 datasets x 3 seeds x 4 methods
    python bench/quality.py --quick                  # 4 small datasets, seed 0
    python bench/quality.py --datasets penguins,mpg --methods nncli --seeds 0
    python bench/quality.py --write bench/QUALITY.md --json results.json --label "nncli 0.1"
    python bench/quality.py --from-json results.json --write bench/QUALITY.md   # report again

Metrics come from sklearn.metrics: accuracy, balanced accuracy (macro recall) and, for binary
targets, ROC-AUC; R² for regression. Wall time is fit + predict seconds (for nncli, the two
subprocesses, Python start-up included). A method that fails on a dataset is recorded with its
error; the run goes on.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_datasets import DATASETS, describe, load  # noqa: E402

METHODS = ("nncli", "sklearn_mlp", "sklearn_mlp_scaled_y", "hgb")
ROW = "_quality_row"          # an id column added to the test CSV, to match predictions to rows
SINGLE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
DEFAULT_EPOCHS = 200


# ----------------------------------------------------------------------------- nncli

def nncli_config(df_train: pd.DataFrame, target: str, task: str, *, exclude=(),
                 epochs: int = DEFAULT_EPOCHS) -> dict:
    """The built-in recipe: what a careful user writes by hand for nncli 0.1.

    One hidden ReLU layer of 64, Adam at 1e-3, batches of 64, early stopping (patience 20) on a
    20% validation split, z-scored features (and target, for regression). nncli 0.1 cannot
    impute, so rows with a missing value are dropped (``data.missing: drop``). ``exclude``:
    identifier columns left out of the features. Text columns holding some number-like values
    go to ``data.categorical``.
    """
    features = [c for c in df_train.columns if c != target and c not in exclude]
    # A text column some of whose values look like numbers (mpg's drv: 4, f, r) is an error
    # in nncli unless listed in data.categorical; the error message says so, a user does it.
    mixed = [c for c in features if not pd.api.types.is_numeric_dtype(df_train[c])
             and pd.to_numeric(df_train[c].dropna().astype(str), errors="coerce").notna().any()]
    data = {"path": "train.csv", "target": target, "features": features, "validation": 0.2,
            "standardize": True, "missing": "drop", "categorical": mixed}
    if task == "regression":
        data["standardize_target"] = True
        out, loss = {"units": 1, "activation": "linear"}, "mse"
    else:
        k = df_train[target].nunique()
        out, loss = (({"units": 1, "activation": "sigmoid"}, "binary_cross_entropy") if k == 2
                     else ({"units": int(k), "activation": "softmax"}, "cross_entropy"))
    return {"data": data,
            "model": {"layers": [{"units": 64, "activation": "relu"}, out]},
            "loss": loss,
            "training": {"learning_rate": 1e-3, "epochs": epochs, "batch_size": 64,
                         "optimizer": "adam", "seed": 0,
                         "early_stopping": {"patience": 20, "min_delta": 0.0}}}


def _child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(cmd, cwd, timeout):
    env = {**os.environ, **SINGLE_THREAD}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _last_lines(text, n=2):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


def run_nncli(ds, train, test, seed, args):
    """Train and predict with the nncli CLI; returns (y_pred, proba frame or None, info)."""
    info = {}
    tmp = Path(tempfile.mkdtemp(prefix="nncli-quality-"))
    try:
        train.to_csv(tmp / "train.csv", index=False)
        test.drop(columns=[ds.target]).assign(**{ROW: np.arange(len(test))}).to_csv(
            tmp / "test.csv", index=False)
        py = [sys.executable, "-m", "nncli"]
        c0 = _child_cpu()
        t0 = time.perf_counter()
        if args.config_from == "init":
            p = _run(py + ["init", "train.csv", "--target", ds.target, "-o", "cfg.yaml"], tmp, 600)
            if p.returncode != 0:
                raise RuntimeError(f"init exit {p.returncode}: {_last_lines(p.stderr)}")
        else:
            cfg = nncli_config(train, ds.target, ds.task, exclude=ds.id_columns,
                               epochs=args.epochs or DEFAULT_EPOCHS)
            (tmp / "cfg.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        sets = ["--set", f"training.seed={seed}"] + [x for kv in args.nncli_set for x in ("--set", kv)]
        if args.epochs and args.config_from == "init":
            sets += ["--set", f"training.epochs={args.epochs}"]
        t1 = time.perf_counter()
        p = _run(py + ["train", "cfg.yaml", "-o", "m.npz", "--json", "--quiet"] + sets, tmp, args.timeout)
        info["train_exit"] = p.returncode
        if p.stderr.strip():
            info["train_stderr"] = p.stderr.strip()[-2000:]
        if p.returncode != 0:
            raise RuntimeError(f"train exit {p.returncode}: {_last_lines(p.stderr)}")
        summary = json.loads(p.stdout)
        info.update({k: summary.get(k) for k in ("status", "epochs_run", "best_epoch")})
        p = _run(py + ["predict", "m.npz", "test.csv", "--id-column", ROW,
                       "--missing", "drop", "--unknown", "ignore"], tmp, args.timeout)
        t2 = time.perf_counter()
        info["predict_exit"] = p.returncode
        if p.stderr.strip():
            info["predict_stderr"] = p.stderr.strip()[-2000:]
        if p.returncode != 0:
            raise RuntimeError(f"predict exit {p.returncode}: {_last_lines(p.stderr)}")
        info["seconds"] = t2 - t1 + (t1 - t0 if args.config_from == "init" else 0.0)
        info["cpu_seconds"] = _child_cpu() - c0
        info["nncli_train_seconds"] = summary.get("seconds")
        # Read every column as text, then the prediction column as the test target's kind.
        out = pd.read_csv(io.StringIO(p.stdout), dtype=str, keep_default_na=False)
        rows = out[ROW].astype(int).to_numpy()
        pred_col = ds.target if ds.target in out.columns else f"predicted_{ds.target}"
        scored = np.zeros(len(test), bool)
        scored[rows] = True
        info["unscored"] = float(1 - scored.mean())
        info["scored_mask"] = scored
        if ds.task == "regression":
            y = np.full(len(test), float(train[ds.target].mean()))   # unscored: the training mean
            y[rows] = out[pred_col].astype(float).to_numpy()
            return y, None, info
        y = np.full(len(test), "<unscored>", dtype=object)          # unscored: wrong
        y[rows] = out[pred_col].to_numpy()
        probs = {}
        prevalence = train[ds.target].astype(str).value_counts(normalize=True)
        for c in out.columns:
            if c.startswith("prob_"):
                label = c[len("prob_"):]
                col = np.full(len(test), float(prevalence.get(label, 0.0)))  # unscored: the prior
                col[rows] = out[c].astype(float).to_numpy()
                probs[label] = col
        return y, (pd.DataFrame(probs) if probs else None), info
    finally:
        if args.keep_temp:
            info["temp_dir"] = str(tmp)
            print(f"  kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- scikit-learn

def _columns(ds, df):
    feats = [c for c in df.columns if c != ds.target and c not in ds.id_columns]
    num = [c for c in feats if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    return feats, num, [c for c in feats if c not in num]


def _text(df, cols):
    """Text columns as str with missing kept as NaN (mixed types upset the encoders)."""
    df = df.copy()
    for c in cols:
        df[c] = df[c].where(df[c].isna(), df[c].astype(str))
    return df


def _mlp_pipeline(ds, train, seed):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    feats, num, cat = _columns(ds, train)
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat)])
    est = (MLPRegressor if ds.task == "regression" else MLPClassifier)(random_state=seed)
    return Pipeline([("pre", pre), ("mlp", est)]), feats, cat


def run_sklearn_mlp(ds, train, test, seed, args):
    model, feats, cat = _mlp_pipeline(ds, train, seed)
    return _fit_predict(model, ds, _text(train[feats], cat), train[ds.target], _text(test[feats], cat))


def run_hgb(ds, train, test, seed, args):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    feats, num, cat = _columns(ds, train)
    Xtr, Xte = _text(train[feats], cat), _text(test[feats], cat)
    for c in cat:   # categories learnt on the training part; unseen ones become missing
        dtype = pd.CategoricalDtype(sorted(Xtr[c].dropna().unique()))
        Xtr[c], Xte[c] = Xtr[c].astype(dtype), Xte[c].astype(dtype)
    cls = HistGradientBoostingRegressor if ds.task == "regression" else HistGradientBoostingClassifier
    model = cls(categorical_features="from_dtype", random_state=seed)
    return _fit_predict(model, ds, Xtr, train[ds.target], Xte)


def _fit_predict(model, ds, Xtr, ytr, Xte):
    from threadpoolctl import threadpool_limits

    if ds.task == "classification":
        ytr = ytr.astype(str)
    t0, c0 = time.perf_counter(), time.process_time()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")          # ConvergenceWarning at max_iter=200, etc.
        model.fit(Xtr, ytr)
        y = model.predict(Xte)
        proba = (pd.DataFrame(model.predict_proba(Xte), columns=[str(c) for c in model.classes_])
                 if ds.task == "classification" else None)
    return y, proba, {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


def run_sklearn_mlp_scaled_y(ds, train, test, seed, args):
    """sklearn_mlp with the target z-scored too, as nncli does (standardize_target). Regression
    only: MLPRegressor's defaults leave the target as it is, which cripples it on targets in the
    hundreds or hundreds of thousands (salaries, house prices)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    if ds.task != "regression":
        raise ValueError("regression only")
    model, feats, cat = _mlp_pipeline(ds, train, seed)
    model = TransformedTargetRegressor(model, transformer=StandardScaler())
    return _fit_predict(model, ds, _text(train[feats], cat), train[ds.target], _text(test[feats], cat))


RUNNERS = {"nncli": run_nncli, "sklearn_mlp": run_sklearn_mlp, "hgb": run_hgb,
           "sklearn_mlp_scaled_y": run_sklearn_mlp_scaled_y}
REGRESSION_ONLY = {"sklearn_mlp_scaled_y"}


# ----------------------------------------------------------------------------- metrics

def score(ds, y_true, y_pred, proba):
    from sklearn.metrics import accuracy_score, r2_score, recall_score, roc_auc_score

    if ds.task == "regression":
        return {"r2": float(r2_score(y_true, np.asarray(y_pred, float)))}
    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(y_pred).astype(str)
    labels = np.unique(y_true)
    m = {"accuracy": float(accuracy_score(y_true, y_pred)),
         "balanced_accuracy": float(recall_score(y_true, y_pred, labels=labels, average="macro",
                                                 zero_division=0))}
    if len(labels) == 2 and proba is not None and labels[1] in proba.columns:
        m["roc_auc"] = float(roc_auc_score(y_true == labels[1], proba[labels[1]]))
    return m


def split(ds, df, seed):
    from sklearn.model_selection import train_test_split

    strat = df[ds.target] if ds.task == "classification" else None
    tr, te = train_test_split(df, test_size=0.2, random_state=seed, stratify=strat)
    return tr.reset_index(drop=True), te.reset_index(drop=True)


def run_one(method, ds, train, test, seed, args):
    rec = {"dataset": ds.name, "task": ds.task, "method": method, "seed": seed}
    try:
        y_pred, proba, info = RUNNERS[method](ds, train, test, seed, args)
        keep = info.pop("scored_mask", None)
        rec.update(info)
        y_true = test[ds.target].to_numpy()
        rec.update(score(ds, y_true, y_pred, proba))
        if keep is not None and 0 < keep.sum() < len(keep):   # nncli: metrics on the rows it scored
            sub = score(ds, y_true[keep], np.asarray(y_pred)[keep],
                        None if proba is None else proba[keep].reset_index(drop=True))
            rec.update({f"scored_{k}": v for k, v in sub.items()})
    except subprocess.TimeoutExpired as e:
        rec["error"] = f"timeout after {e.timeout:.0f} s"
    except Exception as e:  # noqa: BLE001 - a failing method is a result, not a crash
        rec["error"] = f"{type(e).__name__}: {e}"
        rec["traceback"] = traceback.format_exc(limit=3)
    return rec


# ----------------------------------------------------------------------------- report

def _ms(values, fmt="{:.3f}"):
    v = [x for x in values if x is not None and not (isinstance(x, float) and np.isnan(x))]
    if not v:
        return "—"
    if len(v) == 1:
        return fmt.format(v[0])
    return f"{fmt.format(np.mean(v))} ± {fmt.format(np.std(v, ddof=1))}"


def _mean(results, ds, method, key):
    v = [r[key] for r in results if r["dataset"] == ds and r["method"] == method and key in r]
    return float(np.mean(v)) if v else None


def report(results, datasets, methods, seeds, label, descriptions):
    lines = [f"## Results: {label}", ""]
    lines += [f"Seeds {', '.join(map(str, seeds))}; mean ± sd over seeds; wall = fit + predict seconds "
              "(mean per run; CPU s = user + system time, a steadier measure on a shared machine). `unscored`: share of test rows nncli's predict could not score "
              "(a missing value); they count as wrong (classification) or get the training mean "
              "(regression).", ""]
    # One-glance table: the primary metric per dataset and method.
    head = ["dataset", "task", "metric"] + methods + ["nncli unscored"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in datasets:
        ds = DATASETS[name]
        keys = ["balanced_accuracy", "accuracy"] if ds.task == "classification" else ["r2"]
        for key in keys:
            row = [name, ds.task[:5] + ".", key.replace("balanced_accuracy", "bal. acc.")]
            for m in methods:
                rs = [r for r in results if r["dataset"] == name and r["method"] == m]
                row.append(_ms([r.get(key) for r in rs]) + (" (err)" if any("error" in r for r in rs) else ""))
            u = [r.get("unscored") for r in results if r["dataset"] == name and r["method"] == "nncli"]
            row.append(_ms(u, "{:.1%}") if key == keys[0] else "")
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines += summary(results, datasets, methods)
    lines += ["", "### Per dataset", ""]
    for name in datasets:
        ds = DATASETS[name]
        lines += [f"**{name}** — {descriptions.get(name, '')}", ""]
        keys = (["accuracy", "balanced_accuracy", "roc_auc"] if ds.task == "classification" else ["r2"])
        cols = ["method"] + keys + ["wall s", "CPU s", "notes"]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for m in methods:
            if m in REGRESSION_ONLY and ds.task != "regression":
                continue
            rs = [r for r in results if r["dataset"] == name and r["method"] == m]
            notes = []
            errs = sorted({r["error"] for r in rs if "error" in r})
            if errs:
                notes.append(f"{sum('error' in r for r in rs)}/{len(rs)} failed: " + "; ".join(e[:200] for e in errs))
            if m == "nncli":
                u = [r["unscored"] for r in rs if "unscored" in r]
                if u and max(u) > 0:
                    k0 = keys[0]
                    sc = [r.get(f"scored_{k0}") for r in rs]
                    notes.append(f"unscored {_ms(u, '{:.1%}')} (on the scored rows only, "
                                 f"{k0.replace('balanced_accuracy', 'bal. acc.')} {_ms(sc)})")
                ep = [r.get("epochs_run") for r in rs if r.get("epochs_run") is not None]
                if ep:
                    notes.append(f"epochs {min(ep)}–{max(ep)}")
                ts = [r.get("nncli_train_seconds") for r in rs if r.get("nncli_train_seconds") is not None]
                if ts:
                    notes.append(f"training loop {_ms(ts, '{:.1f}')} s")
            row = [m] + [_ms([r.get(k) for r in rs]) for k in keys]
            row += [_ms([r.get("seconds") for r in rs if "seconds" in r], "{:.1f}"),
                    _ms([r.get("cpu_seconds") for r in rs if "cpu_seconds" in r], "{:.1f}"), "; ".join(notes)]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def summary(results, datasets, methods):
    lines = ["### Summary", "",
             "| | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for task, key, label in [("classification", "accuracy", "mean accuracy (classification)"),
                             ("classification", "balanced_accuracy", "mean balanced accuracy (classification)"),
                             ("regression", "r2", "mean R² (regression)")]:
        names = [n for n in datasets if DATASETS[n].task == task]
        if not names:
            continue
        row = []
        for m in methods:
            per = [_mean(results, n, m, key) for n in names]
            ok = [v for v in per if v is not None]
            row.append(f"{np.mean(ok):.3f}" + (f" ({len(ok)}/{len(per)} sets)" if len(ok) < len(per) else "")
                       if ok else "—")
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    for key, label in [("seconds", "total wall s (all runs)"), ("cpu_seconds", "total CPU s (all runs)")]:
        w = [[r[key] for r in results if r["method"] == m and key in r] for m in methods]
        lines.append(f"| {label} | " + " | ".join(f"{np.sum(x):.0f}" if x else "—" for x in w) + " |")
    lines.append("")
    pairs = [("sklearn_mlp", k) for k in ("accuracy", "balanced_accuracy", "r2")]
    pairs += [("sklearn_mlp_scaled_y", "r2"), ("hgb", "balanced_accuracy"), ("hgb", "r2")]
    for other, key in pairs:
        if "nncli" not in methods or other not in methods:
            continue
        names = [n for n in datasets if (DATASETS[n].task == "regression") == (key == "r2")]
        behind = []
        for n in names:
            a, b = _mean(results, n, "nncli", key), _mean(results, n, other, key)
            if b is not None and (a is None or a < b - 0.05):
                behind.append(f"{n} ({'failed' if a is None else f'{a:.3f}'} vs {b:.3f})")
        if names:
            lines.append(f"- nncli more than 0.05 below {other} in {key}: "
                         f"{len(behind)} of {len(names)} datasets" + (": " + ", ".join(behind) if behind else ""))
    n_err = sum("error" in r for r in results)
    lines.append(f"- failed runs: {n_err} of {len(results)}")
    return lines


def write_section(path, label, text):
    """Put ``text`` (starting with "## Results: LABEL") into ``path``: it replaces the section
    with the same label, or is appended; the rest of the file (the method) is kept."""
    marker = "\n## Results: "
    old = "\n" + path.read_text() if path.exists() else ""
    parts = old.split(marker)
    head, sections = parts[0].strip(), [marker + p for p in parts[1:]]
    head = head + "\n" if head else ""
    new = "\n" + text.rstrip() + "\n"
    for i, sec in enumerate(sections):
        if sec[len(marker):].split("\n", 1)[0].strip() == label:
            sections[i] = new
            break
    else:
        sections.append(new)
    body = "".join(s.rstrip() + "\n" for s in sections)
    path.write_text(head + (body if head else body.lstrip("\n")))


# ----------------------------------------------------------------------------- main

QUICK = ("penguins", "titanic", "hitters", "mpg")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", help=f"comma-separated (default: all): {','.join(DATASETS)}")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated: " + ",".join(METHODS))
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated split/training seeds")
    ap.add_argument("--quick", action="store_true", help=f"{','.join(QUICK)} with seed 0")
    ap.add_argument("--config-from", choices=["builtin", "init"], default="builtin",
                    help="nncli's config: nncli_config() here, or `nncli init` (when it exists)")
    ap.add_argument("--epochs", type=int, help=f"nncli epochs (default {DEFAULT_EPOCHS})")
    ap.add_argument("--label", default="nncli 0.1 (before the recipe)", help="heading of the results")
    ap.add_argument("--write", metavar="MD", help="write the method section and results to this file")
    ap.add_argument("--json", metavar="FILE", help="write every run's raw record here")
    ap.add_argument("--nncli-set", action="append", default=[], metavar="KEY=VALUE",
                    help="passed to nncli train as --set (repeat): try a variant of the recipe")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per nncli subprocess")
    ap.add_argument("--keep-temp", action="store_true", help="keep nncli's temporary folders")
    ap.add_argument("--from-json", metavar="FILE", help="run nothing: report a saved --json run")
    args = ap.parse_args(argv)
    if args.from_json:
        warnings.simplefilter("ignore")
        return rerender(args.from_json, args.write,
                        args.label if args.label != ap.get_default("label") else None)

    datasets = args.datasets.split(",") if args.datasets else list(QUICK if args.quick else DATASETS)
    seeds = [0] if args.quick and args.seeds == "0,1,2" else [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    for n in datasets:
        if n not in DATASETS:
            ap.error(f"unknown dataset {n!r}; choose from {','.join(DATASETS)}")
    for m in methods:
        if m not in RUNNERS:
            ap.error(f"unknown method {m!r}; choose from {','.join(RUNNERS)}")

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    results, descriptions = [], {}
    for name in datasets:
        ds = DATASETS[name]
        try:
            df = load(name)
            descriptions[name] = describe(name).split(None, 1)[1]
        except Exception as e:  # noqa: BLE001
            print(f"{name}: cannot load: {e}", file=sys.stderr)
            results.append({"dataset": name, "task": ds.task, "method": "load", "error": str(e)})
            continue
        print(f"{name}: {descriptions[name]}", file=sys.stderr, flush=True)
        for seed in seeds:
            train, test = split(ds, df, seed)
            for m in methods:
                if m in REGRESSION_ONLY and ds.task != "regression":
                    continue
                rec = run_one(m, ds, train, test, seed, args)
                results.append(rec)
                main_key = "balanced_accuracy" if ds.task == "classification" else "r2"
                shown = rec.get("error") or f"{main_key} {rec[main_key]:.3f}"
                print(f"  seed {seed} {m:12s} {rec.get('seconds', 0):7.1f} s  {shown}", file=sys.stderr, flush=True)
    total = time.perf_counter() - start
    command = shlex.join(["python", "bench/quality.py"] + list(argv if argv is not None else sys.argv[1:]))
    run = {"label": args.label, "seeds": seeds, "methods": methods, "datasets": datasets,
           "config_from": args.config_from, "epochs": args.epochs or DEFAULT_EPOCHS,
           "nncli_version": _nncli_version(), "total_seconds": total, "command": command,
           "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}",
           "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(run, indent=1))
    return _output(run, descriptions, args.write)


def _nncli_version():
    try:
        return subprocess.run([sys.executable, "-m", "nncli", "--version"], capture_output=True,
                              text=True, timeout=60).stdout.strip()
    except Exception as e:  # noqa: BLE001
        return f"unknown ({e})"


def _output(run, descriptions, write):
    text = report(run["results"], run["datasets"], run["methods"], run["seeds"], run["label"], descriptions)
    config = ("`nncli init`" if run["config_from"] == "init"
              else f"the built-in `nncli_config` ({run['epochs']} epochs)")
    text += (f"\n{run.get('nncli_version', 'nncli')}, config from {config}. "
             f"Total run time {run['total_seconds'] / 60:.1f} min on {run.get('machine', '?')}; "
             f"command: `{run.get('command', '?')}`" + (f" ({run['note']})" if run.get("note") else "") + "\n")
    print(text)
    if write:
        write_section(Path(write), run["label"], text)
    return 0


def rerender(path, write, label=None):
    """The report of a saved --json run (descriptions recomputed from the datasets)."""
    run = json.loads(Path(path).read_text())
    if label:
        run["label"] = label
    descriptions = {}
    for n in run["datasets"]:
        try:
            descriptions[n] = describe(n).split(None, 1)[1]
        except Exception as e:  # noqa: BLE001
            descriptions[n] = f"cannot load: {e}"
    return _output(run, descriptions, write)

if __name__ == "__main__":
    sys.exit(main())
