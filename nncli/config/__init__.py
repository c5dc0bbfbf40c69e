"""The YAML config: its schema, its YAML 1.2 loading and the ``--set`` overrides."""

from nncli.config.loading import (PATH_KEYS, apply_override, config_from_dict, load_config,
                                  load_config_with_sources)
from nncli.config.schema import Config, DataConfig, LayerConfig, TrainingConfig, to_dict, validate
from nncli.config.yaml12 import parse_yaml, to_yaml

__all__ = ["PATH_KEYS", "Config", "DataConfig", "LayerConfig", "TrainingConfig", "apply_override", "config_from_dict",
           "load_config", "load_config_with_sources", "parse_yaml", "to_dict", "to_yaml", "validate"]
