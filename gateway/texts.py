"""Texts the gateway itself says to customers (everything else comes from the bot), per language; the ones
said in a turn whose tone is known (zabota/tone) have a formal and a friendly variant too (``Phrase``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from zabota.language import Language
from zabota.tone import Tone


@dataclass(frozen=True)
class Phrase:
    """A text per language in the neutral tone, with formal and friendly variants where they read differently.
    ``phrase[lang]`` is the neutral text (what a turn without a known tone says)."""

    neutral: Mapping[Language, str]
    variants: Mapping[Tone, Mapping[Language, str]] = field(default_factory=dict)

    def __getitem__(self, lang: Language) -> str:
        return self.neutral[lang]

    def say(self, lang: Language, tone: Tone = "neutral") -> str:
        return self.variants.get(tone, self.neutral).get(lang, self.neutral[lang])

    def all_variants(self, lang: Language) -> list[str]:
        return [self.neutral[lang], *(variant[lang] for variant in self.variants.values() if lang in variant)]


# Sent when the message is stored but Rasa cannot answer now; the answer arrives through redelivery.
DELAYED_ANSWER: dict[Language, str] = {
    "ru": "Мы получили ваше сообщение. Ассистент ответит чуть позже — ответ появится в этом чате.",
    "en": "We got your message. The assistant will answer shortly — the reply will appear in this chat.",
}

# After a handoff is opened: when a person will answer ({due} is a local time like 14:35, {minutes} the SLA).
HANDOFF_ETA = Phrase(
    {
        "ru": "Я передал ваш вопрос специалисту — он ответит здесь же, в течение {minutes} мин. (до {due}).",
        "en": "I've passed your question to a specialist, who will answer here within {minutes} min (by {due}).",
    },
    {
        "formal": {
            "ru": "Ваш вопрос передан специалисту. Он ответит Вам здесь же в течение {minutes} мин. (до {due}).",
            "en": "Your question has been passed to a specialist, who will reply here within {minutes} min (by {due}).",
        },
        "friendly": {
            "ru": "Передал ваш вопрос специалисту 🙌 Он ответит прямо здесь в течение {minutes} мин. (до {due}).",
            "en": "I've passed your question to a specialist 🙌 They'll answer right here within {minutes} min "
            "(by {due}).",
        },
    },
)

# Urgent sensitive cases in a chat: a voice is often better, so the care line and a call-back are offered too.
CALLBACK_OFFER = Phrase(
    {
        "ru": (
            "Если удобнее голосом — позвоните нам: {phone} (бесплатно, круглосуточно), или напишите номер, "
            "и мы перезвоним."
        ),
        "en": "If you'd rather talk, call us at {phone} (free, 24/7), or send your number and we'll call you back.",
    },
    {
        "formal": {
            "ru": (
                "Если Вам удобнее говорить голосом, позвоните нам по номеру {phone} (бесплатно, круглосуточно) "
                "или напишите свой номер, и мы Вам перезвоним."
            ),
            "en": "If you would prefer to talk, please call us at {phone} (free, 24/7), or send your number and "
            "we will call you back.",
        },
    },
)

# Status changes of the handoff, told to the customer in their channel.
OPERATOR_JOINED: dict[Language, str] = {
    "ru": "К разговору подключился специалист: {name}.",
    "en": "A specialist has joined the conversation: {name}.",
}
HANDED_BACK: dict[Language, str] = {
    "ru": "Специалист завершил разговор. Я снова на связи — спрашивайте, если что-то ещё нужно.",
    "en": "The specialist has finished. I'm back — ask me if you need anything else.",
}
CLOSED: dict[Language, str] = {
    "ru": "Обращение закрыто. Спасибо, что написали нам!",
    "en": "Your request is closed. Thank you for contacting us!",
}
# While a handoff waits and no person has answered yet, the customer's first message is acknowledged (once).
WITH_OPERATOR: dict[Language, str] = {
    "ru": "Передал ваше сообщение специалисту — он увидит его вместе с историей разговора.",
    "en": "I've passed your message to the specialist, who will see it with the whole conversation.",
}

# Voice: what is said when the call is passed to a person.
VOICE_TRANSFER: dict[Language, str] = {
    "ru": "Соединяю вас со специалистом, оставайтесь на линии.",
    "en": "I'm connecting you to a specialist, please stay on the line.",
}

# Telegram: the customer shared their phone number with the "share contact" button.
PHONE_LINKED: dict[Language, str] = {
    "ru": "Спасибо, номер привязан: теперь я узнаю вас и по телефону, и в этом чате.",
    "en": "Thank you, your number is linked: I'll know you both on the phone and in this chat.",
}

# A chat answer was also sent elsewhere (a document by email): said in the chat, with where it went.
COPY_SENT: dict[Language, str] = {
    "ru": "Копию ответа отправил вам {places}.",
    "en": "I've also sent this answer to you {places}.",
}
COPY_PLACES: dict[Language, dict[str, str]] = {
    "ru": {"sms": "в SMS", "telegram": "в Telegram", "email": "на электронную почту"},
    "en": {"sms": "by SMS", "telegram": "in Telegram", "email": "by email"},
}

# A customer's STOP / «отписаться» (zabota/records/opt_out.py): what changes, and how to undo it.
OPTED_OUT: dict[Language, str] = {
    "ru": (
        "Готово: мы больше не будем писать вам первыми в этом канале. "
        "Чтобы вернуть уведомления, напишите «подписаться»."
    ),
    "en": "Done: we will no longer message you first in this channel. To get notifications again, write START.",
}
OPTED_IN: dict[Language, str] = {
    "ru": "Готово: уведомления в этом канале снова включены. Чтобы отписаться, напишите «стоп».",
    "en": "Done: notifications in this channel are on again. To stop them, write STOP.",
}
# The opt-out could not be saved (the database did not answer): said, not pretended.
CONSENT_FAILED: dict[Language, str] = {
    "ru": "Не получилось сохранить ваш выбор прямо сейчас. Пожалуйста, напишите ещё раз через несколько минут.",
    "en": "We couldn't save your choice just now. Please write again in a few minutes.",
}

# A "yes" to an outreach security check (zabota/outreach/rules.yml, follow_up confirm): settled.
OUTREACH_CONFIRMED = Phrase(
    {
        "ru": "Спасибо, что подтвердили! Всё в порядке, ничего делать не нужно.",
        "en": "Thank you for confirming! Everything is fine, nothing else to do.",
    },
    {
        "formal": {
            "ru": "Благодарим Вас за подтверждение. Всё в порядке, никаких действий не требуется.",
            "en": "Thank you for confirming. Everything is in order; no further action is needed.",
        },
        "friendly": {
            "ru": "Спасибо, что подтвердили! 👍 Всё в порядке, ничего делать не нужно.",
            "en": "Thanks for confirming! 👍 All good, nothing else to do.",
        },
    },
)
