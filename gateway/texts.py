"""Texts the gateway itself says to customers (everything else comes from the bot), per language."""

from __future__ import annotations

from zabota.language import Language

# Sent when the message is stored but Rasa cannot answer now; the answer arrives through redelivery.
DELAYED_ANSWER: dict[Language, str] = {
    "ru": "Мы получили ваше сообщение. Ассистент ответит чуть позже — ответ появится в этом чате.",
    "en": "We got your message. The assistant will answer shortly — the reply will appear in this chat.",
}
