"""Text templates and slot values for the demo traffic generator.

Prompts and answers are combined from templates x slot values x random sentence choices
(see `textgen`), so texts are diverse while each deployment keeps its own style.
Numbers in look-alikes are chosen so that no PII detector should touch them.
"""

from feedback_assets.demo.topics import JSON_TOPICS, SUPPORT_TOPICS, Topic
from feedback_assets.demo.topics_code import CODE_TOPICS

KINDS: tuple[str, ...] = ("support", "code", "json")
KIND_BY_DEPLOYMENT: dict[str, str] = {
    "support-bot": "support",
    "code-assistant": "code",
    "json-extractor": "json",
}
# Traffic mix of a deployment whose name is not one of the demo's (e.g. the drift bench's).
MIXED_KIND_WEIGHTS: tuple[float, float, float] = (0.5, 0.3, 0.2)


TOPICS: tuple[Topic, ...] = SUPPORT_TOPICS + CODE_TOPICS + JSON_TOPICS

PROMPT_PREFIXES: tuple[str, ...] = ("", "", "", "Hi, ", "Hello! ", "Quick question: ", "Hey - ")
PROMPT_SUFFIXES: tuple[str, ...] = (
    "",
    "",
    "",
    " Thanks!",
    " Thanks in advance.",
    " Please help, this is urgent.",
    " I'm on version {version}.",
    " This is the second time I'm asking.",
)
OPENERS: dict[str, tuple[str, ...]] = {
    "support": (
        "Thanks for reaching out!",
        "Happy to help with that.",
        "Sorry for the trouble.",
        "Good question.",
        "I understand how frustrating that is.",
        "",
    ),
    "code": (
        "Here's one way to do it:",
        "Sure, here is an example:",
        "You can do this like so:",
        "The simplest approach:",
    ),
    "json": ("",),
}
CLOSERS: dict[str, tuple[str, ...]] = {
    "support": ("", "", "Is there anything else I can help with?", "Have a great day!"),
    "code": ("", "", "Hope this helps!", "Let me know if you need the async version."),
    "json": ("",),
}
REFUSALS: tuple[str, ...] = (
    "I'm sorry, but I can't help with that.",
    "I'm sorry, but I can't help with that request.",
    "As an AI language model, I cannot provide that information.",
    "As an AI, I don't have access to your account details.",
    "I cannot assist with this request.",
    "Unfortunately I am unable to help with that.",
)
SHORT_ANSWERS: tuple[str, ...] = (
    "Yes.",
    "No.",
    "Done.",
    "See docs.",
    "It depends.",
    "Try again later.",
    "OK",
    "Not sure.",
    "Contact support.",
)

# Slot values. Numeric slots (amount, days, order ids, ...) are drawn in textgen.
PRODUCTS = (
    "AirPulse headphones",
    "Nimbus router",
    "Volt charger",
    "Orbit smart speaker",
    "Nova tablet",
    "Summit backpack",
    "Pixel frame",
    "Echo desk lamp",
    "Trail smartwatch",
    "Breeze fan",
    "Cobalt keyboard",
    "Lumen camera",
)
PLANS = ("Free", "Starter", "Pro", "Team", "Business")
FIRST_NAMES = ("Maria", "James", "Aisha", "Chen", "Lukas", "Sofia", "Ravi", "Emma", "Kenji", "Ana")
LAST_NAMES = ("Garcia", "Smith", "Khan", "Wang", "Muller", "Rossi", "Patel", "Brown", "Sato")
COMPANIES = (
    "Acme Corp",
    "Globex Ltd",
    "Initech GmbH",
    "Umbrella Inc",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
)
CITIES = ("Berlin", "Austin", "Lisbon", "Toronto", "Osaka", "Nairobi", "Denver", "Lyon", "Pune")
FUNCS = ("dedupe", "load_rows", "retry_call", "parse_dates", "merge_items", "fetch_page", "walk")
TABLES = ("customers", "orders_2026", "invoices", "events", "products", "sessions")
COLUMNS = ("amount", "region", "created_at", "status", "price", "user_id", "category", "score")
LIBS = ("pandas", "requests", "numpy", "polars", "httpx", "sqlalchemy")
VERSIONS = ("v2.13.27", "3.11.4", "1.26.4", "v0.9.1", "2.2.3", "14.2")

# PII placed into ~4% of texts (a detector must find these) ...
PII_PROMPT = (
    "My email is {email} if you need it.",
    "You can call me at {phone}.",
    "The card on file is {card}.",
    "My SSN is {ssn}, please verify my identity.",
    "The server IP is {ip}.",
    "Here is my API key {key}, why does it fail?",
    "Reach me at {email} or {phone}.",
)
PII_RESPONSE = (
    "We sent the confirmation to {email}.",
    "Our agent will call you at {phone}.",
    "The charge was made to card {card}.",
    "Requests from {ip} were blocked by the firewall.",
)
EMAILS = ("jane.doe@example.com", "m.garcia@mail.example.org", "chen.wang+shop@example.net")
PHONES = ("+1 415-555-0134", "(415) 555-0199", "+44 20 7946 0958", "+1 212 555 0147")
CARDS = ("4111 1111 1111 1111", "5555 5555 5555 4444", "4242-4242-4242-4242", "4111111111111111")
SSNS = ("123-45-6789", "078-05-1120", "219-09-9999")
IPS = ("192.168.14.22", "10.2.3.44", "172.16.254.1", "203.0.113.9")
# ... and look-alikes a detector must leave alone (ids, epoch ms, prices, versions).
LOOKALIKES = (
    "Reference: order {long_id}.",
    "Logged at ts {epoch_ms}.",
    "The upgrade costs $1,299.99 per year.",
    "Running build {version}.",
    "Ticket {long_id} was opened on 2026-03-14.",
)
