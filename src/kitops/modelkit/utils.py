"""PyKitOps' import path ``kitops.modelkit.utils``: the helpers live in :mod:`kitops.compat.pykitops.utils`."""

from kitops.compat.pykitops.utils import (
    ENV_KEYS,
    IS_A_TTY,
    MISSING_CREDENTIALS,
    Color,
    clean_empty_items,
    environment_values,
    get_or_create_directory,
    load_environment_variables,
    local_path,
    parse_dotenv,
    parse_modelkit_tag,
    read_dotenv,
    validate_dict,
)

__all__ = [
    "ENV_KEYS",
    "IS_A_TTY",
    "MISSING_CREDENTIALS",
    "Color",
    "clean_empty_items",
    "environment_values",
    "get_or_create_directory",
    "load_environment_variables",
    "local_path",
    "parse_dotenv",
    "parse_modelkit_tag",
    "read_dotenv",
    "validate_dict",
]
