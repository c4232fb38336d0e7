"""Texts the gateway itself says to customers (everything else comes from the bot), per language and tone
(zabota/tone): each is a ``Phrase`` with its neutral text and the formal and friendly variants where they read
differently. Formal says «Вы» and never uses emoji; friendly may; what is read out on a call has no emoji in any
tone (tests/gateway/test_texts.py checks all of it)."""

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
DELAYED_ANSWER = Phrase(
    {
        "ru": "Мы получили ваше сообщение. Ассистент ответит чуть позже — ответ появится в этом чате.",
        "en": "We got your message. The assistant will answer shortly — the reply will appear in this chat.",
    },
    {
        "formal": {
            "ru": "Мы получили Ваше сообщение. Ассистент ответит чуть позже — ответ появится в этом чате.",
            "en": "We have received your message. The assistant will reply shortly; the answer will appear in this "
            "chat.",
        },
    },
)

# The same on a call: the answer comes later by SMS (gateway/outbound.py delivers a call's late replies there).
VOICE_DELAYED_ANSWER = Phrase(
    {
        "ru": "Я записал ваш вопрос, но ответить прямо сейчас не могу. Ответ придёт вам в SMS в ближайшие минуты.",
        "en": "I've noted your question but can't answer it right now. The answer will come to you by SMS shortly.",
    },
    {
        "formal": {
            "ru": "Ваш вопрос записан, но ответить прямо сейчас я не могу. Ответ придёт Вам в SMS в ближайшие минуты.",
            "en": "Your question has been noted, but I cannot answer it right now. The answer will be sent to you "
            "by SMS shortly.",
        },
    },
)

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

# Status changes of the handoff, told to the customer in their channel (in the tone chosen when it opened).
OPERATOR_JOINED = Phrase(
    {
        "ru": "К разговору подключился специалист: {name}.",
        "en": "A specialist has joined the conversation: {name}.",
    },
    {
        "formal": {
            "ru": "К разговору подключился специалист: {name}. Он ответит Вам здесь же.",
            "en": "A specialist, {name}, has joined the conversation and will reply to you here.",
        },
        "friendly": {
            "ru": "С вами на связи специалист: {name} 👋",
            "en": "{name}, a specialist, is here with you now 👋",
        },
    },
)
HANDED_BACK = Phrase(
    {
        "ru": "Специалист завершил разговор. Я снова на связи — спрашивайте, если что-то ещё нужно.",
        "en": "The specialist has finished. I'm back — ask me if you need anything else.",
    },
    {
        "formal": {
            "ru": "Специалист завершил разговор. Если у Вас остались вопросы, я готов на них ответить.",
            "en": "The specialist has finished the conversation. If you have any other questions, I am here to help.",
        },
        "friendly": {
            "ru": "Специалист закончил, и я снова тут 🙂 Пишите, если что-то ещё нужно!",
            "en": "The specialist is done, and I'm back 🙂 Just ask if you need anything else!",
        },
    },
)
CLOSED = Phrase(
    {
        "ru": "Обращение закрыто. Спасибо, что написали нам!",
        "en": "Your request is closed. Thank you for contacting us!",
    },
    {
        "formal": {
            "ru": "Ваше обращение закрыто. Благодарим Вас за обращение.",
            "en": "Your request has been closed. Thank you for contacting us.",
        },
        "friendly": {
            "ru": "Обращение закрыто. Спасибо, что написали! 💙",
            "en": "Your request is closed. Thanks for reaching out! 💙",
        },
    },
)
# While a handoff waits and no person has answered yet, the customer's first message is acknowledged (once).
WITH_OPERATOR = Phrase(
    {
        "ru": "Передал ваше сообщение специалисту — он увидит его вместе с историей разговора.",
        "en": "I've passed your message to the specialist, who will see it with the whole conversation.",
    },
    {
        "formal": {
            "ru": "Ваше сообщение передано специалисту. Он увидит его вместе со всей историей разговора.",
            "en": "Your message has been passed to the specialist, who will see it with the whole conversation.",
        },
        "friendly": {
            "ru": "Передал сообщение специалисту 👌 Он увидит его вместе со всей перепиской.",
            "en": "Passed it on to the specialist 👌 They'll see it along with the whole chat.",
        },
    },
)

