"""Vocabularies of the demo event generator: event names, channels, property values,
places, names and the customers' own words (pt-BR, es, en).

Every categorical column of the generated events is a small integer code into one
of these tuples; the strings are attached only when a chunk is written.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

EVENTS: Final = (
    "ad_impression",
    "ad_click",
    "referral_click",
    "page_view",
    "product_list_view",
    "product_view",
    "review_list_view",
    "chat_started",
    "add_to_cart",
    "cart_view",
    "account_created",
    "login",
    "checkout_started",
    "payment_failed",
    "purchase",
    "order_confirmation_sent",
    "email_open",
    "email_click",
    "shipment_status_update",
    "tracking_page_view",
    "order_delivered",
    "support_ticket",
    "refund_issued",
    "qr_code_scan",
    "survey_response",
    "review_submitted",
    "loyalty_signup",
    "points_redeemed",
    "referral_sent",
    "referral_purchase",
    "email_unsubscribed",
    "account_closed",
)
CHANNELS: Final = (
    "social",
    "referral",
    "web",
    "app",
    "chat",
    "email",
    "phone",
    "delivery",
    "print",
    "store",
    "billing",
)
LANGUAGES: Final = ("pt-BR", "es", "en")

BLOG_PAGES: Final = (
    "/blog/first-running-shoes",
    "/blog/pronation-explained",
    "/blog/5k-training-plan",
    "/blog/cushioning-and-drop",
)
OTHER_PAGES: Final = (
    "/size-guide",
    "/returns-policy",
    "/c/running/women",
    "/c/running/men",
    "/stores",
)
PAGES: Final = (
    "/",  # 0: home, where the ads land
    "/referral",  # 1: referral landing page
    "/cart",  # 2
    "/checkout",  # 3
    "/checkout/payment",  # 4
    "/checkout/confirmation",  # 5
    "/orders/track",  # 6
    "/loyalty",  # 7
    "/account",  # 8
    "/login",  # 9
    *BLOG_PAGES,  # 10..13
    *OTHER_PAGES,  # 14..18
    "/c/running-shoes",  # 19.. category listings, in CATEGORIES order
    "/c/trail-shoes",
    "/c/apparel",
    "/c/accessories",
    "/p/aurora-glide-3",  # 23.. product pages, PRODUCTS_PER_CATEGORY per category
    "/p/aurora-cloud-runner",
    "/p/aurora-pace-2",
    "/p/aurora-ridge-trail",
    "/p/aurora-mud-pro",
    "/p/aurora-summit-gtx",
    "/p/breeze-running-tee",
    "/p/storm-light-jacket",
    "/p/stride-shorts",
    "/p/merino-running-socks",
    "/p/race-belt",
    "/p/soft-flask-500",
)
PAGE_HOME: Final = 0
PAGE_REFERRAL: Final = 1
PAGE_CART: Final = 2
PAGE_CHECKOUT: Final = 3
PAGE_PAYMENT: Final = 4
PAGE_CONFIRMATION: Final = 5
PAGE_TRACK: Final = 6
PAGE_LOYALTY: Final = 7
PAGE_ACCOUNT: Final = 8
PAGE_LOGIN: Final = 9
PAGE_BLOG: Final = 10
PAGE_OTHER: Final = PAGE_BLOG + len(BLOG_PAGES)
PAGE_CATEGORY: Final = PAGE_OTHER + len(OTHER_PAGES)
PAGE_PRODUCT: Final = PAGE_CATEGORY + 4
PRODUCTS_PER_CATEGORY: Final = 3

CATEGORIES: Final = ("running_shoes", "trail_shoes", "apparel", "accessories")
CATEGORY_PRICE: Final = np.array([330.0, 420.0, 140.0, 55.0])
"""Median order value by the order's main category (BRL)."""

