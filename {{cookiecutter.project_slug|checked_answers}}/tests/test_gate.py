"""The champion/challenger gate: only a strictly better challenger, by the margin, is promoted."""

import pytest

from {{ cookiecutter.package_name }}.gate import Decision, decide


def test_first_model_becomes_champion() -> None:
    assert decide("roc_auc", 0.70, None, 0.001).promoted


@pytest.mark.parametrize(
    ("challenger", "champion", "margin", "promoted"),
    [
        (0.80, 0.80, 0.0, False),  # equal never replaces, even with no margin
        (0.80, 0.80, 0.001, False),
        (0.79, 0.80, 0.001, False),  # worse
        (0.8005, 0.80, 0.001, False),  # better, but by less than the margin
        (0.802, 0.80, 0.001, True),
        (0.8001, 0.80, 0.0, True),
    ],
)
def test_gate_decisions(challenger: float, champion: float, margin: float, promoted: bool) -> None:
    assert decide("roc_auc", challenger, champion, margin).promoted is promoted


def test_decision_round_trips_through_its_file(tmp_path) -> None:
    decision = decide("f1", 0.5, 0.6, 0.01)
    decision.write(tmp_path / "promotion.json")
    assert Decision.read(tmp_path / "promotion.json") == decision
