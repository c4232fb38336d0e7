"""zabota core: plain, typed domain logic shared by the gateway and the action server (no servers here)."""
