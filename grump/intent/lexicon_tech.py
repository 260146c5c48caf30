"""Brands and technologies as people write them: label -> phrases.

Words that are also plain English ("go", "express", "notion", "zoom") are only
matched in phrases that make the technical meaning clear ("written in go",
"express.js", "notion api", "zoom meeting").
"""

from __future__ import annotations

from typing import Final

from grump.intent.phrases import split_phrases as _phrases

INTEGRATION_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "stripe": _phrases("stripe, stripe checkout, stripe billing, stripe connect"),
    "paypal": _phrases("paypal, pay pal, braintree"),
    "plaid": _phrases("plaid"),
    "shopify": _phrases("shopify"),
    "github": _phrases("github, git hub, github api, github oauth, github actions"),
    "gitlab": _phrases("gitlab"),
    "bitbucket": _phrases("bitbucket"),
    "jira": _phrases("jira"),
    "slack": _phrases("slack, slackbot, slack bot, slack app, slack workspace"),
    "discord": _phrases("discord, discord bot, discord server"),
    "telegram": _phrases("telegram, telegram bot"),
    "whatsapp": _phrases("whatsapp, whats app, whatsapp bot"),
    "twilio": _phrases("twilio"),
    "sendgrid": _phrases("sendgrid, send grid"),
    "mailgun": _phrases("mailgun"),
    "mailchimp": _phrases("mailchimp, mail chimp"),
    "openai": _phrases(
        "openai, open ai, gpt, gpt 4, gpt4, gpt 4o, gpt 3, gpt 3 5, gpt 5, chatgpt, chat gpt, "
        "dall e, dalle, whisper api, openai api"
    ),
    "anthropic": _phrases("anthropic, claude, claude api"),
    "google_maps": _phrases("google maps, google map, google places, google maps api"),
    "mapbox": _phrases("mapbox"),
    "google_calendar": _phrases("google calendar, gcal"),
    "google_drive": _phrases("google drive, gdrive, google docs, google sheets"),
    "dropbox": _phrases("dropbox"),
    "aws_s3": _phrases("s3, aws s3, amazon s3, s3 bucket"),
    "cloudinary": _phrases("cloudinary"),
    "auth0": _phrases("auth0, auth 0"),
    "firebase": _phrases("firebase, firebase auth, firebase authentication"),
    "supabase": _phrases("supabase, supabase auth"),
    "algolia": _phrases("algolia"),
    "salesforce": _phrases("salesforce, sales force"),
    "hubspot": _phrases("hubspot, hub spot"),
    "zendesk": _phrases("zendesk"),
    "notion": _phrases(
        "notion api, notion integration, notion database, notion page, notion workspace, "
        "to notion, from notion, with notion, into notion, notion pages, in notion"
    ),
    "zoom": _phrases(
        "zoom meeting, zoom call, zoom api, zoom integration, via zoom, on zoom, with zoom, "
        "zoom sdk, zoom link, zoom webinar, over zoom"
    ),
    "spotify": _phrases("spotify, spotify api"),
    "youtube": _phrases("youtube, you tube, youtube api"),
    "twitter": _phrases("twitter, tweet, tweets, x twitter, twitter api, x formerly twitter"),
    "facebook": _phrases("facebook, facebook login, facebook api, meta graph api"),
    "instagram": _phrases("instagram, instagram api"),
    "linkedin": _phrases("linkedin, linked in"),
    "quickbooks": _phrases("quickbooks, quick books"),
    "xero": _phrases("xero"),
    "zapier": _phrases("zapier"),
    "segment": _phrases(
        "segment io, segment analytics, segment cdp, twilio segment, via segment, "
        "segment integration, segment com"
    ),
    "sentry": _phrases("sentry"),
}

