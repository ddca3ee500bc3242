"""The template library: standard analytical products as parameterised, audited queries.

    format.py   the file format (SQL with a TOML header of ``--`` comments) → Template
    params.py   validation and binding of parameter values → typed ``$name`` values
    library.py  every template of ``queries/``, parsed and checked against the catalog
    runner.py   TemplateRunner: level check, binding, QueryService.run_query(template=…),
                disclosure control of aggregate results
    exporting.py  export_run(): a run as a governed export file (gateway.exports)
    form.py     a template's parameters as form fields (choices, resolved defaults)

Example:
    >>> library = load_library()
    >>> library.get("hour-weekday").chart.kind
    'heatmap'
"""

from gateway.templates.exporting import export_run, map_ready
from gateway.templates.form import FormField, form_fields
from gateway.templates.format import (
    CHART_KINDS,
    OUTPUT_KINDS,
    PARAMETER_TYPES,
    ChartSpec,
    MapSpec,
    Parameter,
    ParameterType,
    Template,
    parse_template,
)
from gateway.templates.library import TemplateLibrary, default_directory, load_library
from gateway.templates.params import (
    BindingContext,
    bind_parameters,
    data_month_after,
    parse_assignments,
    resolve_default,
)
from gateway.templates.runner import TemplateRun, TemplateRunner, read_result

__all__ = [
    "CHART_KINDS",
    "OUTPUT_KINDS",
    "PARAMETER_TYPES",
    "BindingContext",
    "ChartSpec",
    "FormField",
    "MapSpec",
    "Parameter",
    "ParameterType",
    "Template",
    "TemplateLibrary",
    "TemplateRun",
    "TemplateRunner",
    "bind_parameters",
    "data_month_after",
    "default_directory",
    "export_run",
    "form_fields",
    "load_library",
    "map_ready",
    "parse_assignments",
    "parse_template",
    "read_result",
    "resolve_default",
]
