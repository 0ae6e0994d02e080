"""hopflow.flows: the Prefect flows (missions, agent runs, the run-log mirror); they only orchestrate."""
