"""digitlab: the app's entry point. It only routes; each page lives in pages/."""

from app import ui

ui.run_app()
