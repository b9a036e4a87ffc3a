"""The MQTT ingestion service: decode, validate, batch and store sensor readings."""
