"""Channel icons: simple 24×24 line drawings as SVG path data, drawn for jornada.

Every icon is a tuple of path ``d`` strings stroked with ``currentColor``
(round caps and joins, no fill), so HTML and SVG output can draw them alike.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["CHANNEL_ICONS", "GENERIC_ICON", "icon_for", "icon_key"]


def _n(value: float) -> str:
    return f"{round(value, 3):g}"


def _circle(cx: float, cy: float, r: float) -> str:
    return f"M{_n(cx - r)} {_n(cy)}a{_n(r)} {_n(r)} 0 1 0 {_n(2 * r)} 0a{_n(r)} {_n(r)} 0 1 0 {_n(-2 * r)} 0"


def _rect(x: float, y: float, w: float, h: float, r: float = 0) -> str:
    iw, ih, rr = _n(w - 2 * r), _n(h - 2 * r), _n(r)
    if r == 0:
        return f"M{_n(x)} {_n(y)}h{_n(w)}v{_n(h)}h{_n(-w)}z"
    return (
        f"M{_n(x + r)} {_n(y)}h{iw}a{rr} {rr} 0 0 1 {rr} {rr}v{ih}a{rr} {rr} 0 0 1 -{rr} {rr}"
        f"h-{iw}a{rr} {rr} 0 0 1 -{rr} -{rr}v-{ih}a{rr} {rr} 0 0 1 {rr} -{rr}z"
    )


GENERIC_ICON: Final = "other"

CHANNEL_ICONS: Final[dict[str, tuple[str, ...]]] = {
    # A globe.
    "web": (
        _circle(12, 12, 9),
        "M3 12h18",
        "M12 3c2.5 2.7 3.8 5.7 3.8 9s-1.3 6.3-3.8 9c-2.5-2.7-3.8-5.7-3.8-9s1.3-6.3 3.8-9z",
    ),
    # A phone seen from the front.
    "app": (_rect(6.5, 2.5, 11, 19, 2.2), "M10.5 18.2h3"),
    # An envelope.
    "email": (_rect(3, 5.5, 18, 13, 2), "M3.8 7.2l8.2 6 8.2-6"),
    # Three linked nodes.
    "social": (
        _circle(6, 12, 2.6),
        _circle(18, 5.8, 2.6),
        _circle(18, 18.2, 2.6),
        "M8.3 10.8l7.4-3.8M8.3 13.2l7.4 3.8",
    ),
    # A megaphone.
    "ads": (
        "M3.5 10v4a1 1 0 0 0 1 1h2.2l6.3 4.5v-15L6.7 9H4.5a1 1 0 0 0-1 1z",
        "M16.5 9.2a4 4 0 0 1 0 5.6",
        "M19 6.7a7.5 7.5 0 0 1 0 10.6",
    ),
    # A magnifying glass.
    "search": (_circle(10.5, 10.5, 6.5), "M15.3 15.3l5.2 5.2"),
    # A shop front with an awning.
    "store": (
        "M4.5 10.5V20h15v-9.5",
        "M3 9.5l1.8-5h14.4l1.8 5c0 1.4-1.1 2.3-2.5 2.3s-2.5-.9-2.5-2.3"
        "c0 1.4-1.1 2.3-2.5 2.3s-2.5-.9-2.5-2.3c0 1.4-1.1 2.3-2.5 2.3S3 10.9 3 9.5z",
        "M10 20v-5h4v5",
    ),
    # A telephone handset.
    "phone": (
        "M5.2 3.5h3.3l1.7 4.3-2.2 1.4a11.5 11.5 0 0 0 6.8 6.8l1.4-2.2 4.3 1.7v3.3"
        "a1.7 1.7 0 0 1-1.8 1.7A16.5 16.5 0 0 1 3.5 5.3a1.7 1.7 0 0 1 1.7-1.8z",
    ),
    # A speech bubble with dots.
    "chat": (
        "M5 4.5h14a1.5 1.5 0 0 1 1.5 1.5v9a1.5 1.5 0 0 1-1.5 1.5h-9l-4.5 3.5v-3.5H5"
        "a1.5 1.5 0 0 1-1.5-1.5V6A1.5 1.5 0 0 1 5 4.5z",
        "M8.5 10.5h.01M12 10.5h.01M15.5 10.5h.01",
    ),
    # A briefcase.
    "sales": (
        _rect(3, 7.5, 18, 12.5, 2),
        "M9 7.5V5.8a1.3 1.3 0 0 1 1.3-1.3h3.4A1.3 1.3 0 0 1 15 5.8v1.7",
        "M3 12.8h18",
        "M11 12.8v1.6h2v-1.6",
    ),
    # A headset.
    "support": (
        "M4.5 14.5V12a7.5 7.5 0 0 1 15 0v2.5",
        _rect(3, 13.5, 4, 6, 1.5),
        _rect(17, 13.5, 4, 6, 1.5),
        "M19 19.5c0 1.4-1.1 2-2.5 2H13.5",
    ),
    # A credit card.
    "billing": (_rect(2.5, 5.5, 19, 13, 2), "M2.5 10h19", "M6 14.5h4"),
    # A clipboard with a tick.
    "survey": (
        _rect(5, 4.5, 14, 16.5, 2),
        "M9 4.5V3.8a.8.8 0 0 1 .8-.8h4.4a.8.8 0 0 1 .8.8v.7",
        "M8.8 12.8l2.2 2.2 4.2-4.4",
    ),
    # Two people.
    "community": (
        _circle(9, 8.5, 3.2),
        "M3 19.5a6 6 0 0 1 12 0",
        _circle(17, 9.5, 2.5),
        "M16 14.2a4.8 4.8 0 0 1 5 5.3",
    ),
    # A calendar with a marked day.
    "events": (
        _rect(3.5, 5, 17, 15.5, 2),
        "M3.5 10h17",
        "M8 3v4M16 3v4",
        _rect(7.5, 13, 3.5, 3.5, 0.6),
    ),
    # A parcel.
    "mail": (
        "M3.5 7.5l8.5-4 8.5 4v9l-8.5 4-8.5-4z",
        "M3.5 7.5l8.5 4 8.5-4",
        "M12 11.5v9",
        "M7.8 5.5l8.5 4",
    ),
    # A person passing something on.
    "referral": (
        _circle(9, 8.5, 3.2),
        "M3 19.5a6 6 0 0 1 12 0",
        "M15.5 11h6",
        "M19 8.5l2.5 2.5-2.5 2.5",
    ),
    # A star.
    "review": ("M12 3.5l2.6 5.3 5.9.9-4.3 4.1 1 5.8-5.2-2.8-5.2 2.8 1-5.8-4.3-4.1 5.9-.9z",),
    # A gift: loyalty programmes, rewards.
    "loyalty": (
        _rect(4, 10.5, 16, 10, 1.5),
        _rect(3, 7, 18, 3.5, 1),
        "M12 7v13.5",
        "M12 7C10.5 4 7 3.5 7 5.8S10 7 12 7zM12 7c1.5-3 5-3.5 5-1.2S14 7 12 7z",
    ),
    # A play button on a screen.
    "video": (_rect(2.5, 5.5, 19, 13, 2.5), "M10 9.2v5.6l4.8-2.8z"),
    # A printed sheet.
    "print": (
        "M6 3h8.5L19 7.5V20a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1z",
        "M14 3v4.5h5",
        "M8.5 12.5h7M8.5 16h5",
    ),
    # A map pin: a visit on site.
    "field": (
        "M12 21s-6.5-5.6-6.5-11a6.5 6.5 0 0 1 13 0c0 5.4-6.5 11-6.5 11z",
        _circle(12, 10, 2.4),
    ),
    # A target: a touchpoint of any other kind.
    "other": (_circle(12, 12, 8.5), _circle(12, 12, 3.5)),
}

_ALIASES: Final[dict[str, str]] = {
    "website": "web",
    "site": "web",
    "online": "web",
    "landing_page": "web",
    "ecommerce": "web",
    "e_commerce": "web",
    "mobile": "app",
    "mobile_app": "app",
    "apps": "app",
    "aplicativo": "app",
    "e_mail": "email",
    "mail_marketing": "email",
    "newsletter": "email",
    "social_media": "social",
    "redes_sociais": "social",
    "redes_sociales": "social",
    "instagram": "social",
    "facebook": "social",
    "linkedin": "social",
    "tiktok": "social",
    "twitter": "social",
    "youtube": "video",
    "influencer": "social",
    "ad": "ads",
    "advertising": "ads",
    "display": "ads",
    "paid": "ads",
    "paid_media": "ads",
    "paid_social": "ads",
    "tv": "ads",
    "radio": "ads",
    "billboard": "ads",
    "ooh": "ads",
    "marketing": "ads",
    "seo": "search",
    "sem": "search",
    "search_engine": "search",
    "google": "search",
    "shop": "store",
    "retail": "store",
    "in_store": "store",
    "branch": "store",
    "physical_store": "store",
    "pos": "store",
    "loja": "store",
    "tienda": "store",
    "call": "phone",
    "call_center": "phone",
    "callcenter": "phone",
    "telephone": "phone",
    "telefone": "phone",
    "ivr": "phone",
    "live_chat": "chat",
    "chatbot": "chat",
    "bot": "chat",
    "whatsapp": "chat",
    "sms": "chat",
    "messaging": "chat",
    "messenger": "chat",
    "sales_rep": "sales",
    "salesperson": "sales",
    "account_manager": "sales",
    "demo": "sales",
    "vendas": "sales",
    "ventas": "sales",
    "help": "support",
    "helpdesk": "support",
    "help_center": "support",
    "customer_service": "support",
    "service": "support",
    "atendimento": "support",
    "soporte": "support",
    "invoice": "billing",
    "payment": "billing",
    "payments": "billing",
    "checkout": "billing",
    "faturamento": "billing",
    "facturacion": "billing",
    "nps": "survey",
    "csat": "survey",
    "feedback": "survey",
    "questionnaire": "survey",
    "pesquisa": "survey",
    "encuesta": "survey",
    "forum": "community",
    "user_group": "community",
    "comunidade": "community",
    "comunidad": "community",
    "event": "events",
    "webinar": "events",
    "conference": "events",
    "trade_show": "events",
    "workshop": "events",
    "eventos": "events",
    "loyalty_program": "loyalty",
    "loyalty_programme": "loyalty",
    "rewards": "loyalty",
    "fidelidade": "loyalty",
    "fidelizacion": "loyalty",
    "youtube_video": "video",
    "videos": "video",
    "webinar_recording": "video",
    "flyer": "print",
    "brochure": "print",
    "catalog": "print",
    "catalogue": "print",
    "packaging_insert": "print",
    "visit": "field",
    "on_site": "field",
    "onsite": "field",
    "technician": "field",
    "field_service": "field",
    "field_sales": "field",
    "post": "mail",
    "postal": "mail",
    "direct_mail": "mail",
    "letter": "mail",
    "delivery": "mail",
    "shipping": "mail",
    "package": "mail",
    "correio": "mail",
    "correo": "mail",
    "word_of_mouth": "referral",
    "friend": "referral",
    "friends": "referral",
    "affiliate": "referral",
    "partner": "referral",
    "indicacao": "referral",
    "referral_program": "referral",
    "reviews": "review",
    "rating": "review",
    "ratings": "review",
    "review_site": "review",
    "avaliacoes": "review",
}

_SEPARATORS = re.compile(r"[\s\-/]+")


def icon_key(channel: str | None) -> str:
    """The icon for a channel as users write it (``Web``, ``live chat``, ``e-mail``).

    >>> icon_key("Live chat"), icon_key("e-mail"), icon_key("carrier pigeon")
    ('chat', 'email', 'other')
    """
    if not channel:
        return GENERIC_ICON
    key = _SEPARATORS.sub("_", channel.strip().lower())
    if key in CHANNEL_ICONS:
        return key
    return _ALIASES.get(key, GENERIC_ICON)


def icon_for(channel: str | None) -> tuple[str, ...]:
    """The path data of a channel's icon."""
    return CHANNEL_ICONS[icon_key(channel)]
