"""The families behind grump's labelled routing set, written for this project.

A family is (label, tier, templates); ``{slot}`` names a list in ``SLOTS``.
"""

from __future__ import annotations

Family = tuple[str, int, list[str]]

SLOTS: dict[str, list[str]] = {
    "svc": [
        "billing",
        "checkout",
        "search",
        "auth",
        "notifications",
        "ingest",
        "payments",
        "reporting",
        "inventory",
        "gateway",
    ],
    "db": ["Postgres", "MySQL", "SQLite", "CockroachDB"],
    "store": ["Redis", "Kafka", "RabbitMQ", "S3", "Elasticsearch"],
    "lang": ["Python", "Go", "TypeScript", "Rust", "Java"],
    "fn": [
        "parse_order",
        "load_config",
        "send_email",
        "to_cents",
        "retry_call",
        "get_user",
        "flush_batch",
        "render_row",
    ],
    "new": [
        "parse_invoice",
        "read_settings",
        "notify",
        "as_cents",
        "call_with_retry",
        "fetch_user",
    ],
    "file": [
        "settings.py",
        "worker.go",
        "api/routes.ts",
        "README.md",
        "models.py",
        "Makefile",
        "docker-compose.yml",
    ],
    "n": ["3", "5", "12", "40", "200"],
    "pct": ["2%", "5%", "10%", "25%"],
    "thing": [
        "HTTP status 429",
        "a UUID v4",
        "ISO 8601",
        "a p99 latency",
        "a foreign key",
        "an index",
        "a Docker volume",
        "a cron expression",
        "UTC",
        "a semaphore",
    ],
    "team": ["the mobile team", "finance", "support", "the data team", "our partners"],
    "region": ["eu-west-1", "us-east-1", "ap-southeast-2"],
    "city": ["Lisbon", "Osaka", "Nairobi", "Toronto", "Oslo"],
}