TOPICS: Final = ("sizing", "shipping_cost", "returns_policy")
TOPIC_SIZING: Final = 0
REASONS: Final = ("order_status", "size_exchange", "damaged_item", "payment", "follow_up")
REASON_ORDER_STATUS: Final = 0
REASON_SIZE_EXCHANGE: Final = 1
REASON_DAMAGED: Final = 2
REASON_PAYMENT: Final = 3
REASON_FOLLOW_UP: Final = 4
CAMPAIGNS: Final = (
    "first_5k",
    "autumn_sale",
    "order_confirmation",
    "post_purchase",
    "newsletter",
    "training_plan",
    "insole_offer",
    "retargeting",
)
CAMPAIGN_ORDER_CONFIRMATION: Final = 2
CAMPAIGN_POST_PURCHASE: Final = 3
CAMPAIGN_NEWSLETTER: Final = 4
CAMPAIGN_TRAINING_PLAN: Final = 5
CAMPAIGN_INSOLE: Final = 6
CAMPAIGN_RETARGETING: Final = 7
SURVEYS: Final = ("csat", "nps", "ces")
STATUSES: Final = ("shipped", "in_transit", "out_for_delivery")
PAYMENT_METHODS: Final = ("credit_card", "pix", "boleto", "debit_card", "cash")
DEVICES: Final = ("mobile", "desktop", "tablet")
SEGMENTS: Final = ("new_runner", "regular_runner", "trail_runner", "casual")

# --- places --------------------------------------------------------------------
COUNTRIES: Final = ("BR", "AR", "MX", "US")
COUNTRY_CODE: Final = ("55", "54", "52", "1")
COUNTRY_UTC_OFFSET_HOURS: Final = np.array([-3, -3, -6, -5])
"""Standard offsets; the US observes daylight saving time (handled when writing)."""
EMAIL_DOMAINS: Final = (
    ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "uol.com.br", "icloud.com"),
    ("gmail.com", "hotmail.com", "yahoo.com.ar", "outlook.com"),
    ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com.mx"),
    ("gmail.com", "yahoo.com", "outlook.com", "icloud.com"),
)
EMAIL_DOMAIN_WEIGHTS: Final = (
    (0.45, 0.2, 0.12, 0.1, 0.05, 0.08),
    (0.5, 0.3, 0.1, 0.1),
    (0.5, 0.3, 0.1, 0.1),
    (0.5, 0.2, 0.15, 0.15),
)
# (country index, city, area code, subscriber digits after the area code, weight)
CITIES: Final = (
    (0, "São Paulo", "11", 9, 0.30),
    (0, "Belo Horizonte", "31", 9, 0.14),
    (0, "Rio de Janeiro", "21", 9, 0.18),
    (0, "Curitiba", "41", 9, 0.08),
    (0, "Porto Alegre", "51", 9, 0.07),
    (0, "Brasília", "61", 9, 0.07),
    (0, "Salvador", "71", 9, 0.06),
    (0, "Recife", "81", 9, 0.05),
    (0, "Fortaleza", "85", 9, 0.05),
    (1, "Buenos Aires", "11", 8, 0.6),
    (1, "Córdoba", "351", 7, 0.15),
    (1, "Rosario", "341", 7, 0.15),
    (1, "Mendoza", "261", 7, 0.10),
    (2, "Ciudad de México", "55", 8, 0.55),
    (2, "Guadalajara", "33", 8, 0.25),
    (2, "Monterrey", "81", 8, 0.20),
    (3, "Miami", "305", 7, 0.4),
    (3, "New York", "212", 7, 0.3),
    (3, "Orlando", "407", 7, 0.2),
    (3, "Boston", "617", 7, 0.1),
)
CITY_NAMES: Final = tuple(city[1] for city in CITIES)

