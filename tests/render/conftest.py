"""A rich sample map for the rendering tests, and a KPI catalogue that does not move."""

from __future__ import annotations

from typing import Any

import pytest

from jornada.model import Journey
from jornada.model.catalogue import CatalogueKpi

RICH_MAP: dict[str, Any] = {
    "id": "espresso-online",
    "title": "Buying a home espresso machine online",
    "kind": "journey",
    "description": (
        "How a first-time buyer finds, chooses, buys and settles in with an espresso "
        "machine from our web shop, from the first ad to recommending us to friends."
    ),
    "goal": "Great coffee at home within a week, without regret about the price.",
    "status": "researched",
    "owner": "CX team · Marta Lima",
    "language": "en",
    "tags": ["b2c", "e-commerce", "2024 research"],
    "version": 3,
    "updated": "2024-05-14",
    "personas": [
        {
            "id": "ana",
            "name": "Ana Souza",
            "role": "Product designer, coffee enthusiast",
            "age": "34",
            "location": "Porto Alegre",
            "income_band": "Upper middle",
            "quote": "I want café-quality coffee at home, but I'm scared of buying the wrong machine.",
            "backstory": (
                "Ana drinks three coffees a day and spends a lot at cafés. After a friend "
                "showed off a new machine she started reading reviews, but the technical "
                "jargon (bars, boilers, PID) leaves her unsure what really matters."
            ),
            "goals": [
                "Pick a machine that fits her kitchen and budget",
                "Learn to pull a good shot quickly",
            ],
            "challenges": [
                "Too many similar models",
                "Distrusts sponsored reviews",
                "Fear of hidden costs",
            ],
            "motivations": ["Save money on cafés", "A small daily ritual"],
            "success": "A great flat white every morning, and no second thoughts.",
            "preferred_channels": ["social", "web", "review", "chat"],
        }
    ],
    "departments": [
        {"id": "marketing", "name": "Marketing", "color": "#7c3aed", "lead": "Rui"},
        {"id": "ecommerce", "name": "E-commerce", "color": "#2563eb"},
        {"id": "logistics", "name": "Logistics"},
        {"id": "support", "name": "Customer care", "color": "#059669"},
        {"id": "sales", "name": "Sales"},
    ],
    "kpis": [
        {"id": "ad_recall", "name": "Ad recall", "unit": "%", "direction": "higher"},
        {"id": "setup_calls", "name": "Set-up calls", "unit": "count", "direction": "lower"},
    ],
    "lanes": [
        {"id": "touchpoints"},
        {"id": "actions"},
        {"id": "questions"},
        {"id": "motivations", "hidden": True},
        {"id": "thoughts"},
        {"id": "emotion"},
        {"id": "pain_points"},
        {"id": "opportunities"},
        {"id": "departments"},
        {"id": "backstage", "title": "Backstage processes"},
        {"id": "kpis"},
        {"id": "milestones"},
    ],
    "stages": [
        {
            "id": "discover",
            "name": "Discover",
            "phase": "before",
            "goal": "Realise home espresso is within reach",
            "touchpoints": [
                {
                    "id": "insta_ad",
                    "name": "Instagram ad",
                    "description": "Short video of latte art at home.",
                    "channel": "ads",
                    "category": "marketing_reach",
                    "medium": "digital",
                    "departments": ["marketing"],
                    "actions": ["Watches the video twice", "Taps through to the shop"],
                    "questions": ["Is this really that easy?"],
                    "motivations": ["Café coffee at home"],
                    "thoughts": ["That looks gorgeous — but is it for pros only?"],
                    "emotion": {"score": 1, "label": "Curious"},
                    "opportunities": [
                        {"text": "Show the beginner model first", "impact": 3, "effort": 1}
                    ],
                    "kpis": [{"kpi": "ctr", "target": 0.012}],
                    "evidence": "measured",
                },
                {
                    "id": "friend",
                    "name": "Friend's recommendation",
                    "channel": "referral",
                    "category": "customer_initiated",
                    "directness": "indirect",
                    "medium": "human",
                    "actions": ["Tastes a friend's flat white"],
                    "thoughts": ["If Leo can do it, so can I"],
                    "emotion": {"score": 2, "label": "Inspired"},
                    "evidence": "researched",
                },
            ],
            "kpis": [{"kpi": "ad_recall", "target": 18, "note": "Brand-lift survey, quarterly"}],
            "cells": {"backstage": "Campaign brief; creator partnerships"},
        },
        {
            "id": "research",
            "name": "Research & compare",
            "phase": "before",
            "goal": "Narrow down to one or two machines",
            "touchpoints": [
                {
                    "id": "search",
                    "name": "Google search",
                    "channel": "search",
                    "category": "customer_initiated",
                    "departments": ["marketing"],
                    "actions": ["Searches “best espresso machine for beginners”"],
                    "questions": ["Single or dual boiler?", "Do I need a grinder too?"],
                    "emotion": {"score": 0, "label": "Unsure"},
                    "pain_points": [
                        {"text": "Jargon everywhere: bars, PID, boilers", "severity": 3}
                    ],
                    "evidence": "researched",
                },
                {
                    "id": "reviews",
                    "name": "Review sites & YouTube",
                    "channel": "review",
                    "category": "feedback",
                    "directness": "indirect",
                    "actions": ["Watches two long comparison videos"],
                    "thoughts": ["Every reviewer recommends something else"],
                    "emotion": {"score": -1, "label": "Overwhelmed"},
                    "pain_points": [{"text": "Conflicting advice", "severity": 4}],
                    "opportunities": [
                        {
                            "text": "A 2-minute quiz that recommends a machine",
                            "impact": 5,
                            "effort": 2,
                        }
                    ],
                },
                {
                    "id": "pdp",
                    "name": "Product page",
                    "description": "Specs, photos and the comparison table.",
                    "channel": "web",
                    "category": "sales_interaction",
                    "departments": ["ecommerce"],
                    "actions": ["Compares three models side by side"],
                    "emotion": {"score": 0},
                    "kpis": [{"kpi": "add_to_cart_rate", "target": 0.08}],
                    "evidence": "measured",
                },
            ],
            "cells": {"backstage": "Product data from suppliers; SEO content calendar"},
        },
        {
            "id": "purchase",
            "name": "Purchase",
            "phase": "during",
            "goal": "Buy with confidence at a fair total price",
            "touchpoints": [
                {
                    "id": "checkout",
                    "name": "Checkout",
                    "channel": "billing",
                    "category": "sales_interaction",
                    "medium": "digital",
                    "departments": ["ecommerce", "sales"],
                    "actions": ["Enters address", "Pays in 3 instalments"],
                    "questions": ["When will it arrive?"],
                    "thoughts": ["Wait, shipping is R$ 49 on top?"],
                    "emotion": {"score": -2, "label": "Annoyed"},
                    "pain_points": [
                        {"text": "Shipping cost shown only at the last step", "severity": 5},
                        {"text": "Instalment options unclear", "severity": 2},
                    ],
                    "opportunities": [
                        {
                            "text": "Show delivery cost and date on the product page",
                            "impact": 5,
                            "effort": 2,
                        }
                    ],
                    "kpis": [{"kpi": "checkout_abandonment", "target": 0.35, "direction": "lower"}],
                    "cells": {"backstage": "Payment gateway, anti-fraud check"},
                    "evidence": "measured",
                },
                {
                    "id": "chat",
                    "name": "Live chat",
                    "channel": "live chat",
                    "category": "customer_initiated",
                    "medium": "human",
                    "departments": ["support"],
                    "actions": ["Asks about the warranty"],
                    "emotion": {"score": 1, "label": "Reassured"},
                    "kpis": [{"kpi": "first_response_time", "target": 45, "unit": "seconds"}],
                },
            ],
            "milestones": [{"id": "order", "name": "Order placed", "within": "3d"}],
        },
        {
            "id": "delivery",
            "name": "Delivery & set-up",
            "phase": "after",
            "goal": "Get the machine working the same day",
            "touchpoints": [
                {
                    "id": "tracking",
                    "name": "Delivery tracking",
                    "channel": "email",
                    "category": "sales_interaction",
                    "departments": ["logistics"],
                    "actions": ["Checks the tracking link daily"],
                    "emotion": {"score": 0, "label": "Waiting"},
                    "pain_points": [{"text": "Tracking updates lag a day", "severity": 2}],
                },
                {
                    "id": "unboxing",
                    "name": "Unboxing & first shot",
                    "channel": "mail",
                    "medium": "physical",
                    "departments": ["logistics", "support"],
                    "actions": ["Follows the quick-start card", "Pulls a first shot"],
                    "questions": ["Why is my shot so sour?"],
                    "thoughts": ["Wow, it actually works!"],
                    "emotion": {"score": 2, "label": "Delighted"},
                    "opportunities": [
                        {"text": "QR code to a 3-minute set-up video", "impact": 4, "effort": 1}
                    ],
                    "kpis": [{"kpi": "setup_calls", "target": 120}],
                    "evidence": "researched",
                },
            ],
            "milestones": [
                {
                    "id": "first_shot",
                    "name": "First good espresso",
                    "description": "Customer reports a shot they like.",
                    "within": "7d",
                }
            ],
            "cells": {"backstage": "Carrier hand-off\nReturns desk on standby"},
        },
        {
            "id": "use",
            "name": "Use & support",
            "phase": "after",
            "goal": "Keep enjoying it without hassle",
            "touchpoints": [
                {
                    "id": "descaling",
                    "name": "Descaling reminder",
                    "channel": "app",
                    "category": "marketing_reach",
                    "departments": ["support"],
                    "actions": ["Orders descaler from the app"],
                    "emotion": {"score": 1, "label": "Looked after"},
                    "evidence": "measured",
                },
                {
                    "id": "support_call",
                    "name": "Support call",
                    "channel": "phone",
                    "category": "customer_initiated",
                    "medium": "human",
                    "departments": ["support"],
                    "actions": ["Calls about a leaking gasket"],
                    "questions": ["Is this covered by the warranty?"],
                    "thoughts": ["Please don't make me ship it back"],
                    "emotion": {"score": -1, "label": "Worried"},
                    "pain_points": [{"text": "25-minute wait on the phone line", "severity": 4}],
                    "opportunities": [
                        {"text": "Call-back instead of hold music", "impact": 3, "effort": 3}
                    ],
                    "kpis": [{"kpi": "csat", "target": 4.5}],
                },
            ],
        },
        {
            "id": "advocate",
            "name": "Recommend",
            "phase": "after",
            "goal": "Share the ritual with friends",
            "touchpoints": [
                {
                    "id": "nps",
                    "name": "NPS survey",
                    "channel": "survey",
                    "category": "feedback",
                    "departments": ["marketing"],
                    "actions": ["Gives a 9 and writes a short review"],
                    "emotion": {"score": 2, "label": "Proud"},
                    "kpis": [{"kpi": "nps", "target": 55}],
                    "evidence": "measured",
                },
                {
                    "id": "community",
                    "name": "Owners' community",
                    "channel": "community",
                    "category": "customer_initiated",
                    "directness": "indirect",
                    "actions": ["Posts her latte art"],
                    "emotion": {"score": 2},
                    "opportunities": [
                        {"text": "Referral credit for both friends", "impact": 4, "effort": 3}
                    ],
                },
            ],
            "milestones": [{"id": "referral", "name": "First referral", "within": "8w"}],
        },
    ],
}


