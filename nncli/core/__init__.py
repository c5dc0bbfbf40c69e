"""NumPy only: activations, losses, initializers, optimizers, schedules, network, training loop,
metrics, preprocessing. Nothing here reads files, prints, or imports pandas, yaml, typer or rich."""
