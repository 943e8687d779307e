"""Deterministic seed data for the sandbox: the same `--seed` and `--chats` give the same license.

Threads store only a plan (the event kinds, in order) and a per-thread seed; `expand_events`
turns that into LiveChat event objects on read, so a 100 000-chat license fits in memory.
"""
from __future__ import annotations

import hashlib
import random
import uuid

from . import clock
from .state import Chat, Store, Thread

# The seeded timeline ends here, whatever the wall clock says, so data is reproducible.
TIMELINE_END_US = clock.parse("2026-10-31T23:00:00Z", "timeline")
TIMELINE_DAYS = 365
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

AGENTS = [
    ("owner@helpdesk.example", "Morgan Reyes", "owner", "Head of Support"),
    ("ana.kowalska@helpdesk.example", "Ana Kowalska", "administrator", "Support Lead"),
    ("james.oconnor@helpdesk.example", "James O'Connor", "normal", "Support Agent"),
    ("li.wei@helpdesk.example", "Li Wei", "normal", "Billing Specialist"),
    ("fatima.haddad@helpdesk.example", "Fatima Haddad", "normal", "Sales Representative"),
    ("tomas.novak@helpdesk.example", "Tomas Novak", "normal", "Technical Support"),
]
GROUPS = [(0, "General"), (1, "Sales"), (2, "Technical Support"), (3, "Billing")]
# A bot agent: bots have 32-hex ids (payloads/management/v3.6/configuration-api/responses/bots/getBot.json)
# and are listed by list_bots, not list_agents. It greeted the customer in about one closed thread in ten.
BOT = {"id": "5c9871d5372c824cbf22d860a707a578", "name": "ChatBot Assistant",
       "avatar_path": "https://cdn.livechat-files.com/api/file/avatars/bot.png", "groups": [{"id": 0, "priority": "first"}]}
BOT_GREETING = "Hi! I'm the assistant bot. An agent will be with you in a moment."
TAGS = [
    ("support", [0, 2]), ("sales", [0, 1]), ("billing", [0, 3]), ("bug", [2]), ("refund", [3]),
    ("positive feedback", [0]), ("negative feedback", [0]), ("upgrade", [1]), ("onboarding", [0, 2]),
    ("urgent", [0]), ("vip", [0, 1]), ("spam", [0]),
]
FIRST = ["Olivia", "Liam", "Emma", "Noah", "Sophia", "Lucas", "Mia", "Ethan", "Amelia", "Mateo", "Chloe",
         "Arjun", "Yuki", "Priya", "Jonas", "Elena", "Omar", "Hana", "Diego", "Zofia", "Kwame", "Ingrid"]
LAST = ["Smith", "Garcia", "Nowak", "Müller", "Tanaka", "Okafor", "Rossi", "Johansson", "Patel", "Kim",
        "Silva", "Dubois", "Ivanova", "Haddad", "Brown", "Costa", "Jensen", "Novak", "Chen", "Moreau"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Retail",
             "Hooli", "Vandelay Imports", "Soylent Foods", "Pied Piper"]
COUNTRIES = [("Poland", "PL", "Europe/Warsaw", "Wroclaw"), ("United States", "US", "America/New_York", "Boston"),
             ("Germany", "DE", "Europe/Berlin", "Berlin"), ("Japan", "JP", "Asia/Tokyo", "Osaka"),
             ("Brazil", "BR", "America/Sao_Paulo", "Curitiba"), ("India", "IN", "Asia/Kolkata", "Pune"),
             ("United Kingdom", "GB", "Europe/London", "Leeds"), ("Kenya", "KE", "Africa/Nairobi", "Nairobi")]
