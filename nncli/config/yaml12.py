"""YAML 1.2 reading: safe loading only, YAML 1.2 numbers and booleans, no duplicate keys."""

import re

import yaml

from nncli.errors import ConfigError


# --- YAML 1.2 scalars -------------------------------------------------------------
class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2's core schema for booleans and numbers.

    PyYAML implements YAML 1.1, where ``1e-3`` is a string and ``no`` is False; in
    YAML 1.2 (and in every user's expectation) ``1e-3`` is a number and ``no`` a string.
    A key given twice in a mapping is an error, as YAML says; PyYAML keeps the last.
    """

    def construct_mapping(self, node, deep=False):
        first_line = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys from a merge (<<) may be overridden
            key = key_node.value
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {first_line[key]}); remove one",
                    key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
# Decimal integers only: YAML 1.1 would read 012 as octal.
_Yaml12Loader.add_constructor(
    "tag:yaml.org,2002:int", lambda loader, node: int(loader.construct_scalar(node)))


def parse_yaml(text, where):
    """Parse one YAML document safely (no Python object tags); ConfigError on bad YAML."""
    loader = _Yaml12Loader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML{at}: {problem}") from None
    finally:
        loader.dispose()


def to_yaml(config_dict) -> str:
    """Render a config dict as YAML text (for --write-config and the like)."""
    return yaml.safe_dump(config_dict, sort_keys=False)