SERVICE: list[Family] = [
    # hard
    (
        "hard",
        3,
        [
            "Write a blameless postmortem for yesterday's {svc} outage: {store} filled its disk, "
            "writes failed for 40 minutes and retries doubled the load. Include timeline, root "
            "cause, contributing factors and action items with owners.",
            "Draft the incident review for the {svc} degradation in {region}: a config push raised "
            "the connection pool size, {db} hit max_connections and the health checks flapped. "
            "Separate trigger from root cause and list what would have caught it earlier.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Design the {db} schema for multi-tenant {svc}: tenants, users, invoices, line items and "
            "refunds, with soft deletes and an audit trail. Explain the keys, indexes and how you "
            "keep one tenant from ever reading another's rows.",
            "Propose a data model in {db} for a {svc} service that must keep every historical "
            "version of a price list and answer 'what was the price on date X' fast. Justify the "
            "indexes and the constraints.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Plan the rollout of the new {svc} service to {pct} of traffic and then everyone: "
            "feature flags, canary metrics, rollback triggers, and how we migrate sessions without "
            "logging anyone out.",
            "We are replacing the {svc} backend with a {lang} rewrite. Write a staged rollout plan "
            "with shadow traffic, comparison of responses, the go/no-go criteria at each stage and "
            "the rollback path.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Two workers of {svc} sometimes both process the same job. They read the row, check the "
            "status, then update it. Find the race, explain the interleaving that causes it, and fix "
            "it without a global lock.",
            "Our {lang} {svc} worker deadlocks under load about once a day: one goroutine holds the "
            "cache mutex and waits on the {store} client, another holds the client and wants the "
            "mutex. Explain the cycle and propose a lock ordering or redesign.",
        ],
    ),
    (
        "hard",
        3,
        [
            "The {svc} and {team} teams both changed the retry policy in the shared client: one "
            "wants fewer retries to protect {store}, the other more to hide blips. Analyse the "
            "conflict, what each change breaks, and a policy that satisfies both.",
            "Two merged pull requests conflict semantically: one made {fn} idempotent by caching "
            "results, the other made it emit an event on every call. Work out what breaks when both "
            "land and how to reconcile them.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Do a security review of the {svc} login flow: passwords hashed with SHA-256, JWTs "
            "signed with a shared secret in the repo, tokens valid for 30 days. List the threats, "
            "rank them, and give concrete fixes.",
            "Review this upload endpoint of {svc} for vulnerabilities: it takes a file name from the "
            "query string, writes to /srv/uploads/<name>, and serves it back with the client's "
            "Content-Type. What can an attacker do and how do we close it?",
        ],
    ),
    (
        "hard",
        3,
        [
            "Plan a zero-downtime migration of the {svc} orders table in {db} from integer ids to "
            "UUIDs, with foreign keys in {n} other tables and replicas that lag. Order the steps and "
            "say how to back out at each one.",
            "We must move {svc} from {db} to a sharded cluster while it keeps taking writes. Design "
            "the dual-write or change-data-capture approach, the backfill, the verification and the "
            "cutover.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Our {svc} p99 latency doubled after moving to {region} but p50 is flat. Give a method to "
            "find the cause, the hypotheses in order of likelihood, and the measurements that "
            "would separate them.",
            "Capacity plan for {svc}: traffic grows {pct} a month, {store} is at 60% memory, and "
            "Black Friday is 8x a normal day. Estimate when we run out and what to scale first, "
            "with the reasoning.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Design exactly-once processing for payments events flowing from {store} into {db}: "
            "consumer restarts, duplicate deliveries and partial failures must never charge twice. "
            "Explain the invariants and how each failure is handled.",
            "How should {svc} keep a counter consistent across {n} regions with {store} in each, "
            "when links between regions can drop for minutes? Compare approaches and their "
            "trade-offs, and pick one.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Write a threat model for the {svc} admin API exposed to {team}: assets, entry points, "
            "trust boundaries, abuse cases and mitigations, prioritised.",
            "Assess the risk of letting {team} run arbitrary SQL against a read replica of {db} "
            "through our {svc} console. What could go wrong and what guardrails do we need?",
        ],
    ),
    (
        "hard",
        3,
        [
            "Our nightly {svc} job and the hourly compaction both touch the same {store} keys and we "
            "lose updates a few times a week. Reconstruct how updates get lost and design a fix "
            "that survives either job crashing midway.",
            "Analyse why the {svc} cache returns stale data for minutes after a write, when we "
            "invalidate on every update. Consider ordering between the write, the invalidation and "
            "concurrent reads that refill the cache.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Evaluate whether {svc} should move from polling {db} to an outbox table with "
            "{store}. Cover consistency, failure modes, operational cost, and a migration path, and "
            "make a recommendation.",
            "Write an architecture decision record choosing between a monolith module and a "
            "separate {svc} service, for a team of {n} engineers. Include context, options, "
            "consequences and what would make us revisit it.",
        ],
    ),
    (
        "hard",
        2,
        [
            "Explain why our {db} query for the {svc} dashboard switched from an index scan to a "
            "sequential scan after last week's data load, and how to confirm and fix it.",
            "The {svc} test suite fails only when run in parallel: a test sees rows another test "
            "created. Work out the likely shared state and a fix that keeps the tests parallel.",
        ],
    ),
    # easy
    ("easy", 1, ["What does {thing} mean?", "Define {thing} in one sentence."]),
    (
        "easy",
        1,
        [
            "Convert 1,250 US cents to dollars.",
            "What is 17% of 2,400?",
            "How many seconds are in {n} hours?",
            "Convert 72 Fahrenheit to Celsius.",
            "How many bytes are in {n} MiB?",
            "What is {n} squared?",
        ],
    ),
    (
        "easy",
        1,
        [
            "Translate 'your order has shipped' into Spanish.",
            "Translate 'the service is temporarily unavailable' into German.",
            "Translate 'reset your password' into French.",
            "Translate 'payment received, thank you' into Portuguese.",
            "Say 'meeting moved to Thursday' in Italian.",
        ],
    ),
    (
        "easy",
        1,
        [
            "What time zone is {city} in?",
            "What is the capital of the country {city} is in?",
            "Which currency is used in {city}?",
            "What is the dialling code for {city}?",
        ],
    ),
    (
        "easy",
        1,
        [
            "Fix the spelling in this sentence: 'The {svc} servise is avialable agian.'",
            "Correct the grammar: 'Their is {n} job in the queue and it have failed.'",
            "Capitalise this title properly: 'release notes for the {svc} api'",
            "Make this sentence shorter: 'We would like to let you know that the {svc} page is "
            "now back up and working again as normal.'",
        ],
    ),
    (
        "easy",
        1,
        [
            "Format this as a bullet list: {svc}, {store}, {db}, {lang}.",
            "Turn this into a Markdown table with two columns: name {svc}, owner {team}.",
            "Sort these alphabetically: {city}, {svc}, {store}, {lang}.",
            "Put these words in upper case: {svc} {store} {city}",
        ],
    ),
    (
        "easy",
        1,
        [
            "Write a one-line commit message for renaming {fn} to {new}.",
            "Suggest a better name for a variable called tmp2 that holds the {svc} retry count.",
            "Give me a short title for a ticket about the {svc} login button being misaligned.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Summarise in one sentence: the {svc} deploy finished at 14:02, all checks green, no "
            "errors in the first ten minutes.",
            "TL;DR this: {team} asked for the {svc} report to arrive at 9:00 instead of 8:00 from "
            "next Monday.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Extract the email address from: 'Contact ops at oncall@example.com for {svc}.'",
            "Pull the date out of this line: '{svc} maintenance window 2026-03-14 02:00 UTC'.",
            "What is the HTTP method in 'POST /v1/{svc}/refunds HTTP/1.1'?",
        ],
    ),
    (
        "easy",
        1,
        [
            "Classify the sentiment of this review as positive or negative: 'The {svc} app is fast "
            "and I love the new design.'",
            "Is this message a question or a statement: 'the {svc} export is late again'?",
            "Tag this ticket with one of bug, feature, question: 'Add dark mode to {svc}'.",
        ],
    ),
    (
        "easy",
        2,
        [
            "Write a polite two-sentence reply telling {team} the {svc} fix ships tomorrow.",
            "Draft a short status update: {svc} is healthy again after a restart, monitoring "
            "continues.",
            "Write a friendly reminder to {team} that the {svc} API key rotates on Friday.",
        ],
    ),
    (
        "easy",
        2,
        [
            "Write a regex that matches a 5-digit zip code.",
            "Give me the cron expression for every day at 03:15 UTC.",
            "What is the {lang} one-liner to reverse a string?",
            "Write a SQL query that counts rows in the {svc}_events table.",
        ],
    ),
]