TOPICS = [
    ("I was charged twice for my subscription this month.",
     ["I'm sorry about that! Let me check your billing history.", "I can see the duplicate charge; I've issued a refund."],
     ["How long until the refund shows up?", "Thanks, that's a relief."], "billing"),
    ("The export to CSV button does nothing when I click it.",
     ["Thanks for reporting this. Which browser are you using?", "Our engineers confirmed a bug in the export; a fix ships tomorrow."],
     ["Chrome on macOS, latest version.", "Great, I'll try again tomorrow."], "bug"),
    ("Can I upgrade from the Starter plan to Business in the middle of my billing cycle?",
     ["Yes! The upgrade is prorated, so you only pay the difference.", "I've sent you a link to upgrade from your dashboard."],
     ["Does the upgrade keep my existing integrations?", "Perfect, upgrading now."], "upgrade"),
    ("How do I add a new teammate to our workspace?",
     ["Go to Settings → Team and click Invite.", "They'll get an email invitation that is valid for 7 days."],
     ["Found it, thanks!", "Can I set their role before they accept?"], "onboarding"),
    ("My password reset email never arrived.",
     ["Could you check your spam folder first?", "I've re-sent the reset link to the address on file."],
     ["Nothing in spam either.", "Got it this time, thank you!"], "support"),
    ("Do you offer a discount for non-profit organizations?",
     ["We do: 50% off any annual plan for registered non-profits.", "Please send us your registration document and we'll apply it."],
     ["Great, I'll attach our certificate.", "Is the discount also valid for monthly plans?"], "sales"),
    ("The mobile app crashes when I open a chat with an image.",
     ["Sorry about that. Which app version do you have?", "Version 4.2.1 fixes that crash; please update from the store."],
     ["It's 4.1.9 on Android 14.", "Updated and it works now."], "bug"),
    ("I'd like a refund for the annual plan I bought yesterday.",
     ["You're within our 14-day window, so that's no problem.", "The refund has been processed to your original payment method."],
     ["Thanks for making this easy.", "Will I keep access until the end of the week?"], "refund"),
]
CLOSINGS = ["Is there anything else I can help you with?", "Have a great day!", "Thanks for contacting us."]
FILES = [("invoice-2026-09.pdf", "application/pdf"), ("screenshot.png", "image/png"),
         ("error-log.txt", "text/plain"), ("receipt.jpg", "image/jpeg"), ("export.csv", "text/csv")]
SYSTEM_TEXTS = {
    "routing.assigned": "Chat assigned to {agent}",
    "manual_archived_agent": "{agent} archived the chat",
    "transcript_requested": "Chat transcript was sent to the customer",
}


def make_id(rng: random.Random) -> str:
    return "".join(rng.choice(ID_ALPHABET) for _ in range(10))


