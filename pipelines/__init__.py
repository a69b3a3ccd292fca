"""Wiring: the Definitions, jobs, sensors, schedules and the `docingest` CLI."""
