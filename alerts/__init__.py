"""The alerts service: evaluates the rules of citydata.alerts each derived-series cycle, keeps
the outbox and delivers it through the channels (LINE, e-mail, webhook)."""
