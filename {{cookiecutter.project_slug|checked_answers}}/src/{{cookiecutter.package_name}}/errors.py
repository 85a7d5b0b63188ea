"""Errors a user can fix: the CLI prints them as one line and exits 2, never as a traceback."""

from __future__ import annotations


class ProjectError(Exception):
    """Base for expected failures with a message meant for the user."""


class ConfigError(ProjectError):
    """params.yaml or an environment variable is wrong."""


class DataValidationError(ProjectError):
    """Input data does not match the schema in params.yaml."""


class ModelNotFoundError(ProjectError):
    """No model where one was expected (run the pipeline first)."""


class UntrustedModelError(ProjectError):
    """A model file holds types outside the allowlist: loading it could run code, so it is never loaded."""


class StoreError(ConfigError):
    """The prediction store cannot be opened or read (wrong URL, missing driver, server down, not a database)."""


class TrackingUnavailableError(ConfigError):
    """The tracking store or server cannot be reached: not the same as "no champion yet"."""