def make_rich_journey() -> Journey:
    """The sample map, validated afresh (tests may copy and change the dict)."""
    return Journey.model_validate(RICH_MAP)


FAKE_CATALOGUE = {
    kpi.id: kpi
    for kpi in [
        CatalogueKpi.model_validate(
            {
                "id": kpi_id,
                "name": {"en": en, "pt-BR": pt, "es": es},
                "definition": {"en": "…", "pt-BR": "…", "es": "…"},
                "formula": {"en": "…", "pt-BR": "…", "es": "…"},
                "unit": unit,
                "direction": direction,
                "stage": stage,
            }
        )
        for kpi_id, en, pt, es, unit, direction, stage in [
            ("ctr", "Click-through rate", "Taxa de cliques", "Tasa de clics", "ratio",
             "higher", "awareness"),
            ("add_to_cart_rate", "Add-to-cart rate", "Taxa de adição ao carrinho",
             "Tasa de añadido al carrito", "ratio", "higher", "consideration"),
            ("checkout_abandonment", "Checkout abandonment", "Abandono do checkout",
             "Abandono del pago", "ratio", "lower", "conversion"),
            ("first_response_time", "First response time", "Tempo da primeira resposta",
             "Tiempo de primera respuesta", "seconds", "lower", "retention"),
            ("csat", "Customer satisfaction (CSAT)", "Satisfação do cliente (CSAT)",
             "Satisfacción del cliente (CSAT)", "score", "higher", "retention"),
            ("nps", "Net Promoter Score", "Net Promoter Score", "Net Promoter Score",
             "score", "higher", "advocacy"),
        ]
    ]
}  # fmt: skip


@pytest.fixture
def fixed_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render against a small KPI catalogue of our own, whatever the real data says."""
    monkeypatch.setattr("jornada.render._view._catalogue", lambda: FAKE_CATALOGUE)


@pytest.fixture
def rich_journey(fixed_catalogue: None) -> Journey:
    return make_rich_journey()
