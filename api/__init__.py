"""The citydata HTTP API: a FastAPI application built by `api.app.create_app`."""
