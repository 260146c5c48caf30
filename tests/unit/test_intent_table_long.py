"""Hand-written long prompts (user stories, bullet lists, paragraphs) and their labels.

Each case holds the labels a reader of the prompt would expect; see
``test_intent_table_short`` for how a case is checked.
"""

from __future__ import annotations

import pytest

from tests.unit.test_intent_table_short import SHORT_CASES, Case, check

LONG_CASES: list[Case] = [
    # --- user stories ------------------------------------------------------------------------
    Case(
        "As a teacher I can grade homework", "unknown", actors=("teacher",), entities=("homework",)
    ),
    Case(
        "As a customer, I want to book an appointment and pay online so that I skip the queue.",
        "unknown",
        ("booking", "calendar_scheduling", "payments"),
        actors=("customer",),
    ),
    Case(
        "## User Stories\n"
        "- [ ] User can create a note\n"
        "- [ ] User can edit a note\n"
        "- [ ] User can delete a note\n"
        "- [ ] User can tag notes and search them",
        "unknown",
        ("search", "tagging"),
        actors=("user",),
        entities=("note",),
    ),
    Case(
        "User stories:\n"
        "1. As an admin I can ban users and see an audit log of every change.\n"
        "2. As a member I can invite teammates to my workspace.\n"
        "3. As a member I can export my data to CSV.",
        "unknown",
        ("audit_log", "data_export", "multi_tenancy"),
        actors=("admin", "member"),
    ),
    Case(
        "As a patient I can book appointments with my doctor. As a doctor I can see my "
        "schedule and write prescriptions. Patient data must be HIPAA compliant.",
        "unknown",
        ("booking", "calendar_scheduling"),
        constraints=("compliance_hipaa",),
        actors=("doctor", "patient"),
        entities=("prescription",),
    ),
    # --- bullet lists ------------------------------------------------------------------------
    Case(
        "Requirements:\n"
        "- Users sign up with email and password\n"
        "- Two-factor authentication with an authenticator app\n"
        "- Role-based permissions\n"
        "- Admin panel\n",
        "unknown",
        ("admin_panel", "authentication", "authorization", "two_factor_auth"),
        actors=("user",),
    ),
    Case(
        "* upload photos\n* resize images into thumbnails\n* tag photos\n* share an album link",
        "unknown",
        ("file_upload", "media_processing", "tagging"),
        entities=("photo",),
    ),
    Case(
        "Features:\n"
        "- multiple languages (English, Spanish, Arabic)\n"
        "- dark mode\n"
        "- accessible to screen readers (WCAG 2.1)\n"
        "- import contacts from a CSV file",
        "unknown",
        ("data_import", "i18n"),
        constraints=("accessibility",),
    ),
    Case(
        "Must haves: webhooks for order events, a developer API with API keys for customers, "
        "and a full audit trail.",
        "unknown",
        ("audit_log", "public_api", "webhooks"),
    ),
    # --- paragraphs --------------------------------------------------------------------------
    Case(
        "Build a todo app where teams share lists, with Google login and Stripe billing, "
        "in Next.js and Postgres.",
        "web_app",
        ("authentication", "multi_tenancy", "payments"),
        ("stripe",),
        stack={"frontend": ["nextjs"], "database": ["postgres"]},
        entities=("todo",),
    ),
    Case(
        "I want a marketplace web app where buyers and sellers can message each other in "
        "real time. Sellers list products with photos, buyers pay with Stripe and leave "
        "reviews. Admins need an admin panel with analytics. It has to scale to millions of "
        "users and be GDPR and PCI compliant.",
        "web_app",
        (
            "admin_panel",
            "analytics_dashboard",
            "messaging",
            "payments",
            "ratings_reviews",
            "realtime_updates",
        ),
        ("stripe",),
        constraints=("compliance_gdpr", "compliance_pci", "realtime", "scalability"),
        actors=("admin", "buyer", "seller"),
    ),
    Case(
        "A bakery website where customers order cakes for pickup. The owner manages "
        "inventory and gets an email for every new order.",
        "web_app",
        ("email", "inventory"),
        actors=("customer", "owner"),
        entities=("cake",),
    ),
    Case(
        "We need an internal tool for our warehouse staff: scan barcodes to update stock "
        "levels, see low-stock alerts, and download weekly reports as PDF. It should be "
        "fast and work on cheap Android tablets.",
        "mobile_app",
        ("analytics_dashboard", "data_export", "inventory", "notifications"),
        constraints=("budget", "performance"),
        actors=("staff",),
    ),
    Case(
        "A telehealth platform with video calls between doctors and patients, appointment "
        "scheduling synced to Google Calendar, end-to-end encrypted chat and 99.9% uptime.",
        "web_app",
        ("calendar_scheduling", "messaging", "video_streaming"),
        ("google_calendar",),
        constraints=("high_availability", "security"),
        actors=("doctor", "patient"),
    ),
    Case(
        "Create a podcast app that recommends episodes you may also like, works offline, "
        "and syncs when back online. Localized into five languages.",
        "web_app",
        ("i18n", "offline_mode", "recommendations"),
        constraints=("offline",),
        entities=("podcast",),
    ),
    Case(
        "A SaaS for agencies: multi-tenant workspaces, subscription plans with a paywall, "
        "Zapier and HubSpot integrations, and an activity log.",
        "web_app",
        ("audit_log", "multi_tenancy", "subscriptions"),
        ("hubspot", "zapier"),
    ),
    Case(
        "Ride sharing app for iOS and Android: riders see nearby drivers on a map, book a "
        "ride, pay by card, and rate the driver.",
        "mobile_app",
        ("booking", "maps_location", "payments", "ratings_reviews"),
        actors=("driver", "rider"),
    ),
    Case(
        "A simple Windows desktop application to rename photos in bulk",
        "desktop_app",
        entities=("photo",),
    ),
    Case(
        "A Kotlin Android app using Jetpack Compose that shows the weather",
        "mobile_app",
        stack={"language": ["kotlin"], "mobile": ["jetpack_compose"]},
    ),
    Case(
        "Collaborative whiteboard where users draw together in real time over websockets, "
        "with comments and a version history.",
        "unknown",
        ("audit_log", "comments", "realtime_updates"),
        constraints=("realtime",),
        actors=("user",),
    ),
    Case(
        "Blog platform with posts, comments, tags, an RSS feed and a newsletter via Mailchimp.",
        "web_app",
        ("comments", "email", "tagging"),
        ("mailchimp",),
    ),
    Case(
        "Social network for photographers: follow other users, like photos, a news feed "
        "and user profiles with avatars.",
        "unknown",
        ("social_feed", "user_profiles"),
        actors=("photographer",),
    ),
    Case(
        "A help desk where customers open tickets, agents reply, and everything syncs with "
        "Salesforce. Sentry for errors.",
        "unknown",
        ("comments",),
        ("salesforce", "sentry"),
        actors=("agent", "customer"),
        entities=("ticket",),
    ),
    Case(
        "Budget-friendly: host it on Netlify's free tier and keep costs low.",
        "unknown",
        stack={"infra": ["netlify"]},
        constraints=("budget",),
    ),
    Case(
        "Semantic search over our Notion pages and Google Drive files using embeddings",
        "unknown",
        ("ai_features", "search"),
        ("google_drive", "notion"),
    ),
    Case(
        "Our gym needs a mobile app where members book classes, trainers publish their "
        "weekly schedule, and everyone gets a reminder an hour before class. Payments go "
        "through Stripe with monthly subscriptions.",
        "mobile_app",
        ("booking", "calendar_scheduling", "notifications", "payments", "subscriptions"),
        ("stripe",),
        actors=("member", "trainer"),
    ),
    Case(
        "I'd like a lightweight command-line tool written in Rust that watches a folder, "
        "compresses new images, uploads them to an S3 bucket and posts a message to Slack "
        "when it is done. It must be fast and use little memory.",
        "cli_tool",
        ("file_upload", "media_processing", "messaging"),
        ("aws_s3", "slack"),
        stack={"language": ["rust"]},
        constraints=("performance",),
    ),
    Case(
        "A school portal: teachers post assignments and grade submissions, students upload "
        "their homework and see their grades, parents get email notifications. Needs to be "
        "accessible and available in English and French.",
        "web_app",
        ("email", "file_upload", "notifications"),
        constraints=("accessibility",),
        actors=("parent", "student", "teacher"),
        entities=("assignment", "homework", "submission"),
    ),
    Case(
        "Build an internal analytics dashboard that imports sales data from QuickBooks and "
        "Xero every night, shows KPIs and charts per region, and lets managers export the "
        "numbers to Excel. Single sign-on with our Google accounts; no public access.",
        "web_app",
        ("analytics_dashboard", "authentication", "data_export", "data_import"),
        ("quickbooks", "xero"),
        actors=("manager",),
    ),
    Case(
        "We want a recommendation engine for our online bookstore: it should suggest books "
        "based on what readers bought and rated, retrain weekly on new purchases, and serve "
        "suggestions through a low-latency REST API.",
        "ml_system",
        ("payments", "ratings_reviews", "recommendations"),
        constraints=("realtime",),
        actors=("reader",),
    ),
    Case(
        "Event ticketing site with seat reservations, QR-code tickets sent by email, a "
        "waitlist, and an organizer dashboard with live sales numbers. It has to survive "
        "high traffic when popular concerts go on sale.",
        "web_app",
        ("analytics_dashboard", "booking", "email"),
        constraints=("realtime", "scalability"),
        actors=("organizer",),
    ),
]


@pytest.mark.parametrize("case", LONG_CASES, ids=[case.text[:48] for case in LONG_CASES])
def test_long_prompt_yields_the_labels_a_reader_expects(case: Case) -> None:
    check(case)


def test_the_table_is_large_and_varied() -> None:
    cases = SHORT_CASES + LONG_CASES
    assert len(cases) >= 60
    assert sum("\n" in case.text for case in cases) >= 5  # bullet lists and user stories
    assert sum(len(case.text) > 150 for case in cases) >= 8  # paragraphs
    assert sum(len(case.text) < 60 for case in cases) >= 15  # one-liners