# Voice: what is said when the call is passed to a person (read out: no emoji in any tone).
VOICE_TRANSFER = Phrase(
    {
        "ru": "Соединяю вас со специалистом, оставайтесь на линии.",
        "en": "I'm connecting you to a specialist, please stay on the line.",
    },
    {
        "formal": {
            "ru": "Соединяю Вас со специалистом. Пожалуйста, оставайтесь на линии.",
            "en": "I am connecting you to a specialist. Please stay on the line.",
        },
        "friendly": {
            "ru": "Сейчас соединю со специалистом, не кладите трубку.",
            "en": "Connecting you to a specialist now, just stay on the line.",
        },
    },
)

# Telegram: the customer shared their phone number with the "share contact" button.
PHONE_LINKED = Phrase(
    {
        "ru": "Спасибо, номер привязан: теперь я узнаю вас и по телефону, и в этом чате.",
        "en": "Thank you, your number is linked: I'll know you both on the phone and in this chat.",
    },
    {
        "formal": {
            "ru": "Благодарю, номер привязан. Теперь мы узнаем Вас и по телефону, и в этом чате.",
            "en": "Thank you, your number has been linked. We will now recognise you both by phone and in this chat.",
        },
        "friendly": {
            "ru": "Спасибо, номер привязан 🙌 Теперь узнаю вас и по телефону, и здесь.",
            "en": "Thanks, your number is linked 🙌 Now I'll know you on the phone and here.",
        },
    },
)

# A chat answer was also sent elsewhere (a document by email): said in the chat, with where it went.
COPY_SENT = Phrase(
    {
        "ru": "Копию ответа отправил вам {places}.",
        "en": "I've also sent this answer to you {places}.",
    },
    {
        "formal": {
            "ru": "Копия ответа отправлена Вам {places}.",
            "en": "A copy of this answer has been sent to you {places}.",
        },
        "friendly": {
            "ru": "Копию ответа отправил вам {places} 📩",
            "en": "Sent you a copy {places} too 📩",
        },
    },
)
COPY_PLACES: dict[Language, dict[str, str]] = {
    "ru": {"sms": "в SMS", "telegram": "в Telegram", "email": "на электронную почту"},
    "en": {"sms": "by SMS", "telegram": "in Telegram", "email": "by email"},
}

# A customer's STOP / «отписаться» (zabota/records/opt_out.py): what changes, and how to undo it.
OPTED_OUT = Phrase(
    {
        "ru": (
            "Готово: мы больше не будем писать вам первыми в этом канале. "
            "Чтобы вернуть уведомления, напишите «подписаться»."
        ),
        "en": "Done: we will no longer message you first in this channel. To get notifications again, write START.",
    },
    {
        "formal": {
            "ru": (
                "Ваш выбор сохранён: мы больше не будем писать Вам первыми в этом канале. "
                "Чтобы снова получать уведомления, напишите «подписаться»."
            ),
            "en": "Your choice has been saved: we will no longer message you first in this channel. "
            "To receive notifications again, please write START.",
        },
        "friendly": {
            "ru": "Готово, больше не пишем вам первыми в этом канале. Передумаете — напишите «подписаться».",
            "en": "Done, we won't message you first here any more. Changed your mind? Just write START.",
        },
    },
)
OPTED_IN = Phrase(
    {
        "ru": "Готово: уведомления в этом канале снова включены. Чтобы отписаться, напишите «стоп».",
        "en": "Done: notifications in this channel are on again. To stop them, write STOP.",
    },
    {
        "formal": {
            "ru": "Уведомления в этом канале снова включены. Чтобы отписаться, напишите «стоп».",
            "en": "Notifications in this channel have been switched back on. To stop them, please write STOP.",
        },
        "friendly": {
            "ru": "Готово, уведомления снова включены 🔔 Чтобы отписаться, напишите «стоп».",
            "en": "Done, notifications are back on 🔔 To stop them, write STOP.",
        },
    },
)
# The opt-out could not be saved (the database did not answer): said, not pretended.
CONSENT_FAILED = Phrase(
    {
        "ru": "Не получилось сохранить ваш выбор прямо сейчас. Пожалуйста, напишите ещё раз через несколько минут.",
        "en": "We couldn't save your choice just now. Please write again in a few minutes.",
    },
    {
        "formal": {
            "ru": "К сожалению, сейчас не удалось сохранить Ваш выбор. Пожалуйста, напишите ещё раз через несколько "
            "минут.",
            "en": "Unfortunately, we could not save your choice just now. Please write again in a few minutes.",
        },
    },
)

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
