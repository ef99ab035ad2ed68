"""Shared facilities (场所联享): owner units, pairings with communities, facilities, opening hours,
bookings, and how many facilities serve each grid cell (coverage)."""
