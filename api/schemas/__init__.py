"""Pydantic request and response models of the HTTP API, one module per resource (XCreate / XRead / XList).

Bodies refuse fields they do not know (``extra="forbid"``) and floats that are not finite, so a typo or a
``NaN`` is a 422 naming the field, never a silently ignored value or a 500.
"""
