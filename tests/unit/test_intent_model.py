"""The Intent shape and the label constants the rest of grump relies on."""

from __future__ import annotations

import dataclasses

import pytest

from grump.intent import (
    CONSTRAINTS,
    FEATURES,
    INTEGRATIONS,
    PROJECT_TYPES,
    STACK,
    UNKNOWN,
    Intent,
    parse,
)
from grump.intent.lexicon import IMPLIES
from grump.intent.lexicon_features import FEATURE_PHRASES
from grump.intent.lexicon_product import (
    CONSTRAINT_PHRASES,
    PROJECT_TYPE_HINTS,
    PROJECT_TYPE_PHRASES,
)
from grump.intent.lexicon_tech import INTEGRATION_PHRASES, STACK_BUNDLES, STACK_PHRASES

TAXONOMY_KEYS = {
    "project_type",
    "actors",
    "features",
    "entities",
    "integrations",
    "stack",
    "constraints",
    "complexity",
    "confidence",
}


def test_label_constants_are_unique_snake_case_strings() -> None:
    stack_labels = [label for labels in STACK.values() for label in labels]
    for labels in (PROJECT_TYPES, FEATURES, INTEGRATIONS, CONSTRAINTS, tuple(stack_labels)):
        assert len(set(labels)) == len(labels)
        assert all(label.isidentifier() and label == label.lower() for label in labels)
    assert list(STACK) == ["language", "frontend", "mobile", "backend", "database", "infra"]
    assert UNKNOWN not in PROJECT_TYPES


def test_every_label_has_phrases_and_every_phrase_names_a_real_label() -> None:
    assert set(PROJECT_TYPE_PHRASES) == set(PROJECT_TYPES)
    assert set(PROJECT_TYPE_HINTS) <= set(PROJECT_TYPES)
    assert set(FEATURE_PHRASES) == set(FEATURES)
    assert set(INTEGRATION_PHRASES) == set(INTEGRATIONS)
    assert set(CONSTRAINT_PHRASES) == set(CONSTRAINTS)
    assert set(STACK_PHRASES) == set(STACK)
    for category, labels in STACK_PHRASES.items():
        assert set(labels) == set(STACK[category])
    for items in STACK_BUNDLES.values():
        assert all(label in STACK[category] for category, label in items)
    for table in (PROJECT_TYPE_PHRASES, FEATURE_PHRASES, INTEGRATION_PHRASES, CONSTRAINT_PHRASES):
        assert all(phrases for phrases in table.values())
    canonical = {
        "feature": set(FEATURES),
        "integration": set(INTEGRATIONS),
    }
    for source, implied in IMPLIES.items():
        for kind, label in (source, *implied):
            assert label in canonical[kind]


@pytest.mark.parametrize("label", FEATURES)
def test_each_feature_is_found_from_its_first_phrase(label: str) -> None:
    phrase = FEATURE_PHRASES[label][0]
    assert label in parse(f"The app needs {phrase}.").features, phrase


@pytest.mark.parametrize("label", INTEGRATIONS)
def test_each_integration_is_found_from_its_first_phrase(label: str) -> None:
    phrase = INTEGRATION_PHRASES[label][0]
    assert label in parse(f"It talks {phrase} for us.").integrations, phrase


@pytest.mark.parametrize("label", CONSTRAINTS)
def test_each_constraint_is_found_from_its_first_phrase(label: str) -> None:
    phrase = CONSTRAINT_PHRASES[label][0]
    assert label in parse(f"It has to be {phrase}.").constraints, phrase


def test_to_dict_has_the_taxonomy_shape() -> None:
    intent = parse("A Django and React web app with Stripe payments, deployed on AWS")
    shape = intent.to_dict()
    assert set(shape) == TAXONOMY_KEYS
    assert shape["project_type"] == "web_app"
    assert shape["stack"] == {"frontend": ["react"], "backend": ["django"], "infra": ["aws"]}
    assert isinstance(shape["features"], list) and isinstance(shape["complexity"], int)
    assert Intent.from_dict(shape) == intent


def test_build_sorts_deduplicates_and_drops_empty_stack_categories() -> None:
    intent = Intent.build(
        project_type="web_app",
        actors=["user", "admin", "user"],
        features=["search", "payments", "search"],
        entities=["note"],
        integrations=(),
        stack={"language": ["python", "go", "python"], "database": []},
        constraints={"seo"},
        complexity=140,
        confidence=1.7,
    )
    assert intent.actors == ("admin", "user")
    assert intent.features == ("payments", "search")
    assert intent.stack == {"language": ["go", "python"]}
    assert (intent.complexity, intent.confidence) == (100, 1.0)


def test_intent_is_frozen() -> None:
    intent = parse("todo app")
    with pytest.raises(dataclasses.FrozenInstanceError):
        intent.project_type = "game"  # type: ignore[misc]
