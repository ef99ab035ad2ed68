"""Spatial primitives: coordinate systems (GCJ-02/BD-09 ⇄ WGS84), geometry validation, vector
file readers and the one bounding box type. Knows nothing of cities, people or cases."""
