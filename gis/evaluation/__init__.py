"""Evaluation (考核评价): the indicators a supervision centre ranks by, their trends, and hotspots.

``indicators`` computes the figures of CJ/T 292 for a period and a grouping in one PostgreSQL statement;
``working_clock`` turns the work calendar into SQL so handling times are in working hours; ``hotspots``
finds cells where cases cluster (Getis–Ord Gi*) and where they grow (Mann–Kendall). The README section
"Evaluation (考核评价)" documents every formula.
"""
