"""How people name the kind of software they want, and its constraints: label -> phrases.

Project types come in three strengths: a phrase that names the kind outright
("iOS app", "Chrome extension"), a hint that points to it ("dashboard", "Flutter"),
and the bare words "app"/"tool" that only lean towards a web app. The strongest
total wins; see ``scoring.choose_project_type``.
"""

from __future__ import annotations

from typing import Final

from grump.intent.phrases import split_phrases as _phrases

PROJECT_TYPE_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "web_app": _phrases(
        "web app, web application, website, web site, webpage, web page, saas, web portal, "
        "landing page, web platform, single page app, spa, web based, online store, "
        "e commerce site, ecommerce site, online shop, web frontend, webapp, web ui"
    ),
    "mobile_app": _phrases(
        "mobile app, mobile application, ios app, android app, iphone app, ipad app, "
        "phone app, smartphone app, ios, android, iphone, app store, play store, "
        "mobile game app, native app, cross platform mobile"
    ),
    "api_service": _phrases(
        "rest api, restful api, graphql api, api service, backend service, microservice, "
        "web service, api server, http api, json api, api backend, grpc service, "
        "backend api, build an api, an api for, api only, headless api, rest service, web api"
    ),
    "cli_tool": _phrases(
        "cli, command line, command line tool, command line interface, terminal app, "
        "terminal tool, terminal application, console app, console application, "
        "shell script, cli tool, cli app, tui"
    ),
    "desktop_app": _phrases(
        "desktop app, desktop application, electron, electron app, windows app, macos app, "
        "mac app, tauri, linux app, desktop client, windows application, mac application, "
        "desktop program, system tray"
    ),
    "library": _phrases(
        "sdk, npm module, npm package, pip package, pypi package, python package, "
        "client library, python library, javascript library, js library, go package, "
        "go module, rust crate, crate, ruby gem, reusable library, library for, "
        "typescript library, java library, component library"
    ),
    "data_pipeline": _phrases(
        "etl, elt, data pipeline, pipeline, scraper, web scraper, crawler, web crawler, "
        "ingestion, ingestion job, scrape, ingest, batch job, data ingestion, "
        "data warehouse loader, airflow, cron job"
    ),
    "ml_system": _phrases(
        "ml model, machine learning model, classifier, recommendation engine, "
        "recommender system, training pipeline, train a model, model training, "
        "predictive model, image classifier, text classifier, fine tune, fine tuning, "
        "ml pipeline, forecasting model, prediction model"
    ),
    "game": _phrases(
        "game, puzzle, platformer, arcade, rpg, shooter, board game, card game, "
        "video game, multiplayer game, game engine, roguelike, chess, sudoku, tetris, "
        "snake game, trivia game, game board"
    ),
    "chatbot": _phrases(
        "chatbot, chat bot, bot, slack bot, slackbot, discord bot, telegram bot, "
        "whatsapp bot, assistant, virtual assistant, ai assistant, voice assistant, "
        "conversational agent, support bot, faq bot"
    ),
    "browser_extension": _phrases(
        "chrome extension, browser extension, firefox extension, firefox add on, add on, "
        "addon, browser plugin, browser add on, safari extension, edge extension, "
        "web extension, userscript"
    ),
}

# Weaker evidence: each counts a third of a phrase above.
PROJECT_TYPE_HINTS: Final[dict[str, tuple[str, ...]]] = {
    "web_app": _phrases(
        "dashboard, portal, browser, web, site, online, frontend, html, css, react, vue, "
        "angular, svelte, next js, nextjs, nuxt, landing, sveltekit, htmx, tailwind, "
        "localstorage, local storage"
    ),
    "mobile_app": _phrases(
        "mobile, react native, flutter, swiftui, jetpack compose, expo, kotlin, swift, "
        "tablet, push notification"
    ),
    "api_service": _phrases("api, endpoint, endpoints, backend"),
    "cli_tool": _phrases("terminal, command, flag, flags, subcommand, sub command, stdin"),
    "desktop_app": _phrases("desktop, windows, macos"),
    "library": _phrases("library, package, module"),
    "data_pipeline": _phrases("batch, cron, warehouse loading"),
    "ml_system": _phrases("model, predict, prediction, dataset, training data"),
    "game": _phrases("player, level, score, scores, high score, leaderboard, turn based"),
    "chatbot": _phrases("conversation, bot command, slash command"),
    "browser_extension": _phrases("extension, toolbar, popup"),
}

# Words that only say "some software": they lean to a web app when nothing else speaks.
GENERIC_SOFTWARE_WORDS: Final = _phrases(
    "app, application, tool, platform, software, program, system, service, site"
)

CONSTRAINT_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "realtime": _phrases(
        "real time, realtime, low latency, live, live chat, live data, live score, "
        "live tracking, live location, live feed, instant, instantly"
    ),
    "offline": _phrases(
        "offline, no connectivity, no internet, without internet, no network, "
        "without connection, without connectivity, no signal, poor connectivity, "
        "works offline, offline first, offline mode, offline support, available offline, "
        "use offline, usable offline, offline access, offline capable"
    ),
    "responsive": _phrases(
        "responsive, mobile friendly, mobile first, responsive design, works on mobile, "
        "mobile responsive, adaptive layout, all screen sizes"
    ),
    "accessibility": _phrases(
        "accessible, accessibility, a11y, wcag, screen reader, keyboard navigation, aria, "
        "ada compliant, color blind, colour blind"
    ),
    "scalability": _phrases(
        "scalable, scalability, scale to, scale up, scale out, at scale, scale horizontally, "
        "scales to, millions of users, high traffic, horizontally scalable, heavy load, "
        "thousands of concurrent users, millions of requests, autoscaling, auto scaling"
    ),
    "high_availability": _phrases(
        "uptime, highly available, high availability, failover, fault tolerant, "
        "fault tolerance, redundant, redundancy, no downtime, zero downtime, disaster recovery"
    ),
    "security": _phrases(
        "secure, security, encryption, encrypted, encrypt, end to end encrypted, "
        "end to end encryption, e2e encryption, e2ee, securely, owasp, penetration test"
    ),
    "compliance_gdpr": _phrases("gdpr, general data protection regulation"),
    "compliance_hipaa": _phrases(
        "hipaa, patient data, protected health information, phi, medical records, health records"
    ),
    "compliance_pci": _phrases("pci, pci dss, card data, cardholder data, pci compliant"),
    "compliance_soc2": _phrases("soc 2, soc2, soc ii, soc2 type ii, soc 2 type 2"),
    "performance": _phrases(
        "fast, performant, high performance, sub second, optimized, optimised, "
        "lightning fast, blazing fast, quick load, low memory, efficient, efficiently, "
        "performance, latency under, load quickly, loads quickly"
    ),
    "seo": _phrases(
        "seo, search engine friendly, search engine optimization, search engine optimisation, "
        "search engines, search engine, server side rendered for seo, discoverable on google"
    ),
    "budget": _phrases(
        "cheap, cheaply, low cost, free tier, free tier only, inexpensive, on a budget, "
        "tight budget, limited budget, low budget, small budget, budget friendly, "
        "within budget, cost effective, minimal cost, free hosting, costs nothing, "
        "keep costs low, low costs"
    ),
}
