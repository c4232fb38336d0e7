"""The leads' analytics (issue 11): the figures of the dashboard, ``make report`` and the benchmark, with their
definitions (zabota/analytics/model.py, docs/analytics.md "Definitions"), from the system of record.

    from zabota.analytics.figures import figures
    report = await figures(engine, since, until, channel="telegram")

(The package re-exports nothing: ``zabota.analytics.figures`` stays the module, not its function.)"""
