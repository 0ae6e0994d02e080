"""The work hopflow's flows orchestrate: tools, LLM calls and the step bodies the Prefect tasks wrap."""
