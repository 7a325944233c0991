"""Installation checks: the project used from outside its folder."""
