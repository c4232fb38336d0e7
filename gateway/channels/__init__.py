"""Adapters for the outside systems the replies travel through: Telegram Bot API, an SMS provider, SMTP.

One class per outside system, built from plain values (or ``from_settings``), no I/O at import or
construction; every failure becomes the adapter's own error with a reason that is safe to log.
"""
