"""Journey analytics: funnels, paths, timing, retention, stages, attribution, CLV, churn.

Every analysis is an Ibis expression over the ``events`` table (see
:mod:`jornada.events.schema`) and returns a typed, frozen result with ``to_frame()``,
``to_dict()`` and ``chart()``; the CLI, the web app, reports and notebooks all use it.
"""