FIRST_NAMES: Final = (
    (
        "ana",
        "maria",
        "julia",
        "mariana",
        "beatriz",
        "camila",
        "larissa",
        "fernanda",
        "patricia",
        "aline",
        "juliana",
        "leticia",
        "joao",
        "pedro",
        "lucas",
        "gabriel",
        "rafael",
        "gustavo",
        "felipe",
        "bruno",
        "thiago",
        "rodrigo",
        "marcelo",
        "andre",
    ),
    (
        "sofia",
        "valentina",
        "camila",
        "lucia",
        "martina",
        "florencia",
        "daniela",
        "paula",
        "mateo",
        "santiago",
        "juan",
        "diego",
        "nicolas",
        "alejandro",
        "joaquin",
        "tomas",
    ),
    (
        "emily",
        "sarah",
        "jessica",
        "ashley",
        "megan",
        "olivia",
        "emma",
        "hannah",
        "michael",
        "james",
        "david",
        "daniel",
        "ryan",
        "kevin",
        "brian",
        "jason",
    ),
)
LAST_NAMES: Final = (
    (
        "silva",
        "santos",
        "oliveira",
        "souza",
        "lima",
        "pereira",
        "ferreira",
        "costa",
        "rodrigues",
        "almeida",
        "nascimento",
        "alves",
        "carvalho",
        "araujo",
        "ribeiro",
        "gomes",
        "martins",
        "rocha",
        "barbosa",
        "teixeira",
    ),
    (
        "gonzalez",
        "rodriguez",
        "fernandez",
        "lopez",
        "martinez",
        "garcia",
        "perez",
        "sanchez",
        "romero",
        "diaz",
        "torres",
        "ruiz",
        "flores",
        "herrera",
    ),
    (
        "smith",
        "johnson",
        "williams",
        "brown",
        "jones",
        "miller",
        "davis",
        "wilson",
        "anderson",
        "taylor",
        "thomas",
        "moore",
        "martin",
        "clark",
    ),
)

