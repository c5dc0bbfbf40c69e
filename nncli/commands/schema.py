"""``nncli schema``: the JSON Schema of the config, from the model that validates it."""


def schema():
    """Print the JSON Schema of the config file, for editors and YAML language servers.

    Generated from the same model that validates configs, so it lists every key, its
    description and the allowed values of every choice. The repository keeps a copy in
    nncli.schema.json; regenerate it with: nncli schema > nncli.schema.json

    Example: nncli schema > nncli.schema.json
    """
    import json

    from nncli.config.schema import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
