"""The parsed intent: what a free-text request to build software asks for."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from grump.intent.labels import STACK, UNKNOWN


def _sorted_unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))


@dataclass(frozen=True, slots=True)
class Intent:
    """Labels are canonical strings (see ``grump.intent.labels``).

    List fields are sorted tuples without duplicates; ``stack`` maps a category
    to its sorted labels and leaves out categories with none.
    """

    project_type: str = UNKNOWN
    actors: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    integrations: tuple[str, ...] = ()
    stack: dict[str, list[str]] = field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    complexity: int = 0
    confidence: float = 0.0

    @classmethod
    def build(
        cls,
        *,
        project_type: str,
        actors: Iterable[str],
        features: Iterable[str],
        entities: Iterable[str],
        integrations: Iterable[str],
        stack: Mapping[str, Iterable[str]],
        constraints: Iterable[str],
        complexity: int,
        confidence: float,
    ) -> Intent:
        """An intent with every list sorted and deduplicated, categories in taxonomy order."""
        stack_lists: dict[str, list[str]] = {}
        for category in STACK:
            labels = sorted(set(stack.get(category, ())))
            if labels:
                stack_lists[category] = labels
        return cls(
            project_type=project_type,
            actors=_sorted_unique(actors),
            features=_sorted_unique(features),
            entities=_sorted_unique(entities),
            integrations=_sorted_unique(integrations),
            stack=stack_lists,
            constraints=_sorted_unique(constraints),
            complexity=max(0, min(100, int(complexity))),
            confidence=max(0.0, min(1.0, float(confidence))),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the taxonomy."""
        return {
            "project_type": self.project_type,
            "actors": list(self.actors),
            "features": list(self.features),
            "entities": list(self.entities),
            "integrations": list(self.integrations),
            "stack": {category: list(labels) for category, labels in self.stack.items()},
            "constraints": list(self.constraints),
            "complexity": self.complexity,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Intent:
        """The inverse of ``to_dict`` (e.g. for a result read back from the ledger)."""
        return cls.build(
            project_type=str(data.get("project_type", UNKNOWN)),
            actors=data.get("actors", ()),
            features=data.get("features", ()),
            entities=data.get("entities", ()),
            integrations=data.get("integrations", ()),
            stack=data.get("stack", {}),
            constraints=data.get("constraints", ()),
            complexity=int(data.get("complexity", 0)),
            confidence=float(data.get("confidence", 0.0)),
        )


_Setter = Callable[[Intent, object], None]
# The slot setters of Intent's fields, in field order.
_SETTERS: tuple[_Setter, ...] = tuple(Intent.__dict__[f.name].__set__ for f in fields(Intent))


def assemble(
    project_type: str,
    actors: tuple[str, ...],
    features: tuple[str, ...],
    entities: tuple[str, ...],
    integrations: tuple[str, ...],
    stack: dict[str, list[str]],
    constraints: tuple[str, ...],
    complexity: int,
    confidence: float,
) -> Intent:
    """``Intent(...)`` from values already in their final form (sorted, unique, in range).

    The same object, made about three times faster: a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__``, which looks the
    name up on the type each time, while this calls the slot setters directly.
    The parser builds one per parse, where that difference is measurable.
    """
    intent = object.__new__(Intent)
    (
        set_project_type,
        set_actors,
        set_features,
        set_entities,
        set_integrations,
        set_stack,
        set_constraints,
        set_complexity,
        set_confidence,
    ) = _SETTERS
    set_project_type(intent, project_type)
    set_actors(intent, actors)
    set_features(intent, features)
    set_entities(intent, entities)
    set_integrations(intent, integrations)
    set_stack(intent, stack)
    set_constraints(intent, constraints)
    set_complexity(intent, complexity)
    set_confidence(intent, confidence)
    return intent