# --- the customers' own words -----------------------------------------------------
# Every list holds the same number of phrasings in pt-BR, es and en (in that order).
_TEXTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]]] = {
    "chat_sizing": (
        (
            "Oi, calço 37 em tênis casual, qual tamanho devo escolher nesse modelo?",
            "Esse tênis veste pequeno? Estou entre o 38 e o 39.",
            "Vocês têm tabela de medidas em centímetros? Nunca comprei tênis de corrida.",
        ),
        (
            "Hola, uso 37 en zapatillas normales, ¿qué talla me recomiendan en este modelo?",
            "¿Estas zapatillas calzan chico? Dudo entre 38 y 39.",
            "¿Tienen una tabla de talles en centímetros? Nunca compré zapatillas de running.",
        ),
        (
            "Hi, I wear a 7 in casual shoes, which size should I pick in this model?",
            "Does this shoe run small? I'm between a 7.5 and an 8.",
            "Do you have a size chart in centimetres? I've never bought running shoes.",
        ),
    ),
    "chat_shipping_cost": (
        (
            "Quanto custa o frete para o meu CEP?",
            "Tem frete grátis acima de algum valor?",
            "Chega antes de sábado se eu comprar hoje?",
        ),
        (
            "¿Cuánto cuesta el envío a mi código postal?",
            "¿Hay envío gratis a partir de algún monto?",
            "¿Llega antes del sábado si compro hoy?",
        ),
        (
            "How much is shipping to my postcode?",
            "Is there free shipping above a certain amount?",
            "Will it arrive before Saturday if I order today?",
        ),
    ),
    "chat_returns_policy": (
        (
            "Se o tamanho não servir, a troca é grátis?",
            "Quantos dias eu tenho para devolver?",
            "Posso trocar o tamanho numa loja física?",
        ),
        (
            "Si la talla no me queda, ¿el cambio es gratis?",
            "¿Cuántos días tengo para devolverlas?",
            "¿Puedo cambiar la talla en una tienda física?",
        ),
        (
            "If the size is wrong, is the exchange free?",
            "How many days do I have to return them?",
            "Can I exchange the size in a store?",
        ),
    ),
    "ticket_order_status": (
        (
            "Meu pedido está parado 'em trânsito' há três dias. Onde está?",
            "O prazo de entrega venceu ontem e o pedido não chegou.",
            "Preciso do tênis até sábado, vai chegar a tempo?",
            "O rastreio não atualiza desde segunda. Podem verificar com a transportadora?",
        ),
        (
            "Mi pedido está 'en tránsito' hace tres días. ¿Dónde está?",
            "El plazo de entrega venció ayer y el pedido no llegó.",
            "Necesito las zapatillas para el sábado, ¿llegan a tiempo?",
            "El seguimiento no se actualiza desde el lunes. ¿Pueden consultar al transportista?",
        ),
        (
            "My order has been 'in transit' for three days. Where is it?",
            "The delivery date was yesterday and the order hasn't arrived.",
            "I need the shoes by Saturday, will they arrive in time?",
            "Tracking hasn't updated since Monday. Can you check with the carrier?",
        ),
    ),
    "ticket_size_exchange": (
        (
            "O tênis ficou apertado, quero trocar por meio número maior.",
            "Comprei 38 mas preciso de 39. Como faço a troca?",
            "Ficou grande no calcanhar, posso trocar o tamanho?",
        ),
        (
            "Las zapatillas me quedan ajustadas, quiero cambiarlas por media talla más.",
            "Compré 38 pero necesito 39. ¿Cómo hago el cambio?",
            "Me quedan grandes en el talón, ¿puedo cambiar la talla?",
        ),
        (
            "The shoes are tight, I'd like to exchange them for half a size up.",
            "I bought a 7 but need a 7.5. How do I exchange them?",
            "They're loose at the heel, can I change the size?",
        ),
    ),
    "ticket_damaged_item": (
        (
            "A caixa chegou amassada e o tênis veio com a sola descolando.",
            "Recebi o produto com defeito na costura.",
            "Veio um pé de cada tamanho na caixa!",
        ),
        (
            "La caja llegó aplastada y la suela de la zapatilla está despegada.",
            "Recibí el producto con una costura defectuosa.",
            "¡Vino un pie de cada talla en la caja!",
        ),
        (
            "The box arrived crushed and the sole is coming off.",
            "The product arrived with a faulty seam.",
            "The box had one shoe of each size!",
        ),
    ),
    "ticket_payment": (
        (
            "Meu cartão foi recusado com um erro genérico. Fui cobrada?",
            "Tentei pagar duas vezes e deu erro, mas apareceu no extrato.",
            "O pagamento não passa e não diz o motivo.",
        ),
        (
            "Mi tarjeta fue rechazada con un error genérico. ¿Me cobraron?",
            "Intenté pagar dos veces, dio error, pero aparece en mi resumen.",
            "El pago no pasa y no dice por qué.",
        ),
        (
            "My card was declined with a generic error. Was I charged?",
            "I tried to pay twice and got an error, but it shows on my statement.",
            "The payment won't go through and doesn't say why.",
        ),
    ),
    "ticket_follow_up": (
        (
            "Abri um chamado há dias e ninguém respondeu.",
            "Segunda vez que escrevo. Ainda sem resposta nenhuma.",
            "Ninguém responde. Quero cancelar minha conta.",
        ),
        (
            "Abrí un reclamo hace días y nadie respondió.",
            "Es la segunda vez que escribo. Sigo sin respuesta.",
            "Nadie responde. Quiero cerrar mi cuenta.",
        ),
        (
            "I opened a ticket days ago and nobody has replied.",
            "Second time I'm writing. Still no answer at all.",
            "Nobody answers. I want to close my account.",
        ),
    ),
    "survey_positive": (
        (
            "Tênis confortável e chegou antes do prazo. Recomendo!",
            "Acertei o tamanho graças às avaliações. Adorei.",
            "Entrega rápida e o plano de treino é ótimo.",
        ),
        (
            "Zapatillas cómodas y llegaron antes de lo previsto. ¡Las recomiendo!",
            "Acerté la talla gracias a las reseñas. Me encantaron.",
            "Entrega rápida y el plan de entrenamiento es excelente.",
        ),
        (
            "Comfortable shoes and they arrived early. Recommended!",
            "Got the size right thanks to the reviews. Love them.",
            "Fast delivery and the training plan is great.",
        ),
    ),
    "survey_neutral": (
        (
            "O produto é bom, mas o frete é caro.",
            "Gostei do tênis, o checkout poderia ser mais simples.",
            "Tudo certo, mas demorei para achar o tamanho certo.",
        ),
        (
            "El producto es bueno, pero el envío es caro.",
            "Me gustaron las zapatillas, el pago podría ser más simple.",
            "Todo bien, pero me costó encontrar la talla correcta.",
        ),
        (
            "Good product, but shipping is expensive.",
            "I like the shoes, checkout could be simpler.",
            "All fine, but it took me a while to find the right size.",
        ),
    ),
    "survey_negative_delivery": (
        (
            "A entrega atrasou e ninguém me avisou.",
            "Produto bom, entrega péssima: chegou dois dias depois do prometido.",
            "O rastreio ficou parado dias. Não compro de novo.",
        ),
        (
            "La entrega se retrasó y nadie me avisó.",
            "Buen producto, pésima entrega: llegó dos días tarde.",
            "El seguimiento estuvo parado varios días. No vuelvo a comprar.",
        ),
        (
            "The delivery was late and nobody told me.",
            "Good product, terrible delivery: two days after the promised date.",
            "Tracking was stuck for days. I won't buy again.",
        ),
    ),
    "survey_negative_support": (
        (
            "Esperei dias por uma resposta do atendimento. Péssimo.",
            "O suporte simplesmente não responde.",
            "Abri dois chamados e nada. Vou cancelar minha conta.",
        ),
        (
            "Esperé días una respuesta de atención al cliente. Pésimo.",
            "El soporte simplemente no responde.",
            "Abrí dos reclamos y nada. Voy a cerrar mi cuenta.",
        ),
        (
            "I waited days for customer service to reply. Awful.",
            "Support simply does not answer.",
            "I opened two tickets and nothing. I'm closing my account.",
        ),
    ),
    "review_positive": (
        (
            "Confortável desde o primeiro treino. Peguei meio número acima e serviu perfeito.",
            "Ótimo amortecimento para iniciantes.",
            "Leve e bonito, completei meus primeiros 5 km com ele!",
        ),
        (
            "Cómodas desde el primer entrenamiento. Pedí media talla más y quedaron perfectas.",
            "Excelente amortiguación para principiantes.",
            "Livianas y lindas, ¡terminé mis primeros 5 km con ellas!",
        ),
        (
            "Comfortable from the first run. Went half a size up and they fit perfectly.",
            "Great cushioning for beginners.",
            "Light and good-looking, I finished my first 5K in them!",
        ),
    ),
    "review_negative": (
        (
            "Veste pequeno, a numeração não bate com a tabela.",
            "Fez bolha no segundo treino.",
            "Bonito, mas a sola gastou rápido.",
        ),
        (
            "Calzan chico, la talla no coincide con la tabla.",
            "Me sacaron ampollas en el segundo entrenamiento.",
            "Lindas, pero la suela se gastó rápido.",
        ),
        (
            "Runs small, the size doesn't match the chart.",
            "Gave me blisters on the second run.",
            "Looks nice, but the sole wore out quickly.",
        ),
    ),
}
TEXT_KINDS: Final = tuple(_TEXTS)
TEXTS: Final = tuple(text for kind in TEXT_KINDS for lang in _TEXTS[kind] for text in lang)
_COUNTS = np.array([[len(lang) for lang in _TEXTS[kind]] for kind in TEXT_KINDS], dtype=np.int64)
TEXT_COUNT: Final[npt.NDArray[np.int64]] = _COUNTS
"""Phrasings per (text kind, language)."""
TEXT_OFFSET: Final[npt.NDArray[np.int64]] = (np.cumsum(_COUNTS.ravel()) - _COUNTS.ravel()).reshape(
    _COUNTS.shape
)
"""Index in ``TEXTS`` of the first phrasing of each (text kind, language)."""


def text_kind(name: str) -> int:
    """The code of a text kind (``'ticket_order_status'``...)."""
    return TEXT_KINDS.index(name)


def code(vocabulary: tuple[str, ...], name: str) -> int:
    """The code of ``name`` in ``vocabulary``."""
    return vocabulary.index(name)