ASSISTANT: list[Family] = [
    # hard
    (
        "hard",
        3,
        [
            "This {lang} function is called from {n} threads and sometimes returns a half-updated "
            "total. Find the race in the read-modify-write on the shared map and rewrite it to be "
            "thread-safe without serialising every call.\n```\ntotal = stats.get(k, 0)\n"
            "stats[k] = total + n\n```",
            "The connection pool in {file} leaks under concurrency: acquire() checks len(idle) and "
            "then pops, and two callers can pass the check together. Walk through the interleaving "
            "and fix it, then add a test that would have caught it.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Refactor the {svc} module so that I/O is out of the pricing logic: split {file} into a "
            "pure core and an adapter, keep the public API, and plan the change as a series of "
            "small commits that each pass the tests.",
            "Restructure the job runner so claim, execute and record are separate units with clear "
            "error boundaries. Explain the new design, what moves where, and how retries and "
            "crashes are handled at each boundary.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Write the Alembic migration that splits the {svc} users table into users and profiles "
            "without downtime: expand, backfill in batches, switch reads, contract. Include the "
            "downgrade and say what happens if the backfill dies halfway.",
            "We need to add a NOT NULL column with a default to a 400-million-row {db} table used "
            "by {svc}. Plan the migration so it never takes a long lock, with the exact statements "
            "and the order of deploys.",
        ],
    ),
    (
        "hard",
        3,
        [
            "The integration test for {svc} is flaky: it passes alone, fails 1 in 20 runs in CI. "
            "Here is the log with the timeouts. Work out whether it is ordering, a leaked "
            "connection or a clock issue, and prove it before changing code.",
            "After upgrading {store}'s client, {svc} jobs occasionally run twice. Read the worker "
            "code path for ack, retry and visibility timeout and explain every way a message can "
            "be redelivered, then fix the one we hit.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Review this diff for the {svc} auth middleware with a security eye: token parsing, "
            "timing-safe comparison, error messages that leak, and the bypass when the header is "
            "empty. Point out every issue and propose patches.",
            "Audit {file} for injection: it builds {db} queries from request parameters in three "
            "places and shells out to a converter with a user-supplied file name. Show the exploits "
            "and the fixed code.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Design the caching layer for {svc}: what to cache, keys that include the tenant, "
            "invalidation on writes, stampede protection, and how it behaves when {store} is down. "
            "Then sketch the interfaces in {lang}.",
            "Propose how {svc} should batch requests to the provider: windowing, size limits, "
            "fairness across tenants, back-pressure and what happens to a batch when one item "
            "fails. Compare two designs and pick one.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Implement an LRU cache with TTL in {lang} that is safe under concurrent access, with "
            "O(1) get and put, and tests for expiry, eviction order and concurrent writers. "
            "Explain the invariants your locking preserves.",
            "Write a rate limiter for {svc} shared by {n} API processes through {store}: sliding "
            "window, atomic with a Lua script, correct across clock skew. Include the script, the "
            "client code and the tests.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Our {lang} service's memory grows {pct} an hour until the pod is killed. Here is a heap "
            "profile summary. Figure out what is retaining the objects, explain the reference "
            "chain, and fix it.",
            "The {svc} benchmark regressed 30% after the last merge. Bisect strategy, likely "
            "culprits from the diff, and how to confirm with a profiler before we revert anything.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Two branches changed {file} in incompatible ways: mine moved validation to the model, "
            "theirs added a fast path that skips the model. Resolve the merge so both intents "
            "survive, and explain which tests prove it.",
            "Rebase my feature branch onto main: main renamed {fn} to {new} and changed its return "
            "type, and my branch adds five new callers. Work out the conflicts and the semantic "
            "breakages the compiler will not catch.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Write property-based tests for the {svc} money code: rounding, currency conversion and "
            "splitting a total across line items must never lose or invent a cent. State the "
            "properties and the generators.",
            "Prove, or find a counterexample, that our budget reservation in {store} can never let "
            "spend exceed the limit when {n} submits race and some of them fail after reserving.",
        ],
    ),
    (
        "hard",
        2,
        [
            "Port {file} from callbacks to async/await, keeping the error handling and the "
            "cancellation behaviour identical; list the places where ordering could change.",
            "Add pagination to the {svc} list endpoint with stable cursors that survive inserts "
            "and deletes between pages, and explain why offset pagination is not enough here.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Plan how we roll out the new {svc} queue topology: both consumers running side by "
            "side, draining the old queues, and a rollback if the new workers fall behind. Give the "
            "commands and the dashboards to watch.",
            "We have to rotate the {db} credentials used by {n} services without downtime. Work "
            "out the order, the dual-credential window, and how to verify each service before "
            "revoking the old secret.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Here is the stack trace from production and the three recent commits touching {file}. "
            "Reason about which change introduced the crash and why it only happens for tenants "
            "with more than {n} users.",
            "Explain why this recursive {lang} function blows the stack on some inputs but not "
            "others, derive its worst-case depth, and rewrite it iteratively with the same output "
            "order.",
        ],
    ),
    (
        "hard",
        2,
        [
            "Write a {lang} client for the {svc} API with retries, timeouts and typed errors, and "
            "unit tests against a fake server; keep it under 200 lines.",
            "Implement CSV import for {svc} that validates each row, reports all errors with line "
            "numbers, and commits nothing if any row fails.",
        ],
    ),
    # easy
    (
        "easy",
        1,
        [
            "Rename {fn} to {new} everywhere in {file}.",
            "Rename the variable cfg to config in {file}.",
            "Change the name of the {svc}_client fixture to {svc}_api in the tests.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Run ruff format on {file}.",
            "Reformat {file} to 100-column lines.",
            "Sort the imports in {file}.",
            "Fix the indentation in {file}, it uses tabs.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Add a docstring to {fn} saying it returns None when nothing is found.",
            "Add a type hint for the return value of {fn}: it returns an int.",
            "Add a comment above {fn} explaining that the timeout is in seconds.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Change the default timeout in {file} from 30 to {n} seconds.",
            "Bump the version in pyproject.toml to 1.4.{n}.",
            "Set the log level to DEBUG in {file}.",
            "Replace the hard-coded port 8080 with 8081 in {file}.",
        ],
    ),
    (
        "easy",
        1,
        [
            "What does {fn} return?",
            "Which file defines {fn}?",
            "Where is the {svc} retry count configured?",
            "What Python version does this repo need?",
        ],
    ),
    (
        "easy",
        1,
        [
            "Run the tests again.",
            "Show me the git status.",
            "Open {file}.",
            "Show me the last {n} lines of the log.",
            "Run the {svc} unit tests only.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Delete the unused import of os in {file}.",
            "Remove the commented-out print statements in {file}.",
            "Remove the {svc} TODO comment on line {n}.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Looks good, commit it with the message 'rename {fn}'.",
            "Great, push the branch.",
            "Undo your last edit to {file}.",
            "Yes, apply that patch.",
        ],
    ),
    (
        "easy",
        2,
        [
            "Write a unit test that checks {fn} returns an empty list for empty input.",
            "Add a test that {new} raises ValueError on a negative amount.",
            "Add a pytest parametrize with the values 0, 1 and {n} to the existing {fn} test.",
        ],
    ),
    (
        "easy",
        2,
        [
            "Write a small {lang} function that checks whether a string is a palindrome.",
            "Write a {lang} function that returns the largest of three numbers.",
            "Write a helper that turns a list of dicts into a dict keyed by 'id'.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Fix the typo in the error message in {file}: 'recieved' should be 'received'.",
            "The README says 'instal'; fix it.",
            "Correct the spelling of 'threshhold' in {file}.",
        ],
    ),
    (
        "easy",
        2,
        [
            "Explain what this line does: `items = [x for x in rows if x.active]`",
            "What is the difference between a list and a tuple in Python, briefly?",
            "Explain what `git stash` does in two sentences.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Add '{svc}' to the list of allowed services in {file}.",
            "Add the environment variable GRUMP_{n}_FLAG=false to the example env file.",
            "Add {city} to the list of supported cities in the config.",
        ],
    ),
    (
        "easy",
        2,
        [
            "Convert this dict literal to JSON: {'name': '{svc}', 'replicas': {n}}",
            "Turn this shell command into a Makefile target called test: pytest -q tests/unit",
            "Write the .gitignore lines for Python caches and virtualenvs.",
        ],
    ),
]