STACK_PHRASES: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    "language": {
        "python": _phrases("python, python3, python 3, py3"),
        "typescript": _phrases("typescript, type script"),
        "javascript": _phrases("javascript, java script, js, vanilla js, es6, ecmascript"),
        "go": _phrases(
            "golang, go lang, in go, using go, written in go, with go, go backend, go server, "
            "go service, go api, go microservice, go cli, go program, go language, "
            "go programming, go code, go binary"
        ),
        "rust": _phrases("rust, rustlang"),
        "java": _phrases("java, java 17, java 21, jvm"),
        "kotlin": _phrases("kotlin"),
        "swift": _phrases("swift"),
        "ruby": _phrases("ruby"),
        "php": _phrases("php"),
        "csharp": _phrases("c#, csharp, c sharp"),
        "cpp": _phrases("c++, cpp, cplusplus"),
        "elixir": _phrases("elixir"),
        "dart": _phrases("dart"),
    },
    "frontend": {
        "react": _phrases("react, react js, reactjs, react.js"),
        "nextjs": _phrases("next js, nextjs, next.js, next 14, next app router"),
        "vue": _phrases("vue, vue js, vuejs, vue 3, vue.js"),
        "nuxt": _phrases("nuxt, nuxt js, nuxtjs"),
        "svelte": _phrases("svelte"),
        "sveltekit": _phrases("sveltekit, svelte kit"),
        "angular": _phrases("angular, angularjs, angular js"),
        "solid": _phrases("solidjs, solid js, solid.js, solidstart, solid start"),
        "htmx": _phrases("htmx"),
        "tailwind": _phrases("tailwind, tailwindcss, tailwind css"),
    },
    "mobile": {
        "react_native": _phrases("react native, reactnative, rn app"),
        "flutter": _phrases("flutter"),
        "swiftui": _phrases("swiftui, swift ui"),
        "jetpack_compose": _phrases("jetpack compose, jetpack, compose multiplatform"),
        "expo": _phrases("expo, expo go, expo router"),
    },
    "backend": {
        "node": _phrases("node, node js, nodejs, node.js"),
        "express": _phrases(
            "express js, expressjs, express.js, express server, express backend, express api, "
            "node express, with express, using express, express app, express framework"
        ),
        "nestjs": _phrases("nestjs, nest js, nest.js"),
        "fastapi": _phrases("fastapi, fast api"),
        "django": _phrases("django, django rest framework, drf"),
        "flask": _phrases("flask"),
        "rails": _phrases("rails, ruby on rails, ror"),
        "spring": _phrases("spring boot, springboot, spring framework, java spring, spring mvc"),
        "laravel": _phrases("laravel"),
        "dotnet": _phrases(".net, dotnet, asp.net, asp net, .net core, dot net"),
        "gin": _phrases("gin gonic, gin framework, go gin, with gin, using gin, gin router"),
        "phoenix": _phrases(
            "phoenix framework, phoenix liveview, phoenix live view, elixir phoenix, "
            "with phoenix, using phoenix"
        ),
    },
    "database": {
        "postgres": _phrases("postgres, postgresql, psql, postgre, postgres sql"),
        "mysql": _phrases("mysql, my sql"),
        "sqlite": _phrases("sqlite, sqlite3"),
        "mongodb": _phrases("mongodb, mongo, mongo db, mongoose"),
        "redis": _phrases("redis"),
        "dynamodb": _phrases("dynamodb, dynamo db, dynamo"),
        "firestore": _phrases("firestore, cloud firestore"),
        "cassandra": _phrases("cassandra"),
        "elasticsearch": _phrases("elasticsearch, elastic search"),
    },
    "infra": {
        "docker": _phrases("docker, dockerized, dockerised, dockerfile, docker compose"),
        "kubernetes": _phrases("kubernetes, k8s, helm chart, kubectl"),
        "aws": _phrases("aws, amazon web services, ec2, aws lambda, ecs, eks, cloudformation"),
        "gcp": _phrases("gcp, google cloud, google cloud platform, cloud run"),
        "azure": _phrases("azure, microsoft azure"),
        "vercel": _phrases("vercel"),
        "netlify": _phrases("netlify"),
        "heroku": _phrases("heroku"),
        "terraform": _phrases("terraform"),
        "serverless": _phrases(
            "serverless, lambda functions, cloud functions, aws lambda, edge functions"
        ),
    },
}

# Stacks named by their acronym.
STACK_BUNDLES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "mern": (
        ("database", "mongodb"),
        ("backend", "express"),
        ("frontend", "react"),
        ("backend", "node"),
    ),
    "mern stack": (
        ("database", "mongodb"),
        ("backend", "express"),
        ("frontend", "react"),
        ("backend", "node"),
    ),
    "mean stack": (
        ("database", "mongodb"),
        ("backend", "express"),
        ("frontend", "angular"),
        ("backend", "node"),
    ),
    "mevn stack": (
        ("database", "mongodb"),
        ("backend", "express"),
        ("frontend", "vue"),
        ("backend", "node"),
    ),
    "lamp stack": (("language", "php"), ("database", "mysql")),
    "t3 stack": (("frontend", "nextjs"), ("language", "typescript"), ("frontend", "tailwind")),
}

# Phrases that look like a label but are not: matched first, they report nothing.
BLOCKED_PHRASES: Final = _phrases(
    "bank account, savings account, checking account, account balance, account number, "
    "cash register, find out, error message, warning message, confirmation message, "
    "success message, status message, commit message, welcome message, validation message, "
    "hello message, exchange rate, frame rate, heart rate, interest rate, tax rate, "
    "conversion rate, bit rate, hourly rate, success rate, error rate, rate limit, "
    "rate limiting, rate of, growth rate, click rate, bounce rate, refresh rate, "
    "sample rate, first rate, code review, rss feed, atom feed, data feed, feed the, "
    "stock market, stock price, stock prices, stock ticker, map to, map over, mind map, "
    "email address, email username, username email, email or username, "
    "username or email, email id, email field, tier, tiers, the following, as follows, "
    "follow these, follow this, follow the, input field, text field, free text, "
    "live preview, push the, push button, push a, "
    "export default, event handler, graph theory, "
    "cron expression, api key, api keys, sign of, pay attention, "
    "web developer, web developers, web development, native language, "
    "open source, test case, to map"
)
