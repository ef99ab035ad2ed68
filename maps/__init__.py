"""Folium map builders: data in, ``folium.Map`` out. Pages load only Wangge's own assets (``maps.assets``)
and show user text as text (``maps.popups``).

- ``maps.worker.build_worker_map``: the grid worker's page (served at ``/``), data fetched by the page.
- ``maps.density.build``: a planner's choropleth of one numeric field per feature.
"""
