"""Dock panels of the main window: scene statistics, render settings, layout outliner and properties."""
from app.ui.panels.layout_panels import OutlinerPanel, PropertiesPanel
from app.ui.panels.render_settings import RenderPanel
from app.ui.panels.stats import StatsPanel

__all__ = ["OutlinerPanel", "PropertiesPanel", "RenderPanel", "StatsPanel"]
