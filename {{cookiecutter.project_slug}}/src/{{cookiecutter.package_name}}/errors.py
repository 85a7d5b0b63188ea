"""Errors a user can fix: the CLI prints them as one line and exits non-zero, never as a traceback."""


class ProjectError(Exception):
    """Base for expected failures with a message meant for the user."""


class ConfigError(ProjectError):
    """params.yaml or an environment variable is wrong."""


class DataValidationError(ProjectError):
    """Input data does not match the schema in params.yaml."""


class ModelNotFoundError(ProjectError):
    """No model where one was expected (run the pipeline first)."""
