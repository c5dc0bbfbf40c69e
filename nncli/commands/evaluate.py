"""``nncli evaluate``: the loss and metrics of a model on labelled data, per class for classifiers.

Evaluation adds up sums over the chunks of the file, never means of means.
"""

from nncli.commands.common import (ChunkSizeOption, DataArgument, JsonOption, Missing, MissingOption,
                                   ModelArgument, UnknownOption, print_json, warn)


def evaluate(
    model: ModelArgument,
    data: DataArgument,
    json_: JsonOption = False,
    missing: MissingOption = Missing.error,
    unknown: UnknownOption = None,
    chunk_size: ChunkSizeOption = 50_000,
):
    """Judge a model on labelled data: the loss and metrics, per class for classifiers.

    DATA must hold the target column. The loss is the model's own, computed as in training (comparable with the training val_loss); RMSE, MAE and R² are in the target's units.

    Example: nncli evaluate iris.npz held_out.csv --json
    """
    from nncli.ui import console
    from nncli.commands.scoring import Policy, count_warnings, evaluate_csv
    from nncli.io.modelfile import load_model
    from nncli.io.reading import open_table
    from nncli.ui.tables import render_evaluation

    trained = load_model(model)
    with open_table(data) as table:
        result, counts = evaluate_csv(trained, table, Policy(missing.value, unknown and unknown.value, chunk_size))
    for message in count_warnings(counts, table.where, table.place):
        warn(message)
    if json_:
        print_json(result)
    else:
        render_evaluation(console(), result)
