"""Grafana dashboards as code: one module per dashboard, built into json/ by
`citydata dashboards build`, and the provisioning Grafana starts from."""