APP: list[Family] = [
    # easy
    (
        "easy",
        1,
        [
            "A tip calculator: the user types the bill amount and picks a tip percentage, and the "
            "app shows the tip and the total. Extra: split the total between {n} people.",
            "A page that converts between Celsius and Fahrenheit as you type in either box.",
        ],
    ),
    (
        "easy",
        1,
        [
            "A simple to-do list: add a task, tick it off, delete it. Tasks are kept in the "
            "browser's local storage so they are still there after a reload.",
            "A shopping list app: type an item, press enter, it appears in the list; click to "
            "strike it through.",
        ],
    ),
    (
        "easy",
        1,
        [
            "A countdown timer: the user sets minutes and seconds, presses start, and the page "
            "beeps at zero. Buttons for pause and reset.",
            "A random quote page: a button shows a new quote from a fixed list of {n} quotes.",
        ],
    ),
    (
        "easy",
        1,
        [
            "A landing page for the {city} book club with the next meeting date, a short "
            "description and a sign-up form that emails the organiser.",
            "A personal portfolio page with a photo, a short bio, three project cards and links.",
        ],
    ),
    (
        "easy",
        2,
        [
            "A weather widget: the user enters a city such as {city} and the app shows today's "
            "temperature and an icon from a public weather API.",
            "A currency converter that fetches today's rates from a public API and converts an "
            "amount between two chosen currencies.",
        ],
    ),
    (
        "easy",
        2,
        [
            "A flashcard app: create decks, flip cards, mark them known or unknown, and see how "
            "many are left in the deck.",
            "A habit tracker with a grid of days where the user ticks each habit done, and a "
            "streak count per habit.",
        ],
    ),
    (
        "easy",
        1,
        [
            "A character counter for a text box that shows how many characters and words are "
            "typed, and warns past 280 characters.",
            "A colour picker that shows the chosen colour's hex and RGB values and copies them.",
        ],
    ),
    # hard
    (
        "hard",
        3,
        [
            "A collaborative text editor where several people edit the same document at once, see "
            "each other's cursors, work offline and have their changes merged without losing "
            "anyone's edits when they reconnect.",
            "A shared whiteboard for remote teams: real-time drawing by many users, undo per user, "
            "history replay and conflict-free merging of concurrent edits.",
        ],
    ),
    (
        "hard",
        3,
        [
            "A marketplace where sellers in {n} countries list products, buyers pay by card, the "
            "platform holds funds in escrow, pays sellers out in their currency, handles refunds "
            "and disputes, and keeps an auditable ledger for tax reporting.",
            "A subscription billing system for SaaS companies: plans, trials, proration on plan "
            "changes, dunning for failed cards, invoices and revenue recognition reports.",
        ],
    ),
    (
        "hard",
        3,
        [
            "A ride-sharing dispatch service that matches riders to nearby drivers in real time, "
            "estimates arrival times, prices trips by demand, and keeps working when a region's "
            "servers fail.",
            "A food delivery platform: restaurants, couriers and customers each with their own "
            "app, live courier tracking, order batching and fair assignment of orders to couriers.",
        ],
    ),
    (
        "hard",
        3,
        [
            "A multi-tenant analytics platform that ingests millions of events a day from "
            "customers' apps, lets each tenant define funnels and cohorts, and answers queries in "
            "seconds while keeping every tenant's data isolated.",
            "A log search service: agents ship logs from thousands of hosts, the system indexes "
            "them, keeps 30 days hot and a year cold, and supports full-text search and alerts.",
        ],
    ),
    (
        "hard",
        3,
        [
            "A password manager with end-to-end encryption: vaults shared between family members, "
            "sync across devices, recovery without the server ever seeing plaintext, and a "
            "browser extension that fills forms safely.",
            "A secure file-sharing service for law firms: client portals, per-document access "
            "control, audit logs, expiring links, and encryption at rest with customer-held keys.",
        ],
    ),
    (
        "hard",
        2,
        [
            "A booking system for a chain of {n} clinics: staff calendars, appointment types of "
            "different lengths, double-booking prevention, reminders, and cancellations that "
            "free the slot for a waiting list.",
            "An inventory system for {n} warehouses with stock transfers, reservations for open "
            "orders, barcode scanning and a nightly reconciliation with the accounting system.",
        ],
    ),
    (
        "hard",
        3,
        [
            "A continuous integration service: it runs users' build pipelines in isolated "
            "containers, caches dependencies between runs, scales workers with the queue and "
            "streams logs live to the browser.",
            "A feature-flag service with gradual rollouts, per-user targeting rules, an audit "
            "trail and SDKs that evaluate flags locally and keep working if the service is down.",
        ],
    ),
]

