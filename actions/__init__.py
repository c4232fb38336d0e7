"""The Rasa action server's actions (``python -m rasa_sdk --actions actions``).

Thin edges: each action reads plain values from the tracker, calls the typed core (``zabota``, ``kb_index``)
and turns the result into responses and events. Every action module is imported here so the SDK registers it.
"""

from actions import escalate, forms, kb, language

__all__ = ["escalate", "forms", "kb", "language"]
