"""Topic templates of the support-bot and json-extractor deployments (see `corpus`).

Within a topic, prompt i is answered first by sentence i and, for code, snippet i.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    kind: str
    prompts: tuple[str, ...]
    sentences: tuple[str, ...]
    drift: bool = False
    snippets: tuple[str, ...] = ()  # code blocks (code kind)
    fence: str = "python"
    json_fields: tuple[tuple[str, str], ...] = ()  # (json key, slot name) for the json kind


SUPPORT_TOPICS = (
    Topic(
        "account",
        "support",
        (
            "I can't log into my account, the password reset email never arrives.",
            "How do I change the email address on my {plan} account?",
            "My two-factor codes stopped working after I got a new phone. What now?",
            "Can I merge two accounts? One was created with my work address.",
            "Why was my account locked after {days} failed login attempts?",
            "How do I delete my account and all my data?",
            "I want to add a teammate named {name} to my {plan} workspace.",
        ),
        (
            "Please check your spam folder for messages from our no-reply address.",
            "You can change the sign-in email under Profile > Email, then confirm the new address.",
            "If you no longer have your old phone, use one of your backup codes.",
            "Merging accounts is not supported, but we can move your {plan} plan for you.",
            "Accounts are locked for 15 minutes after repeated failed attempts.",
            "Deleting an account is permanent and removes your history after 30 days.",
            "Teammates can be invited from the Members page of your workspace.",
            "You can reset your password from the sign-in page by choosing 'Forgot password'.",
            "Reset links expire after 30 minutes, so request a new one if it is older.",
            "Two-factor authentication can be reset from Settings > Security.",
            "Once that is done, sign out on all devices and sign in again.",
            "Let me know if the problem persists and I will escalate it.",
        ),
    ),
    Topic(
        "billing",
        "support",
        (
            "I was charged ${amount} twice this month for the {plan} plan.",
            "Can I get a refund for order {order_id}? I cancelled within {days} days.",
            "How do I download the invoice for my last payment of ${amount}?",
            "What is the difference between the {plan} plan and the Enterprise plan?",
            "My card was declined when upgrading to {plan}, but it works elsewhere.",
            "Do you offer a discount for annual billing on the {plan} plan?",
            "Why did my bill go up to ${amount} without notice?",
        ),
        (
            "I can see two charges of ${amount}; the duplicate has been refunded.",
            "Order {order_id} qualifies for a full refund under our {days}-day policy.",
            "Invoices are available under Billing > History as PDF files.",
            "The {plan} plan includes priority support and higher usage limits.",
            "A declined card is usually a bank-side check; please try again or use another card.",
            "Annual billing saves about 20% compared with paying monthly.",
            "Prices changed on the first of the month, as announced by email.",
            "Refunds take 5 to 10 business days to appear on your statement.",
            "Your next renewal date is shown on the Billing page.",
            "You can switch plans at any time and the difference is prorated.",
            "Taxes are calculated from your billing address.",
        ),
    ),
    Topic(
        "shipping",
        "support",
        (
            "Where is my order {order_id}? It was supposed to arrive {days} days ago.",
            "Can I change the delivery address for order {order_id} to {city}?",
            "My {product} arrived damaged. What should I do?",
            "Do you ship the {product} to {city}, and how long does it take?",
            "The tracking page for {order_id} hasn't updated in {days} days.",
            "Can I pick up my {product} from a store in {city} instead?",
        ),
        (
            "Order {order_id} left our warehouse and is with the carrier.",
            "I have updated the delivery address to {city}.",
            "For a damaged {product}, please send a photo and we will ship a replacement.",
            "We ship the {product} to {city}; delivery usually takes {days} business days.",
            "I have opened a trace request with the carrier for you.",
            "Store pickup is available in {city} once you get the ready-for-pickup email.",
            "Standard delivery takes 3 to 5 business days; express takes 1 to 2.",
            "Tracking can lag by up to 48 hours after the parcel is handed over.",
            "Address changes are possible until the parcel is dispatched.",
            "You will receive an email as soon as the status changes.",
        ),
    ),
    Topic(
        "returns",
        "support",
        (
            "How do I return the {product} I bought last week?",
            "Is the {product} still under warranty after {days} months?",
            "I want to exchange my {product} for a different color.",
            "The return label for order {order_id} doesn't print. Can you resend it?",
            "Can I return an opened {product}?",
        ),
        (
            "Start a return from Orders > {order_id} > Return item.",
            "The {product} has a two-year limited warranty.",
            "Exchanges are handled as a return plus a new order.",
            "I have emailed you a new prepaid return label.",
            "Opened items can be returned if all accessories are included.",
            "Returns are free within 30 days of delivery.",
            "Once the item reaches us, the refund is issued within 3 business days.",
            "Please pack the {product} in its original box if you still have it.",
        ),
    ),
    Topic(
        "product_recall",
        "support",
        (
            "Is my {product} affected by the battery recall?",
            "I heard the {product} charger can overheat. Should I stop using it?",
            "How do I get a replacement under the {product} recall program?",
            "My {product} serial starts with RC. Is it part of the recall notice?",
            "Will I get a refund or a replacement for the recalled {product}?",
        ),
        (
            "Units of the {product} made between March and June are part of the voluntary recall.",
            "Please stop charging the device and unplug it until the replacement arrives.",
            "A prepaid shipping box for the recalled unit will be sent to you.",
            "You can check your serial number on the recall page.",
            "Affected customers can choose a replacement unit or a full refund.",
            "The overheating issue is limited to the original charging adapter.",
            "Recall replacements are currently shipping within two to three weeks.",
            "We are sorry for the inconvenience the recall has caused.",
        ),
        drift=True,
    ),
    Topic(
        "service_outage",
        "support",
        (
            "The app has been down all morning, is there an outage?",
            "I keep getting error 503 when I try to sign in. Is the service offline?",
            "My payments are failing since the outage yesterday, what happened?",
            "When will the sync service be back up? My data isn't updating.",
            "Is the outage in {city} fixed yet? Nothing loads.",
        ),
        (
            "We are experiencing a partial outage affecting sign-in and sync.",
            "Please retry in a few minutes if you still see error 503.",
            "Payments attempted during the incident were not charged.",
            "Data entered during the outage will sync once the service recovers.",
            "Service in {city} has been restored for most users.",
            "Our engineers have identified the cause and are rolling out a fix.",
            "You can follow live updates on our status page.",
            "We will publish a full incident report within 72 hours.",
        ),
        drift=True,
    ),
)
JSON_TOPICS = (
    Topic(
        "invoice",
        "json",
        (
            "Extract vendor, invoice number, total and due date as JSON from: Invoice "
            "{invoice_no} from {company}, total ${amount}, due {date}.",
            "Return JSON with keys vendor, invoice_number, total, due_date. Text: {company} "
            "billed ${amount} on invoice {invoice_no}; payment due by {date}.",
            "Parse this invoice into JSON: '{company} / {invoice_no} / USD {amount} / {date}'.",
        ),
        (
            "Amount parsed as a decimal in US dollars.",
            "Due date normalized to ISO 8601.",
            "Vendor name taken from the header line.",
            "No tax line was present in the text.",
        ),
        json_fields=(
            ("vendor", "company"),
            ("invoice_number", "invoice_no"),
            ("total", "amount"),
            ("due_date", "date"),
        ),
    ),
    Topic(
        "contact",
        "json",
        (
            "Extract name, company and city as JSON: '{name} works at {company} in {city}.'",
            "Get the person, employer and location from this signature: {name} | {company} | "
            "{city}. Output JSON.",
            "From the note '{name} from {company} will visit {city} on {date}', return JSON "
            "with name, company, city.",
        ),
        (
            "City normalized to its common English name.",
            "Company suffix kept as written.",
            "Only fields present in the text were filled.",
        ),
        json_fields=(("name", "name"), ("company", "company"), ("city", "city")),
    ),
    Topic(
        "order",
        "json",
        (
            "Convert to JSON with order_id, product, quantity: 'Order {order_id}: {qty} x "
            "{product}'.",
            "Extract the order details as JSON from: Customer ordered {qty} {product} units, "
            "reference {order_id}, ship to {city}.",
            "Read the order line '{order_id};{product};{qty};{amount}' and output JSON.",
        ),
        (
            "Quantity parsed as an integer.",
            "Product name matched against the catalog.",
            "Order reference kept verbatim.",
        ),
        json_fields=(("order_id", "order_id"), ("product", "product"), ("quantity", "qty")),
    ),
    Topic(
        "event",
        "json",
        (
            "Extract event name, date and city as JSON: 'Join us for the {product} launch in "
            "{city} on {date}.'",
            "Return JSON {{title, date, location}} for: '{company} summit, {city}, {date}'.",
        ),
        (
            "Date normalized to ISO 8601.",
            "Location taken from the first place name.",
        ),
        json_fields=(("title", "product"), ("date", "date"), ("location", "city")),
    ),
    Topic(
        "incident",
        "json",
        (
            "Extract severity, service and start time as JSON from the incident note: "
            "'SEV{qty} outage of {product} service since {date}, region {city}'.",
            "Summarize this outage ticket as JSON with service, region, severity: {product} "
            "down in {city}, sev {qty}.",
        ),
        (
            "Severity mapped to the SEV scale.",
            "Region taken from the ticket header.",
            "Start time normalized to ISO 8601.",
        ),
        drift=True,
        json_fields=(("service", "product"), ("region", "city"), ("severity", "qty")),
    ),
)
