"""The signal_flow section in the workflow: which graphs it runs on, and its config check.
"""

from __future__ import annotations



from figureflow.io import InputError, describe

__all__ = ["signal_flow_graphs", "check_config"]


def signal_flow_graphs(config) -> list[str]:
    """Graphs the signal-flow analysis runs on (``signal_flow.graphs``, or every graph)."""
    chosen = config.get("signal_flow", {}).get("graphs")
    return list(config.get("graphs", {})) if chosen is None else list(chosen)


def check_config(config) -> None:
    """The ``signal_flow`` section: ``signal_flow.graphs`` names graphs of the ``graphs`` section.

    Raises
    ------
    InputError
        Naming the unknown graphs and the known ones.
    """
    graphs = config.get("graphs", {})
    unknown = [g for g in signal_flow_graphs(config) if g not in graphs]
    if unknown:
        raise InputError(
            f"config key signal_flow.graphs names {describe(unknown)}, which are not in graphs; "
            f"graphs are {describe(list(graphs))}"
        )
