"""Every event of the service, for the leads' analytics (issue 11): the parts write them to one Redis stream as
they happen (``EventLog``), and an ingester moves them into the system of record (``zabota/events/ingest.py``)
without losing any: acknowledged after the commit, idempotent on replay, catching up after a restart."""

from zabota.events.log import EventLog, queue_event
from zabota.events.model import EVENT_KINDS, Event, EventKind, new_event_id

__all__ = ["EVENT_KINDS", "Event", "EventKind", "EventLog", "new_event_id", "queue_event"]