# Added in a second pass to widen the training vocabulary (kinds of work not yet covered).
SERVICE += [
    (
        "hard",
        3,
        [
            "Write the disaster recovery plan for {svc}: {db} in {region} is lost entirely. Define "
            "RPO and RTO, the restore order of dependencies, who decides to fail over, and how we "
            "rehearse it every quarter.",
            "Design how {svc} survives losing a whole region: replication, DNS failover, what data "
            "can be lost, and the runbook for failing back once {region} returns.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Review the {svc} data retention for GDPR: we keep raw events in {store} forever and "
            "user ids appear in logs. What must change, how do we honour deletion requests across "
            "backups, and what is the order of work?",
            "Assess whether sharing {svc} usage data with {team} is compatible with our privacy "
            "commitments, which fields must be pseudonymised, and the controls to put in place.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Design versioning for the public {svc} API: how clients pin versions, how we deprecate "
            "fields, how long we support old versions, and how to evolve webhooks without breaking "
            "{team}.",
            "We need a breaking change to the {svc} event schema consumed by {n} teams through "
            "{store}. Plan the compatibility window, dual publishing and the consumer migration.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Our {svc} cloud bill grew {pct} last month. Break down where the money likely goes, "
            "which levers cut it without hurting latency, and the experiments to prove each saving.",
            "Design a load test for {svc} that reproduces the Monday morning peak: traffic mix, "
            "ramp, the data set, what to measure, and the pass criteria before the launch.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Convert the date 2026-03-14 to the format 14/03/2026.",
            "What weekday was 2026-01-01?",
            "Write 1500000 with thousands separators.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Rewrite this in plain English: 'The {svc} endpoint is deprecated as of v{n}.'",
            "Make this message friendlier: 'Your {svc} request failed. Try again.'",
            "Shorten this subject line: 'Update regarding the scheduled maintenance of {svc}'",
        ],
    ),
]
ASSISTANT += [
    (
        "hard",
        3,
        [
            "Design event sourcing for the {svc} aggregate: the events, how snapshots are taken, "
            "how projections catch up after a crash, and how we replay history when a projection "
            "has a bug.",
            "Our {svc} read model drifts from the write side after deploys. Work out where events "
            "can be skipped or applied twice during a rolling restart and make the projection "
            "idempotent.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Find why {file} corrupts the output file when two processes write at once, and make "
            "writes atomic and safe across processes on Linux and macOS, with a test that runs two "
            "writers.",
            "The cron job and the API both renew the same lease in {store} and sometimes both think "
            "they hold it. Explain the failure with clock drift and pauses, and fix it with fencing "
            "tokens.",
        ],
    ),
    (
        "easy",
        1,
        [
            "What flag makes pytest stop at the first failure?",
            "How do I list the git branches merged into main?",
            "Which command shows the open ports on Linux?",
        ],
    ),
    (
        "easy",
        1,
        [
            "Wrap the call to {fn} in a try/except that logs and re-raises.",
            "Make {fn} return an empty dict instead of None.",
            "Add a default value of {n} to the limit parameter of {fn}.",
        ],
    ),
]

