"""The city's areas: subdistrict and community boundaries, compounds, division codes, and the unit grid
(its build, its store and its import)."""
