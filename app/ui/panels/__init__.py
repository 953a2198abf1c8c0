"""Dock panels of the main window: scene statistics and render settings."""
from app.ui.panels.render_settings import RenderPanel
from app.ui.panels.stats import StatsPanel

__all__ = ["RenderPanel", "StatsPanel"]
