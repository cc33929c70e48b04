"""Planned; see ../shared/DESIGN.md and the open issues."""
