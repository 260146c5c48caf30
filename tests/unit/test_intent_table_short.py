"""Hand-written short prompts (one-liners, brand spellings, negation) and their labels.

Each case holds the labels a reader of the prompt would expect.

Canonical labels (project type, features, integrations, stack, constraints)
must match exactly: a missing label and an extra label are both wrong.
Actors and entities are open vocabulary, so a case lists the ones that must
be found (and, where it matters, ones that must not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from grump.intent import parse


@dataclass(frozen=True)
class Case:
    text: str
    project_type: str
    features: tuple[str, ...] = ()
    integrations: tuple[str, ...] = ()
    stack: dict[str, list[str]] = field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    not_actors: tuple[str, ...] = ()
    not_entities: tuple[str, ...] = ()


SHORT_CASES: list[Case] = [
    # --- one-liners -------------------------------------------------------------------------
    Case("todo app with login", "web_app", ("authentication",), entities=("todo",)),
    Case(
        "A recipe website with search and user ratings",
        "web_app",
        ("ratings_reviews", "search"),
        entities=("recipe",),
    ),
    Case("iOS app to track expenses", "mobile_app", entities=("expense",)),
    Case(
        "Android habit tracker with push notifications and reminders",
        "mobile_app",
        ("notifications",),
        entities=("habit",),
    ),
    Case(
        "CLI tool that exports my Jira tickets to CSV",
        "cli_tool",
        ("data_export",),
        ("jira",),
        entities=("ticket",),
    ),
    Case(
        "Chrome extension that summarizes articles with GPT-4",
        "browser_extension",
        ("ai_features",),
        ("openai",),
        entities=("article",),
    ),
    Case(
        "A Slack bot that posts daily standup reminders", "chatbot", ("notifications",), ("slack",)
    ),
    Case(
        "Discord bot for our gaming community with slash commands",
        "chatbot",
        integrations=("discord",),
    ),
    Case(
        "REST API for a bookstore inventory in FastAPI and PostgreSQL",
        "api_service",
        ("inventory",),
        stack={"backend": ["fastapi"], "database": ["postgres"]},
    ),
    Case(
        "GraphQL API in Go backed by MongoDB",
        "api_service",
        stack={"language": ["go"], "database": ["mongodb"]},
    ),
    Case(
        "Electron desktop app for taking markdown notes offline",
        "desktop_app",
        constraints=("offline",),
        entities=("note",),
    ),
    Case("npm package for parsing dates", "library"),
    Case(
        "Python SDK for our public API", "library", ("public_api",), stack={"language": ["python"]}
    ),
    Case(
        "ETL pipeline that ingests Shopify orders into BigQuery every night",
        "data_pipeline",
        integrations=("shopify",),
        entities=("order",),
    ),
    Case("web scraper that collects job postings", "data_pipeline", entities=("posting",)),
    Case("Train a classifier that flags fraudulent transactions", "ml_system"),
    Case("2D platformer game with a leaderboard", "game"),
    Case(
        "Multiplayer chess game with real-time moves",
        "game",
        ("realtime_updates",),
        constraints=("realtime",),
    ),
    Case(
        "Landing page for my bakery, SEO friendly and responsive",
        "web_app",
        constraints=("responsive", "seo"),
    ),
    Case(
        "Dashboard showing Stripe revenue charts",
        "web_app",
        ("analytics_dashboard", "payments"),
        ("stripe",),
    ),
    # --- brands, spellings, hyphens, case --------------------------------------------------
    Case(
        "React Native app with Sign in with GitHub",
        "mobile_app",
        ("authentication",),
        ("github",),
        stack={"mobile": ["react_native"]},
    ),
    Case(
        "A NextJS + Tailwind site on Vercel using Supabase for auth",
        "web_app",
        ("authentication",),
        ("supabase",),
        stack={"frontend": ["nextjs", "tailwind"], "infra": ["vercel"]},
    ),
    Case(
        "Next.js frontend, Node.js/Express backend, Postgres db, deployed with Docker on k8s",
        "web_app",
        stack={
            "frontend": ["nextjs"],
            "backend": ["express", "node"],
            "database": ["postgres"],
            "infra": ["docker", "kubernetes"],
        },
    ),
    Case(
        "Golang microservice with Redis caching on AWS Lambda",
        "api_service",
        stack={"language": ["go"], "database": ["redis"], "infra": ["aws", "serverless"]},
    ),
    Case(
        "C# .NET web API with SQL Server",
        "api_service",
        stack={"language": ["csharp"], "backend": ["dotnet"]},
    ),
    Case("A C++ game engine", "game", stack={"language": ["cpp"]}),
    Case(
        "ChatGPT-powered assistant that answers questions about our docs",
        "chatbot",
        ("ai_features",),
        ("openai",),
    ),
    Case(
        "Use Claude to summarise support tickets from Zendesk",
        "unknown",
        ("ai_features",),
        ("anthropic", "zendesk"),
    ),
    Case(
        "Store uploads in S3, send emails via SendGrid, texts through Twilio",
        "unknown",
        ("email", "file_upload"),
        ("aws_s3", "sendgrid", "twilio"),
    ),
    Case(
        "Post to X (Twitter) and LinkedIn automatically",
        "unknown",
        integrations=("linkedin", "twitter"),
    ),
    Case(
        "Flutter app written in Dart with Firebase and Firestore",
        "mobile_app",
        integrations=("firebase",),
        stack={"language": ["dart"], "mobile": ["flutter"], "database": ["firestore"]},
    ),
    Case(
        "SwiftUI iPhone app with Mapbox maps",
        "mobile_app",
        ("maps_location",),
        ("mapbox",),
        stack={"mobile": ["swiftui"]},
    ),
    Case(
        "Vue 3 + Nuxt storefront with a shopping cart and PayPal checkout",
        "web_app",
        ("payments", "shopping_cart"),
        ("paypal",),
        stack={"frontend": ["nuxt", "vue"]},
    ),
    Case(
        "Rails app on Heroku with Sidekiq and MySQL",
        "web_app",
        stack={"backend": ["rails"], "database": ["mysql"], "infra": ["heroku"]},
    ),
    Case(
        "Django REST Framework backend with Celery, deployed to GCP with Terraform",
        "api_service",
        stack={"backend": ["django"], "infra": ["gcp", "terraform"]},
    ),
    Case(
        "Laravel PHP portal with Google Maps store locator",
        "web_app",
        ("maps_location",),
        ("google_maps",),
        stack={"language": ["php"], "backend": ["laravel"]},
    ),
    Case("An Instagram clone in React", "web_app", stack={"frontend": ["react"]}),
    Case("A clone of Spotify with playlists", "unknown"),
    # --- negation ----------------------------------------------------------------------------
    Case("no login needed, a simple notes app", "web_app", entities=("note",)),
    Case("A pastebin website without accounts or sign-up", "web_app"),
    Case(
        "Todo app. Authentication is not required, but it must work offline.",
        "web_app",
        ("offline_mode",),
        constraints=("offline",),
        entities=("todo",),
    ),
    Case(
        "The app doesn't need payments; just a booking calendar",
        "web_app",
        ("booking", "calendar_scheduling"),
    ),
    Case("A kiosk app with no internet connection required", "web_app", constraints=("offline",)),
    Case("Ad-free reading app for kids, no tracking", "web_app"),
    Case(
        "We don't want real-time updates, a nightly report by email is fine",
        "unknown",
        ("analytics_dashboard", "email"),
    ),
    Case("A game that is not multiplayer and has no chat", "game"),
]


def check(case: Case) -> None:
    """Assert that parsing ``case.text`` yields the case's labels."""
    intent = parse(case.text)
    assert intent.project_type == case.project_type
    assert intent.features == tuple(sorted(case.features))
    assert intent.integrations == tuple(sorted(case.integrations))
    assert intent.stack == case.stack
    assert intent.constraints == tuple(sorted(case.constraints))
    assert set(case.actors) <= set(intent.actors), intent.actors
    assert set(case.entities) <= set(intent.entities), intent.entities
    assert not set(case.not_actors) & set(intent.actors), intent.actors
    assert not set(case.not_entities) & set(intent.entities), intent.entities


@pytest.mark.parametrize("case", SHORT_CASES, ids=[case.text[:48] for case in SHORT_CASES])
def test_short_prompt_yields_the_labels_a_reader_expects(case: Case) -> None:
    check(case)
