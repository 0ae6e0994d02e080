"""One `mission-run` flow per mission template, for the entrypoints of a generated prefect.yaml.

`prefect deploy` makes a deployment's Run form from its flow's signature and nothing else (a
`parameter_openapi_schema` in prefect.yaml is ignored), and `mission_template_flow(template, inputs)`
would give every template the same generic form. So prefect.yaml names `template_flows.py:<template>`:
this module builds, on attribute access, the same flow under a signature whose annotations carry that
template's form, the one `hopflow serve` registers (tasks/templates.py parameter_schema). A worker
loads the flow the same way, so the template is read from hopflow's database when a run starts.
"""

from __future__ import annotations

import copy
import inspect
from typing import Annotated, Any

from hopflow.flows.mission_template import FLOW_OPTIONS, mission_template_flow
from hopflow.tasks.templates import parameter_schema, read_template
from prefect import Flow, flow
from pydantic import WithJsonSchema


def template_signature(form: dict[str, Any]) -> inspect.Signature:
    """(template, inputs) annotated so that Prefect's schema of them is `form`, property for property."""
    fields = {
        name: {k: v for k, v in prop.items() if k != "position"}  # Prefect numbers them itself
        for name, prop in form["properties"].items()
    }
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [
            # No Python default: the form says "required", the deployment's parameters fill it in.
            inspect.Parameter(
                "template", kind, annotation=Annotated[str, WithJsonSchema(fields["template"])]
            ),
            inspect.Parameter(
                "inputs",
                kind,
                # Prefect writes a parameter's default into its schema: the spec's defaults, as the form has.
                default=fields["inputs"].get("default"),
                annotation=Annotated[dict[str, Any] | None, WithJsonSchema(fields["inputs"])],
            ),
        ],
        return_annotation=str,
    )


def template_flow(name: str) -> Flow[..., str]:
    """mission_template_flow, as a flow whose Run form is template `name`'s."""
    view, spec = read_template(name)

    def run_template(template: str, inputs: dict[str, Any] | None = None) -> str:
        # a copy: the default is the signature's one dict, shared by every run of this process
        return mission_template_flow.fn(template, copy.deepcopy(inputs))

    run_template.__doc__ = mission_template_flow.fn.__doc__
    run_template.__signature__ = template_signature(parameter_schema(view, spec))  # type: ignore[attr-defined]
    return flow(**FLOW_OPTIONS)(run_template)


def __getattr__(name: str) -> Flow[..., str]:
    """`template_flows.<template name>`: how an entrypoint `.../template_flows.py:<name>` is loaded."""
    if name.startswith("_"):
        raise AttributeError(name)
    try:
        return template_flow(name)
    except LookupError as exc:
        raise AttributeError(f"no mission template named {name!r}: {exc}") from None