# A second held-out split, written after the first evaluation and never fitted or tuned on.
SERVICE_B: list[Family] = [
    (
        "hard",
        3,
        [
            "The {svc} queue backs up every night at 02:00 and the morning batch misses its SLA. "
            "Work out the likely bottleneck from first principles, the data you would pull, and "
            "a fix that does not just add workers.",
            "Decide whether {svc} should keep its own {db} or share the platform cluster. Weigh "
            "isolation, cost, on-call load and migration risk, and recommend with conditions.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Audit the webhook receiver of {svc}: it trusts the sender's IP, replays are not "
            "detected and payloads are deserialised with pickle. Describe the attacks and the "
            "hardened design.",
            "Our {svc} service account can write to every bucket in {store}. Work out the least "
            "privilege it needs, how to roll the narrower policy out safely, and how to detect "
            "misuse.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Spell out the acronym SLA.",
            "What does TTL stand for?",
            "What does CORS stand for?",
        ],
    ),
    (
        "easy",
        1,
        [
            "Reply 'acknowledged' to {team} in a professional tone.",
            "Write a one-line out-of-office message for the {svc} channel.",
            "Say thank you to {team} for reporting the {svc} bug, in one sentence.",
        ],
    ),
]
ASSISTANT_B: list[Family] = [
    (
        "hard",
        3,
        [
            "The {svc} worker sometimes acknowledges a message before the database commit, so a "
            "crash loses the job. Trace the ordering in {file}, design the fix so a crash at any "
            "line neither loses nor doubles work, and list the tests.",
            "Split the god-class in {file} into cohesive parts without changing behaviour: propose "
            "the boundaries, the order of the extractions, and how to keep each step green.",
        ],
    ),
    (
        "hard",
        3,
        [
            "Plan the upgrade of {svc} from {db} 12 to 16 with logical replication: the checks, "
            "the cutover window, the rollback, and which extensions and queries may behave "
            "differently.",
            "We need to move {svc}'s sessions from sticky in-memory storage to {store} while users "
            "are logged in. Plan the transition so nobody is logged out and the rollback is clean.",
        ],
    ),
    (
        "easy",
        1,
        [
            "Add a newline at the end of {file}.",
            "Replace double quotes with single quotes in {file}.",
            "Remove the trailing whitespace in {file}.",
        ],
    ),
    (
        "easy",
        1,
        [
            "What is the return type of {fn}?",
            "How many arguments does {fn} take?",
            "Is {fn} called anywhere in the tests?",
        ],
    ),
]
