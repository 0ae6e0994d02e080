"""The `hopflow` sub-commands, one module per noun; deployments/cli.py assembles them."""
