"""Configuration: one pydantic model tree, loaded from YAML plus the environment."""

from config.loader import ConfigError, Environment, load_settings
from config.schema import GroupConfig, MembershipPolicy, Settings

__all__ = [
    "ConfigError",
    "Environment",
    "GroupConfig",
    "MembershipPolicy",
    "Settings",
    "load_settings",
]
