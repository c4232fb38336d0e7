"""Local stand-ins for the outside systems (Telegram Bot API, Twilio, an SMTP server), over real sockets.

Each speaks the real wire format closely enough that the production adapters cannot tell the difference,
records what it received (thread-safely), and can be told to fail. Used by unit and integration tests alike.
"""
