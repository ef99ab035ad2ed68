"""Street-order cases (案件): where a point belongs (location), the workflow and its deadlines, the
query and map GeoJSON, bulk import, photos, categories and the work calendar."""
