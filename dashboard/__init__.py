"""headgaze dashboard: a Dash app showing every attention head of a model (see dashboard.app)."""
