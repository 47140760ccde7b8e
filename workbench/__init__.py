"""agent-workbench: a research and evaluation workbench, and runtime, for AI agents.

The package is layered (see the layout in the README): ``models``, ``tools``,
``tracing`` and ``services`` are leaves; ``runtime`` builds the ReAct loop on them;
``cli`` and the notebooks are thin faces over the same public API.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
