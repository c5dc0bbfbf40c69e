"""One module per command (its Typer function and the orchestration it needs), plus what
several share: common options, the config-to-model pipeline, the sweep's runs, scoring."""
