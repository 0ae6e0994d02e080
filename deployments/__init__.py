"""hopflow.deployments: how flows get triggered and reached (deployments, webhooks, the `hopflow` CLI)."""
