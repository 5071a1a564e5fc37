import pytest

from stratify.core.targets import TARGETS, TargetName, model_name, target_of


def test_the_enum_and_the_literal_name_the_same_targets() -> None:
    assert tuple(t.value for t in TargetName) == TARGETS == ("escalation", "rereferral")


@pytest.mark.parametrize("target", TARGETS)
def test_model_name_round_trips_through_names_and_bentoml_tags(target: str) -> None:
    assert model_name(target) == f"stratify-{target}"
    assert target_of(model_name(target)) == target
    assert target_of(f"{model_name(target)}:v3") == target


@pytest.mark.parametrize("name", ["escalation", "stratify-", "stratify-other", "other-escalation"])
def test_target_of_rejects_names_that_are_not_ours(name: str) -> None:
    with pytest.raises(ValueError, match="not a stratify model name"):
        target_of(name)


def test_model_name_rejects_an_unknown_target() -> None:
    with pytest.raises(ValueError):
        model_name("bogus")
