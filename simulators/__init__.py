"""Simulated sensor fleets that publish readings over MQTT like the real city's devices."""
