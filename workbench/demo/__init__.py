"""The demo agent's scripted model (imported by ``agents/analyst.yaml``)."""

from workbench.demo._analyst import ANALYST_MODEL, analyst_script

__all__ = ["ANALYST_MODEL", "analyst_script"]
