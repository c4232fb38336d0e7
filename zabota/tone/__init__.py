"""Tone of voice: which register zabota speaks in to a customer (formal, friendly, neutral), chosen by the
rules in zabota/tone/rules.yml from the profile, the channel, the project and the conversation's sensitivity."""

from zabota.tone.rules import Tone, ToneChoice, ToneFacts, ToneRules, load_tone_rules

__all__ = ["Tone", "ToneChoice", "ToneFacts", "ToneRules", "load_tone_rules"]
