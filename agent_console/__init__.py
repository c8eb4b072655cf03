"""The web console for agents and supervisors: Flask blueprints, templates, static
assets, objection playbooks and the console's words (see README.md here)."""
