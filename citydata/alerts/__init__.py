"""Alert rules, their evaluation state, history, silences and the outbox: the part of alerting
that the API and the alerts service share (docs/alerts.md). Delivery lives in `alerts/`."""
