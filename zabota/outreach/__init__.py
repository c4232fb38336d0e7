"""Proactive outreach: the service writes first when something is about to go wrong (zabota/outreach/rules.yml).
``planning`` decides text, channel and time for one trigger event; sending and its bookkeeping come next."""