def seed_store(store: Store, seed: int, chats: int, agents: list = AGENTS) -> None:
    """Fill an empty store with agents, groups, tags, customers and `chats` chats."""
    rng = random.Random(seed)
    for i, (email, name, role, title) in enumerate(agents):
        store.agents[email] = {
            "id": email, "name": name, "role": role, "job_title": title,
            "avatar_path": f"https://cdn.livechat-files.com/api/file/avatars/{i}.png",
            "login_status": "accepting chats" if i % 3 else "not accepting chats",
            "groups": [{"id": 0, "priority": "normal"}] + ([{"id": 1 + i % 3, "priority": "first"}] if i else []),
            "max_chats_count": 6,
            # the agent's current routing status; a group's is derived from its agents' (state.group_status)
            "_routing_status": "accepting_chats" if i % 3 else "not_accepting_chats",
        }
    store.bots[BOT["id"]] = dict(BOT)
    store.groups = [{"id": gid, "name": name, "language_code": "en"} for gid, name in GROUPS]
    tag_created = clock.fmt(TIMELINE_END_US - TIMELINE_DAYS * 86_400_000_000 - 86_400_000_000)
    for name, gids in TAGS:
        store.tags[name] = {"name": name, "group_ids": gids, "author_id": agents[0][0], "created_at": tag_created}

    n_customers = max(1, int(chats * 0.8) + 5)
    span = TIMELINE_DAYS * 86_400_000_000
    start = TIMELINE_END_US - span
    customers = [_make_customer(rng, start + rng.randrange(span // 2)) for _ in range(n_customers)]
    chat_rows = []
    for _ in range(chats):
        customer = customers[rng.randrange(n_customers)]
        first = max(customer["_created_us"] + 60_000_000, start + rng.randrange(span))
        chat_rows.append((first, customer))
    # Customers in creation order make list_customers deterministic; chats carry threads.
    for customer in customers:
        store.add_customer(customer)
    agent_ids = [a[0] for a in agents]
    for first, customer in chat_rows:
        _add_seeded_chat(store, rng, customer, first, agent_ids)
    for customer in customers:
        _refresh_customer_stats(store, customer)


def _make_customer(rng: random.Random, created_us: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    country, code, tz, city = rng.choice(COUNTRIES)
    started = created_us + rng.randrange(1, 30 * 86_400_000_000)
    customer = {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": "customer",
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{rng.randrange(100)}@{rng.choice(['mail', 'post', 'inbox'])}.example",
        "email_verified": rng.random() < 0.5,
        "session_fields": [{"company": rng.choice(COMPANIES)}, {"plan": rng.choice(["starter", "team", "business"])}],
        "last_visit": {
            "started_at": clock.fmt(started), "ended_at": clock.fmt(started + 300_000_000),
            "referrer": "https://www.google.com/", "ip": f"203.0.113.{rng.randrange(1, 255)}",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)",
            "geolocation": {"country": country, "country_code": code, "region": city, "city": city, "timezone": tz},
            "last_pages": [{"opened_at": clock.fmt(started), "url": "https://shop.example/pricing",
                            "title": "Pricing | Example Shop"}],
        },
        "statistics": {"chats_count": 0, "threads_count": 0, "visits_count": rng.randrange(1, 20)},
        "created_at": clock.fmt(created_us),
        "chat_ids": [],
        "_created_us": created_us,
    }
    digits = int(customer["id"].replace("-", "")[:12], 16)
    if digits % 3 == 0:  # derived from the id, so the rest of the seed stays as it was
        customer["phone_number"] = f"+4871{digits % 10_000_000:07d}"  # E.164 (update_customer, v3.6)
    if rng.random() < 0.3:
        customer["avatar"] = f"https://cdn.livechat-files.com/api/file/avatars/c{rng.randrange(50)}.png"
    return customer


def _add_seeded_chat(store: Store, rng: random.Random, customer: dict, first_us: int, agent_ids: list) -> None:
    """A chat of 1-4 threads; `first_us` is when its first thread would start."""
    chat_id = make_id(rng)
    while chat_id in store.chats:
        chat_id = make_id(rng)
    group = rng.choice([0, 0, 1, 2, 3])
    group_ids = [0] if group == 0 else [0, group]
    n_threads = rng.choice([1, 1, 2, 2, 3, 4])
    gaps = [rng.randrange(3600, 40 * 86_400) * 1_000_000 + rng.randrange(1_000_000) for _ in range(n_threads - 1)]
    # Every thread (and its events, minutes long) ends before the timeline does.
    latest = TIMELINE_END_US - sum(gaps) - 3_600_000_000
    t_us = first_us if first_us <= latest else latest - rng.randrange(30 * 86_400_000_000)
    threads = []
    for i in range(n_threads):
        agent = rng.choice(agent_ids[1:]) if rng.random() < 0.9 else agent_ids[0]
        tid = make_id(rng)
        while tid in store.threads:
            tid = make_id(rng)
        tags = sorted(rng.sample([n for n, _ in TAGS], rng.choice([0, 1, 1, 2])))
        last = i == n_threads - 1
        active = last and rng.random() < 0.06
        thread = Thread(id=tid, chat_id=chat_id, created_at=t_us, active=active,
                        user_ids=[customer["id"], agent], tags=tags, group_ids=list(group_ids),
                        seed=rng.getrandbits(48), plan=_plan(rng, first=i == 0, active=active))
        if thread.seed % 10 == 0 and not active:  # the bot greeted first (no draw from rng: the seed stays)
            thread.user_ids.append(BOT["id"])
            at = 1 if thread.plan[:1] == ("filled_form",) else 0
            thread.plan = thread.plan[:at] + ("bot_message",) + thread.plan[at:]
        if threads:
            threads[-1].next_thread_id = tid
            thread.previous_thread_id = threads[-1].id
        threads.append(thread)
        t_us += gaps[i] if i < len(gaps) else 0
    chat = Chat(id=chat_id, customer_id=customer["id"], threads=threads, group_ids=group_ids,
                properties={"routing": {"continuous": False, "pinned": False}})
    store.add_chat(chat)
    customer["chat_ids"].append(chat_id)


def _plan(rng: random.Random, first: bool, active: bool) -> tuple:
    plan = ["filled_form"] if first and rng.random() < 0.7 else []
    plan += ["system_message", "customer_message", "agent_message"]
    for _ in range(rng.randrange(0, 3)):
        plan += ["customer_message", "agent_message"]
    if rng.random() < 0.3:
        plan.insert(rng.randrange(2, len(plan)), "file")
    if rng.random() < 0.15:
        plan.append("private_note")
    if rng.random() < 0.1:
        plan.append("rich_message")
    if not active:
        plan += ["agent_closing", "system_message_closed"]
    return tuple(plan)


def expand_events(store: Store, thread: Thread) -> list[dict]:
    """The seeded events of a thread, rebuilt identically on every call."""
    rng = random.Random(thread.seed)
    chat = store.chats[thread.chat_id]
    customer = store.customers.get(chat.customer_id, {})
    agent_id = next((u for u in thread.user_ids if u in store.agents), None)
    agent_name = store.agents[agent_id]["name"] if agent_id else "an agent"
    opener, agent_lines, customer_lines, _ = TOPICS[rng.randrange(len(TOPICS))]
    t_us = thread.created_at
    events = []
    said_c = said_a = 0
    for n, kind in enumerate(thread.plan, start=1):
        t_us += rng.randrange(1_000_000, 90_000_000) if n > 1 else rng.randrange(1, 999)
        ev = {"id": f"{thread.id}_{n}", "created_at": clock.fmt(t_us), "visibility": "all"}
        if kind == "filled_form":
            ev.update(type="filled_form", author_id=customer.get("id"), form_id="1473433500211",
                      form_type="prechat", fields=[
                          {"type": "name", "id": "154417206262603539", "label": "Your name",
                           "answer": customer.get("name", "")},
                          {"type": "email", "id": "154417206262601584", "label": "Your email",
                           "answer": customer.get("email", "")},
                      ])
        elif kind == "system_message":
            ev.update(type="system_message", system_message_type="routing.assigned",
                      text=SYSTEM_TEXTS["routing.assigned"].format(agent=agent_name), text_vars={"agent": agent_name})
        elif kind == "system_message_closed":
            ev.update(type="system_message", system_message_type="manual_archived_agent",
                      text=SYSTEM_TEXTS["manual_archived_agent"].format(agent=agent_name),
                      text_vars={"agent": agent_name})
        elif kind == "bot_message":
            ev.update(type="message", author_id=BOT["id"], text=BOT_GREETING)
        elif kind == "customer_message":
            text = opener if said_c == 0 else customer_lines[(said_c - 1) % len(customer_lines)]
            said_c += 1
            ev.update(type="message", author_id=customer.get("id"), text=text)
        elif kind == "agent_message":
            text = agent_lines[said_a % len(agent_lines)]
            said_a += 1
            ev.update(type="message", author_id=agent_id, text=text)
        elif kind == "agent_closing":
            ev.update(type="message", author_id=agent_id, text=rng.choice(CLOSINGS))
        elif kind == "private_note":
            ev.update(type="message", author_id=agent_id, visibility="agents",
                      text=f"Internal note: customer is on the {rng.choice(['starter', 'team', 'business'])} plan.")
        elif kind == "file":
            name, ctype = FILES[rng.randrange(len(FILES))]
            size = rng.randrange(2_000, 60_000)
            path = f"{store.license_id}/{thread.id}_{n}/{name}"
            ev.update(type="file", author_id=customer.get("id"), name=name, url=store.cdn_base + path,
                      content_type=ctype, size=size)
            if ctype.startswith("image/"):
                ev.update(thumbnail_url=store.cdn_base + path + "?thumbnail=1",
                          thumbnail2x_url=store.cdn_base + path + "?thumbnail=2", width=640, height=480)
        elif kind == "rich_message":
            ev.update(type="rich_message", author_id=agent_id, template_id="quick_replies",
                      elements=[{"title": "Was this conversation helpful?", "buttons": [
                          {"text": "Yes", "postback_id": "helpful_yes", "user_ids": []},
                          {"text": "No", "postback_id": "helpful_no", "user_ids": []}]}])
        events.append(ev)
    return events


def seeded_file_bytes(path: str, size: int) -> bytes:
    """Deterministic content for a seeded file: the same path always yields the same bytes."""
    block = hashlib.sha256(path.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def _refresh_customer_stats(store: Store, customer: dict) -> None:
    chats = [store.chats[c] for c in customer["chat_ids"]]
    customer["statistics"]["chats_count"] = len(chats)
    customer["statistics"]["threads_count"] = sum(len(c.threads) for c in chats)
    if chats:
        last = max(c.sort_key[0] for c in chats)
        customer["agent_last_event_created_at"] = clock.fmt(last + 60_000_000)
        customer["customer_last_event_created_at"] = clock.fmt(last + 30_000_000)
