"""The tracking backend chosen when this project was generated, behind the small `Tracker` interface.

Training and evaluation only see `get_tracker()`; switching backend means swapping this import
(see the README's "Switch tracking backend").
"""

from .base import CHAMPION_ALIAS, ModelRef, Tracker
{%- if cookiecutter.tracking in ["mlflow", "mlflow-server"] %}
from .mlflow_backend import MlflowTracker as _Backend
{%- elif cookiecutter.tracking == "wandb" %}
from .wandb_backend import WandbTracker as _Backend
{%- else %}
from .local_backend import LocalTracker as _Backend
{%- endif %}

MODEL_NAME = "{{ cookiecutter.package_name }}"

__all__ = ["CHAMPION_ALIAS", "MODEL_NAME", "ModelRef", "Tracker", "get_tracker"]


def get_tracker() -> Tracker:
    return _Backend(MODEL_NAME)
