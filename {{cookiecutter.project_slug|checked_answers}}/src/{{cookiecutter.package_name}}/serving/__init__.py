"""Serving: the one PredictionService (service.py) and the {{ cookiecutter.serving }} adapter that speaks its protocol."""
