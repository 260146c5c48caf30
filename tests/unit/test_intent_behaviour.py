"""Targeted behaviour: negation, word folding, complexity and confidence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grump.intent import CONSTRAINTS, FEATURES, INTEGRATIONS, parse
from grump.intent.morphology import match_key, singular
from grump.intent.scoring import complexity


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("A notes app with login", {"authentication"}, set()),
        ("A notes app, no login", set(), {"authentication"}),
        ("A notes app without login or sign-up", set(), {"authentication"}),
        ("Login is not required for the notes app", set(), {"authentication"}),
        ("Login not needed. Payments via card.", {"payments"}, {"authentication"}),
        ("The app doesn't need login", set(), {"authentication"}),
        ("No need for accounts", set(), {"authentication"}),
        ("Without login, but with payments", {"payments"}, {"authentication"}),
        ("No login and also payments", {"payments"}, {"authentication"}),
        ("Not only login but also payments", {"authentication", "payments"}, set()),
        ("Ads-free, login unnecessary, search", {"search"}, {"authentication"}),
        ("No ads. Users log in with Google.", {"authentication"}, set()),
    ],
)
def test_negation(text: str, present: set[str], absent: set[str]) -> None:
    features = set(parse(text).features)
    assert present <= features
    assert not absent & features


def test_negating_phrases_that_mean_a_constraint_still_count() -> None:
    assert "offline" in parse("Must work with no internet connection").constraints
    assert "high_availability" in parse("Deploys with zero downtime").constraints


def test_a_negated_project_type_is_not_chosen() -> None:
    assert parse("Not a mobile app: a website for our bakery").project_type == "web_app"


@pytest.mark.parametrize(
    ("plural", "single"),
    [
        ("users", "user"),
        ("categories", "category"),
        ("movies", "movie"),
        ("boxes", "box"),
        ("addresses", "address"),
        ("statuses", "status"),
        ("caches", "cache"),
        ("searches", "search"),
        ("people", "person"),
        ("quizzes", "quiz"),
        ("analytics", "analytics"),
        ("news", "news"),
        ("postgres", "postgres"),
        ("homework", "homework"),
    ],
)
def test_singular(plural: str, single: str) -> None:
    assert singular(plural) == single


@pytest.mark.parametrize(
    "forms",
    [
        ("upload", "uploads", "uploaded", "uploading"),
        ("schedule", "schedules", "scheduled", "scheduling"),
        ("chat", "chats", "chatted", "chatting"),
        ("notify", "notifies", "notified"),
        ("ship", "ships", "shipped"),
    ],
)
def test_inflections_share_a_match_key(forms: tuple[str, ...]) -> None:
    assert len({match_key(form) for form in forms}) == 1


def test_nouns_that_look_inflected_keep_their_own_key() -> None:
    assert match_key("booking") != match_key("book")  # a reservation is not a book
    assert match_key("messaging") != match_key("message")
    assert match_key("rating") != match_key("rate")


def test_phrasing_variants_give_the_same_labels() -> None:
    variants = [
        "Real-time chat with push notifications",
        "realtime chats and push-notifications",
        "REAL TIME CHATTING, PUSH NOTIFICATIONS",
        "real time chat; push notification",
    ]
    results = {(parse(text).features, parse(text).constraints) for text in variants}
    assert len(results) == 1


def test_links_are_not_read_as_words_in_any_case() -> None:
    """A URL's words ('stripe', 'slack') say nothing about what is asked, however the
    link is written."""
    plain = parse("A recipe app for home cooks.")
    for link in (
        "www.stripe-slack.example",
        "WWW.STRIPE-SLACK.EXAMPLE",
        "https://stripe.example/slack_bot",
        "HTTPS://STRIPE.EXAMPLE/SLACK",
        "[see](./stripe_slack.md)",
    ):
        assert parse(f"A recipe app for home cooks. See {link}").integrations == (), link
        assert parse(f"A recipe app for home cooks. {link}").entities == plain.entities, link


@given(
    st.sets(st.sampled_from(FEATURES)),
    st.sets(st.sampled_from(FEATURES)),
    st.integers(0, 8),
    st.integers(0, 8),
    st.sets(st.sampled_from(INTEGRATIONS)),
    st.sets(st.sampled_from(CONSTRAINTS)),
    st.integers(0, 10),
)
def test_complexity_is_monotone_in_every_count(
    features: set[str],
    more_features: set[str],
    actors: int,
    entities: int,
    integrations: set[str],
    constraints: set[str],
    stack_items: int,
) -> None:
    def score(extra: int) -> int:
        return complexity(
            features | (more_features if extra else set()),
            [f"actor{n}" for n in range(actors + extra)],
            [f"entity{n}" for n in range(entities + extra)],
            integrations,
            constraints,
            stack_items + extra,
        )

    assert 0 <= score(0) <= score(1) <= 100


def test_complexity_anchors_from_the_taxonomy() -> None:
    simple = parse("A notes app")
    marketplace = parse(
        "A marketplace web app where buyers, sellers and couriers message each other in "
        "real time. Sellers list products; buyers pay with Stripe or PayPal and leave reviews; "
        "couriers see deliveries on Google Maps. Admins moderate listings in an admin panel. "
        "Email notifications via SendGrid. It must be GDPR and PCI compliant and scale to "
        "millions of users."
    )
    assert 5 <= simple.complexity <= 20
    assert marketplace.complexity >= 80


@pytest.mark.parametrize(
    ("text", "actor"),
    [
        ("The florist arranges bouquets for weddings", "florist"),
        ("Our beekeepers log every hive inspection", "beekeeper"),
        ("As a registered store owner I can edit prices", "owner"),
        ("Dispatchers can assign jobs to drivers", "dispatcher"),
    ],
)
def test_unknown_roles_are_found_where_they_act(text: str, actor: str) -> None:
    assert actor in parse(text).actors


@pytest.mark.parametrize(
    ("text", "not_actor"),
    [
        ("Host it on Netlify", "host"),
        ("Show the user name and the host name", "host"),
        ("The server will restart every night", "server"),
        ("Remember the last search", "remember"),
    ],
)
def test_words_that_only_look_like_people_are_not_actors(text: str, not_actor: str) -> None:
    assert not_actor not in parse(text).actors


def test_complexity_points_are_halves_so_sums_do_not_depend_on_order() -> None:
    from grump.intent import scoring

    values = [
        *scoring.FEATURE_POINTS.values(),
        *scoring.CONSTRAINT_POINTS.values(),
        scoring.DEFAULT_FEATURE_POINTS,
        scoring.DEFAULT_CONSTRAINT_POINTS,
        scoring.INTEGRATION_POINTS,
        scoring.STACK_ITEM_POINTS,
    ]
    assert all((value * 2).is_integer() for value in values)
