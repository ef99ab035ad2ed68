"""Wangge's domain and spatial core: no web framework, no map renderer, only data and geometry."""
