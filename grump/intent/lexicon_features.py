"""How people ask for each feature: label -> phrases.

Phrases are written as a person types them; the compiler runs them through the
same normaliser and folding as the input, so "uploads", "uploaded" and
"uploading" all match "upload", and hyphens or case never matter. A two- or
three-word phrase also matches written as one word ("sign up" -> "signup").
"""

from __future__ import annotations

from typing import Final

from grump.intent.phrases import split_phrases as _phrases

FEATURE_PHRASES: Final[dict[str, tuple[str, ...]]] = {
    "authentication": _phrases(
        "login, log in, logon, sign in, sign up, sign on, register, registration, "
        "user account, an account, accounts, create account, account creation, oauth, sso, "
        "single sign on, magic link, password, passwordless, credentials, authenticate, "
        "authentication, auth, logout, log out, sign out, jwt, openid, social login, "
        "email and password, username and password, authenticated, logged in, "
        "login with google, google login, sign in with google, google auth, google oauth"
    ),
    "authorization": _phrases(
        "role, roles, role based, rbac, permission, access control, admin only, access level, "
        "privilege, acl, only admins can, restricted access, authorization, authorisation, "
        "authorize, abac"
    ),
    "two_factor_auth": _phrases(
        "2fa, mfa, two factor, 2 factor, multi factor, one time code, one time password, otp, "
        "totp, authenticator app, two step verification, 2 step verification, sms code, "
        "second factor"
    ),
    "payments": _phrases(
        "payment, pay, pays, checkout, billing, accept cards, credit card, debit card, "
        "card payment, paid by card, purchase, donate, donation, payout, refund, tip, "
        "tipping, pay online, online payment"
    ),
    "subscriptions": _phrases(
        "subscription, subscription plan, recurring billing, recurring payment, monthly plan, "
        "annual plan, yearly plan, paywall, premium plan, pricing tier, paid tier, "
        "premium tier, pro tier, subscription tier, paid plan, pro plan, freemium, "
        "membership, monthly subscription, recurring subscription"
    ),
    "shopping_cart": _phrases("cart, basket, shopping cart, add to cart, shopping bag"),
    "search": _phrases(
        "search, find, filter by keyword, full text search, lookup, look up, query, filter, "
        "autocomplete, typeahead, searchable, search bar, keyword search, can find, semantic search"
    ),
    "notifications": _phrases(
        "notification, notify, alert, reminder, remind, push notification, push, sms alert, "
        "text alert, notified"
    ),
    "email": _phrases(
        "email, e mail, newsletter, send mail, mail, email verification, verify email, "
        "mailing list, transactional email, email digest"
    ),
    "messaging": _phrases(
        "chat, direct message, dm, messaging, inbox, private message, group chat, chat room, "
        "conversation, instant messaging, message each other, send message, send a message, "
        "send messages, message other users, message history, messages between, live chat, "
        "chat with, in app messaging, post a message, post message"
    ),
    "comments": _phrases(
        "comment, reply, discussion thread, thread, discussion, comment section, comment on"
    ),
    "ratings_reviews": _phrases(
        "rating, star rating, 5 star, five star, upvote, downvote, thumbs up, "
        "rate and review, can rate, to rate, rate their, rate each, and rate, rate them, "
        "rate it, can review, write a review, leave a review, leave review, product review, "
        "customer review, user review, reviews and ratings, review and rate, review movies, "
        "review products, review restaurants, review books, review places, vote, voting"
    ),
    "social_feed": _phrases(
        "feed, news feed, timeline, follower, unfollow, can follow, follow other, "
        "follow user, follow people, follow friend, follow author, follow artist, "
        "follow account, follow creator, follow each other, follow and unfollow, can like, "
        "like post, like photo, like button, like and comment, number of likes, "
        "likes and comments, like count, social sharing, share post, share photo, "
        "share update, reshare, repost, retweet, social network, social media feed, "
        "activity feed"
    ),
    "user_profiles": _phrases("profile, avatar, bio, profile page, profile picture"),
    "file_upload": _phrases(
        "upload, attachment, attach file, attach, file upload, document upload, "
        "upload document, photo upload, file sharing, drag and drop file"
    ),
    "media_processing": _phrases(
        "resize image, image resizing, resize, compress, generate thumbnails, "
        "thumbnail generation, "
        "create thumbnails, transcode, audio processing, video processing, image processing, "
        "crop, image filter, photo filter, compress image, image compression, watermark, "
        "flip image, rotate image, image rotation, image manipulation, image editing, "
        "photo editing, edit photo, edit image, scale image, convert video, ocr, grayscale, "
        "video editing, audio editing"
    ),
    "video_streaming": _phrases(
        "stream video, video streaming, live stream, livestream, video call, video chat, "
        "video conferencing, webrtc, streaming video, stream live, live video"
    ),
    "maps_location": _phrases(
        "map, maps, geolocation, nearby, gps, geo, geocoding, near me, geofence, geofencing, "
        "location tracking, live location, track location, user location, current location, "
        "location based, location sharing, share location, share their location, "
        "your location, their location, gps location, location aware, driving directions, "
        "get directions, turn by turn, directions to, interactive map, on a map, map view"
    ),
    "calendar_scheduling": _phrases(
        "calendar, schedule, scheduling, scheduler, appointment, booking slot, time slot, "
        "availability, agenda, shift planning, book an appointment, book appointment"
    ),
    "booking": _phrases(
        "booking, reservation, reserve, book a table, book a room, book a ride, "
        "book a flight, book a class, book a session, book an appointment, book tickets, "
        "book a slot, can book, book appointment, book class, book session, book room, book table, "
        "book ticket, book slot, book ride, book flight, book hotel, book court, book lesson, "
        "book tour, book seat"
    ),
    "analytics_dashboard": _phrases(
        "analytics, chart, dashboard, report, metrics, graph, statistics, stats, insights, "
        "kpi, visualization, visualisation, visualize, visualise, data visualization, "
        "heat map, trends, reporting, summary report"
    ),
    "admin_panel": _phrases(
        "admin panel, admin dashboard, back office, backoffice, moderation, moderation tools, "
        "moderate, admin interface, admin area, admin console, admin page, admin section, "
        "cms, content management, admin portal"
    ),
    "data_export": _phrases(
        "export, export to csv, export to pdf, export to excel, download report, "
        "download as csv, download as pdf, download csv, download the csv, save as csv, "
        "save as pdf, generate pdf, pdf export, csv export, as pdf, as csv, as excel, to csv, "
        "to pdf, to excel"
    ),
    "data_import": _phrases(
        "import, bulk upload, migrate data, upload csv, csv upload, import csv, bulk import, "
        "data migration"
    ),
    "offline_mode": _phrases(
        "works offline, work offline, offline first, offline mode, offline support, "
        "available offline, use offline, usable offline, offline access, sync when online, "
        "sync when back online, syncs when online, sync when reconnected, offline capable"
    ),
    "realtime_updates": _phrases(
        "real time, live updates, websocket, web socket, socket io, socketio, sockets, "
        "collaborative editing, real time collaboration, push updates, server sent events, "
        "sse, live sync, realtime, live update, collaborative, multiplayer editing, "
        "instant updates"
    ),
    "i18n": _phrases(
        "multiple languages, multi language, multilingual, translation, localization, "
        "localisation, localize, localise, internationalization, internationalisation, i18n, "
        "l10n, several languages, many languages, different languages, language switcher, "
        "rtl support, right to left, translated into, two languages"
    ),
    "ai_features": _phrases(
        "ai, artificial intelligence, llm, summarize, summarise, summarization, "
        "summarisation, generate text, text generation, semantic search, machine learning, "
        "ml, embeddings, natural language, nlp, sentiment analysis, ai powered, ai generated, "
        "generative, image recognition, computer vision, speech recognition, transcribe, "
        "transcription, large language model, language model, gen ai, genai, chat with your, "
        "smart reply, auto generate, neural network, deep learning"
    ),
    "recommendations": _phrases(
        "recommendation, recommend, suggestion, suggest, you may also like, you might like, "
        "similar item, personalized recommendations, recommended, recommendation engine, "
        "recommender"
    ),
    "inventory": _phrases(
        "inventory, stock level, stock, warehouse, stock management, in stock, out of stock, "
        "stock count"
    ),
    "multi_tenancy": _phrases(
        "team, organization, organisation, workspace, multi tenant, multi tenancy, "
        "multitenancy, per tenant, tenant isolation, orgs, company account, shared workspace"
    ),
    "audit_log": _phrases(
        "audit log, audit trail, activity history, change history, activity log, "
        "history of changes, version history, audit, changelog of edits"
    ),
    "webhooks": _phrases("webhook, web hook, callbacks to other services, callback url"),
    "public_api": _phrases(
        "public api, api keys for customers, developer api, api for third parties, "
        "third party developers, expose an api, issue api keys, generate api keys, "
        "api key management, open api for, rest api for customers, partner api"
    ),
    "tagging": _phrases("tag, label, category, categorize, categorise, hashtag"),
}
