"""The Jishou sample city brought to life: demo people and a year of incidents replayed through the
real workflow. Only the CLI's `sample load` and the tests use it."""
